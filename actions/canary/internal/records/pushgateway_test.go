package records

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const pushgatewayBinary = "/usr/bin/prometheus-pushgateway"

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startPushgateway runs Debian's Pushgateway on a free port, in memory only,
// and returns its URL once ready.
func startPushgateway(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(pushgatewayBinary); err != nil {
		t.Skipf("Pushgateway not installed at %s: apt-get install prometheus-pushgateway", pushgatewayBinary)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	log := &lockedBuffer{}
	// An empty persistence file keeps it off /var/lib/prometheus.
	cmd := exec.Command(pushgatewayBinary, "--web.listen-address="+addr, "--persistence.file=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", pushgatewayBinary, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		select {
		case <-exited:
			t.Fatalf("pushgateway exited: %s", log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushgateway at %s not ready within 60 s: %s", url, log)
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// series returns "labels=value" of a family's metrics for job gantry-canary.
func series(mfs map[string]*dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range mfs[name].GetMetric() {
		ls := labels(m)
		if ls["job"] != DefaultJob {
			continue
		}
		delete(ls, "job")
		delete(ls, "instance")
		out = append(out, fmt.Sprintf("%v=%g", ls, m.GetGauge().GetValue()))
	}
	return out
}

func TestPushgatewayReal(t *testing.T) {
	url := startPushgateway(t)
	p, err := NewPushgateway(PushgatewayConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	step := ev(Step, 25)
	if err := p.Record(ctx, step); err != nil {
		t.Fatal(err)
	}
	mfs := scrape(t, url)
	if got, want := series(mfs, "deploy_info"), "map[environment:production result:progressing strategy:canary version:v2.0.0]=1"; strings.Join(got, ";") != want {
		t.Errorf("deploy_info = %v, want %s", got, want)
	}
	if got := series(mfs, "deploy_canary_weight"); strings.Join(got, ";") != "map[environment:production]=25" {
		t.Errorf("deploy_canary_weight = %v", got)
	}
	if got, want := series(mfs, "deploy_timestamp_seconds"), fmt.Sprintf("map[environment:production]=%g", float64(step.Time.Unix())); strings.Join(got, ";") != want {
		t.Errorf("deploy_timestamp_seconds = %v, want %s", got, want)
	}

	// The end replaces the group: one deploy_info, with the result.
	end := ev(Promoted, 0)
	end.Time = step.Time.Add(time.Minute)
	if err := p.Record(ctx, end); err != nil {
		t.Fatal(err)
	}
	// Another environment is a group of its own.
	staging := ev(Step, 50)
	staging.Environment = "staging"
	if err := p.Record(ctx, staging); err != nil {
		t.Fatal(err)
	}
	mfs = scrape(t, url)
	got := strings.Join(series(mfs, "deploy_info"), ";")
	if !strings.Contains(got, "map[environment:production result:promoted strategy:canary version:v2.0.0]=1") ||
		strings.Contains(got, "environment:production result:progressing") ||
		!strings.Contains(got, "map[environment:staging result:progressing") {
		t.Errorf("deploy_info after promotion = %s", got)
	}
	w := strings.Join(series(mfs, "deploy_canary_weight"), ";")
	if !strings.Contains(w, "map[environment:production]=100") || !strings.Contains(w, "map[environment:staging]=50") {
		t.Errorf("deploy_canary_weight = %s", w)
	}
}

func TestPushgatewayErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := NewPushgateway(PushgatewayConfig{URL: "http://bob:hunter2pw@" + addr, Token: ""})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Record(context.Background(), ev(Step, 10))
	if err == nil || strings.Contains(err.Error(), "hunter2pw") || !strings.Contains(err.Error(), "pushgateway") {
		t.Fatalf("error = %v", err)
	}
	noEnv := ev(Step, 10)
	noEnv.Environment = ""
	if err := p.Record(context.Background(), noEnv); err == nil {
		t.Error("an event without environment was pushed")
	}
	for _, cfg := range []PushgatewayConfig{{URL: "pushgateway:9091"}, {URL: "http://pg", Token: "t", Username: "u"}} {
		if _, err := NewPushgateway(cfg); err == nil {
			t.Errorf("NewPushgateway(%+v) accepted", cfg)
		}
	}
}
