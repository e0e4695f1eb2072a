"""azureml-core's Workspace.get_mlflow_tracking_uri() (the seed's method) with azureml-mlflow, the
package it delegates to, and the MLflow client logging through that URI with azureml-mlflow's own
tracking store (the `azureml://` scheme), in one process (issue 11).
azureml-mlflow needs an older MLflow (≤ 3.15) than the other client tests pin, so it has its own
virtual environment (.ci/run: .ci/.azureml-mlflow-venv; ATELIER_TEST_AZUREML_MLFLOW_PYTHON).
Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace).
"""
import json
import os

from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, cap_core_polling, core_auth
from azureml.core import Workspace

import mlflow

cap_core_polling()
auth = core_auth()
# azureml-mlflow keeps its own list of clouds: the cloud set-up of docs/clients.md, once more.
from azureml.mlflow._common._cloud import cloud as mlflow_clouds  # noqa: E402

mlflow_clouds.KNOWN_CLOUDS["Atelier"] = mlflow_clouds.Cloud(
    "Atelier",
    endpoints=mlflow_clouds.CloudEndpoints(
        management=URL + "/", resource_manager=URL + "/", active_directory=URL,
        active_directory_resource_id=URL + "/", active_directory_graph_resource_id=URL + "/", portal=URL + "/",
    ),
    suffixes=mlflow_clouds.CloudSuffixes(storage_endpoint="core.windows.net"),
)
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)

uri = step("get_mlflow_tracking_uri", lambda: ws.get_mlflow_tracking_uri())




def log_with(tracking_uri, run_name):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("via-azureml-mlflow")
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("loss", 0.25, step=1)
        mlflow.set_tag("source", "azureml-mlflow")
    got = mlflow.get_run(run.info.run_id)
    return [run.info.run_id, got.info.run_name, got.data.params, got.data.metrics, got.data.tags.get("source")]


# The URI names the server's /mlflow/v2.0 tracking service: MLflow's own REST store reaches it over
# https with a bearer token (what azureml-mlflow's store sends, minus its token plumbing).
os.environ["MLFLOW_TRACKING_TOKEN"] = auth.get_authentication_header()["Authorization"].split(" ", 1)[1]
step("MLflow over https at the URI's path", lambda: log_with(uri.replace("azureml://", "https://").rstrip("?"), "https-path"))
# azureml-mlflow's own store (the azureml:// scheme) asks azureml-core's TokenAuthentication for a
# token with a scope string, which that class refuses (it takes only its Audience values): a client
# bug, asserted so a fixed client shows up. ServicePrincipalAuthentication validates its authority
# at login.microsoftonline.com (see Workspace.setup in docs/clients.md).
step("MLflow through azureml-mlflow's store", lambda: log_with(uri, "azureml-scheme"))
print(json.dumps(step.out, default=str))
