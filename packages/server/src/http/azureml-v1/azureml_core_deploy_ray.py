"""azureml-core's AKS webservices against the server (issue 11): an AKS service runs on the attached
Ray compute it names, as Ray Serve replicas; an AksEndpoint on that compute gets versions with
create_version, each one scored on its own through service.versions[name].run(). One process;
prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace with the attached
Ray compute RAY_COMPUTE), WORKDIR.
"""
import json
import os
import sys

import requests
from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, cap_core_polling, core_auth
from azureml.core import Environment, Workspace
from azureml.core.model import InferenceConfig, Model
from azureml.core.webservice import AksEndpoint, AksWebservice, Webservice

auth = core_auth()
cap_core_polling()  # its pollers' fixed 5 s pause, capped (testing/python/azure_clients.py)
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
RAY = os.environ["RAY_COMPUTE"]
os.chdir(os.environ["WORKDIR"])
W = f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def arm(method, path, body=None):
    r = requests.request(method, f"{W}/{path}?api-version=2025-09-01", json=body, headers=auth.get_authentication_header())
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.text else {}


# The model: a JSON file holding a factor; the entry script multiplies by it (times FACTOR_TIMES).
write("factor.json", json.dumps({"factor": 3}))
model = step("Model.register", lambda: Model.register(ws, model_path="factor.json", model_name="factor"))
step("model id", lambda: model.id)
SCORE = """
import json, os

def init():
    global factor
    root = os.environ["AZUREML_MODEL_DIR"]
    found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f == "factor.json"]
    factor = json.load(open(found[0]))["factor"] * FACTOR_TIMES
    print("scorer ready on Ray: factor %s" % factor, flush=True)

def run(raw_data):
    return {"result": [x * factor for x in json.loads(raw_data)["data"]]}
"""
write("src/score.py", SCORE.replace("FACTOR_TIMES", "1"))
write("src2/score.py", SCORE.replace("FACTOR_TIMES", "10"))
# No pip packages: the replicas run in the Ray cluster's own Python.
write("conda.yml", "name: ray-env\ndependencies:\n  - python=3.11\n")
env = Environment.from_conda_specification("ray-env", "conda.yml")


def ic(source="src"):
    return InferenceConfig(entry_script="score.py", source_directory=source, environment=env)


# 1. Model.deploy to AKS on the attached Ray compute (compute_target_name: a Ray compute is no AksCompute).
def deploy_aks():
    svc = Model.deploy(ws, "aks-ray", [model], ic(), AksWebservice.deploy_configuration(
        compute_target_name=RAY, cpu_cores=0.1, memory_gb=0.25, num_replicas=1, tags={"on": "ray"}))
    svc.wait_for_deployment()
    return svc.state


step("Model.deploy (AKS on Ray)", deploy_aks)
aks = step("Webservice(ws, aks-ray)", lambda: Webservice(ws, "aks-ray"))
step("AKS attributes", lambda: [type(aks).__name__, aks.compute_type, aks.compute_name, aks.state, aks.auth_enabled, aks.num_replicas, aks.tags, aks.scoring_uri.endswith("/aks-ray/score")])
step("AKS run", lambda: aks.run(json.dumps({"data": [1, 2]})))
step("AKS get_keys", lambda: [len(k) for k in aks.get_keys()])
step("AKS get_logs", lambda: "scorer ready on Ray: factor 3" in aks.get_logs())
step("AKS through ARM", lambda: (lambda e, d: [e["properties"]["compute"].split("/")[-1], d["properties"]["endpointComputeType"], d["properties"]["containerResourceRequirements"]])(arm("GET", "onlineEndpoints/aks-ray"), arm("GET", "onlineEndpoints/aks-ray/deployments/version-1")))


# Keys <-> tokens on update (Azure lets an AKS service switch); no authentication at all is refused.
def switch_auth(key, token):
    Webservice(ws, "aks-ray").update(auth_enabled=key, token_auth_enabled=token)
    s = Webservice(ws, "aks-ray")
    cred = [len(s.get_access_token().access_token) > 0] if token else [len(k) for k in s.get_keys()]
    return [s.auth_enabled, s.token_auth_enabled, cred, s.run(json.dumps({"data": [1, 2]}))]


step("AKS update(token_auth_enabled=True)", lambda: switch_auth(False, True))
step("AKS get_keys (tokens)", lambda: Webservice(ws, "aks-ray").get_keys())
step("AKS update(auth_enabled=True)", lambda: switch_auth(True, False))
step("AKS update(auth_enabled=False)", lambda: Webservice(ws, "aks-ray").update(auth_enabled=False))
step("AKS delete", lambda: aks.delete())


# Autoscaling: AKS's autoscale settings run as Ray Serve's autoscaler (its REST status shows them).
def deploy_auto():
    Model.deploy(ws, "aks-auto", [model], ic(), AksWebservice.deploy_configuration(
        compute_target_name=RAY, cpu_cores=0.1, memory_gb=0.25, autoscale_enabled=True, autoscale_min_replicas=1,
        autoscale_max_replicas=3, autoscale_target_utilization=50, autoscale_refresh_seconds=2)).wait_for_deployment()
    s = Webservice(ws, "aks-auto")
    a = s.autoscaler
    return [s.state, a.autoscale_enabled, a.min_replicas, a.max_replicas, a.target_utilization, a.refresh_period_seconds, s.run(json.dumps({"data": [1, 2]}))]


def serve_autoscaling():
    apps = requests.get(os.environ["RAY_DASHBOARD"].rstrip("/") + "/api/serve/applications/", timeout=30).json()["applications"]
    found = [a["deployed_app_config"]["args"]["deployment"].get("autoscaling_config") for a in apps.values() if (a.get("deployed_app_config") or {}).get("args", {}).get("deployment", {}).get("autoscaling_config")]
    return [{k: c[k] for k in ("min_replicas", "max_replicas", "target_ongoing_requests", "upscale_delay_s")} for c in found]


step("Model.deploy (AKS autoscale)", deploy_auto)
step("AKS autoscale through ARM", lambda: arm("GET", "onlineEndpoints/aks-auto/deployments/version-1")["properties"]["scaleSettings"])
step("AKS autoscale on Ray Serve", serve_autoscaling)


# service.update(autoscale_*): the given settings over the service's own, applied to Ray Serve.
def update_auto():
    s = Webservice(ws, "aks-auto")
    s.update(autoscale_enabled=True, autoscale_max_replicas=4, autoscale_target_utilization=60, autoscale_refresh_seconds=3)
    s.wait_for_deployment()
    s = Webservice(ws, "aks-auto")
    a = s.serialize()["autoScaler"]
    return [s.state, a["autoscaleEnabled"], a["minReplicas"], a["maxReplicas"], a["targetUtilization"], a["refreshPeriodInSeconds"], serve_autoscaling(), s.run(json.dumps({"data": [1, 2]}))]


step("AKS update(autoscale_*)", update_auto)
step("AKS update(collect_model_data=True)", lambda: Webservice(ws, "aks-auto").update(collect_model_data=True))
step("AKS autoscale delete", lambda: Webservice(ws, "aks-auto").delete())

# 2. An AksEndpoint on the Ray compute with its first version (Model.deploy with AksEndpoint's
# deployment configuration), then AksEndpoint.create_version and the traffic split.
def versions(ep):
    return {k: [v.traffic_percentile, v.state, v.num_replicas, v.is_default] for k, v in sorted(ep.versions.items())}


def deploy_endpoint():
    ep = Model.deploy(ws, "ep-ray", [model], ic(), AksEndpoint.deploy_configuration(
        compute_target_name=RAY, version_name="blue", traffic_percentile=100, num_replicas=1, cpu_cores=0.1,
        memory_gb=0.25, tags={"kind": "endpoint"}, description="versions on Ray"))
    ep.wait_for_deployment()
    ep = Webservice(ws, "ep-ray")
    return [type(ep).__name__, ep.compute_name, ep.state, ep.tags, ep.description, versions(ep)]


step("Model.deploy (AksEndpoint on Ray)", deploy_endpoint)
step("AksEndpoint through ARM", lambda: (lambda e, d: [e["properties"]["compute"].split("/")[-1], e["properties"]["traffic"], d["properties"]["containerResourceRequirements"]])(arm("GET", "onlineEndpoints/ep-ray"), arm("GET", "onlineEndpoints/ep-ray/deployments/blue")))
step("Model.deploy (AksEndpoint, no compute)", lambda: Model.deploy(ws, "ep-nowhere", [model], ic(), AksEndpoint.deploy_configuration(version_name="first")))


def create_version(name, source, traffic):
    ep = Webservice(ws, "ep-ray")
    # No cpu_cores: azureml-core 1.61's AksEndpoint._validate_update reads an attribute AksEndpoint lacks
    # (container_resource_requirements) when it is given; each replica reserves AKS's default 0.1 CPU.
    ep.create_version(name, inference_config=ic(source), models=[model], traffic_percentile=traffic, num_replicas=1)
    ep.wait_for_deployment()
    ep = Webservice(ws, "ep-ray")
    return [type(ep).__name__, ep.compute_name, ep.state, versions(ep)]


step("endpoint run (blue)", lambda: Webservice(ws, "ep-ray").run(json.dumps({"data": [2]})))
step("create_version green", lambda: create_version("green", "src2", 30))

# 3. Each version on its own: its scoring URI is its deployment's, its keys the endpoint's.
ep = step("Webservice(ws, ep-ray)", lambda: Webservice(ws, "ep-ray"))
step("versions[green].run", lambda: ep.versions["green"].run(json.dumps({"data": [1, 2]})))
step("versions[blue].run", lambda: ep.versions["blue"].run(json.dumps({"data": [1, 2]})))
step("version scoring_uri", lambda: ep.versions["green"].scoring_uri.endswith("/ep-ray/deployments/green/score"))
step("versions[green].get_keys", lambda: ep.versions["green"].get_keys() == ep.get_keys())
step("versions[green].get_logs", lambda: (lambda log: ["factor 30" in log, "factor 3\n" in log])(ep.versions["green"].get_logs()))
step("endpoint run (split)", lambda: sorted({json.dumps(ep.run(json.dumps({"data": [1]}))) for _ in range(30)}))
step("delete ep-ray", lambda: ep.delete())

print(json.dumps(step.out, default=str))
sys.stdout.flush()
