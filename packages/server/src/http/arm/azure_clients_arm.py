"""ARM-layer behaviour the official clients rely on (issue 11, item 1), through azureml-core and
azure-ai-ml as users call them. Prints one JSON line: {step: {"ok": value} | {"error": message}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace).
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth, ml_client
from azureml.core import Workspace

cap_core_polling()
auth = core_auth()
name = os.environ["WORKSPACE"]
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, name, auth=auth)
# The subscription-level resource list with $filter=resourceType eq '…' (no group given).
step("list_subscription", lambda: sorted(Workspace.list(SUBSCRIPTION, auth=auth).keys()))
# azureml-core sends these booleans as the strings "True"/"False".
step("update_v1_legacy_mode", lambda: bool(ws.update(v1_legacy_mode=True)))
step("update_allow_public", lambda: bool(ws.update(allow_public_access_when_behind_vnet=True)))
step("details_after_update", lambda: {k: ws.get_details().get(k) for k in ("v1LegacyMode", "allowPublicAccessWhenBehindVnet")})
step("private_endpoint_connections", lambda: ws.get_details().get("privateEndpointConnections"))
# Connections: azureml-core lists them with api-version 2020-01-01 (a bare array then).
step("set_connection", lambda: ws.set_connection("feed", "PythonFeed", "https://pypi.example/simple", "PAT", '{"pat":"t0ken"}')["name"])
# (list_connections returns the list printed as one string: azureml-core's own choice.)
step("list_connections", lambda: ws.list_connections())
step("delete_connection", lambda: ws.delete_connection("feed"))  # a DELETE with Content-Type: application/json, no body
step("list_connections_after", lambda: ws.list_connections())
# diagnose: msrestazure's poller reads the result from the Azure-AsyncOperation status body.
step("diagnose", lambda: sorted(ws.diagnose_workspace({"value": {}})["value"].keys()))
# The provider's locations include Azure's regions: Workspace.create(location="eastus2") is accepted.
step("create_eastus2", lambda: Workspace.create("in-eastus2", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP, location="eastus2", show_output=False).location)
# A family Atelier does not build: azure-ai-ml gets a 501 that names it.
ml = ml_client(name)
step("batch_endpoints", lambda: [e.name for e in ml.batch_endpoints.list()])
print(json.dumps(step.out))
sys.stdout.flush()
