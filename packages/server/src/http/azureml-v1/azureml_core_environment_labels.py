"""azureml-core's environment labels against the server (Environment.label, Environment.get(label=…)),
azure-ai-ml's ml_client.environments.get(label=…), and what stays a 501 (env.get_image_details,
run.upload_file(datastore_name=…)), in one process. Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps, core_auth, ml_client
from azureml.core import Environment, Workspace

auth = core_auth()
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])


def register(stage):
    env = Environment("labelled")
    env.python.user_managed_dependencies = True
    env.environment_variables = {"STAGE": stage}
    return env.register(ws).version


step("register 1", lambda: register("one"))
step("register 2", lambda: register("two"))
step("register 3", lambda: register("three"))
by_label = lambda label: (lambda e: [e.version, e.environment_variables["STAGE"]])(Environment.get(ws, "labelled", label=label))
step("Environment.label(1, [production, stable])", lambda: Environment.label(ws, "labelled", "1", ["production", "stable"]))
step("get(label=production)", lambda: by_label("production"))
step("get(label=stable)", lambda: by_label("stable"))
step("get(label=latest)", lambda: by_label("latest"))
# Moving a label moves it: production now names version 2; stable stays on 1.
step("Environment.label(2, [production])", lambda: Environment.label(ws, "labelled", "2", ["production"]))
step("get(label=production) after move", lambda: by_label("production"))
step("get(label=stable) after move", lambda: by_label("stable"))
# A version's labels are the list given: labelling 1 with [] leaves it none.
step("Environment.label(1, [])", lambda: Environment.label(ws, "labelled", "1", []))
step("get(label=stable) after clearing", lambda: by_label("stable"))
step("get(label=missing)", lambda: by_label("no-such-label"))
step("Environment.label(missing version)", lambda: Environment.label(ws, "labelled", "9", ["x"]))
step("Environment.label(latest)", lambda: Environment.label(ws, "labelled", "1", ["latest"]))
step("Environment.label(bad name)", lambda: Environment.label(ws, "labelled", "1", ["no spaces"]))
step("get(version and label)", lambda: Environment.get(ws, "labelled", version="1", label="production"))

# azure-ai-ml: 'latest' is the one label it resolves (itself, to the newest version); it sends no other.
ml = ml_client(os.environ["WORKSPACE"])
step("ml_client.environments.get(label=latest)", lambda: ml.environments.get("labelled", label="latest").version)
step("ml_client.environments.get(label=production)", lambda: ml.environments.get("labelled", label="production").version)

# What stays unserved, with its reason: image details (no container images) and run files in another datastore.
step("env.get_image_details", lambda: Environment.get(ws, "labelled", version="1").get_image_details(ws))


def upload_elsewhere():
    from azureml.core import Experiment
    with open("note.txt", "w") as fh:
        fh.write("hello\n")
    run = Experiment(ws, "labels-files").start_logging(snapshot_directory=None)
    try:
        return run.upload_file("note.txt", "note.txt", datastore_name="workspaceblobstore")
    finally:
        run.complete()


step("run.upload_file(datastore_name=workspaceblobstore)", upload_elsewhere)
print(json.dumps(step.out, default=str))
sys.stdout.flush()
