#!/bin/sh
echo "pre-entrypoint ran with $1"
echo "from_pre=yes" >> "$GITHUB_STATE"
