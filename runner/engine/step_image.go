package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/gantry-ci/gantry/internal/shellwords"
)

// imageKind is a uses: docker://image step: with.args and with.entrypoint
// replace the image's own; other with: values become INPUT_*.
type imageKind struct{}

func (imageKind) main(ctx context.Context, j *jobRun, c stepCall) error {
	s := c.s
	if j.deps.Containers == nil {
		return fmt.Errorf("%s: %s needs a Docker engine; none is available (run scripts/setup.sh)", s.Pos, s.Uses)
	}
	with, err := j.evalWith(s, c.env)
	if err != nil {
		return err
	}
	image := strings.TrimPrefix(s.Uses, "docker://")
	var ep, args []string
	if e := with["entrypoint"]; e != "" {
		ep = []string{e}
	}
	if a := with["args"]; a != "" {
		if args, err = shellwords.Split(a); err != nil {
			return fmt.Errorf("%s: with.args: %w", s.Pos, err)
		}
	}
	extra := map[string]string{}
	for k, v := range with {
		if k != "args" && k != "entrypoint" {
			extra["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
		}
	}
	return j.runContainer(ctx, c.sc, c.st, image, ep, args, c.stepEnv, extra)
}
