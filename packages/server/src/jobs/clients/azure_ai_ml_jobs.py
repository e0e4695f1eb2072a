"""azure-ai-ml's computes and command jobs against an Atelier server, as a user runs them: an
AmlCompute cluster created, read, listed; an environment; a command job with local code, a literal
input and an output, streamed until it ends, read, listed and downloaded (outputs and logs); a
second job canceled while it runs;
the cluster deleted. One process drives every call (each step's result or error is recorded).

Run by jobs/azure-ai-ml-jobs.test.ts. Prints one JSON line.
Environment: what testing/python/azure_clients.py reads, WORKSPACE, CODE_DIR, DOWNLOAD_DIR.
"""
import contextlib
import io
import json
import os
import sys
import time

from azure.ai.ml import Output, command
from azure.ai.ml.entities import AmlCompute, Environment
from azure_clients import Steps, ml_client

# Host-style blob URLs ({account}.blob.{suffix}:{port}) reach the server: jobs.download reads through them.
ml = ml_client(os.environ["WORKSPACE"], uploads=True)
steps = Steps()
seconds = {}


def step(label, fn):
    t0 = time.monotonic()
    try:
        return steps(label, fn)
    finally:
        seconds[label] = round(time.monotonic() - t0, 2)


src = os.environ["CODE_DIR"]
out_dir = os.environ["DOWNLOAD_DIR"]


def compute_view(c):
    return {"name": c.name, "type": c.type, "size": c.size, "min": c.min_instances, "max": c.max_instances,
            "idle": c.idle_time_before_scale_down, "state": c.provisioning_state}


step("compute_create", lambda: compute_view(ml.compute.begin_create_or_update(
    AmlCompute(name="cpu-cluster", size="Standard_DS2_v2", min_instances=0, max_instances=2,
               idle_time_before_scale_down=120)).result()))
step("compute_get", lambda: compute_view(ml.compute.get("cpu-cluster")))
step("compute_list", lambda: sorted(c.name for c in ml.compute.list()))
step("environment", lambda: ml.environments.create_or_update(Environment(
    name="py-six", version="1", image="python:3.11-slim",
    conda_file={"name": "t", "channels": ["conda-forge"],
                "dependencies": ["python=3.11", "pip", {"pip": ["six==1.17.0"]}]})).version)

job = command(
    code=src,
    command="python train.py --x ${{inputs.x}} --out ${{outputs.model}}",
    inputs={"x": 3},
    outputs={"model": Output(type="uri_folder")},
    environment="azureml:py-six:1",
    compute="cpu-cluster",
    experiment_name="aiml-jobs",
    display_name="train",
)
created = step("job_create", lambda: ml.jobs.create_or_update(job))
name = created.name if created else None
step("job_created", lambda: {"name": created.name, "status": created.status, "studio": created.studio_url,
                             "compute": created.compute, "environment": created.environment})


def stream():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ml.jobs.stream(name)
    return buf.getvalue()


step("stream", stream)
step("job_get", lambda: (lambda j: {"status": j.status, "name": j.name, "display_name": j.display_name,
                                    "experiment": j.experiment_name,
                                    "outputs": {k: getattr(v, "path", None) for k, v in j.outputs.items()}})(ml.jobs.get(name)))
step("job_list", lambda: [j.name for j in ml.jobs.list()])


def download():
    ml.jobs.download(name, download_path=out_dir, all=True)
    found = []
    for root, _, files in os.walk(out_dir):
        for f in files:
            found.append(os.path.relpath(os.path.join(root, f), out_dir).replace(os.sep, "/"))
    return sorted(found)


step("download", download)

slow = command(code=src, command="python -c 'import time; time.sleep(120)'", environment="azureml:py-six:1",
               compute="cpu-cluster", experiment_name="aiml-jobs")
slow_job = step("slow_create", lambda: ml.jobs.create_or_update(slow))


def cancel():
    # A running job: its process group gets SIGTERM; the poller returns once it is Canceled.
    for _ in range(1200):
        if ml.jobs.get(slow_job.name).status == "Running":
            break
        time.sleep(0.05)
    poller = ml.jobs.begin_cancel(slow_job.name)
    poller.result()
    return {"done": poller.done(), "status": ml.jobs.get(slow_job.name).status}


step("cancel", cancel)
step("compute_delete", lambda: (ml.compute.begin_delete("cpu-cluster").result(), sorted(c.name for c in ml.compute.list()))[1])
print(json.dumps({**steps.out, "seconds": seconds}))
sys.stdout.flush()
