"""azureml-core's environment builds against the server, in one process: env.build(ws) and
env.build(ws, image_build_compute=…) waited on with wait_for_completion() and read with
ImageBuildDetails.get_log() (its signed logUrl, fetched without a token), and the refusals of a
missing or stopped compute. Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace with a ready
AmlCompute COMPUTE and a stopped one STOPPED), WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps, core_auth
from azureml.core import Environment, Workspace

auth = core_auth()
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])

with open("conda.yml", "w") as f:
    f.write("name: built\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - six==1.17.0\n")
env = step("Environment.from_conda_specification", lambda: Environment.from_conda_specification("built", "conda.yml"))
step("env.register", lambda: env.register(ws).version)


def build(**kwargs):
    b = env.build(ws, **kwargs)
    # (show_output=True prints the status changes and the log, through get_log(), to stdout: the
    # script's answer is its last line.)
    b.wait_for_completion(show_output=True)
    return {"status": b.status, "log": b.get_log(), "logUrl": b.log_url}


step("env.build(image_build_compute=COMPUTE)", lambda: build(image_build_compute=os.environ["COMPUTE"]))
step("env.build(ws)", lambda: build())
step("env.build(image_build_compute=missing)", lambda: env.build(ws, image_build_compute="no-such-compute"))
step("env.build(image_build_compute=STOPPED)", lambda: env.build(ws, image_build_compute=os.environ["STOPPED"]))
print(json.dumps(step.out, default=str))
sys.stdout.flush()
