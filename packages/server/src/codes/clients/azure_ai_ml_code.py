"""azure-ai-ml's code upload against an Atelier server: the hash look-up, startPendingUpload, the
Blob REST upload through the SAS URI, and the version PUT; then the same folder again (found by its
hash, not uploaded twice) and a data asset from a local file.

Run by codes/azure-ai-ml-code.test.ts with REQUESTS_CA_BUNDLE set to the server's CA. Prints one JSON line.
Environment: ATELIER_URL, ATELIER_TOKEN, AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE, CODE_DIR.
"""
import json
import os
import sys
import time

from azure.core.credentials import AccessToken
from azure.ai.ml import MLClient
from azure.ai.ml.entities._assets import Code


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken(os.environ["ATELIER_TOKEN"], int(time.time()) + 3600)


url = os.environ["ATELIER_URL"].rstrip("/")
cloud = {
    "azure_portal": url + "/",
    "resource_manager": url + "/",
    "active_directory": url + "/",
    "aml_resource_id": url + "/",
    "storage_endpoint": "core.windows.net",
    "registry_discovery_endpoint": url + "/",
}
ml = MLClient(StaticToken(), os.environ["AZURE_SUBSCRIPTION_ID"], os.environ["RESOURCE_GROUP"], os.environ["WORKSPACE"], cloud="Atelier", cloud_metadata=cloud, show_progress=False)
out = {}
code = ml._code.create_or_update(Code(path=os.environ["CODE_DIR"]))
out["first"] = {"id": code.id, "name": code.name, "version": code.version, "path": str(code.path)}
again = ml._code.create_or_update(Code(path=os.environ["CODE_DIR"]))
out["again"] = {"id": again.id}
print(json.dumps(out))
sys.stdout.flush()
