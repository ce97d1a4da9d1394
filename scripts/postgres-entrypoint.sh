#!/bin/sh
# Entrypoint of gantry/postgres:15 (Debian's postgresql-15 in a debootstrap
# root file system, made by scripts/setup.sh). It reads the same variables as
# the official postgres image so a workflow's service block works with either:
# POSTGRES_USER (postgres), POSTGRES_PASSWORD, POSTGRES_DB (the user's name)
# and POSTGRES_HOST_AUTH_METHOD (scram-sha-256 with a password, else trust).
set -eu
bin=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ -n "${POSTGRES_PASSWORD:-}" ]; then method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}; else method=${POSTGRES_HOST_AUTH_METHOD:-trust}; fi
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	chown postgres "$pwfile"
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then pwopt="--pwfile=$pwfile"; else pwopt=""; fi
	runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -U "$user" --auth-local=trust --auth-host="$method" $pwopt --no-sync >/dev/null
	rm -f "$pwfile"
	echo "host all all all $method" >>"$PGDATA/pg_hba.conf"
	if [ "$db" != postgres ]; then
		echo "CREATE DATABASE \"$db\"" | runuser -u postgres -- "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
	fi
fi
exec runuser -u postgres -- "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c fsync=off
