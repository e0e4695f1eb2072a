"""azure-ai-ml's online endpoint and deployment operations against an Atelier server (HTTPS, a
custom cloud, tokens from Atelier's token service), serving an MLflow model that the MLflow client
registers first. Run by azure-ai-ml.test.ts. Prints one JSON line.

Environment: ATELIER_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE (an existing workspace), REQUESTS_CA_BUNDLE.
"""
import json
import os
import sys
import tempfile

from azure.identity import ClientSecretCredential
from azure.ai.ml import MLClient
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

url = os.environ["ATELIER_URL"].rstrip("/")
credential = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"],
    os.environ["AZURE_CLIENT_ID"],
    os.environ["AZURE_CLIENT_SECRET"],
    authority=url,
    disable_instance_discovery=True,
)
cloud = {
    "azure_portal": url + "/",
    "resource_manager": url + "/",
    "active_directory": url + "/",
    "aml_resource_id": url + "/",
    "storage_endpoint": "core.windows.net",
    "registry_discovery_endpoint": url + "/",
}
ml = MLClient(
    credential,
    os.environ["AZURE_SUBSCRIPTION_ID"],
    os.environ["RESOURCE_GROUP"],
    os.environ["WORKSPACE"],
    cloud="Atelier",
    cloud_metadata=cloud,
)
out = {}

# The model: registered through MLflow (the one registry).
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.types import ColSpec, Schema  # noqa: E402

ws = ml.workspaces.get(os.environ["WORKSPACE"])
os.environ["MLFLOW_TRACKING_TOKEN"] = credential.get_token(url + "/.default").token
os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = os.environ["REQUESTS_CA_BUNDLE"]
mlflow.set_tracking_uri(ws.mlflow_tracking_uri)


class Tripler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (pd.DataFrame(model_input)["x"].astype(float) * 3).tolist()


sig = ModelSignature(inputs=Schema([ColSpec("double", "x")]), outputs=Schema([ColSpec("double")]))
with mlflow.start_run():
    mlflow.pyfunc.log_model(name="tripler", python_model=Tripler(), signature=sig,
                            pip_requirements=["mlflow"], registered_model_name="tripler")

endpoint = ManagedOnlineEndpoint(name="aiml-ep", auth_mode="key", description="made by azure-ai-ml")
ep = ml.online_endpoints.begin_create_or_update(endpoint).result()
out["endpoint"] = {"name": ep.name, "auth_mode": ep.auth_mode, "scoring_uri": ep.scoring_uri,
                   "state": ep.provisioning_state}

deployment = ManagedOnlineDeployment(
    name="blue",
    endpoint_name="aiml-ep",
    model="azureml:tripler:1",
    instance_type="Standard_DS3_v2",
    instance_count=1,
)
d = ml.online_deployments.begin_create_or_update(deployment).result()
out["deployment"] = {"name": d.name, "state": d.provisioning_state, "instance_count": d.instance_count,
                     "model": d.model}

ep = ml.online_endpoints.get("aiml-ep")
ep.traffic = {"blue": 100}
ep = ml.online_endpoints.begin_create_or_update(ep).result()
out["traffic"] = ep.traffic

request = os.path.join(tempfile.mkdtemp(), "request.json")
with open(request, "w") as f:
    json.dump({"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}}, f)
out["invoke"] = json.loads(ml.online_endpoints.invoke(endpoint_name="aiml-ep", request_file=request))
out["invoke_blue"] = json.loads(
    ml.online_endpoints.invoke(endpoint_name="aiml-ep", deployment_name="blue", request_file=request))
keys = ml.online_endpoints.get_keys("aiml-ep")
out["keys"] = bool(keys.primary_key) and bool(keys.secondary_key)
out["logs"] = ml.online_deployments.get_logs(name="blue", endpoint_name="aiml-ep", lines=5)
out["deployments"] = [x.name for x in ml.online_deployments.list(endpoint_name="aiml-ep")]
out["endpoints"] = [x.name for x in ml.online_endpoints.list()]
ep.traffic = {"blue": 0}
ml.online_endpoints.begin_create_or_update(ep).result()
ml.online_endpoints.begin_delete(name="aiml-ep").result()
out["deleted"] = [x.name for x in ml.online_endpoints.list()]
print("\nRESULT " + json.dumps(out, default=str))
sys.stdout.flush()
