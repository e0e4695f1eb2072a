"""The official Azure ML clients pointed at an Atelier server, as docs/clients.md sets them up:
azureml-core (the seed's SDK v1) with a custom cloud and TokenAuthentication, azure-ai-ml's MLClient
with cloud metadata; tokens from Atelier's token service through azure-identity.

Environment: ATELIER_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_SUBSCRIPTION_ID, RESOURCE_GROUP (REQUESTS_CA_BUNDLE trusts the server's CA).
"""
import os
import socket
import time
import traceback
from urllib.parse import urlparse

from azure.identity import ClientSecretCredential

URL = os.environ["ATELIER_URL"].rstrip("/")
SUBSCRIPTION = os.environ["AZURE_SUBSCRIPTION_ID"]
GROUP = os.environ["RESOURCE_GROUP"]
# Host-style blob URIs ({account}.blob.{suffix}) reach the server, as a wildcard DNS record would
# make them do in a deployment.
_SUFFIX = os.environ.get("ATELIER_STORAGE_SUFFIX")
if _SUFFIX:
    _resolve = socket.getaddrinfo
    _server = urlparse(URL).hostname

    def _getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.lower().endswith("." + _SUFFIX):
            host = _server
        return _resolve(host, *args, **kwargs)

    socket.getaddrinfo = _getaddrinfo

credential = ClientSecretCredential(
    os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
    authority=URL, disable_instance_discovery=True,
)


def core_auth():
    """azureml-core: the cloud added to its built-in list, and a token callback."""
    from azureml._vendor.azure_cli_core.cloud import KNOWN_CLOUDS, Cloud, CloudEndpoints, CloudSuffixes
    from azureml.core.authentication import TokenAuthentication

    if not any(c.name == "Atelier" for c in KNOWN_CLOUDS):
        KNOWN_CLOUDS.append(Cloud(
            "Atelier",
            endpoints=CloudEndpoints(
                management=URL + "/", resource_manager=URL + "/", active_directory=URL,
                active_directory_resource_id=URL + "/", active_directory_graph_resource_id=URL + "/", portal=URL + "/",
            ),
            suffixes=CloudSuffixes(storage_endpoint="core.windows.net"),
        ))
    return TokenAuthentication(lambda audience: credential.get_token(audience.rstrip("/") + "/.default").token, cloud="Atelier")


def ml_client(workspace=None, uploads=False):
    """azure-ai-ml: an MLClient on a custom cloud whose endpoints are the server. `uploads`: the
    cloud's storage endpoint is the server's storage suffix (with its port), so azure-ai-ml's
    datastore uploads (local paths of models and data) reach the server's Blob REST subset."""
    from azure.ai.ml import MLClient

    cloud = {k: URL + "/" for k in ("azure_portal", "resource_manager", "active_directory", "aml_resource_id", "registry_discovery_endpoint")}
    port = urlparse(URL).port
    cloud["storage_endpoint"] = (f"{_SUFFIX}:{port}" if port else _SUFFIX) if uploads and _SUFFIX else "core.windows.net"
    return MLClient(credential, SUBSCRIPTION, GROUP, workspace_name=workspace, cloud="Atelier", cloud_metadata=cloud)


def cap_core_polling(cap=0.2):
    """Test-only: azureml-core's pollers wait a fixed 5 s between polls and read no Retry-After
    (time.sleep(5) in Webservice.wait_for_deployment / delete / regen_key, Image.wait_for_creation,
    ModelPackage.wait_for_creation, ImageBuildDetails.wait_for_completion,
    ComputeTarget.wait_for_completion; Workspace.create and PrivateEndPointConfig deployments), and
    Run.wait_for_completion 2 s to 60 s; so a test waits up to 5 s after every operation the server has
    already finished. When the driver has imported azure-ai-ml, its template deployments
    (workspaces.begin_create, feature_stores.begin_create: a fixed 5 s too) are capped as well. In
    those modules only, a sleep lasts at most `cap` seconds: the client's calls and the requests they
    send are the same, only the pause between two polls is shorter. Retries of failed requests
    (azureml._restclient) keep their own back-off. Call it after importing the clients."""
    import importlib
    import sys
    import types

    capped = types.ModuleType("time", "time, with sleep() capped for the tests' pollers")
    capped.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
    capped.sleep = lambda seconds: time.sleep(min(seconds, cap))
    # Only the clients the driver has imported (importing one costs seconds).
    names = []
    if "azureml.core" in sys.modules:
        names += [
            "azureml.core.compute.amlcompute",
            "azureml.core.compute.compute",
            "azureml.core.environment",
            "azureml.core.image.image",
            "azureml.core.model",
            "azureml.core.run",
            "azureml.core.webservice.webservice",
            "azureml._workspace._private_endpoint_deployment_orchestrator",
            "azureml._workspace._utils",
        ]
    if "azure.ai.ml" in sys.modules:
        names += ["azure.ai.ml._arm_deployments.arm_deployment_executor", "azure.ai.ml.operations._workspace_operations_base"]
    for name in names:
        importlib.import_module(name).time = capped


class Steps:
    """Runs named steps, recording each result or its error, so one script reports everything; each
    step's wall time in seconds is its "s" (ATELIER_TEST_DUMP=1 prints them: where a suite's time goes)."""

    def __init__(self):
        self.out = {}

    def __call__(self, label, fn):
        started = time.monotonic()
        try:
            value = fn()
            self.out[label] = {"ok": value}
            return value
        except Exception as e:  # noqa: BLE001 - the message is the result
            try:
                message = str(e)
            except Exception:  # noqa: BLE001 - some SDK exceptions cannot print themselves
                message = repr(getattr(e, "inner_exception", None) or e.args)
            self.out[label] = {"error": f"{type(e).__name__}: {message}"[:3000], "trace": traceback.format_exc()[-3000:]}
            return None
        finally:
            if label in self.out:
                self.out[label]["s"] = round(time.monotonic() - started, 2)
