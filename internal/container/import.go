package container

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/image"
)

// ImportRootfsWith imports a root file system directory as an image with
// Dockerfile instructions applied to its config (ENTRYPOINT, ENV, EXPOSE,
// USER, ...), as `docker import --change` does.
func (e *Engine) ImportRootfsWith(ctx context.Context, dir, ref string, changes []string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir, nil)) }()
	rc, err := e.cli.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("import %s as %s: %w", dir, ref, err)
	}
	if err := drain(rc); err != nil {
		return fmt.Errorf("import %s as %s: %w", dir, ref, err)
	}
	return nil
}
