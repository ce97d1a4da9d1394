// Command shop is the example service Gantry's delivery pipeline builds,
// tests, scans, deploys as a canary and releases behind a feature flag.
//
// Configuration is by environment: LISTEN (default :8080), DATABASE_URL
// (PostgreSQL; in memory without it), FLAGS_FILE (a flagd flags file),
// FAIL_RATE (a share of API requests to fail: the bad-release knob) and
// VERSION (default the version the build stamped).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-ci/gantry/examples/shop/internal/flags"
	"github.com/gantry-ci/gantry/examples/shop/internal/store"
	"github.com/gantry-ci/gantry/examples/shop/internal/web"
)

// Stamped by the build action (-X main.version, -X main.commit).
var (
	version = "dev"
	commit  = ""
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-healthcheck" {
		os.Exit(healthcheck())
	}
	if err := run(); err != nil {
		log.Printf("shop: %v", err)
		os.Exit(1)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run() error {
	s := &web.Server{Version: env("VERSION", version), Store: &store.Memory{}}
	if v := os.Getenv("FAIL_RATE"); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate < 0 || rate > 1 {
			return fmt.Errorf("FAIL_RATE=%q: give a share between 0 and 1", v)
		}
		s.FailRate = rate
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if url := os.Getenv("DATABASE_URL"); url != "" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		pg, err := store.OpenPostgres(cctx, url)
		cancel()
		if err != nil {
			return fmt.Errorf("database: %w", err)
		}
		defer pg.Close()
		s.Store = pg
	}
	if path := os.Getenv("FLAGS_FILE"); path != "" {
		f, err := flags.Open(path)
		if err != nil {
			return err
		}
		s.Flags = f
	}
	srv := &http.Server{Addr: env("LISTEN", ":8080"), Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("shop %s (%s) on %s, fail rate %.2f", s.Version, commit, srv.Addr, s.FailRate)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// healthcheck is the image's HEALTHCHECK: distroless images have no curl.
func healthcheck() int {
	_, port, _ := strings.Cut(env("LISTEN", ":8080"), ":")
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}
