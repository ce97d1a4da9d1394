package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Ref is an image reference split as a registry sees it.
type Ref struct {
	Host string // registry host[:port]; registry-1.docker.io for Docker Hub
	Repo string // path, e.g. acme/app or library/alpine
	Tag  string
}

// ParseRef splits "host[:port]/path:tag" (Docker Hub when the first part is
// not a host).
func ParseRef(s string) (Ref, error) {
	var r Ref
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		return r, fmt.Errorf("image %q: a tag is needed, not a digest", s)
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
	}
	first, path, ok := strings.Cut(rest, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Host, r.Repo = first, path
	} else {
		r.Host, r.Repo = "registry-1.docker.io", rest
		if !strings.Contains(rest, "/") {
			r.Repo = "library/" + rest
		}
	}
	if r.Repo == "" || r.Tag == "" {
		return r, fmt.Errorf("image %q: want host/path:tag", s)
	}
	return r, nil
}

// Name is the reference as the engine writes it, without the tag.
func (r Ref) Name() string {
	if r.Host == "registry-1.docker.io" {
		return strings.TrimPrefix(r.Repo, "library/")
	}
	return r.Host + "/" + r.Repo
}

// distClient talks the distribution API (OCI distribution spec) for what the
// engine cannot do: image indexes.
type distClient struct {
	ref        Ref
	user, pass string
	token      string
	client     *http.Client
}

func (g *distClient) base() string {
	scheme := "https"
	host, _, err := net.SplitHostPort(g.ref.Host)
	if err != nil {
		host = g.ref.Host
	}
	// Docker itself talks plain HTTP to registries on loopback.
	if host == "localhost" || (net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()) {
		scheme = "http"
	}
	return scheme + "://" + g.ref.Host + "/v2/" + g.ref.Repo
}

// do sends the request, answering a 401 challenge (Bearer token or Basic)
// once.
func (g *distClient) do(method, path string, body []byte, header http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, g.base()+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if g.token != "" {
			req.Header.Set("Authorization", "Bearer "+g.token)
		} else if g.user != "" && attempt > 0 {
			req.SetBasicAuth(g.user, g.pass)
		}
		resp, err := g.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		if strings.HasPrefix(strings.ToLower(challenge), "bearer ") {
			if err := g.fetchToken(challenge[len("bearer "):]); err != nil {
				return nil, err
			}
		} else if g.user == "" {
			return nil, fmt.Errorf("%s %s: the registry asks for credentials: set registry-username and registry-password", method, g.ref.Host)
		}
	}
}

// fetchToken follows a Bearer challenge: realm, service and scope.
func (g *distClient) fetchToken(params string) error {
	p := map[string]string{}
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		p[strings.ToLower(k)] = strings.Trim(v, `"`)
	}
	if p["realm"] == "" {
		return fmt.Errorf("registry %s: bearer challenge without a realm", g.ref.Host)
	}
	q := url.Values{}
	if p["service"] != "" {
		q.Set("service", p["service"])
	}
	q.Set("scope", "repository:"+g.ref.Repo+":pull,push")
	req, err := http.NewRequest("GET", p["realm"]+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if g.user != "" {
		req.SetBasicAuth(g.user, g.pass)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("registry token: %w", err)
	}
	defer resp.Body.Close()
	var t struct{ Token, AccessToken string }
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("registry token from %s: status %d %v", p["realm"], resp.StatusCode, err)
	}
	g.token = t.Token
	if g.token == "" {
		g.token = t.AccessToken
	}
	return nil
}

// Manifest media types.
const (
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	ociIndex       = "application/vnd.oci.image.index.v1+json"
)

type descriptor struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Platform  *Platform `json:"platform,omitempty"`
}

// head describes a pushed manifest.
func (g *distClient) head(digest string) (descriptor, error) {
	h := http.Header{"Accept": {dockerManifest, ociManifest}}
	resp, err := g.do("GET", "/manifests/"+digest, nil, h)
	if err != nil {
		return descriptor{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return descriptor{}, fmt.Errorf("manifest %s: status %d %s", digest, resp.StatusCode, body)
	}
	sum := sha256.Sum256(body)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return descriptor{}, fmt.Errorf("manifest %s: the registry served %s", digest, got)
	}
	mt := resp.Header.Get("Content-Type")
	if mt == "" {
		var m struct{ MediaType string }
		_ = json.Unmarshal(body, &m)
		mt = m.MediaType
	}
	return descriptor{MediaType: mt, Digest: digest, Size: int64(len(body))}, nil
}

// putIndex pushes an index of the platform manifests under each tag and
// returns its digest.
func (g *distClient) putIndex(children []descriptor, tags []string) (string, error) {
	// An index of the same family as its manifests: registries and engines
	// expect Docker lists over Docker manifests.
	mt := ociIndex
	if len(children) > 0 && children[0].MediaType == dockerManifest {
		mt = dockerList
	}
	idx := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, mt, children}
	body, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	for _, tag := range tags {
		resp, err := g.do("PUT", "/manifests/"+tag, body, http.Header{"Content-Type": {mt}})
		if err != nil {
			return "", fmt.Errorf("push index %s:%s: %w", g.ref.Name(), tag, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("push index %s:%s: status %d %s", g.ref.Name(), tag, resp.StatusCode, b)
		}
		if d := resp.Header.Get("Docker-Content-Digest"); d != "" && d != digest {
			return "", fmt.Errorf("push index %s:%s: the registry stored %s, we sent %s", g.ref.Name(), tag, d, digest)
		}
	}
	return digest, nil
}
