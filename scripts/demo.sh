#!/usr/bin/env bash
# The main job: sets up the machine (Docker engine, local images, Debian's
# HAProxy, Prometheus, Pushgateway and docker-registry), then runs the shop's
# delivery pipeline (.github/workflows/deliver.yml) under gantry against a
# production stack on loopback, for a good release and a bad one, and prints
# a report. The stack is removed afterwards.
#
#   bash scripts/demo.sh               canary release
#   bash scripts/demo.sh --blue-green  the same story, blue-green
#   bash scripts/demo.sh --keep        leave the stack running until Ctrl-C
#   bash scripts/demo.sh -v            stream the pipeline's log
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
bash scripts/setup.sh
mkdir -p bin
go build -o bin/gantry ./runner/cmd/gantry
go build -o bin/gantry-demo ./examples/delivery/cmd/demo
exec ./bin/gantry-demo "$@"
