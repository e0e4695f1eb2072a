"""azureml-core's environment builds against the server, in one process: env.build(ws) and
env.build(ws, image_build_compute=…) waited on with wait_for_completion() and read with
ImageBuildDetails.get_log() (its signed logUrl, fetched without a token), the refusals of a
missing or stopped compute, an environment from docker.base_dockerfile (registered and read back;
its build refused: no container runtime), and env.build_local(ws) (the server's recipe: scripts that make a virtual
environment on this machine, in AZUREML_ENVIRONMENTS_DIR). Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace with a ready
AmlCompute COMPUTE and a stopped one STOPPED), WORKDIR.
"""
import json
import os
import subprocess
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth
from azureml.core import Environment, Workspace

auth = core_auth()
cap_core_polling()  # its pollers' fixed 5 s pause, capped (testing/python/azure_clients.py)
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])

with open("conda.yml", "w") as f:
    f.write("name: built\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - six==1.17.0\n")
env = step("Environment.from_conda_specification", lambda: Environment.from_conda_specification("built", "conda.yml"))
step("env.register", lambda: env.register(ws).version)


def build(**kwargs):
    b = env.build(ws, **kwargs)
    # (show_output=True prints the status changes and the log, through get_log(), to stdout: the
    # script's answer is its last line.)
    b.wait_for_completion(show_output=True)
    return {"status": b.status, "log": b.get_log(), "logUrl": b.log_url}


step("env.build(image_build_compute=COMPUTE)", lambda: build(image_build_compute=os.environ["COMPUTE"]))
step("env.build(ws)", lambda: build())
step("env.build(image_build_compute=missing)", lambda: env.build(ws, image_build_compute="no-such-compute"))
step("env.build(image_build_compute=STOPPED)", lambda: env.build(ws, image_build_compute=os.environ["STOPPED"]))

DOCKERFILE = "FROM python:3.11-slim\nRUN pip install six==1.17.0\n"


def dockerfile_env():
    d = Environment("from-dockerfile")
    d.docker.base_image = None
    d.docker.base_dockerfile = DOCKERFILE
    d.python.user_managed_dependencies = True
    return d


step("Dockerfile env.register", lambda: dockerfile_env().register(ws).version)
step("Dockerfile env.register (same again)", lambda: dockerfile_env().register(ws).version)
step("Dockerfile Environment.get", lambda: (lambda e: [e.version, e.docker.base_image, e.docker.base_dockerfile, e.python.user_managed_dependencies])(Environment.get(ws, "from-dockerfile")))
step("Dockerfile env.build", lambda: Environment.get(ws, "from-dockerfile").build(ws))

# env.build_local(ws): azureml-core runs the recipe's check script, then (it fails the first time) its
# build script, in this process's environment; the environment is made below WORKDIR/envs.
envs_dir = os.path.join(os.environ["WORKDIR"], "envs")
os.environ["AZUREML_ENVIRONMENTS_DIR"] = envs_dir
# This process trusts only the test server's CA; pip in the build script reaches the package index
# too, so both get this machine's CAs and the test CA.
system_cas = "/etc/ssl/certs/ca-certificates.crt"
if not os.path.exists(system_cas):
    import certifi

    system_cas = certifi.where()
bundle = os.path.join(os.environ["WORKDIR"], "cas.pem")
with open(bundle, "w") as out, open(system_cas) as a, open(os.environ["REQUESTS_CA_BUNDLE"]) as b:
    out.write(a.read() + "\n" + b.read())
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"] = bundle


def made():
    dirs = sorted(os.listdir(envs_dir))
    py = os.path.join(envs_dir, dirs[0], "bin", "python")
    six, version = subprocess.check_output([py, "-c", "import six, sys; print(six.__version__, '%d.%d' % sys.version_info[:2])"]).decode().split()
    marker = os.path.join(envs_dir, dirs[0], ".atelier-build.json")
    return {"dirs": dirs, "six": six, "python": version, "built": os.stat(marker).st_mtime_ns}


def build_local(e, **kwargs):
    e.build_local(ws, **kwargs)
    return made()


step("docker.enabled", lambda: env.docker.enabled)
step("env.build_local(ws)", lambda: build_local(env))
step("env.build_local(ws) again (version 1)", lambda: build_local(Environment.get(ws, "built", version="1"), useDocker=False))
step("env.build_local(ws, useDocker=True)", lambda: env.build_local(ws, useDocker=True))
step("env.build_local(ws, platform=Windows)", lambda: env.build_local(ws, platform="Windows"))
print(json.dumps(step.out, default=str))
sys.stdout.flush()
