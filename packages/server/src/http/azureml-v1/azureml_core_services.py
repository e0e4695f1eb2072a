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
from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, core_auth
from azureml.core import Workspace
from azureml.core.image import Image
from azureml.core.model import Model
from azureml.core.webservice import Webservice

auth = core_auth()
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


def arm(method, path, body=None):
    r = requests.request(method, f"{ARM}/{path}?{V}", json=body, headers=auth.get_authentication_header())
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    op = r.headers.get("Azure-AsyncOperation")
    while op:
        s = requests.get(op, headers=auth.get_authentication_header()).json()
        if s["status"] != "InProgress":
            if s["status"] != "Succeeded":
                raise RuntimeError(f"{method} {path}: {s}")
            break
        time.sleep(0.2)
    return r.json() if r.text else None


def make_endpoints():
    arm("PUT", "onlineEndpoints/svc-key", {"location": "local", "tags": {"team": "a"}, "properties": {"authMode": "Key", "description": "doubles x", "properties": {"owner": "seed"}}})
    arm("PUT", "onlineEndpoints/svc-key/deployments/blue", {"location": "local", "sku": {"name": "Default", "capacity": 1}, "properties": {"model": "azureml:doubler:1"}})
    arm("PUT", "onlineEndpoints/svc-key/deployments/green", {"location": "local", "sku": {"name": "Default", "capacity": 1}, "properties": {"model": "azureml:doubler:1"}})
    arm("PATCH", "onlineEndpoints/svc-key", {"properties": {"traffic": {"blue": 100, "green": 0}}})
    arm("PUT", "onlineEndpoints/svc-token", {"location": "local", "properties": {"authMode": "AMLToken"}})
    arm("PUT", "onlineEndpoints/svc-token/deployments/main", {"location": "local", "sku": {"name": "Default", "capacity": 1}, "properties": {"model": "azureml:doubler:1"}})
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

# Not served through the v1 API (a 501 that says where): creating and updating services.
from azureml.core.model import InferenceConfig  # noqa: E402
from azureml.core.webservice import AciWebservice  # noqa: E402

# AksEndpoint.update (and add_tags / remove_tags / add_properties, which call it) fails inside
# azureml-core 1.61 before any request: it calls its _validate_update with two arguments missing.
step("svc.update", lambda: svc.update(description="changed"))
with open("score.py", "w") as f:
    f.write("def init():\n    pass\n\n\ndef run(raw):\n    return raw\n")


def deploy():
    from azureml.core import Environment

    env = Environment("deploy-env")
    env.python.user_managed_dependencies = True
    return Model.deploy(ws, "v1-made", [Model(ws, "doubler")], InferenceConfig(entry_script="score.py", environment=env), AciWebservice.deploy_configuration())


step("Model.deploy", deploy)

# Deleting: the endpoint goes (ARM sees it gone).
step("delete", lambda: tok.delete())
step("ws.webservices after delete", lambda: sorted(ws.webservices.keys()))
step("Webservice(ws, missing)", lambda: Webservice(ws, "svc-token"))

print(json.dumps(step.out, default=str))
sys.stdout.flush()
