// Package blob stores and serves the blobs behind the signed URLs of the
// cache and artifact services, with the Azure Blob Storage block-blob
// semantics the npm clients use through @azure/storage-blob: a single-shot
// PUT (x-ms-blob-type: BlockBlob), or PUT ?comp=block&blockid=ID per block
// and PUT ?comp=blocklist to commit; and the legacy cache API's PATCH with
// Content-Range. Nothing is visible until a commit has checked that every
// byte arrived; a blob is served only when its SHA-256 still matches.
package blob

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Upload is one blob being written, in its own staging directory.
type Upload struct {
	dir string
	max int64

	mu        sync.Mutex
	blocks    map[string]int64 // staged block id (hex) -> size
	ranges    [][2]int64       // legacy chunks written, [start, end)
	committed bool
	failed    bool // a part was too large or cut short: the upload is void
	size      int64
	sum       string
}

// NewUpload makes an upload staged in dir (created; the caller removes it)
// that refuses more than max bytes.
func NewUpload(dir string, max int64) (*Upload, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blocks"), 0o700); err != nil {
		return nil, fmt.Errorf("make upload staging folder: %w", err)
	}
	return &Upload{dir: dir, max: max, blocks: map[string]int64{}}, nil
}

// Path is where the committed blob is.
func (u *Upload) Path() string { return filepath.Join(u.dir, "blob") }

// Committed says whether the blob is complete, with its size and SHA-256 (hex).
func (u *Upload) Committed() (size int64, sum string, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.size, u.sum, u.committed
}

// Failed says a part of the upload was refused as too large or arrived
// cut short; the owner drops the upload rather than wait for a commit.
func (u *Upload) Failed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.failed
}

// Error is a storage error with its HTTP status and Azure error code.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// WriteError answers as Azure Blob Storage does: an XML error body and the
// x-ms-error-code header, which @azure/storage-blob turns into its message.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: 500, Code: "InternalError", Msg: err.Error()}
	}
	w.Header().Set("x-ms-error-code", e.Code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(e.Msg))
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>%s</Message></Error>", e.Code, b.String())
}

// ServeHTTP takes the Azure block-blob writes: PUT (single shot), PUT
// ?comp=block, PUT ?comp=blocklist.
func (u *Upload) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		WriteError(w, errorf(405, "UnsupportedHttpVerb", "%s is not an upload; blobs are uploaded with PUT", r.Method))
		return
	}
	q := r.URL.Query()
	var err error
	switch q.Get("comp") {
	case "":
		if t := r.Header.Get("x-ms-blob-type"); t != "BlockBlob" {
			err = errorf(400, "InvalidHeaderValue", "x-ms-blob-type is %q; only BlockBlob uploads are served", t)
			break
		}
		err = u.putWhole(r)
	case "block":
		err = u.putBlock(r, q.Get("blockid"))
	case "blocklist":
		err = u.commitBlockList(r)
	default:
		err = errorf(400, "InvalidQueryParameterValue", "comp=%s is not served", q.Get("comp"))
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Status == 413 || e.Code == "IncompleteBody") {
			u.mu.Lock()
			u.failed = true
			u.mu.Unlock()
		}
		WriteError(w, err)
		return
	}
	w.Header().Set("x-ms-request-server-encrypted", "false")
	w.Header().Set("ETag", `"0x1"`)
	w.WriteHeader(http.StatusCreated)
}

func (u *Upload) notCommitted() error {
	if u.committed {
		return errorf(409, "BlobImmutable", "the blob is already committed; a cache entry or artifact is written once")
	}
	return nil
}

// receive writes r's body to path, refusing more than limit bytes and a
// body shorter than its Content-Length.
func receive(r *http.Request, path string, limit int64, h hash.Hash) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	var dst io.Writer = f
	if h != nil {
		dst = io.MultiWriter(f, h)
	}
	n, err := io.Copy(dst, io.LimitReader(r.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case n > limit:
		err = errorf(413, "RequestBodyTooLarge", "the upload is larger than the %d bytes this service accepts", limit)
	case err != nil:
		err = errorf(400, "IncompleteBody", "the upload was cut short after %d bytes: %v", n, err)
	case r.ContentLength >= 0 && n != r.ContentLength:
		err = errorf(400, "IncompleteBody", "the upload has %d bytes but Content-Length says %d", n, r.ContentLength)
	}
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	return n, nil
}

func (u *Upload) putWhole(r *http.Request) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.notCommitted(); err != nil {
		return err
	}
	h := sha256.New()
	tmp := filepath.Join(u.dir, "whole")
	n, err := receive(r, tmp, u.max, h)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, u.Path()); err != nil {
		return err
	}
	u.committed, u.size, u.sum = true, n, hex.EncodeToString(h.Sum(nil))
	return nil
}

func blockName(id string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 || len(raw) > 64 {
		return "", errorf(400, "InvalidQueryParameterValue", "blockid %q is not base64 of 1 to 64 bytes", id)
	}
	return hex.EncodeToString(raw), nil
}

func (u *Upload) putBlock(r *http.Request, id string) error {
	name, err := blockName(id)
	if err != nil {
		return err
	}
	u.mu.Lock()
	if err := u.notCommitted(); err != nil {
		u.mu.Unlock()
		return err
	}
	var staged int64
	for b, n := range u.blocks {
		if b != name {
			staged += n
		}
	}
	u.mu.Unlock()
	// Blocks arrive in parallel: each to its own file, outside the lock.
	tmp := filepath.Join(u.dir, "blocks", name+".part")
	n, err := receive(r, tmp, u.max-staged, nil)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.notCommitted(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(u.dir, "blocks", name)); err != nil {
		return err
	}
	u.blocks[name] = n
	return nil
}

type blockList struct {
	Items []struct {
		XMLName xml.Name
		ID      string `xml:",chardata"`
	} `xml:",any"`
}

func (u *Upload) commitBlockList(r *http.Request) error {
	var list blockList
	if err := xml.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&list); err != nil {
		return errorf(400, "InvalidXmlDocument", "the block list is not XML: %v", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.notCommitted(); err != nil {
		return err
	}
	var names []string
	var total int64
	for _, it := range list.Items {
		name, err := blockName(strings.TrimSpace(it.ID))
		if err != nil {
			return err
		}
		n, ok := u.blocks[name]
		if !ok {
			return errorf(400, "InvalidBlockList", "block %s of the list was never uploaded", strings.TrimSpace(it.ID))
		}
		names = append(names, name)
		total += n
	}
	if total > u.max {
		return errorf(413, "RequestBodyTooLarge", "the blob would be %d bytes, more than the %d this service accepts", total, u.max)
	}
	tmp := filepath.Join(u.dir, "whole")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	dst := io.MultiWriter(f, h)
	for _, name := range names {
		if err := appendFile(dst, filepath.Join(u.dir, "blocks", name)); err != nil {
			f.Close()
			os.Remove(tmp)
			return err
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, u.Path()); err != nil {
		return err
	}
	_ = os.RemoveAll(filepath.Join(u.dir, "blocks"))
	u.committed, u.size, u.sum = true, total, hex.EncodeToString(h.Sum(nil))
	return nil
}

func appendFile(dst io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(dst, f)
	return err
}

// ParseContentRange reads "bytes START-END/*" (END inclusive).
func ParseContentRange(h string) (start, end int64, err error) {
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q is not \"bytes START-END/*\"", h)
	}
	spec, _, _ = strings.Cut(spec, "/")
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q is not \"bytes START-END/*\"", h)
	}
	if start, err = strconv.ParseInt(a, 10, 64); err == nil {
		end, err = strconv.ParseInt(b, 10, 64)
	}
	if err != nil || start < 0 || end < start {
		return 0, 0, fmt.Errorf("Content-Range %q is not \"bytes START-END/*\"", h)
	}
	return start, end + 1, nil
}

// WriteRange writes a legacy-API chunk (PATCH with Content-Range) at its offset.
func (u *Upload) WriteRange(r *http.Request) error {
	start, end, err := ParseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		return errorf(400, "InvalidHeaderValue", "%v", err)
	}
	if end > u.max {
		return errorf(413, "RequestBodyTooLarge", "the chunk ends at byte %d, past the %d bytes this service accepts", end, u.max)
	}
	u.mu.Lock()
	if err := u.notCommitted(); err != nil {
		u.mu.Unlock()
		return err
	}
	u.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(u.dir, "ranges"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.NewOffsetWriter(f, start), io.LimitReader(r.Body, end-start+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != end-start {
		return errorf(400, "IncompleteBody", "chunk %d-%d: got %d bytes (%v)", start, end-1, n, err)
	}
	u.mu.Lock()
	u.ranges = append(u.ranges, [2]int64{start, end})
	u.mu.Unlock()
	return nil
}

// CommitRanges completes a legacy upload of size bytes: every byte of
// [0, size) must have been written by some chunk, and none past it.
func (u *Upload) CommitRanges(size int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.notCommitted(); err != nil {
		return err
	}
	rs := append([][2]int64(nil), u.ranges...)
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	var covered int64
	for _, r := range rs {
		if r[0] > covered {
			return errorf(400, "IncompleteBody", "bytes %d-%d were never uploaded", covered, r[0]-1)
		}
		covered = max(covered, r[1])
	}
	if covered != size {
		return errorf(400, "IncompleteBody", "%d bytes were uploaded but the commit says %d", covered, size)
	}
	path := filepath.Join(u.dir, "ranges")
	if size == 0 {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			return err
		}
	}
	h := sha256.New()
	if err := appendFile(h, path); err != nil {
		return err
	}
	if err := os.Rename(path, u.Path()); err != nil {
		return err
	}
	u.committed, u.size, u.sum = true, size, hex.EncodeToString(h.Sum(nil))
	return nil
}

// Verify checks that the file at path still has size bytes and the SHA-256 sum.
func Verify(path string, size int64, sum string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("%s is corrupted: %d bytes with sha256 %x, stored as %d bytes with sha256 %s", path, n, h.Sum(nil), size, sum)
	}
	return nil
}

// Serve sends the blob at path. The last chunk is held back until the
// whole file has hashed to sum: a blob corrupted on disk is cut short, so
// the client sees an incomplete download rather than wrong bytes; corrupt
// (when not nil) is told first, so the owner can drop the blob.
func Serve(w http.ResponseWriter, r *http.Request, path string, size int64, sum string, corrupt func()) {
	f, err := os.Open(path)
	if err != nil {
		WriteError(w, errorf(404, "BlobNotFound", "the blob is gone: %v", err))
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() != size {
		if corrupt != nil {
			corrupt()
		}
		WriteError(w, errorf(500, "InternalError", "the stored blob is corrupted (its size changed); it is not served"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set("x-ms-blob-type", "BlockBlob")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// Headers out first: an abort then reads as a short body (which the
	// clients report as an incomplete download) rather than a hang-up they retry.
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	h := sha256.New()
	held, next := make([]byte, 1<<20), make([]byte, 1<<20)
	n, err := io.ReadFull(f, held)
	for err == nil {
		var m int
		m, err = io.ReadFull(f, next)
		if m == 0 {
			break
		}
		h.Write(held[:n])
		if _, werr := w.Write(held[:n]); werr != nil {
			return
		}
		held, next, n = next, held, m
	}
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		panic(http.ErrAbortHandler)
	}
	h.Write(held[:n])
	if hex.EncodeToString(h.Sum(nil)) != sum {
		if corrupt != nil {
			corrupt()
		}
		panic(http.ErrAbortHandler) // cut the response short: never serve wrong bytes
	}
	_, _ = w.Write(held[:n])
}
