// Package twirp serves Twirp RPCs in their JSON encoding, the one the npm
// clients of GitHub's results services (@actions/cache, @actions/artifact)
// speak: POST /twirp/<package.Service>/<Method> with a JSON body whose field
// names are the protobuf names, answered with JSON or a Twirp error.
package twirp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Error is a Twirp error: a code from Twirp's list and a message.
type Error struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Errorf makes a Twirp error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Twirp's error codes used by the services, with the HTTP status Twirp maps
// each to. None of them is one the npm clients retry (they retry 5xx and
// 429), so a bad request fails the step at once with its message.
const (
	InvalidArgument    = "invalid_argument"
	NotFound           = "not_found"
	AlreadyExists      = "already_exists"
	Unauthenticated    = "unauthenticated"
	PermissionDenied   = "permission_denied"
	FailedPrecondition = "failed_precondition"
	BadRoute           = "bad_route"
	Malformed          = "malformed"
	Internal           = "internal"
)

var status = map[string]int{
	InvalidArgument: 400, Malformed: 400, NotFound: 404, BadRoute: 404, AlreadyExists: 409,
	Unauthenticated: 401, PermissionDenied: 403, FailedPrecondition: 412, Internal: 500,
}

// WriteError writes err as a Twirp error (an internal one when it is not *Error).
func WriteError(w http.ResponseWriter, err error) {
	var te *Error
	if !errors.As(err, &te) {
		te = &Error{Code: Internal, Msg: err.Error()}
	}
	code := status[te.Code]
	if code == 0 {
		code = 500
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(te)
}

// Method handles one RPC: it decodes the request into a new Req and encodes
// what fn returns.
func Method[Req any, Resp any](fn func(r *http.Request, req *Req) (*Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			WriteError(w, Errorf(BadRoute, "%s %s: Twirp methods are called with POST", r.Method, r.URL.Path))
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/json" {
			WriteError(w, Errorf(BadRoute, "content type %q is not served; use application/json (the encoding the @actions npm clients use)", ct))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			WriteError(w, Errorf(Malformed, "read request: %v", err))
			return
		}
		req := new(Req)
		if err := json.Unmarshal(body, req); err != nil {
			WriteError(w, Errorf(Malformed, "decode %s request: %v", methodName(r), err))
			return
		}
		resp, err := fn(r, req)
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}
}

func methodName(r *http.Request) string {
	return r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
}

// Prefix is where a service's methods live: /twirp/<service>/.
func Prefix(service string) string { return "/twirp/" + service + "/" }

// Int64 is a protobuf int64 in JSON: written as a string, read from a
// string or a number.
type Int64 int64

// MarshalJSON writes the number as a string, as protobuf's JSON mapping does.
func (n Int64) MarshalJSON() ([]byte, error) { return json.Marshal(fmt.Sprint(int64(n))) }

// UnmarshalJSON reads "123" or 123.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*n = Int64(v)
	return nil
}
