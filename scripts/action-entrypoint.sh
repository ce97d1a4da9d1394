#!/bin/sh
# Runs the action named by the first argument (build, test, ...).
set -e
name=$1
[ -n "$name" ] || { echo "::error::no action named; pass its name as the first argument" >&2; exit 2; }
shift
exec "/usr/local/bin/$name" "$@"
