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

    # Model.register uploads through the artifact service, then registers the asset: an MLflow version.
    with open("clf.pkl", "wb") as f:
        f.write(b"model-bytes")
    r = step("Model.register", lambda: Model.register(ws, model_path="clf.pkl", model_name="registered-clf", tags={"area": "seed"}, properties={"auc": "0.8"}, description="registered by azureml-core"))
    step("Model.register result", lambda: [r.name, r.version, r.tags, r.properties, r.description])
    step("Model.register again", lambda: Model.register(ws, model_path="clf.pkl", model_name="registered-clf").version)

    def download():
        path = r.download(target_dir="downloaded", exist_ok=True)
        with open(path, "rb") as f:
            return [os.path.basename(path), f.read().decode()]

    step("model.download", download)
    step("model.delete", lambda: Model(ws, id="registered-clf:2").delete())
    step("Model.list after delete", lambda: sorted(x.id for x in Model.list(ws, name="registered-clf")))
    # The attributes of the other services the seed page lists.
    from azureml.core.compute import AmlCompute, ComputeTarget

    ct = step("ComputeTarget.create", lambda: ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(vm_size="STANDARD_DS2_V2", max_nodes=2)))
    step("wait_for_completion", lambda: ct.wait_for_completion(show_output=False))
    step("ComputeTarget(ws, name)", lambda: (lambda c: [c.name, c.type, c.vm_size])(ComputeTarget(ws, "cpu-cluster")))
    step("get_status", lambda: ct.get_status().provisioning_state)
    step("ws.compute_targets", lambda: sorted(ws.compute_targets.keys()))
    step("compute.delete", lambda: ct.delete())
    step("wait_for_completion(delete)", lambda: ct.wait_for_completion(show_output=False, is_delete_operation=True))
    step("ws.compute_targets after delete", lambda: sorted(ws.compute_targets.keys()))
    step("ws.webservices", lambda: sorted(ws.webservices.keys()))
    step("ws.images", lambda: sorted(ws.images.keys()))
    return m
