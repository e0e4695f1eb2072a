"""mlflow.pyfunc.log_model, then load_model from runs:/, models:/<id>, models:/name/1, models:/name@alias,
models:/name/latest; mlflow.register_model and log_model(registered_model_name=…).

Usage: python pyfunc_models.py <name prefix>
"""
import sys

import mlflow
import pandas as pd
from mlflow import MlflowClient

from compat import State, Steps, check, check_eq

s = Steps()
prefix = sys.argv[1]
name = f"{prefix}-pyfunc"
client = MlflowClient()
state = State()
frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input["x"] + self.n


def predicts(uri, n):
    model = mlflow.pyfunc.load_model(uri)
    out = list(model.predict(frame))
    check_eq(out, [1.0 + n, 2.0 + n, 3.0 + n], f"predictions of {uri}")


@s.step("pyfunc.log_model")
def _():
    mlflow.set_experiment(f"{prefix}-pyfunc")
    with mlflow.start_run() as run:
        # Explicit requirements: inferring them would start a subprocess per model.
        info = mlflow.pyfunc.log_model(name="model", python_model=AddN(5), pip_requirements=["mlflow-skinny", "pandas"])
        mlflow.log_metric("quality", 0.9)
    check(info.model_uri, "no model_uri")
    state["run_id"] = run.info.run_id
    state["model_uri"] = info.model_uri
    s.out["run_id"] = run.info.run_id
    s.out["model_id"] = getattr(info, "model_id", None)


@s.step("load_model from the logged model's own uri")
def _():
    predicts(state["model_uri"], 5)


@s.step("load_model from runs:/<run_id>/model")
def _():
    predicts(f"runs:/{state['run_id']}/model", 5)


@s.step("logged model is listed with the run (search_logged_models)")
def _():
    models = mlflow.search_logged_models(experiment_ids=[client.get_run(state["run_id"]).info.experiment_id], output_format="list")
    check(any(m.source_run_id == state["run_id"] and m.name == "model" for m in models), f"logged models: {[(m.name, m.source_run_id) for m in models]}")


@s.step("mlflow.register_model and load_model from models:/name/1")
def _():
    v = mlflow.register_model(f"runs:/{state['run_id']}/model", name)
    check_eq(v.version, "1", "first version")
    state["registered"] = name
    s.out["registered"] = name
    predicts(f"models:/{name}/1", 5)


@s.step("load_model from models:/name@alias")
def _():
    client.set_registered_model_alias(state["registered"], "prod", "1")
    predicts(f"models:/{state['registered']}@prod", 5)


@s.step("log_model(registered_model_name=…) makes version 2; models:/name/latest")
def _():
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=AddN(7), pip_requirements=["mlflow-skinny", "pandas"], registered_model_name=state["registered"])
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{state['registered']}'"))
    check_eq(versions, [1, 2], "versions")
    predicts(f"models:/{state['registered']}/2", 7)
    predicts(f"models:/{state['registered']}/latest", 7)
    predicts(f"models:/{state['registered']}@prod", 5)


s.finish()
