package container

import (
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(`--health-cmd "pg_isready -U postgres" --health-interval 10s --health-timeout=5s --health-retries 5 --cpus 1.5 -m 512m -e A=b --network-alias db --privileged --hostname h`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.health.Test, " ") != "CMD-SHELL pg_isready -U postgres" || o.health.Interval != 10*time.Second || o.health.Timeout != 5*time.Second || o.health.Retries != 5 {
		t.Errorf("health %+v", o.health)
	}
	if o.cpus != 1_500_000_000 || o.memory != 512<<20 || o.env[0] != "A=b" || o.aliases[0] != "db" || !o.privileged || o.hostname != "h" {
		t.Errorf("options %+v", o)
	}
	for _, bad := range []string{"--network host", "--health-interval soon", "--bogus 1", `--health-cmd "unclosed`, "--cpus"} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("parseOptions(%q) should fail", bad)
		}
	}
}

func TestVolumeMount(t *testing.T) {
	for v, want := range map[string]string{
		"data:/var/lib/data": "volume data /var/lib/data",
		"/srv/x:/x:ro":       "bind /srv/x /x",
		"/cache":             "volume  /cache",
	} {
		m, err := volumeMount(v, "1", "j")
		if err != nil {
			t.Fatal(err)
		}
		if got := string(m.Type) + " " + m.Source + " " + m.Target; got != want {
			t.Errorf("%s: got %q want %q", v, got, want)
		}
	}
	if _, err := volumeMount("a:b:c:d", "1", "j"); err == nil {
		t.Error("bad volume accepted")
	}
}
