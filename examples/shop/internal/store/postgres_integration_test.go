//go:build integration

package store

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/examples/shop/internal/pg"
)

// open connects to DATABASE_URL (the workflow's PostgreSQL service),
// retrying while the service starts.
func open(t *testing.T) *Postgres {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("the integration suite needs DATABASE_URL (postgres://user:password@host:5432/db?sslmode=disable)")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := OpenPostgres(ctx, url)
		cancel()
		if err == nil {
			t.Cleanup(func() { p.Close() })
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL at DATABASE_URL did not answer: %v", err)
		}
		time.Sleep(time.Second)
	}
}

func TestPostgresOrders(t *testing.T) {
	p := open(t)
	ctx := context.Background()
	prods, err := p.Products(ctx)
	if err != nil || len(prods) != len(Catalogue) || prods[1].Name != "grinder" {
		t.Fatalf("products %v %v", prods, err)
	}
	before, err := p.OrderCount(ctx, "express")
	if err != nil {
		t.Fatal(err)
	}
	o, err := p.PlaceOrder(ctx, 2, 3, 10, "express")
	if err != nil {
		t.Fatal(err)
	}
	if o.ID == 0 || o.Total != 8900*3*90/100 {
		t.Errorf("order %+v", o)
	}
	after, _ := p.OrderCount(ctx, "express")
	if after != before+1 {
		t.Errorf("express orders %d -> %d", before, after)
	}
	if _, err := p.PlaceOrder(ctx, 99, 1, 0, "classic"); !errors.Is(err, ErrNoProduct) {
		t.Errorf("unknown product: %v", err)
	}
	// The database's own constraint, not the handler, refuses this one.
	var pgErr *pg.Error
	if _, err := p.PlaceOrder(ctx, 1, 0, 0, "classic"); !errors.As(err, &pgErr) || pgErr.Code != "23514" {
		t.Errorf("zero quantity: %v", err)
	}
	// A value with quotes is a parameter, never SQL.
	if n, err := p.OrderCount(ctx, "x'); DROP TABLE orders; --"); err != nil || n != 0 {
		t.Errorf("quoted parameter: %d %v", n, err)
	}
	if err := p.Ping(ctx); err != nil {
		t.Error(err)
	}
	// Reopening finds the schema and catalogue in place.
	again, err := OpenPostgres(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n, _ := again.OrderCount(ctx, "express"); n != after {
		t.Errorf("a second connection sees %d express orders, want %d", n, after)
	}
}
