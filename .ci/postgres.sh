#!/usr/bin/env bash
# Starts a throw-away PostgreSQL for the test suite on 127.0.0.1:${ATELIER_TEST_PG_PORT:-54329}
# and prints the URL the tests use (ATELIER_TEST_DATABASE_URL). Installs Debian's package if missing.
set -euo pipefail
port=${ATELIER_TEST_PG_PORT:-54329}
data=${ATELIER_TEST_PG_DATA:-${TMPDIR:-/tmp}/atelier-test-pg}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$data/PG_VERSION" ]; then
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  run "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! run "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  run "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data -c max_connections=300 -c fsync=off" start >&2
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
