"""The Azure SDK for Python (azure-mgmt-machinelearningservices) against Atelier's control plane.

Usage: python azure_mgmt_workspace.py <server url> <token> <subscription id> <CA file> <resource group>
Prints one line `RESULT {json}` with what it saw; exits non-zero on an unexpected error.
"""
import json
import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices.models import Workspace, WorkspaceUpdateParameters

url, token, subscription, ca, group = sys.argv[1:6]


class StaticToken:
    """A token this test got from the server's own token endpoint."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken(token, int(time.time()) + 3600)


client = MachineLearningServicesMgmtClient(
    StaticToken(),
    subscription,
    base_url=url,
    connection_verify=ca,
    credential_scopes=["https://management.azure.com/.default"],
    retry_total=0,
)
out = {}
ws = client.workspaces.begin_create_or_update(
    group, "py-ws", Workspace(location="local", friendly_name="From Python", tags={"via": "python"}), polling_interval=0.05
).result()
out["created"] = {"provisioning_state": ws.provisioning_state, "workspace_id": ws.workspace_id, "friendly_name": ws.friendly_name, "storage_account": ws.storage_account, "tags": ws.tags}
got = client.workspaces.get(group, "py-ws")
out["got_id"] = got.id
out["listed"] = [w.name for w in client.workspaces.list_by_resource_group(group)]
out["listed_sub"] = [w.name for w in client.workspaces.list_by_subscription()]
updated = client.workspaces.update(group, "py-ws", WorkspaceUpdateParameters(description="from python", tags={"via": "python", "v": "2"}))
out["updated"] = {"description": updated.description, "tags": updated.tags}
keys = client.workspaces.list_keys(group, "py-ws")
out["keys"] = {"user_storage_key": bool(keys.user_storage_key), "user_storage_resource_id": keys.user_storage_resource_id, "app_insights_instrumentation_key": keys.app_insights_instrumentation_key}
client.workspaces.resync_keys(group, "py-ws")
out["resynced"] = True
try:
    client.workspaces.get(group, "no-such-ws")
    out["missing"] = "found?"
except ResourceNotFoundError as e:
    out["missing"] = e.error.code if e.error else "ResourceNotFound"
try:
    client.workspaces.begin_create_or_update(group, "x", Workspace(location="local"), polling_interval=0.05).result()
    out["bad_name"] = "accepted?"
except HttpResponseError as e:
    out["bad_name"] = e.status_code
client.workspaces.begin_delete(group, "py-ws", polling_interval=0.05).result()
try:
    client.workspaces.get(group, "py-ws")
    out["deleted"] = False
except ResourceNotFoundError:
    out["deleted"] = True
print("RESULT " + json.dumps(out))
