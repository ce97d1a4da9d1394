package buildaction

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockerimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// startRegistry runs Debian's docker-registry on a free loopback port.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must have docker-registry (scripts/setup.sh installs it)")
		}
		t.Skip("docker-registry is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 50; i++ {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("registry did not start")
	return ""
}

func getJSON(t *testing.T, url string, accept string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v %s", url, err, b)
	}
}

func TestImagePushToRegistry(t *testing.T) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		_, err = cli.Ping(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	if _, err := cli.ImageInspect(context.Background(), "gantry/busybox:latest"); err != nil {
		t.Skip("gantry/busybox:latest missing: run scripts/setup.sh")
	}
	addr := startRegistry(t)
	mod := t.TempDir()
	if out, err := exec.Command("cp", "-r", module(t)+"/.", mod).CombinedOutput(); err != nil {
		t.Fatalf("copy module: %v %s", err, out)
	}
	ref := addr + "/acme/hello"
	code, log, summary := runAction(t, map[string]string{
		"working-directory": mod, "targets": "linux/amd64", "version": "v1.0.0", "commit": "c0ffee",
		"image": ref, "image-tags": "latest", "push": "true", "source-url": "https://example.com/acme/hello",
		"image-build-args": "BASE_IMAGE=gantry/busybox:latest",
	})
	// The Dockerfile copies dist/ from the context: build output must be there.
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	if !strings.Contains(summary, "pushed sha256:") {
		t.Errorf("summary %s", summary)
	}
	var tags struct{ Tags []string }
	getJSON(t, "http://"+addr+"/v2/acme/hello/tags/list", "", &tags)
	if strings.Join(tags.Tags, ",") != "latest,v1.0.0" && strings.Join(tags.Tags, ",") != "v1.0.0,latest" {
		t.Errorf("tags %v", tags.Tags)
	}
	var manifest struct {
		Config struct{ Digest string }
	}
	getJSON(t, "http://"+addr+"/v2/acme/hello/manifests/v1.0.0", "application/vnd.docker.distribution.manifest.v2+json", &manifest)
	var config struct {
		Config struct{ Labels map[string]string }
	}
	getJSON(t, "http://"+addr+"/v2/acme/hello/blobs/"+manifest.Config.Digest, "", &config)
	l := config.Config.Labels
	if l["org.opencontainers.image.revision"] != "c0ffee" || l["org.opencontainers.image.version"] != "v1.0.0" || l["org.opencontainers.image.source"] != "https://example.com/acme/hello" {
		t.Errorf("labels %v", l)
	}
	_, _ = cli.ImageRemove(context.Background(), ref+":v1.0.0", imageRemoveOpts)
	_, _ = cli.ImageRemove(context.Background(), ref+":latest", imageRemoveOpts)
}

var imageRemoveOpts = dockerimage.RemoveOptions{Force: true, PruneChildren: true}
