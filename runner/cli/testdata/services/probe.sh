# Run in a docker action: the cache API answers at the address given to containers.
set -eu
list=$(curl -sf -H "Authorization: Bearer $ACTIONS_RUNTIME_TOKEN" "${ACTIONS_CACHE_URL}_apis/artifactcache/caches?key=data-")
case "$list" in
  *'"data-Linux-v1"'*) echo "probe ok: the docker action sees the cache";;
  *) echo "probe failed: $list"; exit 1;;
esac
