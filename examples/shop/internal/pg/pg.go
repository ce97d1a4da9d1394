// Package pg is a minimal PostgreSQL client for the shop: one connection,
// the extended query protocol with text parameters (so values never become
// SQL), and trust, password, MD5 and SCRAM-SHA-256 authentication. The
// example stays free of dependencies so its tests run in a container that
// cannot download modules; a real service would use pgx.
package pg

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5" // #nosec G501 -- PostgreSQL's md5 authentication needs it
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Error is an error PostgreSQL sent.
type Error struct {
	Code, Message string
}

func (e *Error) Error() string { return fmt.Sprintf("postgres: %s (SQLSTATE %s)", e.Message, e.Code) }

// Conn is one connection; it is safe for concurrent use (queries are serialised).
type Conn struct {
	mu   sync.Mutex
	c    net.Conn
	r    *bufio.Reader
	user string
}

// Connect dials a postgres:// URL (sslmode=disable only: TLS is out of this
// example's scope) and authenticates.
func Connect(ctx context.Context, rawURL string) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("database URL: want postgres://user:password@host:port/db?sslmode=disable")
	}
	if m := u.Query().Get("sslmode"); m != "" && m != "disable" {
		return nil, fmt.Errorf("database URL: sslmode=%s is not supported by this example; use sslmode=disable", m)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	user := u.User.Username()
	if user == "" {
		user = "postgres"
	}
	password, _ := u.User.Password()
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = user
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres at %s: %w", host, err)
	}
	c := &Conn{c: nc, r: bufio.NewReader(nc), user: user}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := c.startup(user, password, db); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// Close ends the session.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.c.Write([]byte{'X', 0, 0, 0, 4})
	return c.c.Close()
}

// maxMessage bounds every length this client puts on or takes off the wire.
const maxMessage = 64 << 20

// wireLen is n as a protocol length, refusing what PostgreSQL would not take.
func wireLen(n int) (uint32, error) {
	if n < 0 || n > maxMessage {
		return 0, fmt.Errorf("postgres: %d bytes is more than this client sends in one message", n)
	}
	return uint32(n), nil // #nosec G115 -- bounded by maxMessage just above
}

func (c *Conn) send(typ byte, payload []byte) error {
	n, err := wireLen(len(payload) + 4)
	if err != nil {
		return err
	}
	msg := make([]byte, 0, 5+len(payload))
	if typ != 0 {
		msg = append(msg, typ)
	}
	msg = binary.BigEndian.AppendUint32(msg, n)
	msg = append(msg, payload...)
	_, err = c.c.Write(msg)
	return err
}

func (c *Conn) receive() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("postgres: read: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > maxMessage {
		return 0, nil, fmt.Errorf("postgres: message of %d bytes", n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, fmt.Errorf("postgres: read: %w", err)
	}
	return hdr[0], body, nil
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func parseError(body []byte) *Error {
	e := &Error{}
	for len(body) > 1 {
		field := body[0]
		end := strings.IndexByte(string(body[1:]), 0)
		if end < 0 {
			break
		}
		val := string(body[1 : 1+end])
		body = body[2+end:]
		switch field {
		case 'C':
			e.Code = val
		case 'M':
			e.Message = val
		}
	}
	return e
}

func (c *Conn) startup(user, password, db string) error {
	var p []byte
	p = binary.BigEndian.AppendUint32(p, 196608) // protocol 3.0
	p = append(p, cstr("user")...)
	p = append(p, cstr(user)...)
	p = append(p, cstr("database")...)
	p = append(p, cstr(db)...)
	p = append(p, 0)
	if err := c.send(0, p); err != nil {
		return fmt.Errorf("postgres: startup: %w", err)
	}
	var scram *scramClient
	for {
		typ, body, err := c.receive()
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			return parseError(body)
		case 'Z':
			return nil
		case 'R':
			if len(body) < 4 {
				return errors.New("postgres: short authentication message")
			}
			code, rest := binary.BigEndian.Uint32(body), body[4:]
			switch code {
			case 0: // ok
			case 3:
				err = c.send('p', cstr(password))
			case 5:
				// MD5 is what this PostgreSQL authentication method is made of.
				inner := md5.Sum([]byte(password + user))                               // #nosec G401 -- the protocol's own hash
				outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), rest...)) // #nosec G401 -- the protocol's own hash
				err = c.send('p', cstr("md5"+hex.EncodeToString(outer[:])))
			case 10:
				if !strings.Contains(string(rest), "SCRAM-SHA-256\x00") {
					return errors.New("postgres: the server offers no SCRAM-SHA-256")
				}
				scram = newScram(password)
				first := scram.first()
				msg := cstr("SCRAM-SHA-256")
				msg = binary.BigEndian.AppendUint32(msg, uint32(len(first))) // #nosec G115 -- a few dozen bytes
				err = c.send('p', append(msg, first...))
			case 11:
				if scram == nil {
					return errors.New("postgres: SASL continue without a start")
				}
				var final string
				if final, err = scram.final(string(rest)); err == nil {
					err = c.send('p', []byte(final))
				}
			case 12:
				if scram == nil || !scram.verify(string(rest)) {
					return errors.New("postgres: the server's SCRAM signature does not match")
				}
			default:
				return fmt.Errorf("postgres: authentication method %d is not supported (use trust, password, md5 or scram-sha-256)", code)
			}
			if err != nil {
				return fmt.Errorf("postgres: authenticate: %w", err)
			}
		}
	}
}

// Query runs one statement with $1... text parameters and returns its rows
// as text (nil for NULL).
func (c *Conn) Query(ctx context.Context, sql string, args ...string) ([][]*string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.c.SetDeadline(dl)
		defer func() { _ = c.c.SetDeadline(time.Time{}) }()
	}
	parse := append(cstr(""), cstr(sql)...)
	parse = append(parse, 0, 0)
	bind := append(cstr(""), cstr("")...)
	bind = append(bind, 0, 0) // all parameters in text
	if len(args) > 65535 {
		return nil, fmt.Errorf("postgres: %d parameters; the protocol takes at most 65535", len(args))
	}
	bind = binary.BigEndian.AppendUint16(bind, uint16(len(args))) // #nosec G115 -- checked just above
	for _, a := range args {
		n, err := wireLen(len(a))
		if err != nil {
			return nil, err
		}
		bind = binary.BigEndian.AppendUint32(bind, n)
		bind = append(bind, a...)
	}
	bind = append(bind, 0, 0) // all results in text
	for _, m := range []struct {
		t byte
		p []byte
	}{{'P', parse}, {'B', bind}, {'E', append(cstr(""), 0, 0, 0, 0)}, {'S', nil}} {
		if err := c.send(m.t, m.p); err != nil {
			return nil, fmt.Errorf("postgres: send: %w", err)
		}
	}
	var rows [][]*string
	var qerr error
	for {
		typ, body, err := c.receive()
		if err != nil {
			return nil, err
		}
		switch typ {
		case 'E':
			qerr = parseError(body)
		case 'D':
			row, err := dataRow(body)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		case 'Z':
			return rows, qerr
		}
	}
}

func dataRow(b []byte) ([]*string, error) {
	if len(b) < 2 {
		return nil, errors.New("postgres: short data row")
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	row := make([]*string, n)
	for i := range row {
		if len(b) < 4 {
			return nil, errors.New("postgres: short data row")
		}
		raw := binary.BigEndian.Uint32(b)
		b = b[4:]
		if raw == 0xFFFFFFFF { // -1: NULL
			continue
		}
		l := int(raw)
		if l > len(b) {
			return nil, errors.New("postgres: short data row")
		}
		s := string(b[:l])
		row[i] = &s
		b = b[l:]
	}
	return row, nil
}

// scramClient is the client side of SCRAM-SHA-256 (RFC 5802/7677) without
// channel binding.
type scramClient struct {
	password, nonce, firstBare, authMessage string
	salted                                  []byte
}

func newScram(password string) *scramClient {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return &scramClient{password: password, nonce: base64.RawStdEncoding.EncodeToString(b)}
}

func (s *scramClient) first() string {
	s.firstBare = "n=,r=" + s.nonce
	return "n,," + s.firstBare
}

func (s *scramClient) final(serverFirst string) (string, error) {
	attrs := map[string]string{}
	for _, kv := range strings.Split(serverFirst, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			attrs[k] = v
		}
	}
	nonce, salt64, iter := attrs["r"], attrs["s"], attrs["i"]
	if !strings.HasPrefix(nonce, s.nonce) {
		return "", errors.New("SCRAM: the server's nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return "", fmt.Errorf("SCRAM salt: %w", err)
	}
	var iterations int
	if _, err := fmt.Sscan(iter, &iterations); err != nil || iterations < 1 {
		return "", fmt.Errorf("SCRAM iterations %q", iter)
	}
	s.salted, err = pbkdf2.Key(sha256.New, s.password, salt, iterations, 32)
	if err != nil {
		return "", err
	}
	withoutProof := "c=biws,r=" + nonce
	s.authMessage = s.firstBare + "," + serverFirst + "," + withoutProof
	clientKey := mac(s.salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	sig := mac(stored[:], s.authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (s *scramClient) verify(serverFinal string) bool {
	v, ok := strings.CutPrefix(serverFinal, "v=")
	if !ok {
		return false
	}
	want := mac(mac(s.salted, "Server Key"), s.authMessage)
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	return err == nil && hmac.Equal(got, want)
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
