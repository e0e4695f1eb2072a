"""azureml-core's Model.deploy, service.update and friends against the server (issue 11): a v1 service
is an online endpoint named like it with one deployment running the uploaded entry script (init() /
run()) in the v1 Environment sent, built by uv. One process; prints one JSON line:
{step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

import requests
from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, cap_core_polling, core_auth
from azureml.core import Environment, Workspace
from azureml.core.model import InferenceConfig, Model
from azureml.core.webservice import AciWebservice, AksWebservice, Webservice

auth = core_auth()
cap_core_polling()  # its pollers' fixed 5 s pause, capped (testing/python/azure_clients.py)
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# The model: a JSON file holding a factor, registered through azureml-core.
write("factor.json", json.dumps({"factor": 3}))
step("Model.register", lambda: Model.register(ws, model_path="factor.json", model_name="factor").id)

# A source directory: the entry script imports a helper beside it and reads the model in init().
SCORE = """
import json, os
import six
from helper import scale

def init():
    global factor
    root = os.environ["AZUREML_MODEL_DIR"]
    found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f == "factor.json"]
    factor = json.load(open(found[0]))["factor"] * FACTOR_TIMES
    print("scorer ready: factor %s" % factor, flush=True)

def run(raw_data):
    return {"result": scale(json.loads(raw_data)["data"], factor)}
"""
write("src/score.py", SCORE.replace("FACTOR_TIMES", "1"))
write("src/helper.py", "def scale(xs, f):\n    return [x * f for x in xs]\n")
write("src2/score.py", SCORE.replace("FACTOR_TIMES", "10"))
write("src2/helper.py", "def scale(xs, f):\n    return [x * f for x in xs]\n")
write("bad/score.py", "def init():\n    raise RuntimeError('the model file is corrupt (atelier test)')\n\ndef run(raw_data):\n    return raw_data\n")
write("conda.yml", "name: deploy-env\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - six==1.17.0\n")
env = Environment.from_conda_specification("deploy-env", "conda.yml")
model = step("Model(ws, factor)", lambda: Model(ws, "factor"))


def deploy(name, config, source="src", target=None):
    ic = InferenceConfig(entry_script="score.py", source_directory=source, environment=env)
    return Model.deploy(ws, name, [model], ic, config, deployment_target=target)


aci = step("Model.deploy (ACI)", lambda: deploy("aci-svc", AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=1, tags={"team": "a"}, properties={"owner": "seed"}, description="triples")))
step("wait_for_deployment", lambda: aci.wait_for_deployment())
svc = step("Webservice(ws, aci-svc)", lambda: Webservice(ws, "aci-svc"))
step("service attributes", lambda: [type(svc).__name__, svc.compute_type, svc.state, svc.auth_enabled, svc.tags, svc.properties, svc.description, svc.scoring_uri.endswith("/aci-svc/score"), svc.container_resource_requirements.cpu, [m.id for m in svc.models], svc.environment.name])
step("run", lambda: svc.run(json.dumps({"data": [1, 2]})))
step("get_keys", lambda: [len(k) for k in svc.get_keys()])
step("regen_key", lambda: svc.regen_key("Primary"))
step("run after regen_key", lambda: Webservice(ws, "aci-svc").run(json.dumps({"data": [5]})))
step("get_logs", lambda: "scorer ready: factor 3" in svc.get_logs())
step("ws.webservices", lambda: {k: v.compute_type for k, v in ws.webservices.items()})
step("Webservice.list(compute_type=ACI)", lambda: [s.name for s in Webservice.list(ws, compute_type="ACI")])
step("Webservice.list(model_name)", lambda: [s.name for s in Webservice.list(ws, model_name="factor")])

# Several models: AZUREML_MODEL_DIR holds each under {name}/{version}/ (Azure ML v1's layout); the
# entry script reads both and the prediction uses both.
write("offset.json", json.dumps({"offset": 100}))
offset = step("Model.register (offset)", lambda: Model.register(ws, model_path="offset.json", model_name="offset"))
MULTI = """
import json, os

def init():
    global factor, offset
    root = os.environ["AZUREML_MODEL_DIR"]
    factor = json.load(open(os.path.join(root, "factor", "1", "factor.json")))["factor"]
    offset = json.load(open(os.path.join(root, "offset", "1", "offset.json")))["offset"]

def run(raw_data):
    return {"result": [x * factor + offset for x in json.loads(raw_data)["data"]]}
"""
write("multi/score.py", MULTI)


def deploy_multi():
    ic = InferenceConfig(entry_script="score.py", source_directory="multi", environment=env)
    svc = Model.deploy(ws, "multi-svc", [model, offset], ic, AciWebservice.deploy_configuration())
    svc.wait_for_deployment()
    svc = Webservice(ws, "multi-svc")
    return [svc.state, sorted(m.id for m in svc.models), svc.run(json.dumps({"data": [1, 2]}))]


step("Model.deploy (two models)", deploy_multi)
step("Webservice.list(model_name=offset)", lambda: [s.name for s in Webservice.list(ws, model_name="offset")])
step("delete (two models)", lambda: Webservice(ws, "multi-svc").delete())

# The same service through ARM: one endpoint (its v1 compute type in its properties), one deployment.
W = f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"
MM = f"{URL}/modelmanagement/v1.0/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"


def arm(path):
    r = requests.get(f"{W}/{path}?api-version=2025-09-01", headers=auth.get_authentication_header())
    return r.json() if r.ok else {"status": r.status_code}


step("ARM endpoint", lambda: (lambda e: [e["properties"]["authMode"], e["properties"]["properties"]["azureml.v1.computeType"], e["properties"]["traffic"]])(arm("onlineEndpoints/aci-svc")))
step("ARM deployment", lambda: (lambda d: [d["properties"]["codeConfiguration"]["scoringScript"], d["properties"]["model"], d["properties"]["environmentId"].split("/environments/")[1]])(arm("onlineEndpoints/aci-svc/deployments/version-1")))
step("POST services (taken name)", lambda: (lambda r: [r.status_code, r.json()["error"]["message"]])(requests.post(f"{MM}/services", json={"name": "aci-svc", "computeType": "ACI", "environmentImageRequest": {"modelIds": ["factor:1"]}}, headers=auth.get_authentication_header())))

# A taken name: azureml-core asks first (validate/name), the POST itself is a 409.
step("Model.deploy (taken name)", lambda: deploy("aci-svc", AciWebservice.deploy_configuration()))
# A failing init(): the service is Failed with the script's error in the operation and the logs.
bad = step("Model.deploy (failing init)", lambda: deploy("bad-svc", AciWebservice.deploy_configuration(), source="bad"))
step("wait_for_deployment (failing init)", lambda: bad.wait_for_deployment())
step("failed state", lambda: [Webservice(ws, "bad-svc").state, "the model file is corrupt" in Webservice(ws, "bad-svc").get_logs()])
step("delete (failed)", lambda: Webservice(ws, "bad-svc").delete())
# AKS on a compute that does not exist: a clear error, nothing made.
step("Model.deploy (AKS, missing compute)", lambda: deploy("aks-svc", AksWebservice.deploy_configuration(compute_target_name="no-such-aks")))
# Not built: Application Insights and model data collection are 501s naming them, and make nothing.
step("Model.deploy (enable_app_insights)", lambda: deploy("ai-svc", AciWebservice.deploy_configuration(enable_app_insights=True)))
step("Model.deploy (collect_model_data)", lambda: deploy("dc-svc", AksWebservice.deploy_configuration(compute_target_name="no-such-aks", collect_model_data=True)))
step("ws.webservices after refusals", lambda: sorted(ws.webservices.keys()))

# update: tags, properties, description; auth cannot change; a new inference_config is a new version.
step("update(tags, properties, description)", lambda: svc.update(tags={"team": "b"}, properties={"stage": "prod"}, description="still triples"))
step("after update", lambda: (lambda s: [s.tags, s.properties, s.description, s.state])(Webservice(ws, "aci-svc")))
step("update(auth_enabled=False)", lambda: svc.update(auth_enabled=False))
step("update(enable_app_insights=True)", lambda: svc.update(enable_app_insights=True))


def new_version():
    s = Webservice(ws, "aci-svc")
    s.update(inference_config=InferenceConfig(entry_script="score.py", source_directory="src2", environment=env))
    s.wait_for_deployment()
    return s.run(json.dumps({"data": [1, 2]}))


step("update(inference_config)", new_version)
step("after new version", lambda: (lambda s: [s.state, s.tags])(Webservice(ws, "aci-svc")))

# AksEndpoint.create_version on an endpoint made through ARM: a new deployment from the version's
# inference config; when it is up it gets its traffic_percentile.
def arm_put(path, body):
    r = requests.put(f"{W}/{path}?api-version=2025-09-01", json=body, headers=auth.get_authentication_header())
    if r.status_code >= 300:
        raise RuntimeError(f"PUT {path}: {r.status_code} {r.text}")
    return r.status_code


step("ARM endpoint (no deployment)", lambda: arm_put("onlineEndpoints/ep-versions", {"location": "local", "properties": {"authMode": "Key"}}))


def create_version(name, **kwargs):
    ep = Webservice(ws, "ep-versions")
    ep.create_version(name, inference_config=InferenceConfig(entry_script="score.py", source_directory="src", environment=env), models=[model], **kwargs)
    ep.wait_for_deployment()
    ep = Webservice(ws, "ep-versions")
    return [type(ep).__name__, {k: [v.traffic_percentile, v.state, v.num_replicas] for k, v in ep.versions.items()}, ep.run(json.dumps({"data": [2]}))]


step("AksEndpoint.create_version", lambda: create_version("blue", traffic_percentile=100, num_replicas=1))
step("delete ep-versions", lambda: Webservice(ws, "ep-versions").delete())
step("delete", lambda: Webservice(ws, "aci-svc").delete())
step("ws.webservices after delete", lambda: sorted(ws.webservices.keys()))

print(json.dumps(step.out, default=str))
sys.stdout.flush()
