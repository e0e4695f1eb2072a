"""azureml-core's Workspace.create with the parameters beyond the defaults (existing Application
Insights and container registry, a customer-managed key, HBI, a primary user-assigned identity, the
system datastores' auth mode, the SKU and a default CPU cluster the client makes and waits for), then
a run in that workspace calling v1 routes the server does not serve. Prints one JSON line:
{step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (to create), CMK_VAULT, CMK_KID,
APP_INSIGHTS, REGISTRY, IDENTITY (ARM ids of existing resources), WORKDIR.
"""
import json
import os

from azure_clients import GROUP, SUBSCRIPTION, Steps, core_auth
from azureml.core import Experiment, Workspace
from azureml.core.compute import AmlCompute

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

# A v1 route the server does not serve: the client shows the server's 501 message.
run = step("start_logging", lambda: Experiment(ws, "create-exp").start_logging(snapshot_directory=None))
step("run.get_children()", lambda: [c.id for c in run.get_children()])
step("run.complete()", lambda: run.complete())

print(json.dumps(step.out, default=str))
