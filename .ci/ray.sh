#!/usr/bin/env bash
# A real single-node Ray cluster for the tests (the Ray executor of jobs, the Ray Serve engine of
# deployments), on 127.0.0.1 only. Installs Ray into .ci/.ray-venv if missing (from
# .ci/ray-requirements.txt + .ci/ray-constraints.txt), starts the head if it is not running and prints
# the addresses the tests read, as shell lines to eval:
#   eval "$(bash .ci/ray.sh)"        # exports ATELIER_TEST_RAY_ADDRESS and ATELIER_TEST_RAY_DASHBOARD
#   bash .ci/ray.sh stop             # stops it
# Ports: ATELIER_TEST_RAY_PORT (GCS, default 26379) and ATELIER_TEST_RAY_DASHBOARD_PORT (Jobs API and
# dashboard, default 28265); the others Ray opens are fixed below the ephemeral range too, so a test
# server's random port never meets them.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${ATELIER_TEST_RAY_PORT:-26379}
dash=${ATELIER_TEST_RAY_DASHBOARD_PORT:-28265}
temp=${ATELIER_TEST_RAY_TEMP:-${TMPDIR:-/tmp}/atelier-test-ray}
venv=.ci/.ray-venv

if [ "${1:-}" = stop ]; then
  if [ -x "$venv/bin/ray" ]; then "$venv/bin/ray" stop --force >/dev/null 2>&1 || true; fi
  rm -rf "$temp/tmp"
  exit 0
fi

# A venv left by an earlier run is reused only when it was made from these same requirements.
bash .ci/venv.sh "$venv" .ci/ray-requirements.txt .ci/ray-constraints.txt

up() { "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$dash/api/version', timeout=2)" >/dev/null 2>&1; }
if ! up; then
  # `python` in a job's shell is Ray's own interpreter unless its runtime_env says otherwise. The
  # cluster's temporary files (jobs' working_dir packages, Serve's scripts) go under its own folder,
  # removed by `stop`, not into the system's.
  mkdir -p "$temp/tmp"
  TMPDIR="$temp/tmp" PATH="$PWD/$venv/bin:$PATH" RAY_USAGE_STATS_ENABLED=0 "$venv/bin/ray" start --head \
    --node-ip-address 127.0.0.1 --port "$port" \
    --dashboard-host 127.0.0.1 --dashboard-port "$dash" \
    --dashboard-agent-listen-port $((dash + 1)) --dashboard-agent-grpc-port $((dash + 2)) \
    --metrics-export-port $((dash + 3)) --runtime-env-agent-port $((dash + 4)) \
    --node-manager-port $((dash + 5)) --object-manager-port $((dash + 6)) \
    --ray-client-server-port $((port + 1)) --min-worker-port 21000 --max-worker-port 21999 \
    --num-cpus 2 --object-store-memory 209715200 --temp-dir "$temp" \
    --disable-usage-stats >&2
  for _ in $(seq 1 60); do up && break; sleep 1; done
  up || { echo "Ray's dashboard (Jobs API) did not answer on 127.0.0.1:$dash" >&2; exit 1; }
fi
echo "export ATELIER_TEST_RAY_ADDRESS=127.0.0.1:$port"
echo "export ATELIER_TEST_RAY_DASHBOARD=http://127.0.0.1:$dash"
