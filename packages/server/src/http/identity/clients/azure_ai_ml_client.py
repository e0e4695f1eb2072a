"""azure-ai-ml's MLClient against an Atelier server, with a custom cloud and tokens from Atelier's
token service (azure-identity ClientSecretCredential, authority = the server).

Run by azure-clients.test.ts with REQUESTS_CA_BUNDLE set to the server's CA. Prints one JSON line.
Environment: ATELIER_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE (an existing workspace).
"""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure.ai.ml import MLClient
from azure.ai.ml.entities import Workspace

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
out = {}
token = credential.get_token(url + "/.default")
out["token"] = bool(token.token)
ml = MLClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"], os.environ["RESOURCE_GROUP"], cloud="Atelier", cloud_metadata=cloud)
ws = ml.workspaces.get(os.environ["WORKSPACE"])
out["get"] = {"name": ws.name, "location": ws.location, "id": ws.id, "mlflow": ws.mlflow_tracking_uri, "description": ws.description}
out["list"] = sorted(w.name for w in ml.workspaces.list())
try:
    # begin_create deploys azure-ai-ml's ARM template (Microsoft.Resources/deployments).
    poller = ml.workspaces.begin_create(Workspace(name="made-by-ai-ml", location="local", description="made by azure-ai-ml", tags={"via": "ai-ml"}))
    created = poller.result()
    out["begin_create"] = {"name": created.name, "description": created.description, "storage_account": created.storage_account, "key_vault": created.key_vault, "application_insights": created.application_insights, "tags": created.tags}
    again = ml.workspaces.get("made-by-ai-ml")
    out["begin_create_get"] = {"name": again.name, "id": again.id, "location": again.location}
except Exception as e:  # noqa: BLE001 - the message is the result
    out["begin_create_error"] = str(e)[:2000]
print(json.dumps(out))
sys.stdout.flush()
