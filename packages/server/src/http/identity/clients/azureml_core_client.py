"""azureml-core (the seed's SDK v1) against an Atelier server: a custom cloud and a token callback
(TokenAuthentication) whose tokens come from Atelier's token service.

azureml-core reads clouds only from its built-in list and from a metadata URL it hard-codes
(management.azure.com), not from `az cloud register`'s clouds.config; so the cloud is added to that
built-in list in-process before the first call (see docs/clients.md).

Run by azure-clients.test.ts with REQUESTS_CA_BUNDLE set to the server's CA. Prints one JSON line.
Environment: ATELIER_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure_clients import cap_core_polling  # testing/python/azure_clients.py

url = os.environ["ATELIER_URL"].rstrip("/")
credential = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
    authority=url, disable_instance_discovery=True,
)

from azureml._vendor.azure_cli_core.cloud import KNOWN_CLOUDS, Cloud, CloudEndpoints, CloudSuffixes  # noqa: E402
from azureml.core import Workspace  # noqa: E402
from azureml.core.authentication import TokenAuthentication  # noqa: E402

cap_core_polling()

KNOWN_CLOUDS.append(Cloud(
    "Atelier",
    endpoints=CloudEndpoints(
        management=url + "/", resource_manager=url + "/", active_directory=url,
        active_directory_resource_id=url + "/", active_directory_graph_resource_id=url + "/", portal=url + "/",
    ),
    suffixes=CloudSuffixes(storage_endpoint="core.windows.net"),
))


def get_token_for_audience(audience):
    # azureml-core asks for its cloud's audiences; Atelier accepts them (and its own URL).
    return credential.get_token(audience.rstrip("/") + "/.default").token


auth = TokenAuthentication(get_token_for_audience=get_token_for_audience, cloud="Atelier")
sub = os.environ["AZURE_SUBSCRIPTION_ID"]
rg = os.environ["RESOURCE_GROUP"]
name = os.environ["WORKSPACE"]
out = {}
ws = Workspace.get(name, auth=auth, subscription_id=sub, resource_group=rg)
out["get"] = {"name": ws.name, "location": ws.location, "resource_group": ws.resource_group}
details = ws.get_details()
out["details"] = {k: details.get(k) for k in ("id", "name", "location", "workspaceid", "friendlyName", "storageAccount", "keyVault", "applicationInsights", "hbiWorkspace", "sku")}
listed = Workspace.list(sub, auth=auth, resource_group=rg)
out["list"] = sorted(listed.keys())
os.chdir(os.environ["WORKDIR"])
ws.write_config()
again = Workspace.from_config(auth=auth)
out["from_config"] = {"name": again.name, "subscription_id": again.subscription_id}
keys = ws.list_keys()
out["list_keys"] = sorted(keys.keys()) if isinstance(keys, dict) else str(type(keys))
try:
    # Workspace.create deploys an ARM template (Microsoft.Resources/deployments) with the
    # workspace, a storage account, a key vault and Application Insights.
    made = Workspace.create("made-by-core", auth=auth, subscription_id=sub, resource_group=rg, location="local", exist_ok=False, show_output=False)
    details = made.get_details()
    out["create"] = {"name": made.name, "provisioningState": details.get("provisioningState"), "storageAccount": details.get("storageAccount"), "keyVault": details.get("keyVault"), "applicationInsights": details.get("applicationInsights"), "workspaceid": details.get("workspaceid")}
    again = Workspace.get("made-by-core", auth=auth, subscription_id=sub, resource_group=rg)
    out["create_get"] = {"name": again.name, "workspaceid": again.get_details().get("workspaceid")}
    # A second one: DefaultResourceGroup-{location} and its log analytics record now exist, so the
    # client's template has no nested deployments this time.
    second = Workspace.create("made-by-core-2", auth=auth, subscription_id=sub, resource_group=rg, location="local", exist_ok=False, show_output=False)
    out["create_second"] = {"name": second.name, "provisioningState": second.get_details().get("provisioningState")}
except Exception as e:  # noqa: BLE001 - the message is the result
    out["create_error"] = str(e)[:2000]
print(json.dumps(out))
sys.stdout.flush()
