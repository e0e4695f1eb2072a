"""azureml-core's webservices and images (the seed's `webservices` and `images` attributes) over the
server's online endpoints and build records, in one process (issue 11). An MLflow model is saved
here and registered with azureml-core's Model.register; two online endpoints serving it are made
through ARM (as azure-ai-ml or the CLI would); azureml-core then finds, calls and manages them.
Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys
import time

import requests
from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, cap_core_polling, core_auth
from azureml.core import Workspace
from azureml.core.image import Image
from azureml.core.model import Model
from azureml.core.webservice import Webservice

auth = core_auth()
cap_core_polling()  # its pollers' fixed 5 s pause, capped (testing/python/azure_clients.py)
name = os.environ["WORKSPACE"]
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, name, auth=auth)
os.chdir(os.environ["WORKDIR"])

# The model: an MLflow pyfunc model saved here, registered through azureml-core (one registry).
import mlflow  # noqa: E402
import pandas  # noqa: E402


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (pandas.DataFrame(model_input)["x"].astype(float) * 2).tolist()


mlflow.pyfunc.save_model("doubler", python_model=Doubler(), pip_requirements=["mlflow", "pandas"])
step("Model.register (MLflow model folder)", lambda: Model.register(ws, model_path="doubler", model_name="doubler").id)

# Two online endpoints through ARM: a Key one with two deployments (traffic 100/0), an AMLToken one.
ARM = f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{name}"
V = "api-version=2025-09-01"


def arm_send(method, path, body=None):
    """The request; its answer and its operation to wait for (Azure-AsyncOperation), if any."""
    r = requests.request(method, f"{ARM}/{path}?{V}", json=body, headers=auth.get_authentication_header())
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r, f"{method} {path}"


def arm_wait(sent):
    r, what = sent
    op = r.headers.get("Azure-AsyncOperation")
    while op:
        s = requests.get(op, headers=auth.get_authentication_header()).json()
        if s["status"] != "InProgress":
            if s["status"] != "Succeeded":
                raise RuntimeError(f"{what}: {s}")
            break
        time.sleep(0.2)
    return r.json() if r.text else None


def arm(method, path, body=None):
    return arm_wait(arm_send(method, path, body))


def make_endpoints():
    arm("PUT", "onlineEndpoints/svc-key", {"location": "local", "tags": {"team": "a"}, "properties": {"authMode": "Key", "description": "doubles x", "properties": {"owner": "seed"}}})
    arm("PUT", "onlineEndpoints/svc-token", {"location": "local", "properties": {"authMode": "AMLToken"}})
    # The three deployments are sent at once and then waited for: their workers start side by side.
    deployment = {"location": "local", "sku": {"name": "Default", "capacity": 1}, "properties": {"model": "azureml:doubler:1"}}
    sent = [arm_send("PUT", f"onlineEndpoints/{path}", deployment) for path in ("svc-key/deployments/blue", "svc-key/deployments/green", "svc-token/deployments/main")]
    for s in sent:
        arm_wait(s)
    arm("PATCH", "onlineEndpoints/svc-key", {"properties": {"traffic": {"blue": 100, "green": 0}}})
    arm("PATCH", "onlineEndpoints/svc-token", {"properties": {"traffic": {"main": 100}}})


step("ARM endpoints and deployments", make_endpoints)

# Webservices: ws.webservices, Webservice(ws, name), Webservice.list with its filters.
step("ws.webservices", lambda: sorted(ws.webservices.keys()))
svc = step("Webservice(ws, name)", lambda: Webservice(ws, "svc-key"))
step("service attributes", lambda: [type(svc).__name__, svc.compute_type, svc.state, svc.scoring_uri.endswith("/svc-key/score"), svc.auth_enabled, bool(svc.token_auth_enabled), svc.tags, svc.properties, svc.description])
step("service versions", lambda: {k: [v.traffic_percentile, v.is_default, v.state, v.num_replicas, [m.id for m in v.models]] for k, v in svc.versions.items()})
for label, kwargs in [
    ("Webservice.list(compute_type=AKSENDPOINT)", {"compute_type": "AKSENDPOINT"}),
    ("Webservice.list(compute_type=ACI)", {"compute_type": "ACI"}),
    ("Webservice.list(model_name)", {"model_name": "doubler"}),
    ("Webservice.list(model_id)", {"model_id": "doubler:1"}),
    ("Webservice.list(model_name=other)", {"model_name": "other"}),
    ("Webservice.list(tags)", {"tags": [["team", "a"]]}),
    ("Webservice.list(properties)", {"properties": ["owner"]}),
]:
    step(label, lambda kwargs=kwargs: sorted(s.name for s in Webservice.list(ws, **kwargs)))

# Calling it: run(input) with the service's key, keys, a key regenerated to a given value, logs.
body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1], [2.5]]}})
step("run", lambda: svc.run(body))
keys = step("get_keys", lambda: svc.get_keys())
step("regen_key(Secondary, set_key)", lambda: svc.regen_key("Secondary", set_key="S" * 32))
step("get_keys after regen", lambda: [svc.get_keys()[0] == keys[0], svc.get_keys()[1]])
step("regen_key(Tertiary)", lambda: svc.regen_key("Tertiary"))
step("get_logs", lambda: svc.get_logs(num_lines=50))

tok = step("Webservice(ws, token service)", lambda: Webservice(ws, "svc-token"))
step("token service auth", lambda: [tok.auth_enabled, tok.token_auth_enabled])
step("get_access_token", lambda: (lambda t: [t.token_type, len(t.access_token) > 20, t.refresh_after < t.expiry_on])(tok.get_access_token()))
step("run (token)", lambda: tok.run(body))
step("get_keys (token service)", lambda: tok.get_keys())

# Images: the build records (here the deployments' packages) as azureml-core's images.
step("ws.images", lambda: sorted(ws.images.keys()))
blue = svc.versions["blue"] if svc else None
step("version image", lambda: [bool(blue.image_id), (blue.image_digest or "").startswith("sha256:")])
step("Image(ws, id)", lambda: (lambda i: [type(i).__name__, i.name, i.version, i.image_type, i.creation_state, i.model_ids, i.properties["kind"]])(Image(ws, id=blue.image_id)))
step("Image(ws, name)", lambda: (lambda i: [i.name, i.version])(Image(ws, name="svc-token-main")))
step("Image.list(model_name)", lambda: sorted(i.name for i in Image.list(ws, model_name="doubler")))
step("Image.list(model_name=other)", lambda: Image.list(ws, model_name="other"))
step("Image(ws, missing)", lambda: Image(ws, id="no-such-image"))
step("Webservice.list(image_id)", lambda: [s.name for s in Webservice.list(ws, image_id=blue.image_id)])

# Versions: update_version (traffic, tags) and delete_version change the endpoint's deployments.
step("update_version(traffic_percentile)", lambda: svc.update_version("green", traffic_percentile=30))
step("traffic after update_version", lambda: {k: v.traffic_percentile for k, v in Webservice(ws, "svc-key").versions.items()})
step("update_version(tags)", lambda: svc.update_version("green", tags={"stage": "canary"}))
step("version tags", lambda: Webservice(ws, "svc-key").versions["green"].tags)
step("delete_version (with traffic)", lambda: svc.delete_version("green"))
step("update_version(traffic 0)", lambda: svc.update_version("green", traffic_percentile=0))
step("delete_version", lambda: svc.delete_version("green"))
step("versions after delete_version", lambda: {k: v.traffic_percentile for k, v in Webservice(ws, "svc-key").versions.items()})
step("run after delete_version", lambda: svc.run(body))

# Not served through the v1 API (a 501 that says where): creating and updating services.
from azureml.core.model import InferenceConfig  # noqa: E402
from azureml.core.webservice import AciWebservice  # noqa: E402

# AksEndpoint.update (and add_tags / remove_tags / add_properties, which call it) fails inside
# azureml-core 1.61 before any request: it calls its _validate_update with two arguments missing.
step("svc.update", lambda: svc.update(description="changed"))
with open("score.py", "w") as f:
    f.write("def init():\n    pass\n\n\ndef run(raw):\n    return raw\n")


def deploy():
    # An environment that is only a container image (user-managed): refused, as no container runs here.
    from azureml.core import Environment

    env = Environment("deploy-env")
    env.python.user_managed_dependencies = True
    return Model.deploy(ws, "v1-made", [Model(ws, "doubler")], InferenceConfig(entry_script="score.py", environment=env), AciWebservice.deploy_configuration())


step("Model.deploy", deploy)

# Deleting: the endpoint goes (ARM sees it gone).
step("delete", lambda: tok.delete())
step("ws.webservices after delete", lambda: sorted(ws.webservices.keys()))
step("Webservice(ws, missing)", lambda: Webservice(ws, "svc-token"))

# The seed's Workspace methods not driven elsewhere (issue 11, item 4).
from azureml.core.compute import AmlCompute, ComputeTarget  # noqa: E402

step("get_default_compute_target(CPU) (none yet)", lambda: ws.get_default_compute_target("CPU"))


def make_cpu_cluster():
    ct = ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(vm_size="STANDARD_DS2_V2", max_nodes=1))
    ct.wait_for_completion(show_output=False)


step("ComputeTarget.create(cpu-cluster)", make_cpu_cluster)
step("get_default_compute_target(CPU)", lambda: (lambda c: [c.name, c.type])(ws.get_default_compute_target("CPU")))
step("get_default_compute_target(GPU)", lambda: ws.get_default_compute_target("GPU"))
step("update_dependencies()", lambda: ws.update_dependencies())
ACR = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.ContainerRegistry/registries/svcacr"
step("update_dependencies(missing registry)", lambda: ws.update_dependencies(container_registry=ACR, force=True))


def make_registry():
    r = requests.put(f"{URL}{ACR}?api-version=2023-07-01", json={"location": "local", "sku": {"name": "Basic"}}, headers=auth.get_authentication_header())
    if r.status_code >= 300:
        raise RuntimeError(f"PUT registry: {r.status_code} {r.text}")


step("ARM container registry", make_registry)
step("update_dependencies(container_registry)", lambda: ws.update_dependencies(container_registry=ACR, force=True).get("containerRegistry"))
step("get_details containerRegistry", lambda: Workspace(SUBSCRIPTION, GROUP, name, auth=auth).get_details().get("containerRegistry"))

from azureml.core import PrivateEndPointConfig  # noqa: E402

# add_private_endpoint first looks the virtual network up (Microsoft.Network/virtualNetworks), which
# Atelier does not keep: its private endpoints carry their subnet's address range themselves.
step("add_private_endpoint", lambda: ws.add_private_endpoint(PrivateEndPointConfig(name="svc-pe", vnet_name="svc-vnet", vnet_subnet_name="default"), show_output=False))


def make_private_endpoint():
    r = requests.put(
        f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Network/privateEndpoints/svc-pe?api-version=2023-09-01",
        json={"location": "local", "properties": {
            "subnet": {"properties": {"addressPrefixes": ["127.0.0.0/8"]}},
            "privateLinkServiceConnections": [{"name": "svc-pe", "properties": {"privateLinkServiceId": ARM[len(URL):], "groupIds": ["amlworkspace"]}}],
        }},
        headers=auth.get_authentication_header(),
    )
    if r.status_code >= 300:
        raise RuntimeError(f"PUT private endpoint: {r.status_code} {r.text}")


step("ARM private endpoint", make_private_endpoint)
pes = step("private_endpoints", lambda: ws.private_endpoints)
step("private_endpoints names", lambda: sorted(pes.keys()))
step("delete_private_endpoint_connection", lambda: ws.delete_private_endpoint_connection(pes["svc-pe"].private_endpoint_connection_resource_id.split("/")[-1]) and None)
step("private_endpoints after delete", lambda: sorted(ws.private_endpoints.keys()))
# get_mlflow_tracking_uri() imports azureml-mlflow, which cannot be installed next to the pinned clients
# (it caps mlflow-skinny and azure-storage-blob below their pins); the URI it builds is served as
# the workspace's mlFlowTrackingUri.
step("get_mlflow_tracking_uri", lambda: ws.get_mlflow_tracking_uri())
step("mlFlowTrackingUri", lambda: requests.get(f"{ARM}?{V}", headers=auth.get_authentication_header()).json()["properties"]["mlFlowTrackingUri"])


def setup():
    """Workspace.setup(): from_config() with azureml-core's default authentication, which takes a
    service principal from AZUREML_SERVICE_PRINCIPAL_* on the cloud the Azure CLI config names."""
    import signal

    os.environ["AZUREML_SERVICE_PRINCIPAL_ID"] = os.environ["AZURE_CLIENT_ID"]
    os.environ["AZUREML_SERVICE_PRINCIPAL_PASSWORD"] = os.environ["AZURE_CLIENT_SECRET"]
    os.environ["AZUREML_SERVICE_PRINCIPAL_TENANT_ID"] = os.environ["AZURE_TENANT_ID"]
    os.makedirs(os.environ["AZURE_CONFIG_DIR"], exist_ok=True)
    with open(os.path.join(os.environ["AZURE_CONFIG_DIR"], "config"), "w") as f:
        f.write("[cloud]\nname = Atelier\n")
    ws.write_config()
    def stop(*_):
        raise TimeoutError("Workspace.setup() waited for an interactive sign-in")

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(120)  # never wait for an interactive sign-in
    try:
        return Workspace.setup().name
    finally:
        signal.alarm(0)


step("Workspace.setup", setup)

print(json.dumps(step.out, default=str))
sys.stdout.flush()
