"""azureml-core's images and image-based deploys against the server (issue 11): Image.create with
ContainerImage.image_configuration or an InferenceConfig(runtime='python', conda_file=…) makes a
package (model + uploaded code + an environment built by uv), which Webservice.deploy_from_image,
deploy_from_model and deploy serve as online endpoints. One process; prints one JSON line:
{step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys
import warnings

import requests
from azure_clients import Steps, cap_core_polling, core_auth, GROUP, SUBSCRIPTION
from azureml.core import Environment, Workspace
from azureml.core.image import ContainerImage, Image
from azureml.core.model import InferenceConfig, Model
from azureml.core.webservice import AciWebservice, Webservice

warnings.simplefilter("ignore", DeprecationWarning)
auth = core_auth()
cap_core_polling()  # its pollers' fixed 5 s pause, capped (testing/python/azure_clients.py)
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# The model: a JSON file holding a factor. The entry script imports a helper (a dependency) and
# reads the model in init().
write("factor.json", json.dumps({"factor": 3}))
SCORE = """
import json, os
import six
from helper import scale

def init():
    global factor
    root = os.environ["AZUREML_MODEL_DIR"]
    found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f == "factor.json"]
    factor = json.load(open(found[0]))["factor"] * FACTOR_TIMES

def run(raw_data):
    return {"result": scale(json.loads(raw_data)["data"], factor)}
"""
write("score.py", SCORE.replace("FACTOR_TIMES", "1"))
write("helper.py", "def scale(xs, f):\n    return [x * f for x in xs]\n")
write("src/score.py", SCORE.replace("FACTOR_TIMES", "10"))
write("src/helper.py", "def scale(xs, f):\n    return [x * f for x in xs]\n")
CONDA = "name: image-env\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - six==1.17.0\n"
write("conda.yml", CONDA)
write("src/conda.yml", CONDA)
write("extra.dockerfile", "RUN apt-get install -y curl\n")
model = step("Model.register", lambda: Model.register(ws, model_path="factor.json", model_name="factor"))


def container_config(**kwargs):
    return ContainerImage.image_configuration(execution_script="score.py", runtime="python", conda_file="conda.yml", dependencies=["helper.py"], **kwargs)


# Image.create with ContainerImage.image_configuration, then wait_for_creation.
image = step("Image.create (ContainerImage)", lambda: Image.create(ws, "factor-image", [model], container_config(tags={"team": "a"}, properties={"owner": "seed"}, description="triples")))
step("wait_for_creation", lambda: image.wait_for_creation(show_output=False))
step("image attributes", lambda: [type(image).__name__, image.id, image.name, image.version, image.creation_state, image.image_flavor, image.model_ids, image.tags, image.properties["owner"], image.description, image.driver_program, image.target_runtime.runtime_type])
step("Image(ws, name)", lambda: (lambda i: [type(i).__name__, i.id])(Image(ws, name="factor-image")))
step("Image(ws, id)", lambda: Image(ws, id="factor-image:1").creation_state)
step("Image.list(image_name)", lambda: [i.id for i in Image.list(ws, image_name="factor-image")])
step("Image.list(model_name)", lambda: sorted(i.id for i in Image.list(ws, model_name="factor")))
step("ws.images", lambda: "factor-image" in ws.images)


def build_log():
    r = requests.get(image.image_build_log_uri, headers=auth.get_authentication_header())
    return [r.status_code, len(r.text) > 0]


step("image_build_log_uri", build_log)

# Tags and properties.
step("update(tags)", lambda: image.update(tags={"team": "b", "stage": "dev"}))
step("add_tags", lambda: image.add_tags({"reviewed": "yes"}))
step("remove_tags", lambda: image.remove_tags(["stage"]))
step("add_properties", lambda: image.add_properties({"approved": "1"}))
step("after tags", lambda: (lambda i: [i.tags, i.properties["owner"], i.properties["approved"]])(Image(ws, id="factor-image:1")))

# Webservice.deploy_from_image: an online endpoint serving the package.
svc = step("Webservice.deploy_from_image", lambda: Webservice.deploy_from_image(ws, "image-svc", Image(ws, id="factor-image:1"), AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=1)))
step("wait_for_deployment", lambda: svc.wait_for_deployment())
step("run", lambda: Webservice(ws, "image-svc").run(json.dumps({"data": [1, 2]})))
step("service", lambda: (lambda s: [type(s).__name__, s.compute_type, s.state, [m.id for m in s.models]])(Webservice(ws, "image-svc")))
step("image.delete (in use)", lambda: Image(ws, id="factor-image:1").delete())

# Webservice.deploy_from_model with an InferenceConfig (runtime + conda file, a source directory):
# the image is made, built, then deployed.
ic = InferenceConfig(entry_script="score.py", source_directory="src", runtime="python", conda_file="conda.yml")
step("Webservice.deploy_from_model", lambda: Webservice.deploy_from_model(ws, "model-svc", [model], ic, AciWebservice.deploy_configuration()).wait_for_deployment())
step("run (deploy_from_model)", lambda: Webservice(ws, "model-svc").run(json.dumps({"data": [1, 2]})))
# Webservice.deploy: registers the model files, then the same.
step("Webservice.deploy", lambda: Webservice.deploy(ws, "paths-svc", ["factor.json"], container_config(), AciWebservice.deploy_configuration()).wait_for_deployment())
step("run (deploy)", lambda: Webservice(ws, "paths-svc").run(json.dumps({"data": [4]})))
step("images after deploys", lambda: sorted(i.id for i in Image.list(ws) if i.image_flavor == "WebApiContainer"))

# Container-only settings: a clear 501 naming the setting; nothing is made.
step("Image.create (docker_file)", lambda: Image.create(ws, "bad-image", [model], container_config(docker_file="extra.dockerfile")))
step("Image.create (enable_gpu)", lambda: Image.create(ws, "bad-image", [model], container_config(enable_gpu=True)))
step("Image.create (spark-py)", lambda: Image.create(ws, "bad-image", [model], ContainerImage.image_configuration(execution_script="score.py", runtime="spark-py", conda_file="conda.yml")))
step("nothing made", lambda: Image.list(ws, image_name="bad-image"))

# Model.package(generate_dockerfile=True): a Docker build context the client saves (model, code,
# conda file and a Dockerfile installing the environment and serving the entry script).
pkg_ic = InferenceConfig(entry_script="score.py", source_directory="src", environment=Environment.from_conda_specification("pkg-env", "conda.yml"))
package = step("Model.package (dockerfile)", lambda: Model.package(ws, [model], pkg_ic, generate_dockerfile=True))
step("package.wait_for_creation", lambda: package.wait_for_creation(show_output=True))
step("package.save", lambda: package.save("pkg-out"))


def saved():
    files = sorted(os.path.relpath(os.path.join(d, f), "pkg-out").replace(os.sep, "/") for d, _, fs in os.walk("pkg-out") for f in fs)
    lines = open("pkg-out/Dockerfile").read().splitlines()
    copies = [line.split()[1] for line in lines if line.startswith("COPY ")]
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    entry = cmd[cmd.index("--entry_script") + 1]
    conda = open("pkg-out/azureml-environment-setup/conda_dependencies.yml").read()
    return {
        "files": files,
        "from": next(line for line in lines if line.startswith("FROM ")),
        "copies": [[c, os.path.exists(os.path.join("pkg-out", c))] for c in copies],
        "run": [line for line in lines if line.startswith("RUN ")],
        "entry": [entry, os.path.exists(os.path.join("pkg-out", "azureml-app", entry.replace("/var/azureml-app/", "")))],
        "model_dir": next(line for line in lines if "AZUREML_MODEL_DIR=" in line).strip(),
        "conda": ["six==1.17.0" in conda, "azureml-inference-server-http" in conda],
    }


step("package saved", saved)
step("package.get_logs", lambda: package.get_logs())
step("package.get_container_registry", lambda: package.get_container_registry())
# Without generate_dockerfile: the package Image.create makes (an image record, built by uv).
image_pkg = step("Model.package (image)", lambda: Model.package(ws, [model], pkg_ic, image_name="factor-package"))
step("image package wait_for_creation", lambda: image_pkg.wait_for_creation())
step("image package", lambda: [image_pkg.generate_dockerfile, image_pkg.state, image_pkg.location.rsplit("/", 1)[-1], Image(ws, id="factor-package:1").creation_state, len(image_pkg.get_logs()) > 0])
step("image package.save", lambda: image_pkg.save("pkg-image"))
step("image package.delete", lambda: Image(ws, id="factor-package:1").delete())

# Once the service is gone, the image can go.
step("service.delete", lambda: Webservice(ws, "image-svc").delete())
step("image.delete", lambda: Image(ws, id="factor-image:1").delete())
step("Image(ws, id) after delete", lambda: Image(ws, id="factor-image:1"))
for name in ("model-svc", "paths-svc"):
    step(f"delete {name}", lambda n=name: Webservice(ws, n).delete())

print(json.dumps(step.out, default=str))
sys.stdout.flush()
