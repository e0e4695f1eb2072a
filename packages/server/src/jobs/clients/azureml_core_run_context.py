"""A training script as teams write it for azureml-core, run inside an Atelier command job by
jobs/azureml-core-run-context.test.ts: Run.get_context() finds the job's run from the variables the
job's process gets, then logs metrics, a tag and a file into it. Prints one JSON line of step
results ("RESULT {...}").

The one test-only line: *.{ATELIER_STORAGE_SUFFIX} resolves to the server, as a wildcard DNS record
would in a deployment (azureml-core uploads files to host-style blob URIs).
"""
import json
import os
import socket
import tempfile
import traceback
from urllib.parse import urlparse

_SUFFIX = os.environ.get("ATELIER_STORAGE_SUFFIX")
if _SUFFIX:
    _resolve = socket.getaddrinfo
    _server = urlparse(os.environ["AZUREML_SERVICE_ENDPOINT"]).hostname

    def _getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.lower().endswith("." + _SUFFIX):
            host = _server
        return _resolve(host, *args, **kwargs)

    socket.getaddrinfo = _getaddrinfo

out = {}


def step(label, fn):
    try:
        out[label] = {"ok": fn()}
    except Exception as e:  # noqa: BLE001 - the message is the result
        out[label] = {"error": f"{type(e).__name__}: {e}"[:2000], "trace": traceback.format_exc()[-3000:]}


from azureml.core import Run  # noqa: E402

run = Run.get_context(allow_offline=False)
step("context", lambda: {"type": type(run).__name__, "id": run.id})
step("experiment", lambda: run.experiment.name)
step("workspace", lambda: run.experiment.workspace.name)
step("same_context", lambda: Run.get_context().id)
step("log", lambda: run.log("accuracy", 0.91))
step("log_list", lambda: run.log_list("losses", [0.5, 0.25, 0.125]))
step("tag", lambda: run.tag("stage", "trained"))
step("add_properties", lambda: run.add_properties({"framework": "numpy"}))


def upload():
    path = os.path.join(tempfile.mkdtemp(), "weights.txt")
    with open(path, "w") as f:
        f.write("w=42\n")
    run.upload_file("outputs/weights.txt", path)
    return sorted(n for n in run.get_file_names() if n.startswith("outputs/"))


step("upload_file", upload)
# Metrics are sent in batches by a background client: flush, then read them back.
step("flush", lambda: run.flush())
step("get_metrics", lambda: run.get_metrics())
step("status", lambda: run.get_status())
print("RESULT " + json.dumps(out), flush=True)
