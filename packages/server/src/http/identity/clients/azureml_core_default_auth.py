"""azureml-core's default authentication (no `auth` argument) through the server's managed identity
endpoint, run by http/identity/managed-identity.test.ts: with MSI_ENDPOINT, MSI_SECRET and
APPSETTING_WEBSITE_SITE_NAME set (App Service style), InteractiveLoginAuthentication takes a
managed identity first and asks `GET {MSI_ENDPOINT}/?resource=…&api-version=2017-09-01` with the
header `secret`. The cloud is the Azure CLI config's (AZURE_CONFIG_DIR), added to azureml-core's
list as docs/clients.md section 5 says. Prints the step results as one JSON line.

Environment: as azure_clients.py, plus WORKSPACE, MSI_ENDPOINT, MSI_SECRET, WORKDIR.
"""
import json
import os
import signal
import sys

from azure_clients import Steps, core_auth

core_auth()  # only to add the Atelier cloud to azureml-core's list; its TokenAuthentication is not used
os.makedirs(os.environ["AZURE_CONFIG_DIR"], exist_ok=True)
with open(os.path.join(os.environ["AZURE_CONFIG_DIR"], "config"), "w") as f:
    f.write("[cloud]\nname = Atelier\n")
# Nothing else to fall back on: no service principal variables, no Azure CLI sign-in.
for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
    os.environ.pop(k, None)

from azureml.core import Experiment, Workspace  # noqa: E402

os.chdir(os.environ["WORKDIR"])
with open("config.json", "w") as f:
    json.dump({
        "subscription_id": os.environ["AZURE_SUBSCRIPTION_ID"],
        "resource_group": os.environ["RESOURCE_GROUP"],
        "workspace_name": os.environ["WORKSPACE"],
    }, f)

step = Steps()


def no_interactive(fn):
    """Runs fn, failing instead of waiting when azureml-core falls back to an interactive sign-in."""
    def stop(*_):
        raise TimeoutError("azureml-core waited for an interactive sign-in")

    def run():
        signal.signal(signal.SIGALRM, stop)
        signal.alarm(90)
        try:
            return fn()
        finally:
            signal.alarm(0)
    return run


ws = step("from_config", no_interactive(lambda: Workspace.from_config()))
if ws is not None:
    step("auth type", lambda: type(ws._auth_object).__name__)
    step("ambient auth type", lambda: type(ws._auth_object._ambient_auth).__name__ if getattr(ws._auth_object, "_ambient_auth", None) else None)
    step("get_details", lambda: ws.get_details()["name"])
    step("datastores", lambda: sorted(ws.datastores.keys()))

    def log_run():
        run = Experiment(ws, "msi-experiment").start_logging(snapshot_directory=None)
        run.log("auc", 0.75)
        run.complete()
        return run.id

    step("start_logging", log_run)
    step("setup", no_interactive(lambda: Workspace.setup().name))

print(json.dumps(step.out, default=str))
sys.stdout.flush()
