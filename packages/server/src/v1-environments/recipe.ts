import type { EnvironmentSpec } from '../environment-builds/spec.js';

/** The names of the recipe's scripts, as `env.build_local` runs them (`/bin/bash -c <script>`, in the unzipped folder). */
export const BUILD_SCRIPT = 'build_environment.sh';
export const CHECK_SCRIPT = 'check_environment.sh';
const REQUIREMENTS = 'requirements.txt';
/** What marks a finished environment (written last, before the rename that makes it appear whole). */
const MARKER = '.atelier-build.json';

/** The Python test the scripts apply to an interpreter for the spec's version (`3.11`, `>=3.10`, …). */
function pythonCheck(version: string | undefined): string {
  if (!version) return 'True';
  const m = /^(==|>=|<=|~=|>|<)?(\d+(?:\.\d+){0,2})$/.exec(version);
  if (!m) return 'False';
  const op = m[1] ?? '';
  const parts = m[2]!.split('.').map(Number);
  const n = parts.length;
  const have = `tuple(sys.version_info[:${n}])`;
  const want = `(${parts.join(', ')},)`;
  switch (op) {
    case '':
    case '==':
      return `${have} == ${want}`;
    case '~=':
      return `${have} >= ${want} and tuple(sys.version_info[:${Math.max(1, n - 1)}]) == (${parts.slice(0, Math.max(1, n - 1)).join(', ')},)`;
    default:
      return `${have} ${op} ${want}`;
  }
}

/**
 * The scripts of `env.build_local(ws)` (useDocker=False) for a spec: a Python virtual environment
 * made on the caller's machine with what it has — `uv` when it is on PATH (it fetches the Python
 * version asked for), else `python3 -m venv` (or `python{version}`) and pip — from the environment's
 * pip list, at `$AZUREML_ENVIRONMENTS_DIR` (default `~/.azureml/envs`)`/azureml_{hash}`: built in a
 * temporary folder and renamed into place, so it is whole or absent, and the check script finds it
 * the next time. No conda and no Docker: Atelier builds environments from their pip lists (spec.ts).
 */
export function recipeFiles(spec: EnvironmentSpec, hash: string, what: string): Record<string, string> {
  // (The label goes into the scripts' echo lines: only characters no shell reads specially.)
  const label = what.replace(/[^\w.\- ]/g, '_');
  const name = `azureml_${hash.slice(0, 32)}`;
  const common = `ENV_DIR="\${AZUREML_ENVIRONMENTS_DIR:-$HOME/.azureml/envs}/${name}"`;
  const versionOk = pythonCheck(spec.python);
  const wanted = spec.python ?? '';
  // An exact version's own interpreter first (python3.11), then the machine's python3.
  const exact = /^(?:==)?(\d+\.\d+)(?:\.\d+)?$/.exec(wanted)?.[1];
  const candidates = [...(exact ? [`python${exact}`] : []), 'python3', 'python'].join(' ');
  const check = `#!/bin/bash
# Atelier: is the Python environment of ${label} already made on this machine?
${common}
if [ -f "$ENV_DIR/${MARKER}" ] && "$ENV_DIR/bin/python" -c 'import sys; sys.exit(0 if (${versionOk}) else 1)'; then
  echo "the environment of ${label} is ready: $ENV_DIR (python: $ENV_DIR/bin/python)"
  exit 0
fi
echo "the environment of ${label} is not made on this machine yet: building it in $ENV_DIR"
exit 1
`;
  const build = `#!/bin/bash
# Atelier: makes the Python environment of ${label} (a virtual environment from its pip list).
set -euo pipefail
HERE="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
${common}
PYTHON_VERSION='${wanted}'
mkdir -p "$(dirname "$ENV_DIR")"
TMP="$ENV_DIR.tmp-$$"
trap 'rm -rf "$TMP"' EXIT
rm -rf "$TMP"
version_ok() { "$1" -c 'import sys; sys.exit(0 if (${versionOk}) else 1)' 2>/dev/null; }
if command -v uv >/dev/null 2>&1; then
  echo "building with uv ($(command -v uv))"
  uv venv --seed \${PYTHON_VERSION:+--python "$PYTHON_VERSION"} "$TMP"
  if [ -s "$HERE/${REQUIREMENTS}" ]; then uv pip install --python "$TMP/bin/python" -r "$HERE/${REQUIREMENTS}"; fi
else
  PY=""
  for candidate in ${candidates}; do
    if command -v "$candidate" >/dev/null 2>&1 && version_ok "$candidate"; then PY="$candidate"; break; fi
  done
  if [ -z "$PY" ]; then
    echo "this environment needs Python $PYTHON_VERSION, which is not on PATH here; install it (or uv, which fetches it) and build again" >&2
    exit 2
  fi
  echo "building with $PY -m venv and pip (uv is not on PATH)"
  "$PY" -m venv "$TMP"
  if [ -s "$HERE/${REQUIREMENTS}" ]; then "$TMP/bin/python" -m pip install --disable-pip-version-check -r "$HERE/${REQUIREMENTS}"; fi
fi
version_ok "$TMP/bin/python" || { echo "the environment's python is not Python $PYTHON_VERSION" >&2; exit 2; }
echo '{"hash": "${hash}"}' > "$TMP/${MARKER}"
rm -rf "$ENV_DIR"
mv "$TMP" "$ENV_DIR"
trap - EXIT
echo "built the environment of ${label}: $ENV_DIR (python: $ENV_DIR/bin/python)"
`;
  return {
    [CHECK_SCRIPT]: check,
    [BUILD_SCRIPT]: build,
    [REQUIREMENTS]: spec.requirements.length ? spec.requirements.join('\n') + '\n' : '',
  };
}

/** The files zipped (yazl: the zip format azureml-core's `zipfile` opens), scripts executable. */
export async function zipFiles(files: Record<string, string>): Promise<Buffer> {
  // Loaded on first use, as the Ray working-dir packer does.
  const { default: yazl } = await import('yazl');
  const zip = new yazl.ZipFile();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve());
    zip.outputStream.on('error', reject);
  });
  for (const [name, text] of Object.entries(files))
    zip.addBuffer(Buffer.from(text, 'utf8'), name, { mode: name.endsWith('.sh') ? 0o100755 : 0o100644 });
  zip.end();
  await done;
  return Buffer.concat(chunks);
}
