package github_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/forge/github/githubtest"
)

// BenchmarkFirstLine is the time from a job queued on the server to its
// first log line reaching the server's live feed, through the broker flow
// (message, acknowledge, acquire), the daemon and the engine.
func BenchmarkFirstLine(b *testing.B) {
	srv := githubtest.New(b, githubtest.Options{Broker: true, PollWait: 2 * time.Second})
	p := protocol()
	creds, err := p.Register(context.Background(), registration(srv, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	start(b, p, creds, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo first-line\n"})
		for {
			snap := srv.Snapshot(j)
			seen := false
			for _, l := range snap.Feed {
				seen = seen || strings.Contains(strings.Join(l, "\n"), "first-line")
			}
			if seen {
				break
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		srv.Wait(j, time.Minute)
		b.StartTimer()
	}
}

// BenchmarkIdle measures an idle runner: requests per minute against the
// server and heap in use, reported as metrics. The fake answers an empty
// poll after 500ms; GitHub holds it about 50s, so scale the rate by 1/100.
func BenchmarkIdle(b *testing.B) {
	srv := githubtest.New(b, githubtest.Options{Broker: true, PollWait: 500 * time.Millisecond})
	p := protocol()
	creds, err := p.Register(context.Background(), registration(srv, "idle"))
	if err != nil {
		b.Fatal(err)
	}
	start(b, p, creds, false)
	time.Sleep(200 * time.Millisecond)
	before := srv.Calls("")
	window := 2 * time.Second
	for i := 0; i < b.N; i++ {
		time.Sleep(window / time.Duration(b.N))
	}
	calls := srv.Calls("") - before
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(calls)/window.Minutes(), "requests/min")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}
