#!/bin/sh
echo "post-entrypoint ran, state from_pre=$STATE_from_pre"
