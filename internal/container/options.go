package container

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/gantry-ci/gantry/internal/shellwords"
)

// options are the parts of `docker create` options GitHub lets workflows set
// (container.options and services.<id>.options).
type options struct {
	health     *container.HealthConfig
	hostname   string
	user       string
	entrypoint []string
	workdir    string
	env        []string
	aliases    []string
	labels     map[string]string
	privileged bool
	cpus       int64 // NanoCPUs
	memory     int64
	shmSize    int64
	addHosts   []string
	capAdd     []string
	tmpfs      map[string]string
}

// parseOptions reads the supported options; anything else is an error that
// names the option.
func parseOptions(s string) (*options, error) {
	args, err := shellwords.Split(s)
	if err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	o := &options{labels: map[string]string{}, tmpfs: map[string]string{}}
	health := func() *container.HealthConfig {
		if o.health == nil {
			o.health = &container.HealthConfig{}
		}
		return o.health
	}
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if !strings.HasPrefix(name, "-") {
			return nil, fmt.Errorf("options: unexpected %q; options look like --name value", args[i])
		}
		takesValue := name != "--privileged" && name != "--init"
		if takesValue && !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("options: %s needs a value", name)
			}
			i++
			val = args[i]
		}
		dur := func() (time.Duration, error) {
			d, err := time.ParseDuration(val)
			if err != nil {
				return 0, fmt.Errorf("options: %s %q is not a duration like 10s", name, val)
			}
			return d, nil
		}
		switch name {
		case "--health-cmd":
			health().Test = []string{"CMD-SHELL", val}
		case "--health-interval":
			d, err := dur()
			if err != nil {
				return nil, err
			}
			health().Interval = d
		case "--health-timeout":
			d, err := dur()
			if err != nil {
				return nil, err
			}
			health().Timeout = d
		case "--health-start-period":
			d, err := dur()
			if err != nil {
				return nil, err
			}
			health().StartPeriod = d
		case "--health-retries":
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("options: --health-retries %q is not a number", val)
			}
			health().Retries = n
		case "--no-healthcheck":
			o.health = &container.HealthConfig{Test: []string{"NONE"}}
		case "--hostname", "-h":
			o.hostname = val
		case "--user", "-u":
			o.user = val
		case "--entrypoint":
			o.entrypoint = []string{val}
		case "--workdir", "-w":
			o.workdir = val
		case "--env", "-e":
			o.env = append(o.env, val)
		case "--network-alias":
			o.aliases = append(o.aliases, val)
		case "--label", "-l":
			k, v, _ := strings.Cut(val, "=")
			o.labels[k] = v
		case "--privileged":
			o.privileged = true
		case "--init":
		case "--cpus":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return nil, fmt.Errorf("options: --cpus %q is not a number", val)
			}
			o.cpus = int64(f * 1e9)
		case "--memory", "-m":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return nil, fmt.Errorf("options: --memory %q: %v", val, err)
			}
			o.memory = n
		case "--shm-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return nil, fmt.Errorf("options: --shm-size %q: %v", val, err)
			}
			o.shmSize = n
		case "--add-host":
			o.addHosts = append(o.addHosts, val)
		case "--cap-add":
			o.capAdd = append(o.capAdd, val)
		case "--tmpfs":
			p, opt, _ := strings.Cut(val, ":")
			o.tmpfs[p] = opt
		case "--network", "--net":
			return nil, fmt.Errorf("options: %s is not supported: gantry puts every job and its services on a network of their own", name)
		default:
			return nil, fmt.Errorf("options: %s is not supported; supported are --health-*, --hostname, --user, --entrypoint, --workdir, -e, --network-alias, --label, --privileged, --cpus, --memory, --shm-size, --add-host, --cap-add, --tmpfs", name)
		}
	}
	return o, nil
}
