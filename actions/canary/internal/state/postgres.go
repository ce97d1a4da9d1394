package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres keeps rollouts in a PostgreSQL table, for runs on different
// machines. The lock is a session advisory lock: PostgreSQL drops it when
// the connection of a killed run goes away, as the kernel drops a flock.
type Postgres struct {
	URL  string // postgres://user:pass@host:port/db
	Name string // the rollout
	conn *pgx.Conn
	held bool
}

var _ Store = (*Postgres)(nil)

const pgTimeout = 15 * time.Second

const pgSchema = `CREATE TABLE IF NOT EXISTS gantry_canary_rollouts (
	name text PRIMARY KEY,
	state jsonb,
	abort_reason text,
	promote_reason text,
	updated timestamptz NOT NULL DEFAULT now()
)`

// Where implements Store, without the password.
func (p *Postgres) Where() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return "postgres"
	}
	u.User = nil
	return u.Redacted() + " (rollout " + p.Name + ")"
}

func (p *Postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	if p.conn != nil && !p.conn.IsClosed() {
		return p.conn, nil
	}
	c, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return nil, fmt.Errorf("canary state in %s: %w", p.Where(), scrubURL(err, p.URL))
	}
	if _, err := c.Exec(ctx, pgSchema); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("canary state in %s: create table: %w", p.Where(), err)
	}
	p.conn = c
	return c, nil
}

// scrubURL keeps the password of the URL out of driver errors.
func scrubURL(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "***"))
	}
	return err
}

func (p *Postgres) do(f func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	c, err := p.connect(ctx)
	if err != nil {
		return err
	}
	return f(ctx, c)
}

// Load implements Store.
func (p *Postgres) Load() (*State, error) {
	var data []byte
	err := p.do(func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT state FROM gantry_canary_rollouts WHERE name = $1`, p.Name).Scan(&data)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows) || err == nil && data == nil:
		return &State{Phase: Idle}, nil
	case err != nil:
		return nil, fmt.Errorf("read canary state from %s: %w", p.Where(), err)
	}
	return decode(data, p.Where())
}

// Save implements Store.
func (p *Postgres) Save(st *State) error {
	data, err := encode(st)
	if err != nil {
		return err
	}
	return p.do(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO gantry_canary_rollouts (name, state, updated) VALUES ($1, $2, now())
			ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated = now()`, p.Name, data)
		if err != nil {
			return fmt.Errorf("save canary state to %s: %w", p.Where(), err)
		}
		return nil
	})
}

// Lock implements Store.
func (p *Postgres) Lock() error {
	return p.do(func(ctx context.Context, c *pgx.Conn) error {
		var ok bool
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('gantry-canary:' || $1))`, p.Name).Scan(&ok); err != nil {
			return fmt.Errorf("lock canary state in %s: %w", p.Where(), err)
		}
		if !ok {
			return ErrLocked
		}
		p.held = true
		return nil
	})
}

// LockWait implements Store.
func (p *Postgres) LockWait(timeout time.Duration) error { return lockWait(p, timeout) }

// Unlock implements Store: the lock goes with the connection.
func (p *Postgres) Unlock() {
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
		defer cancel()
		p.conn.Close(ctx)
		p.conn = nil
	}
	p.held = false
}

func requestColumn(kind string) (string, error) {
	switch kind {
	case RequestAbort:
		return "abort_reason", nil
	case RequestPromote:
		return "promote_reason", nil
	}
	return "", fmt.Errorf("unknown request %q", kind)
}

// Request implements Store.
func (p *Postgres) Request(kind, reason string) error {
	col, err := requestColumn(kind)
	if err != nil {
		return err
	}
	return p.do(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO gantry_canary_rollouts (name, `+col+`) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET `+col+` = EXCLUDED.`+col, p.Name, reason)
		if err != nil {
			return fmt.Errorf("request %s in %s: %w", kind, p.Where(), err)
		}
		return nil
	})
}

// Requested implements Store; a database that cannot be read reports no
// request, and the next poll tries again.
func (p *Postgres) Requested(kind string) (bool, string) {
	col, err := requestColumn(kind)
	if err != nil {
		return false, ""
	}
	var reason *string
	err = p.do(func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT `+col+` FROM gantry_canary_rollouts WHERE name = $1`, p.Name).Scan(&reason)
	})
	if err != nil || reason == nil {
		return false, ""
	}
	return true, *reason
}

// ClearRequests implements Store.
func (p *Postgres) ClearRequests() {
	_ = p.do(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `UPDATE gantry_canary_rollouts SET abort_reason = NULL, promote_reason = NULL WHERE name = $1`, p.Name)
		return err
	})
}
