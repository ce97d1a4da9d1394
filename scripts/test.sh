#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs and starts what the tests
# need (Docker engine, local base images, Debian services), then runs the
# format, vet and staticcheck gates and `go test -race ./...`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

bash scripts/setup.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
if ! command -v staticcheck >/dev/null; then
	GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.6.1
fi
staticcheck ./...

echo "== go test -race"
set +e
go test -race -count=1 -timeout 20m ./... 2>&1 | tee /tmp/gantry-test.log
status=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^ok' /tmp/gantry-test.log || true)
failed=$(grep -c '^FAIL' /tmp/gantry-test.log || true)
echo "packages: ${passed} passed, ${failed} failed"
exit "$status"
