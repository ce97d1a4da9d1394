package action

import "context"

// Source finds an action's directory for a job whose workspace is given
// (local actions live there). The engine takes a Source so a forge runner
// can bring its own (a server's download API) and tests a fixed one.
type Source interface {
	Resolve(ctx context.Context, ref Ref, workspace string) (string, error)
	ResolveRepo(ctx context.Context, ref Ref) (string, error)
}

// CacheSource resolves actions from an action cache and a git mirror.
type CacheSource struct {
	CacheDir string // OWNER/REPO/REF/; DefaultCacheDir when empty
	Mirror   string // see Resolver.Mirror
	// FetchURLs: see Resolver.FetchURLs.
	FetchURLs bool
}

// Resolve finds the action of ref, local ones in workspace.
func (c CacheSource) Resolve(ctx context.Context, ref Ref, workspace string) (string, error) {
	r := &Resolver{Workspace: workspace, CacheDir: c.CacheDir, Mirror: c.Mirror, FetchURLs: c.FetchURLs}
	return r.Resolve(ctx, ref)
}

// ResolveRepo finds the whole repository of ref (for reusable workflows).
func (c CacheSource) ResolveRepo(ctx context.Context, ref Ref) (string, error) {
	r := &Resolver{CacheDir: c.CacheDir, Mirror: c.Mirror, FetchURLs: c.FetchURLs}
	return r.ResolveRepo(ctx, ref)
}
