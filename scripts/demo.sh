#!/usr/bin/env bash
# The main job: sets up the machine (Docker engine, local images), builds
# gantry and runs this repository's demo workflow end to end with it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
bash scripts/setup.sh
mkdir -p bin
go build -o bin/gantry ./runner/cmd/gantry
exec ./bin/gantry run workflow_dispatch -W .github/workflows/demo.yml \
	--input greeting="hello from gantry" -s DEMO_TOKEN=not-for-your-eyes "$@"
