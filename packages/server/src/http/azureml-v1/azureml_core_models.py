"""azureml-core's model management (Model, ws.models) against the server, as the seed's `models`
attribute and azureml-core's Model class call it. Called from azureml_core_seed.py (one process):
the MLflow model MODEL_NAME (version 1, made by the test through MLflow's REST API) is the model
azureml-core sees, and what azureml-core changes MLflow sees.
"""
import os

from azureml.core.model import Model


def run(ws, step):
    name = os.environ.get("MODEL_NAME", "seed-model")
    m = step("Model(ws, name)", lambda: Model(ws, name))
    step("model.version/tags", lambda: [m.name, m.version, m.tags, m.description])
    step("Model(ws, id)", lambda: Model(ws, id=f"{name}:1").id)
    step("Model(ws, name, version)", lambda: Model(ws, name, version=1).version)
    step("Model.list", lambda: sorted(f"{x.name}:{x.version}" for x in Model.list(ws)))
    step("Model.list(tags)", lambda: [x.id for x in Model.list(ws, tags=[["stage", "dev"]])])
    step("Model.list(latest)", lambda: [x.id for x in Model.list(ws, name=name, latest=True)])
    step("ws.models", lambda: sorted(ws.models.keys()))
    step("model.update", lambda: m.update(description="from azureml-core", tags={"stage": "prod", "owner": "seed"}))
    step("model.add_tags", lambda: m.add_tags({"reviewed": "yes"}))
    step("model.remove_tags", lambda: m.remove_tags(["owner"]))
    step("model.add_properties", lambda: m.add_properties({"accuracy": "0.9"}))
    step("model after update", lambda: (lambda x: [x.description, x.tags, x.properties])(Model(ws, id=f"{name}:1")))
    step("Model(ws, missing)", lambda: Model(ws, "no-such-model"))
    return m
