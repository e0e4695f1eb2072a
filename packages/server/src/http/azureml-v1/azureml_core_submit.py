"""azureml-core's everyday training submission against the server, as the seed page and the
azureml-core docs write it: ScriptRunConfig(source_directory, script, arguments, compute_target,
environment) -> Experiment.submit -> run.wait_for_completion(show_output=True) -> get_metrics,
get_file_names, download_file; a failing script, run.cancel() of a running one, what is refused
(an unknown compute, distributed training, a local run in Docker); the same script and a failing one
with compute_target='local' (run on this machine by the invocation script the server answers). Prints one JSON line:
{step: {"ok": value} | {"error": ...}}. Environment: see testing/python/azure_clients.py;
WORKSPACE (an existing workspace), WORKDIR.
"""
import contextlib
import io
import json
import os
import sys
import time

from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth
from azureml.core import Environment, Experiment, ScriptRunConfig, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget

cap_core_polling()
auth = core_auth()
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])

# The source directory: a training script that logs through Run.get_context() and writes outputs/,
# one that fails, and one that runs until it is canceled.
os.makedirs("src", exist_ok=True)
with open("src/train.py", "w") as fh:
    fh.write(
        "import argparse, os\n"
        "from azureml.core import Run\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('--alpha', type=float)\n"
        "a = p.parse_args()\n"
        "run = Run.get_context()\n"
        "print('training with alpha', a.alpha, 'in run', run.id, flush=True)\n"
        "run.log('alpha', a.alpha)\n"
        "run.log('accuracy', 0.5 + a.alpha / 2)\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "open('outputs/model.pkl', 'w').write('model alpha=%s' % a.alpha)\n"
        "print('STAGE', os.environ.get('STAGE'), flush=True)\n"
    )
with open("src/fail.py", "w") as fh:
    fh.write("raise ValueError('alpha out of range')\n")
with open("src/slow.py", "w") as fh:
    fh.write("import time\nprint('started', flush=True)\ntime.sleep(120)\n")

env = Environment("submit-env")
# The compute's own Python (azureml-core is there): no environment to build.
env.python.user_managed_dependencies = True
env.environment_variables = {"STAGE": "trial"}

step(
    "ComputeTarget.create",
    lambda: ComputeTarget.create(
        ws, "cpu", AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2)
    ).wait_for_completion() or "created",
)
exp = Experiment(ws, "v1-submit")


def config(script, **kw):
    args = {"arguments": ["--alpha", 0.5]} if script == "train.py" else {}
    return ScriptRunConfig(
        source_directory="src", script=script, compute_target=kw.pop("compute_target", "cpu"), environment=env, **args, **kw
    )


def wait(run, raise_on_error=True):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        details = run.wait_for_completion(show_output=True, raise_on_error=raise_on_error)
    return details, out.getvalue()


run = step("submit", lambda: exp.submit(config("train.py")))
if run is not None:
    streamed = {}

    def completion():
        details, text = wait(run)
        streamed["text"] = text
        return {"status": details["status"], "target": details["target"]}

    step("wait_for_completion(show_output=True)", completion)
    step("streamed", lambda: [line for line in streamed.get("text", "").splitlines() if "alpha" in line or "STAGE" in line])
    step("run.id", lambda: run.id)
    step("get_status", lambda: run.get_status())
    step("get_metrics", lambda: run.get_metrics())
    step("get_file_names", lambda: sorted(run.get_file_names()))

    def download():
        run.download_file("outputs/model.pkl", "model.pkl")
        return open("model.pkl").read()

    step("download_file", download)
    step("snapshot", lambda: run.properties.get("ContentSnapshotId"))
    # A submitted run is a ScriptRun: its type, and get_runs(type=…) rehydrates it as one.
    step("run.type", lambda: [run.type, [(r.id, type(r).__name__) for r in exp.get_runs(type="azureml.scriptrun")]])

failed = step("submit failing", lambda: exp.submit(config("fail.py")))
if failed is not None:
    step("wait failing (raise_on_error=False)", lambda: (lambda d, t: {"status": d["status"], "error": d.get("error"), "log": t})(*wait(failed, False)))
    step("wait failing", lambda: wait(failed))

slow = step("submit slow", lambda: exp.submit(config("slow.py")))
if slow is not None:

    def cancel():
        for _ in range(600):
            if slow.get_status() == "Running":
                break
            time.sleep(0.2)
        slow.cancel()
        for _ in range(600):
            status = slow.get_status()
            if status in ("Canceled", "Completed", "Failed"):
                return status
            time.sleep(0.2)
        return slow.get_status()

    step("cancel", cancel)



def zip_submission():
    # AML_FORCE_EXECUTE_WITH_ZIP: the source directory goes as project.zip to startrun.
    os.environ["AML_FORCE_EXECUTE_WITH_ZIP"] = "1"
    try:
        zipped = exp.submit(config("train.py"))
    finally:
        del os.environ["AML_FORCE_EXECUTE_WITH_ZIP"]
    details, text = wait(zipped)
    return {
        "id": zipped.id,
        "status": details["status"],
        "metrics": zipped.get_metrics(),
        "streamed": [line for line in text.splitlines() if "alpha" in line],
    }


step("submit with AML_FORCE_EXECUTE_WITH_ZIP", zip_submission)
step("submit to an unknown compute", lambda: exp.submit(config("train.py", compute_target="no-such-compute")))


def distributed():
    from azureml.core.runconfig import MpiConfiguration

    return exp.submit(config("train.py", distributed_job_config=MpiConfiguration(node_count=2)))


step("submit distributed (MPI)", distributed)

# compute_target='local': azureml-core runs the service's invocation script on this machine, in the
# background, then waits on the run through run history. The run's interpreter is this one
# (user-managed dependencies: azureml-core is here). Blob hosts ({account}.blob.{suffix}) resolve in
# this process only (azure_clients.py), so the run's own process gets the same stand-in for a wildcard
# DNS record through a sitecustomize on its PYTHONPATH.
os.makedirs("local_site", exist_ok=True)
with open("local_site/sitecustomize.py", "w") as fh:
    fh.write(
        "import os, socket\n"
        "from urllib.parse import urlparse\n"
        "_suffix, _server, _resolve = os.environ['ATELIER_STORAGE_SUFFIX'], urlparse(os.environ['ATELIER_URL']).hostname, socket.getaddrinfo\n"
        "def _getaddrinfo(host, *a, **k):\n"
        "    return _resolve(_server if isinstance(host, str) and host.lower().endswith('.' + _suffix) else host, *a, **k)\n"
        "socket.getaddrinfo = _getaddrinfo\n"
    )
os.environ["PYTHONPATH"] = os.path.abspath("local_site") + os.pathsep + os.environ.get("PYTHONPATH", "")
local_env = Environment("submit-local-env")
local_env.python.user_managed_dependencies = True
local_env.python.interpreter_path = sys.executable
local_env.environment_variables = {"STAGE": "local"}


def local_config(script):
    args = {"arguments": ["--alpha", 0.25]} if script == "train.py" else {}
    return ScriptRunConfig(source_directory="src", script=script, compute_target="local", environment=local_env, **args)


local = step("submit local", lambda: exp.submit(local_config("train.py")))
if local is not None:
    local_streamed = {}

    def local_completion():
        details, text = wait(local)
        local_streamed["text"] = text
        return {"status": details["status"], "target": details["target"]}

    step("local wait_for_completion(show_output=True)", local_completion)
    step("local streamed", lambda: [line for line in local_streamed.get("text", "").splitlines() if "alpha" in line or "STAGE" in line])
    step("local run.id", lambda: local.id)
    step("local get_status", lambda: local.get_status())
    step("local get_metrics", lambda: local.get_metrics())
    step("local get_file_names", lambda: sorted(local.get_file_names()))

    def local_download():
        local.download_file("outputs/model.pkl", "local-model.pkl")
        return open("local-model.pkl").read()

    step("local download_file", local_download)

local_failed = step("submit local failing", lambda: exp.submit(local_config("fail.py")))
if local_failed is not None:
    step("local wait failing (raise_on_error=False)", lambda: (lambda d, t: {"status": d["status"], "error": d.get("error"), "log": t})(*wait(local_failed, False)))
    step("local wait failing", lambda: wait(local_failed))


def local_docker():
    docker_env = Environment("submit-local-docker")
    docker_env.docker.enabled = True
    return exp.submit(ScriptRunConfig(source_directory="src", script="train.py", compute_target="local", environment=docker_env))


step("submit local in Docker", local_docker)
print(json.dumps(step.out, default=str))
sys.stdout.flush()
