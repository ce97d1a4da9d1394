echo "args: $1 / $2"
# busybox reads /proc files short in a pipe: copy first.
cat /proc/1/environ > /tmp/environ
tr '\000' '\n' < /tmp/environ | grep -E '^(INPUT_[A-Z_-]*|FROM_META|GITHUB_WORKSPACE|HOME|CI)=' | sort
echo "greeting=Hello $1" >> "$GITHUB_OUTPUT"
echo "ws has: $(ls "$GITHUB_WORKSPACE" | tr '\n' ' ')"
echo "event: $(head -c 200 "$GITHUB_EVENT_PATH" | tr -d '\n ')"
