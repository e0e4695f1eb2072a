#!/usr/bin/env bash
# Makes the Python venv DIR from a requirements file and its exact pins, or keeps the one there when it
# was made from these same two files:   bash .ci/venv.sh DIR REQUIREMENTS CONSTRAINTS
# (used by .ci/run for .ci/.venv and .ci/.azureml-mlflow-venv, and by .ci/ray.sh for .ci/.ray-venv).
# The packages are installed by uv, not pip: it downloads and installs in parallel and resolves the
# same pinned set several times faster (the three venvs took ~200 s with pip). uv itself is pinned by
# the uv== line of .ci/python-requirements.txt and put once into .ci/.uv with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1 requirements=$2 constraints=$3

if cat "$requirements" "$constraints" | cmp -s - "$venv/.requirements"; then exit 0; fi

uv_pin=$(grep -E '^uv==' .ci/python-requirements.txt)
if [ ! -x .ci/.uv/bin/uv ] || [ "$(cat .ci/.uv/.requirements 2>/dev/null)" != "$uv_pin" ]; then
  rm -rf .ci/.uv
  python3 -m venv .ci/.uv
  .ci/.uv/bin/pip install -q --disable-pip-version-check --no-input "$uv_pin" >&2
  echo "$uv_pin" > .ci/.uv/.requirements
fi

rm -rf "$venv"
python3 -m venv "$venv"
# uv reads neither pip's configuration files nor its variables: pass on the certificate bundle and
# local wheel folders a machine gives pip.
links=()
for l in ${PIP_FIND_LINKS:-}; do links+=(--find-links "$l"); done
SSL_CERT_FILE=${SSL_CERT_FILE:-${PIP_CERT:-}} .ci/.uv/bin/uv pip install -q --python "$venv/bin/python" \
  ${links[@]+"${links[@]}"} -r "$requirements" -c "$constraints" >&2
cat "$requirements" "$constraints" > "$venv/.requirements"
