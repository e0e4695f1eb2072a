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
from azure_clients import cap_core_polling  # testing/python/azure_clients.py
from azure.ai.ml import MLClient
from azure.ai.ml.entities import FeatureStore, ManagedNetwork, Workspace
from azure.ai.ml.entities import FqdnDestination, PrivateEndpointDestination

cap_core_polling()
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
try:
    # Private: no public network access and a managed network that only allows approved outbound
    # (azure-ai-ml 1.35.2 sends privateEndpointType 'none' always: its private endpoints are the
    # managed network's outbound rules, and associatedResourcePNA 'Disabled').
    net = ManagedNetwork(
        isolation_mode="allow_only_approved_outbound",
        outbound_rules=[
            FqdnDestination(name="pypi", destination="pypi.org"),
            PrivateEndpointDestination(name="to-store", service_resource_id=created.storage_account, subresource_target="blob", spark_enabled=False),
        ],
    )
    private = ml.workspaces.begin_create(Workspace(name="aiml-private", location="local", public_network_access="Disabled", managed_network=net)).result()
    out["private"] = {
        "name": private.name,
        "public_network_access": private.public_network_access,
        "isolation_mode": private.managed_network.isolation_mode if private.managed_network else None,
        "rules": sorted(r.name for r in (private.managed_network.outbound_rules or [])) if private.managed_network else None,
    }
except Exception as e:  # noqa: BLE001
    out["private_error"] = str(e)[:3000]
try:
    # As a Contributor (no right to assign roles) the feature store's role assignments fail, as on Azure,
    # and the deployment removes what it made.
    ml.feature_stores.begin_create(FeatureStore(name="aiml-fs-denied", location="local")).result()
    out["feature_store_denied"] = "made"
except Exception as e:  # noqa: BLE001
    out["feature_store_denied"] = str(e)[:1500]
    try:
        ml.workspaces.get("aiml-fs-denied")
        out["feature_store_denied_left"] = True
    except Exception:  # noqa: BLE001
        out["feature_store_denied_left"] = False
try:
    # In FEATURE_GROUP the service principal is Owner: the identity, the store and its role assignments.
    ml = MLClient(credential, os.environ["AZURE_SUBSCRIPTION_ID"], os.environ["FEATURE_GROUP"], cloud="Atelier", cloud_metadata=cloud)
    fs = ml.feature_stores.begin_create(FeatureStore(name="aiml-fs", location="local", description="features")).result()
    out["feature_store"] = {
        "name": fs.name,
        "description": fs.description,
        "identity": fs.materialization_identity.resource_id if fs.materialization_identity else None,
        "principal": fs.materialization_identity.principal_id if fs.materialization_identity else None,
        "client": fs.materialization_identity.client_id if fs.materialization_identity else None,
        "offline": fs.offline_store.target if fs.offline_store else None,
    }
    out["feature_stores_list"] = sorted(f.name for f in ml.feature_stores.list())
except Exception as e:  # noqa: BLE001
    import traceback
    out["feature_store_error"] = (str(e) + traceback.format_exc())[:4000]
print(json.dumps(out))
sys.stdout.flush()
