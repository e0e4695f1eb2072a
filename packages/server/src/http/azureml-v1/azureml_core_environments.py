"""azureml-core's environments against the server (Environment.from_pip_requirements /
from_conda_specification, register, get, list, ws.environments, build, build_local), called from
azureml_core_seed.py in its one process. The working folder is the current one.
"""
import time

from azureml.core import Environment


def run(ws, step):
    with open("requirements.txt", "w") as f:
        f.write("numpy==2.4.6\n")
    with open("conda.yml", "w") as f:
        f.write("name: seed\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip: []\n")
    env = step("Environment.from_pip_requirements", lambda: Environment.from_pip_requirements("seed-env", "requirements.txt"))
    step("env.register", lambda: env.register(ws).version)
    step("env.register (same again)", lambda: env.register(ws).version)

    def change():
        env.environment_variables = {"STAGE": "two"}
        return env.register(ws).version

    step("env.register (changed)", change)
    step("Environment.get", lambda: (lambda e: [e.version, e.environment_variables, list(e.python.conda_dependencies.pip_packages), e.docker.base_image is not None])(Environment.get(ws, "seed-env")))
    step("Environment.get(version)", lambda: Environment.get(ws, "seed-env", version="1").environment_variables)
    step("Environment.get(missing)", lambda: Environment.get(ws, "no-such-env"))
    conda = step("Environment.from_conda_specification", lambda: Environment.from_conda_specification("seed-conda", "conda.yml"))
    step("conda env.register", lambda: conda.register(ws).version)
    step("Environment.list", lambda: sorted(Environment.list(ws).keys()))
    step("ws.environments", lambda: sorted(ws.environments.keys()))

    def build():
        b = conda.build(ws)
        # (wait_for_completion prints progress dots to stdout, which carries this script's answer.)
        for _ in range(600):
            if b.status not in ("Running", "Queued"):
                break
            time.sleep(0.5)
        return b.status

    step("env.build", build)
    step("env.build_local", lambda: conda.build_local(ws))
