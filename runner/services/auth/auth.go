// Package auth issues and checks the credentials of gantry's runtime
// services: the per-run ACTIONS_RUNTIME_TOKEN (a JWT, because
// @actions/artifact decodes its "scp" claim for the run's backend ids) and
// the signed blob URLs the services hand out, which, like Azure SAS URLs,
// carry their own signature and expiry instead of a bearer token.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Claims are what a runtime token says.
type Claims struct {
	// Scope is GitHub's "scp" claim, e.g.
	// "Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:RUN:JOB".
	Scope     string `json:"scp"`
	Issuer    string `json:"iss"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp"`
	// AccessControl is the cache scopes GitHub puts in "ac" (JSON text);
	// informative here, the service knows its run's scopes.
	AccessControl string `json:"ac,omitempty"`
}

// Backend returns the run and job backend ids of the Actions.Results scope.
func (c Claims) Backend() (run, job string, ok bool) {
	for _, s := range strings.Fields(c.Scope) {
		parts := strings.Split(s, ":")
		if parts[0] == "Actions.Results" && len(parts) == 3 {
			return parts[1], parts[2], true
		}
	}
	return "", "", false
}

// Issuer signs tokens and URLs with a key that lives only in memory, so a
// token or URL of one run is worthless to every other.
type Issuer struct {
	key []byte
	now func() time.Time
}

// NewIssuer makes an issuer with a fresh random key.
func NewIssuer() (*Issuer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make signing key: %w", err)
	}
	return &Issuer{key: key, now: time.Now}, nil
}

// Token issues a runtime token for a run and job backend id, valid for ttl.
func (is *Issuer) Token(runBackendID, jobBackendID, accessControl string, ttl time.Duration) (string, error) {
	now := is.now()
	c := Claims{
		Scope:         "Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:" + runBackendID + ":" + jobBackendID,
		Issuer:        "gantry",
		IssuedAt:      now.Unix(),
		NotBefore:     now.Unix() - 60,
		Expires:       now.Add(ttl).Unix(),
		AccessControl: accessControl,
	}
	header := b64(`{"typ":"JWT","alg":"HS256"}`)
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := header + "." + b64(string(body))
	return signing + "." + is.sign(signing), nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func (is *Issuer) sign(s string) string {
	m := hmac.New(sha256.New, is.key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ErrUnauthenticated is returned for a missing, malformed, forged or expired token.
var ErrUnauthenticated = errors.New("unauthenticated")

// Verify checks a token and returns its claims.
func (is *Issuer) Verify(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: the token is not a JWT", ErrUnauthenticated)
	}
	if !hmac.Equal([]byte(is.sign(parts[0]+"."+parts[1])), []byte(parts[2])) {
		return Claims{}, fmt.Errorf("%w: the token's signature is not this run's", ErrUnauthenticated)
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if is.now().Unix() > c.Expires {
		return Claims{}, fmt.Errorf("%w: the token expired", ErrUnauthenticated)
	}
	return c, nil
}

// Request checks the bearer token of a request.
func (is *Issuer) Request(r *http.Request) (Claims, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return Claims{}, fmt.Errorf("%w: no bearer token (ACTIONS_RUNTIME_TOKEN) in the request", ErrUnauthenticated)
	}
	return is.Verify(strings.TrimSpace(tok))
}

// SignURL returns base+path with a signature over the path, the
// permission ("r" or "w") and the expiry, as query parameters.
func (is *Issuer) SignURL(base, path, perm string, ttl time.Duration) string {
	exp := strconv.FormatInt(is.now().Add(ttl).Unix(), 10)
	q := url.Values{"sp": {perm}, "se": {exp}, "sig": {is.sign(perm + "\n" + exp + "\n" + path)}}
	return strings.TrimSuffix(base, "/") + path + "?" + q.Encode()
}

// CheckURL checks the signature of a signed URL's request for perm.
func (is *Issuer) CheckURL(r *http.Request, perm string) error {
	q := r.URL.Query()
	if q.Get("sp") != perm {
		return fmt.Errorf("%w: the URL does not allow this operation", ErrUnauthenticated)
	}
	exp := q.Get("se")
	if !hmac.Equal([]byte(is.sign(perm+"\n"+exp+"\n"+r.URL.Path)), []byte(q.Get("sig"))) {
		return fmt.Errorf("%w: the URL's signature does not match", ErrUnauthenticated)
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || is.now().Unix() > n {
		return fmt.Errorf("%w: the signed URL expired", ErrUnauthenticated)
	}
	return nil
}
