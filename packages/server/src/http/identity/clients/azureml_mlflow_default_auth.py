"""azureml-mlflow's own tracking store (the azureml:// scheme) with azureml-core's default
authentication through the managed identity endpoint (MSI_ENDPOINT, MSI_SECRET,
APPSETTING_WEBSITE_SITE_NAME), run by http/identity/managed-identity.test.ts in the azureml-mlflow
environment. Prints the step results as one JSON line.
"""
import json
import os
import sys

from azure_clients import URL, Steps, core_auth

core_auth()  # only to add the Atelier cloud to azureml-core's list
from azureml.mlflow._common._cloud import cloud as mlflow_clouds  # noqa: E402

mlflow_clouds.KNOWN_CLOUDS["Atelier"] = mlflow_clouds.Cloud(
    "Atelier",
    endpoints=mlflow_clouds.CloudEndpoints(
        management=URL + "/", resource_manager=URL + "/", active_directory=URL,
        active_directory_resource_id=URL + "/", active_directory_graph_resource_id=URL + "/", portal=URL + "/",
    ),
    suffixes=mlflow_clouds.CloudSuffixes(storage_endpoint="core.windows.net"),
)
os.makedirs(os.environ["AZURE_CONFIG_DIR"], exist_ok=True)
with open(os.path.join(os.environ["AZURE_CONFIG_DIR"], "config"), "w") as f:
    f.write("[cloud]\nname = Atelier\n")
for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
    os.environ.pop(k, None)

import mlflow  # noqa: E402
from azureml.core import Workspace  # noqa: E402

step = Steps()
ws = Workspace(os.environ["AZURE_SUBSCRIPTION_ID"], os.environ["RESOURCE_GROUP"], os.environ["WORKSPACE"])
uri = step("get_mlflow_tracking_uri", lambda: ws.get_mlflow_tracking_uri())


def log():
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("msi-azureml-mlflow")
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.5)
    return [run.info.run_id, mlflow.get_run(run.info.run_id).data.metrics]


step("azureml-mlflow store", log)
print(json.dumps(step.out, default=str))
sys.stdout.flush()
