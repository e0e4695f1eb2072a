"""azureml-core's private endpoints over the server's virtual networks (issue 11): a virtual network
made through ARM (as the az CLI would), then Workspace.add_private_endpoint and
Workspace.create(private_endpoint_config=…), which read the network and subnet, then deploy
azureml-core's own ARM template (the endpoint, private DNS zones, their links to the network and the
endpoint's DNS zone group, in nested deployments in the network's resource group) and poll it. The
endpoints' subnets then decide who reaches each workspace once public network access is disabled.
Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), NEW_WORKSPACE
(one Workspace.create makes), VNET_GROUP (an existing resource group for the network), WORKDIR.
"""
import json
import os
import time

import requests
from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, cap_core_polling, core_auth
from azureml.core import PrivateEndPointConfig, Workspace

cap_core_polling()
auth = core_auth()
name = os.environ["WORKSPACE"]
new_name = os.environ["NEW_WORKSPACE"]
vnet_group = os.environ["VNET_GROUP"]
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, name, auth=auth)
os.chdir(os.environ["WORKDIR"])
V = "api-version=2023-09-01"
NET = f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{vnet_group}/providers/Microsoft.Network"


def arm(method, url, body=None):
    r = requests.request(method, url, json=body, headers=auth.get_authentication_header())
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {url[len(URL):]}: {r.status_code} {r.text}")
    return r.json() if r.text else None


# The network: 127.0.0.0/30 holds this client (127.0.0.1); 127.0.1.0/24 does not.
step("virtual network (ARM)", lambda: [s["name"] for s in arm("PUT", f"{NET}/virtualNetworks/pe-vnet?{V}", {
    "location": "local",
    "properties": {
        "addressSpace": {"addressPrefixes": ["127.0.0.0/8"]},
        "subnets": [
            {"name": "default", "properties": {"addressPrefix": "127.0.0.0/30"}},
            {"name": "far", "properties": {"addressPrefix": "127.0.1.0/24"}},
        ],
    },
})["properties"]["subnets"]])


def config(pe, subnet, vnet="pe-vnet"):
    return PrivateEndPointConfig(name=pe, vnet_name=vnet, vnet_subnet_name=subnet,
                                 vnet_subscription_id=SUBSCRIPTION, vnet_resource_group=vnet_group)


# A subnet that does not exist: azureml-core stops before deploying anything.
step("add_private_endpoint (missing subnet)", lambda: ws.add_private_endpoint(config("pe-missing", "nope"), show_output=False))

pe = step("add_private_endpoint", lambda: ws.add_private_endpoint(
    private_endpoint_config=config("pe-near", "default"), private_endpoint_auto_approval=True, show_output=False))
step("PrivateEndPoint ids", lambda: [pe.private_endpoint_resource_id.split("/")[-1],
                                     pe.private_endpoint_connection_resource_id.split("/")[-2]])
step("ws.private_endpoints", lambda: sorted(ws.private_endpoints.keys()))
step("PrivateEndPoint.get_details", lambda: pe.get_details(auth=auth))
step("connection state", lambda: arm("GET", f"{URL}{pe.private_endpoint_connection_resource_id}?{V}")
     ["properties"]["privateLinkServiceConnectionState"]["status"])

# Manual approval: the template holds the endpoint alone; its connection waits for an Owner.
manual = step("add_private_endpoint (manual approval)", lambda: ws.add_private_endpoint(
    private_endpoint_config=config("pe-manual", "default"), private_endpoint_auto_approval=False, show_output=False))
step("manual connection state", lambda: arm("GET", f"{URL}{manual.private_endpoint_connection_resource_id}?{V}")
     ["properties"]["privateLinkServiceConnectionState"]["status"])

# Workspace.create with a private endpoint: the workspace's template, then the endpoint's.
step("Workspace.create(private_endpoint_config)", lambda: Workspace.create(
    new_name, auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP, location="local",
    private_endpoint_config=config("pe-far", "far"), private_endpoint_auto_approval=True,
    show_output=False).get_details()["name"])
ws2 = Workspace(SUBSCRIPTION, GROUP, new_name, auth=auth)
step("Workspace.create: private_endpoints", lambda: sorted(ws2.private_endpoints.keys()))


# Public network access disabled on both: this client (127.0.0.1) is in pe-near's subnet only.
def disable(w):
    arm("PATCH", f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{w}?{V}",
        {"properties": {"publicNetworkAccess": "Disabled"}})


def until_refused(w):
    # The server keeps a workspace's network state for a second.
    for _ in range(40):
        try:
            sorted(w.datastores.keys())
        except Exception as e:
            return str(e)
        time.sleep(0.1)
    return "not refused"


step("disable public network access", lambda: [disable(name), disable(new_name)] and None)
step("datastores through pe-near's subnet", lambda: sorted(Workspace(SUBSCRIPTION, GROUP, name, auth=auth).datastores.keys()))
step("datastores of the workspace behind pe-far", lambda: until_refused(Workspace(SUBSCRIPTION, GROUP, new_name, auth=auth)))

# Deleting the connection on the workspace closes the network it admitted.
step("delete_private_endpoint_connection", lambda: ws.delete_private_endpoint_connection(
    pe.private_endpoint_connection_resource_id.split("/")[-1]) and None)
step("datastores after the connection is deleted", lambda: until_refused(Workspace(SUBSCRIPTION, GROUP, name, auth=auth)))
print(json.dumps(step.out, default=str))
