"""azureml-core's everyday training submission against the server, as the seed page and the
azureml-core docs write it: ScriptRunConfig(source_directory, script, arguments, compute_target,
environment) -> Experiment.submit -> run.wait_for_completion(show_output=True) -> get_metrics,
get_file_names, download_file; a failing script, run.cancel() of a running one, and what is refused
(an unknown compute, distributed training, compute_target='local'). Prints one JSON line:
{step: {"ok": value} | {"error": ...}}. Environment: see testing/python/azure_clients.py;
WORKSPACE (an existing workspace), WORKDIR.
"""
import contextlib
import io
import json
import os
import sys
import time

from azure_clients import GROUP, SUBSCRIPTION, Steps, core_auth
from azureml.core import Environment, Experiment, ScriptRunConfig, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget

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

step("submit to an unknown compute", lambda: exp.submit(config("train.py", compute_target="no-such-compute")))


def distributed():
    from azureml.core.runconfig import MpiConfiguration

    return exp.submit(config("train.py", distributed_job_config=MpiConfiguration(node_count=2)))


step("submit distributed (MPI)", distributed)
step("submit local", lambda: exp.submit(config("train.py", compute_target="local")))
print(json.dumps(step.out, default=str))
sys.stdout.flush()
