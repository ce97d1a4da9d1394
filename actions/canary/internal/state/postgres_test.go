package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/canary/internal/canarytest"
)

func TestPostgresStore(t *testing.T) {
	url := canarytest.StartPostgres(t)
	a := &Postgres{URL: url, Name: "shop"}
	b := &Postgres{URL: url, Name: "shop"}
	other := &Postgres{URL: url, Name: "other"}
	t.Cleanup(func() { a.Unlock(); b.Unlock(); other.Unlock() })

	st, err := a.Load()
	if err != nil || st.Phase != Idle {
		t.Fatalf("empty store: %+v %v", st, err)
	}
	if err := a.Save(&State{Name: "shop", Phase: Progressing, Weight: 25}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Load(); err != nil || got.Weight != 25 || got.Phase != Progressing {
		t.Fatalf("another run reads %+v %v", got, err)
	}

	// One run at a time per rollout; other rollouts are independent.
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if err := other.Lock(); err != nil {
		t.Fatalf("another rollout's lock: %v", err)
	}

	// Requests reach the holder.
	if err := b.Request(RequestAbort, "pager went off"); err != nil {
		t.Fatal(err)
	}
	if ok, why := a.Requested(RequestAbort); !ok || why != "pager went off" {
		t.Errorf("holder sees %v %q", ok, why)
	}
	if ok, _ := a.Requested(RequestPromote); ok {
		t.Error("promote requested out of nothing")
	}
	a.ClearRequests()
	if ok, _ := a.Requested(RequestAbort); ok {
		t.Error("request survived ClearRequests")
	}

	// A killed run's connection goes away, and with it the lock.
	if err := a.conn.PgConn().Conn().Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.LockWait(30e9); err != nil {
		t.Fatalf("lock after the holder died: %v", err)
	}
	if got, _ := b.Load(); got.Weight != 25 {
		t.Errorf("state after the holder died: %+v", got)
	}
}

func TestPostgresErrorsHideThePassword(t *testing.T) {
	p := &Postgres{URL: "postgres://gantry:hunter2@127.0.0.1:1/db?connect_timeout=2", Name: "x"}
	_, err := p.Load()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
	if strings.Contains(p.Where(), "hunter2") || !strings.Contains(p.Where(), "127.0.0.1:1") {
		t.Errorf("Where() = %q", p.Where())
	}
}
