echo "hello, $1, from a docker action in $(pwd)"
echo "said=hello $1" >> "$GITHUB_OUTPUT"
