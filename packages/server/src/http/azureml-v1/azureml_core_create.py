"""azureml-core's Workspace.create with the parameters beyond the defaults (existing Application
Insights and container registry, a customer-managed key, HBI, a primary user-assigned identity, the
system datastores' auth mode, the SKU and a default CPU cluster the client makes and waits for), then
child runs in that workspace (get_children, get_runs' filters, cancel), text metrics, run types,
experiments (tags, list filters, archive, reactivate, delete) and a v1 route the server does not serve. Prints one JSON line:
{step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (to create), CMK_VAULT, CMK_KID,
APP_INSIGHTS, REGISTRY, IDENTITY (ARM ids of existing resources), WORKDIR.
"""
import json
import os

from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth
from azureml.core import Experiment, Run, Workspace
from azureml.core.experiment import ViewType
from azureml.core.compute import AmlCompute

cap_core_polling()
auth = core_auth()
name = os.environ["WORKSPACE"]
step = Steps()
os.chdir(os.environ["WORKDIR"])


def create():
    ws = Workspace.create(
        name,
        auth=auth,
        subscription_id=SUBSCRIPTION,
        resource_group=GROUP,
        location="eastus2",
        create_resource_group=False,
        sku="enterprise",  # azureml-core 1.61 sends "basic" whatever is given (workspace.py: sku="basic")
        app_insights=os.environ["APP_INSIGHTS"],
        container_registry=os.environ["REGISTRY"],
        primary_user_assigned_identity=os.environ["IDENTITY"],
        cmk_keyvault=os.environ["CMK_VAULT"],
        resource_cmk_uri=os.environ["CMK_KID"],
        hbi_workspace=True,
        system_datastores_auth_mode="identity",
        default_cpu_compute_target=AmlCompute.provisioning_configuration(vm_size="STANDARD_DS2_V2", min_nodes=0, max_nodes=2),
        show_output=False,
    )
    d = ws.get_details()
    keys = ["name", "sku", "hbiWorkspace", "applicationInsights", "containerRegistry", "primaryUserAssignedIdentity",
            "systemDatastoresAuthMode", "encryption", "identity", "provisioningState"]
    return {k: d.get(k) for k in keys}


step("Workspace.create(all)", create)
ws = step("Workspace()", lambda: Workspace(SUBSCRIPTION, GROUP, name, auth=auth))


def cpu_cluster():
    c = ws.compute_targets["cpu-cluster"]
    s = c.get_status()
    return [c.name, c.type, c.vm_size, s.provisioning_state, c.scale_settings.maximum_node_count]


step("default cpu-cluster", cpu_cluster)
# system_datastores_auth_mode="identity": the workspace's blob datastore keeps no account key.
step("default datastore", lambda: (lambda d: [d.name, d.account_name is not None, d.account_key, d.sas_token])(ws.get_default_datastore()))

# Child runs: run.child_run() keeps its parent (MLflow's mlflow.parentRunId), get_children() reads them,
# get_runs() lists top-level runs unless include_children=True; run.cancel() marks a run Canceled.
exp = Experiment(ws, "create-exp")
run = step("start_logging", lambda: exp.start_logging(snapshot_directory=None))
a = step("child_run(a)", lambda: run.child_run(name="a"))
b = step("child_run(b)", lambda: run.child_run(name="b"))
step("tag children", lambda: [a.tag("k", "1"), b.tag("k", "2")] and None)
step("grandchild", lambda: a.child_run(name="a1").id)
step("child parent", lambda: [a.parent.id == run.id, a.get_details().get("runId") == a.id])
step("get_children()", lambda: sorted(c.name for c in run.get_children()))
step("get_children(tags)", lambda: [c.name for c in run.get_children(tags={"k": "2"})])
step("get_children(recursive)", lambda: sorted(c.name for c in run.get_children(recursive=True)))
step("a.get_children()", lambda: [c.name for c in a.get_children()])
step("get_runs()", lambda: [r.id for r in exp.get_runs()] == [run.id])
step("get_runs(include_children)", lambda: len(list(exp.get_runs(include_children=True))))
step("get_runs(tags)", lambda: [r.name for r in exp.get_runs(tags={"k": "1"}, include_children=True)])
step("b.cancel()", lambda: b.cancel())
step("b status", lambda: Run(exp, b.id).get_status())
# Text metrics (kept beside MLflow's numeric ones) and run types: an interactive run has none, only
# the runTypeV2 start_logging sends; get_runs(type=…) filters on it.
step("log text", lambda: [run.log("note", "first"), run.log("note", "second"), run.log("stage", "train"),
                          run.log_list("words", ["a", "b"]), run.log_row("rows", epoch=1, label="x"),
                          run.log_row("rows", epoch=2, label="y"),
                          run.log_table("tbl", {"n": [1, 2], "name": ["p", "q"]}), run.log("acc", 0.5), run.flush()]
     and None)
step("get_metrics(text)", lambda: run.get_metrics())
step("get_metrics(name)", lambda: run.get_metrics(name="stage"))
step("run.type", lambda: [run.type, Run(exp, run.id).type, (run._runtype_v2.orchestrator, run._runtype_v2.traits)])
step("get_runs(type)", lambda: [len(list(exp.get_runs(type="azureml.scriptrun"))), len(list(exp.get_runs(type=None)))])
step("run id", lambda: run.id)
step("run.complete()", lambda: run.complete())

# Experiments: tags, Experiment.list's filters, archive and reactivate (an archived experiment is
# MLflow's deleted one: hidden from lists, restorable).
other = Experiment(ws, "create-other")
step("exp tags", lambda: [exp.tag("stage", "dev"), exp.set_tags({"team": "a", "flag": None})] and None)
step("exp.remove_tags", lambda: exp.remove_tags(["team", "absent"]))
step("exp.tags", lambda: (exp.refresh(), exp.tags)[1])
step("Experiment.list(name)", lambda: [e.name for e in Experiment.list(ws, experiment_name="create-exp")])
step("Experiment.list(tags)", lambda: [e.name for e in Experiment.list(ws, tags={"stage": "dev"})])
step("Experiment.list(tag exists)", lambda: [e.name for e in Experiment.list(ws, tags="flag")])
step("exp.archive()", lambda: exp.archive())
step("archived_time", lambda: exp.archived_time is not None)
step("list active", lambda: sorted(e.name for e in Experiment.list(ws)))
step("list archived", lambda: [e.name for e in Experiment.list(ws, view_type=ViewType.ArchivedOnly)])
step("list all", lambda: sorted(e.name for e in Experiment.list(ws, view_type=ViewType.All)))
step("ws.experiments (archived)", lambda: sorted(ws.experiments.keys()))
step("tag archived", lambda: exp.tag("late", "x"))
step("exp.reactivate()", lambda: exp.reactivate())
step("reactivated", lambda: [exp.archived_time, sorted(ws.experiments.keys()), len(list(exp.get_runs()))])

# Experiment.delete: refused while a run of it is active; then gone for good with its runs.
doomed = other.start_logging(snapshot_directory=None)
doomed.log("loss", 1.0)
doomed.log("note", "text")
doomed.flush()
with open("doomed.txt", "w") as f:
    f.write("doomed")
step("doomed files", lambda: [bool(doomed.upload_file("outputs/own.txt", "doomed.txt")),
                              bool(doomed.upload_file("outputs/ds.txt", "doomed.txt", datastore_name="workspaceblobstore")),
                              sorted(doomed.get_file_names())])
step("doomed run", lambda: [doomed.id, other.id])
step("Experiment.delete(active run)", lambda: Experiment.delete(ws, other.id))
step("doomed.complete()", lambda: doomed.complete())
step("Experiment.delete", lambda: Experiment.delete(ws, other.id))
step("deleted: list all", lambda: sorted(e.name for e in Experiment.list(ws, view_type=ViewType.All)))
step("deleted: get_run", lambda: ws.get_run(doomed.id).id)
step("deleted: name again", lambda: [len(list(Experiment(ws, "create-other").get_runs()))])

# A v1 route the server does not serve: the client shows the server's 501 message.
step("Run.list_by_compute", lambda: list(Run.list_by_compute(ws.compute_targets["cpu-cluster"])))

print(json.dumps(step.out, default=str))
