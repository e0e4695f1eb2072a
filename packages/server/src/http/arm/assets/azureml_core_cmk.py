"""azureml-core (the seed's SDK v1): Workspace.create with cmk_keyvault + resource_cmk_uri and
hbi_workspace against an Atelier server (custom cloud, TokenAuthentication; see
http/identity/clients/azureml_core_client.py for why the cloud is added in-process).

Run by azureml-core-cmk.test.ts with REQUESTS_CA_BUNDLE set to the server's CA. Prints one JSON line.
Environment: ATELIER_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP, CMK_VAULT (key vault ARM id), CMK_KID (key id).
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

auth = TokenAuthentication(get_token_for_audience=lambda audience: credential.get_token(audience.rstrip("/") + "/.default").token, cloud="Atelier")
sub = os.environ["AZURE_SUBSCRIPTION_ID"]
rg = os.environ["RESOURCE_GROUP"]
out = {}
try:
    made = Workspace.create(
        "cmk-core", auth=auth, subscription_id=sub, resource_group=rg, location="local", exist_ok=False, show_output=False,
        cmk_keyvault=os.environ["CMK_VAULT"], resource_cmk_uri=os.environ["CMK_KID"], hbi_workspace=True,
    )
    details = made.get_details()
    out["create"] = {k: details.get(k) for k in ("name", "provisioningState", "hbiWorkspace", "keyVault", "workspaceid")}
    out["create"]["encryption"] = details.get("encryption")
except Exception as e:  # noqa: BLE001 - the message is the result
    out["create_error"] = str(e)[:2000]
try:
    Workspace.create(
        "cmk-core-bad", auth=auth, subscription_id=sub, resource_group=rg, location="local", exist_ok=False, show_output=False,
        cmk_keyvault=os.environ["CMK_VAULT"], resource_cmk_uri=os.environ["CMK_KID"].rsplit("/", 2)[0] + "/no-such-key",
    )
    out["bad_error"] = None
except Exception as e:  # noqa: BLE001
    out["bad_error"] = str(e)[:2000]
print(json.dumps(out))
sys.stdout.flush()
