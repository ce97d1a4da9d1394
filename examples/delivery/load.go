package delivery

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// sample is one answered request.
type sample struct {
	at      time.Time
	version string
	code    int
}

// load is the shop's users: a few workers browsing and ordering through
// HAProxy, every answer recorded.
type load struct {
	url  string
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	samples []sample
}

func startLoad(front string, workers int, pause time.Duration) *load {
	l := &load{url: strings.TrimRight(front, "/"), stop: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go func(worker int) {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
				var req *http.Request
				switch n % 4 {
				case 0:
					req, _ = http.NewRequest(http.MethodPost, l.url+"/api/orders", strings.NewReader(`{"product": 1, "quantity": 1}`))
					req.Header.Set("Content-Type", "application/json")
				case 1:
					req, _ = http.NewRequest(http.MethodGet, l.url+"/", nil)
				default:
					req, _ = http.NewRequest(http.MethodGet, l.url+"/api/products", nil)
				}
				req.Header.Set("X-User", fmt.Sprintf("user-%d", rand.IntN(10000)))
				resp, err := client.Do(req)
				s := sample{at: time.Now()}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.version, s.code = resp.Header.Get("X-Version"), resp.StatusCode
				}
				l.mu.Lock()
				l.samples = append(l.samples, s)
				l.mu.Unlock()
			}
		}(i)
	}
	return l
}

func (l *load) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// window counts answers between from and to: by version, and failures.
func (l *load) window(from, to time.Time) (total int, byVersion map[string]int, failed int) {
	byVersion = map[string]int{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.samples {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		total++
		byVersion[s.version]++
		if s.code == 0 || s.code >= 500 {
			failed++
		}
	}
	return total, byVersion, failed
}
