// Command gantry-images prepares the local base images that stand in for
// GitHub's hosted runner images where no registry can be reached.
//
//	gantry-images has IMAGE              exit 0 when the engine has IMAGE
//	gantry-images import DIR IMAGE [KEY=VALUE|CHANGE...]  import a root file system as IMAGE, with labels and
//	                                     Dockerfile instructions such as 'ENTRYPOINT ["/init"]'
//	gantry-images label IMAGE KEY        print the image's label KEY; exit 1 when it has none
//	gantry-images busybox BUSYBOX IMAGE  make a tiny image from a static busybox
//	gantry-images golang GOROOT BASE IMAGE  a Go toolchain image from BASE and GOROOT
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gantry-ci/gantry/internal/container"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gantry-images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: gantry-images has IMAGE | import DIR IMAGE [KEY=VALUE|CHANGE...] | label IMAGE KEY | busybox BUSYBOX IMAGE | golang GOROOT BASE IMAGE")
	}
	e, err := container.Connect(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	switch {
	case args[0] == "has" && len(args) == 2:
		if !e.ImageExists(ctx, args[1]) {
			os.Exit(1)
		}
		return nil
	case args[0] == "import" && len(args) >= 3:
		return e.ImportRootfs(ctx, args[1], args[2], args[3:]...)
	case args[0] == "label" && len(args) == 3:
		v, ok := e.ImageLabel(ctx, args[1], args[2])
		if !ok {
			os.Exit(1)
		}
		fmt.Println(v)
		return nil
	case args[0] == "busybox" && len(args) == 3:
		return container.BuildBusybox(ctx, e, args[1], args[2])
	case args[0] == "golang" && len(args) == 4:
		return container.BuildGoImage(ctx, e, args[1], args[2], args[3])
	}
	return fmt.Errorf("usage: gantry-images has IMAGE | import DIR IMAGE [KEY=VALUE|CHANGE...] | label IMAGE KEY | busybox BUSYBOX IMAGE | golang GOROOT BASE IMAGE")
}
