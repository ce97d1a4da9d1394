package dockerbackend

import (
	"os"
	"strings"

	"github.com/gantry-ci/gantry/internal/container"
)

// socketTarget is where job containers and docker actions find the engine,
// as on GitHub's hosted runners: the docker CLI's default.
const socketTarget = "/var/run/docker.sock"

// DefaultSocket is the engine's socket on this machine: DOCKER_HOST's when
// it names a unix socket, else the default one; "" when the engine is not
// reached through a local socket (tcp://), so there is nothing to mount.
func DefaultSocket() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		if p, ok := strings.CutPrefix(h, "unix://"); ok {
			return p
		}
		return ""
	}
	return socketTarget
}

// SetDockerSocket sets the host socket mounted at /var/run/docker.sock in
// job containers and docker actions, so that their docker commands reach
// this machine's engine; "" mounts none.
func (b *Backend) SetDockerSocket(path string) {
	b.socket, b.socketSet = path, true
}

func (b *Backend) socketMounts() []container.Mount {
	s := b.socket
	if !b.socketSet {
		s = DefaultSocket()
	}
	if s == "" {
		return nil
	}
	return []container.Mount{{Source: s, Target: socketTarget}}
}
