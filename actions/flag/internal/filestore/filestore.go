// Package filestore makes a flag file format (a flags.Document) a
// flags.Provider: the file is read from a gitops.Target and the edited bytes
// are returned in the Outcome for the action to write or commit.
package filestore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/gitops"
	"github.com/gantry-ci/gantry/actions/flag/internal/textdiff"
)

// Provider is one flag file in one place.
type Provider struct {
	Doc    flags.Document
	Path   string // repository-relative
	Target gitops.Target
}

var _ flags.Provider = (*Provider)(nil)

// Name implements flags.Provider.
func (p *Provider) Name() string { return p.Doc.Format() }

func (p *Provider) read(ctx context.Context) ([]byte, error) {
	b, err := p.Target.Read(ctx, p.Path)
	if err != nil {
		if gitops.IsNotExist(err) {
			return nil, fmt.Errorf("%s flag file %s not found in %s: check the file input: %w", p.Doc.Format(), p.Path, p.Target, err)
		}
		return nil, fmt.Errorf("read %s flag file %s: %w", p.Doc.Format(), p.Path, err)
	}
	return b, nil
}

// Get implements flags.Provider.
func (p *Provider) Get(ctx context.Context, key string) (flags.State, error) {
	src, err := p.read(ctx)
	if err != nil {
		return flags.State{}, err
	}
	st, err := p.Doc.Read(src, key)
	if err != nil {
		return flags.State{}, fmt.Errorf("%s: %w", p.Path, err)
	}
	return st, nil
}

// Set implements flags.Provider. Nothing is written here either way: the
// new file is in Outcome.Files.
func (p *Provider) Set(ctx context.Context, key string, c flags.Change, _ bool) (flags.Outcome, error) {
	src, err := p.read(ctx)
	if err != nil {
		return flags.Outcome{}, err
	}
	return p.edit(src, key, func(src []byte) ([]byte, error) { return p.Doc.Edit(src, key, c) })
}

// Restore returns the Outcome of putting the file back to original bytes, as
// a flip back does when nobody else changed the file since the flip wrote
// written; otherwise it applies c (the reverse change) to the current file.
func (p *Provider) Restore(ctx context.Context, key string, original, written []byte, c flags.Change) (flags.Outcome, error) {
	src, err := p.read(ctx)
	if err != nil {
		return flags.Outcome{}, err
	}
	return p.edit(src, key, func(src []byte) ([]byte, error) {
		if bytes.Equal(src, written) {
			return original, nil
		}
		return p.Doc.Edit(src, key, c)
	})
}

func (p *Provider) edit(src []byte, key string, edit func([]byte) ([]byte, error)) (flags.Outcome, error) {
	before, err := p.Doc.Read(src, key)
	if err != nil {
		return flags.Outcome{}, fmt.Errorf("%s: %w", p.Path, err)
	}
	dst, err := edit(src)
	if err != nil {
		return flags.Outcome{}, fmt.Errorf("edit flag %s in %s: %w", key, p.Path, err)
	}
	// Never hand on a file the flag system would reject.
	if err := p.Doc.Validate(dst); err != nil {
		return flags.Outcome{}, fmt.Errorf("the edited %s is not a valid %s file, nothing written: %w", p.Path, p.Doc.Format(), err)
	}
	after, err := p.Doc.Read(dst, key)
	if err != nil {
		return flags.Outcome{}, fmt.Errorf("read back %s after the edit: %w", p.Path, err)
	}
	o := flags.Outcome{Before: before, After: after, Changed: !bytes.Equal(src, dst)}
	if o.Changed {
		o.Diff = textdiff.Unified("a/"+p.Path, "b/"+p.Path, src, dst)
		o.Files = map[string][]byte{p.Path: dst}
	}
	return o, nil
}

// Validate implements flags.Provider.
func (p *Provider) Validate(ctx context.Context) error {
	src, err := p.read(ctx)
	if err != nil {
		return err
	}
	if err := p.Doc.Validate(src); err != nil {
		return fmt.Errorf("%s: %w", p.Path, err)
	}
	return nil
}
