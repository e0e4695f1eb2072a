"""azureml-core pointed at an Atelier server through public settings only, run by
http/identity/cloud-metadata.test.ts: ARM_CLOUD_METADATA_URL (set by the test) names the server's
cloud metadata, so azureml-core's list of clouds is this server's; a service principal signs in with
the tenant `adfs` (MSAL then reads the server's own OpenID configuration instead of asking
login.microsoftonline.com about it). No module of azureml-core is patched. Prints the step results as
one JSON line.

Environment: as azure_clients.py, plus ARM_CLOUD_METADATA_URL, WORKSPACE, WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps

os.makedirs(os.environ["AZURE_CONFIG_DIR"], exist_ok=True)
with open(os.path.join(os.environ["AZURE_CONFIG_DIR"], "config"), "w") as f:
    f.write("[cloud]\nname = Atelier\n")

from azureml._vendor.azure_cli_core.cloud import KNOWN_CLOUDS  # noqa: E402 - read only, to report it
from azureml.core import Experiment, Workspace  # noqa: E402
from azureml.core.authentication import ServicePrincipalAuthentication  # noqa: E402

WORKSPACE = os.environ["WORKSPACE"]
APP_ID = os.environ["AZURE_CLIENT_ID"]
SECRET = os.environ["AZURE_CLIENT_SECRET"]
os.chdir(os.environ["WORKDIR"])
step = Steps()

step("clouds", lambda: [c.name for c in KNOWN_CLOUDS])
step("resource manager", lambda: [c.endpoints.resource_manager for c in KNOWN_CLOUDS])

auth = ServicePrincipalAuthentication(tenant_id="adfs", service_principal_id=APP_ID,
                                      service_principal_password=SECRET, cloud="Atelier")
ws = step("get", lambda: Workspace.get(WORKSPACE, auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP))
if ws is not None:
    step("get_details", lambda: ws.get_details()["name"])
    step("list", lambda: sorted(Workspace.list(SUBSCRIPTION, auth=auth, resource_group=GROUP).keys()))

    def log_run():
        run = Experiment(ws, "cloud-metadata").start_logging(snapshot_directory=None)
        run.log("acc", 0.5)
        run.complete()
        return run.id

    step("start_logging", log_run)
    step("write_config", lambda: ws.write_config() or True)

# azureml-core's default authentication with the service principal in its own variables.
os.environ["AZUREML_SERVICE_PRINCIPAL_ID"] = APP_ID
os.environ["AZUREML_SERVICE_PRINCIPAL_TENANT_ID"] = "adfs"
os.environ["AZUREML_SERVICE_PRINCIPAL_PASSWORD"] = SECRET
for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
    os.environ.pop(k, None)
default = step("from_config", lambda: Workspace.from_config())
if default is not None:
    step("ambient auth type", lambda: type(getattr(default._auth_object, "_ambient_auth", None) or default._auth_object).__name__)
    step("default get_details", lambda: default.get_details()["name"])
    step("setup", lambda: Workspace.setup().name)

# A wrong secret is refused by the server, not by the client.
bad = ServicePrincipalAuthentication(tenant_id="adfs", service_principal_id=APP_ID,
                                     service_principal_password="not-the-secret", cloud="Atelier")
step("wrong secret", lambda: Workspace.get(WORKSPACE, auth=bad, subscription_id=SUBSCRIPTION, resource_group=GROUP).name)

print(json.dumps(step.out, default=str))
sys.stdout.flush()
