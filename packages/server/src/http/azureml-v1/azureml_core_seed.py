"""The seed's Workspace methods through the real azureml-core, the way its reference page calls
them (issue 11, item 4), in one process. Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth
from azureml.core import Workspace

cap_core_polling()
auth = core_auth()
name = os.environ["WORKSPACE"]
step = Steps()

# Constructor and static methods
ws = step("Workspace()", lambda: Workspace(SUBSCRIPTION, GROUP, name, auth=auth))
step("Workspace.get", lambda: Workspace.get(name, auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP).name)
step("Workspace.list(group)", lambda: sorted(Workspace.list(SUBSCRIPTION, auth=auth, resource_group=GROUP).keys()))
step("Workspace.list(subscription)", lambda: sorted(Workspace.list(SUBSCRIPTION, auth=auth).keys()))
os.chdir(os.environ["WORKDIR"])
step("write_config", lambda: ws.write_config())
step("from_config", lambda: Workspace.from_config(auth=auth).name)
step("create", lambda: Workspace.create("seed-made", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP, location="eastus2", friendly_name="Seed", tags={"k": "v"}, show_output=False).get_details()["location"])
step("create(exist_ok)", lambda: Workspace.create("seed-made", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP, location="eastus2", exist_ok=True, show_output=False).name)

# Instance methods
details = step("get_details", lambda: ws.get_details())
step("get_details keys", lambda: sorted(details.keys()))
step("update", lambda: ws.update(friendly_name="Seed page", description="from the seed", tags={"team": "a"}) and ws.get_details()["friendlyName"])
step("update(v1_legacy_mode, allow_public_access_when_behind_vnet)", lambda: bool(ws.update(v1_legacy_mode=False, allow_public_access_when_behind_vnet=True)))
step("list_keys", lambda: sorted(ws.list_keys().keys()))
step("sync_keys", lambda: ws.sync_keys())
step("get_default_datastore", lambda: ws.get_default_datastore().name)
step("set_default_datastore", lambda: ws.set_default_datastore("workspaceblobstore"))
kv = step("get_default_keyvault", lambda: ws.get_default_keyvault())
step("keyvault.set_secret", lambda: kv.set_secret("db-password", "s3cret"))
step("keyvault.get_secret", lambda: kv.get_secret("db-password"))
step("keyvault.set_secrets", lambda: kv.set_secrets({"a-key": "1", "b-key": "2"}))
step("keyvault.get_secrets", lambda: kv.get_secrets(["a-key", "b-key", "missing"]))
step("keyvault.list_secrets", lambda: sorted(s["name"] for s in kv.list_secrets()))
step("keyvault.delete_secret", lambda: kv.delete_secret("db-password"))
step("keyvault.delete_secrets", lambda: kv.delete_secrets(["a-key", "b-key"]))
step("keyvault.list_secrets (after)", lambda: kv.list_secrets())
step("set_connection", lambda: ws.set_connection("feed", "PythonFeed", "https://pypi.example/simple", "PAT", '{"pat":"t"}')["name"])
step("get_connection", lambda: ws.get_connection("feed")["name"])
step("list_connections", lambda: "'feed'" in ws.list_connections())
step("delete_connection", lambda: ws.delete_connection("feed"))
step("diagnose_workspace", lambda: sorted(ws.diagnose_workspace({"value": {}})["value"].keys()))

# Attributes
step("datastores", lambda: sorted(ws.datastores.keys()))
step("linked_services", lambda: ws.linked_services)
step("private_endpoints", lambda: ws.private_endpoints)
step("name/location/resource_group/subscription_id/sku/tags", lambda: [ws.name, ws.location, ws.resource_group, ws.subscription_id, ws.sku, ws.tags])
step("discovery_url", lambda: ws.discovery_url)
step("service_context", lambda: bool(ws.service_context))

# Run history: Experiment + start_logging + log + complete — the same run MLflow sees.
from azureml.core import Experiment  # noqa: E402

exp = step("Experiment(ws, name)", lambda: Experiment(ws, "seed-exp"))
run = step("experiment.start_logging", lambda: exp.start_logging(display_name="first run", snapshot_directory=None))
step("run.log", lambda: [run.log("accuracy", 0.5), run.log("accuracy", 0.75)] and None)
step("run.log_list", lambda: run.log_list("losses", [0.3, 0.2]))
step("run.tag", lambda: run.tag("team", "vision"))
step("run.add_properties", lambda: run.add_properties({"stage": "trial"}))

# Artifacts: the run's files are the MLflow run's artifacts.
os.makedirs("outdir/sub", exist_ok=True)
for name, text in [("hello.txt", "hello artifacts"), ("outdir/a.txt", "a"), ("outdir/sub/b.txt", "b"), ("train.log", "epoch 1: loss 0.3\n")]:
    with open(name, "w") as f:
        f.write(text)
# The smallest PNG (1x1, transparent).
with open("dot.png", "wb") as f:
    f.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                          "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))
step("run.upload_file", lambda: bool(run.upload_file("outputs/hello.txt", "hello.txt")))
step("run.upload_folder", lambda: len(list(run.upload_folder("outputs/folder", "outdir"))))
step("run.upload_files", lambda: len(list(run.upload_files(["logs/train.log"], ["train.log"]))))
step("run.log_image", lambda: run.log_image("dot", path="dot.png"))
step("run.get_file_names", lambda: sorted(run.get_file_names()))
step("run.download_file", lambda: (run.download_file("outputs/hello.txt", "dl/hello.txt"), open("dl/hello.txt").read())[1])
step("run.download_files", lambda: (run.download_files(prefix="outputs/folder", output_directory="dl2"), sorted(os.path.relpath(os.path.join(d, f), "dl2") for d, _, fs in os.walk("dl2") for f in fs))[1])
step("run.get_details logFiles", lambda: sorted(run.get_details()["logFiles"].keys()))
step("run.get_details_with_logs", lambda: run.get_details_with_logs()["logFiles"]["logs/train.log"])
step("run.complete", lambda: run.complete())
step("run.get_status", lambda: run.get_status())
step("run.get_metrics", lambda: run.get_metrics())
step("run.get_metrics(image, populate)", lambda: (lambda a: [type(a).__name__, bytes(a.data[:8]).hex() if a.data else None])(run.get_metrics(name="dot", populate=True)["dot"]))
step("run.get_tags", lambda: run.get_tags().get("team"))
step("run.get_properties", lambda: run.get_properties().get("stage"))
step("run.id", lambda: run.id)
step("experiments", lambda: sorted(ws.experiments.keys()))
step("get_run", lambda: ws.get_run(run.id).get_status())
step("experiment.get_runs", lambda: [r.id for r in exp.get_runs()])

# Models: the MLflow registry's models as azureml-core's Model sees them (azureml_core_models.py).
import azureml_core_models  # noqa: E402

model = azureml_core_models.run(ws, step)

# Environments: the workspace's environment versions (azureml_core_environments.py).
import azureml_core_environments  # noqa: E402

azureml_core_environments.run(ws, step)

# Datasets: the workspace's data assets (made by the test through ARM) as registered datasets.
from azureml.core import Dataset  # noqa: E402

step("ws.datasets", lambda: sorted(ws.datasets.keys()))
step("Dataset.get_all registrations", lambda: sorted([r.name, r.version, r.description] for r in Dataset.get_all(ws).registrations))
step("Dataset.get_by_name", lambda: (lambda d: [type(d).__name__, d.name, d.version])(Dataset.get_by_name(ws, "seed-data")))

step("delete", lambda: Workspace.get("seed-made", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP).delete(delete_dependent_resources=True))
step("get after delete", lambda: Workspace.get("seed-made", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP).name)
print(json.dumps(step.out, default=str))
sys.stdout.flush()
