"""The MLflow fluent API against the server named by MLFLOW_TRACKING_URI (and its auth variables).

Usage: python fluent.py <experiment name> [<experiment name> <username> <password>]
With the second experiment, the same steps run again (named "[basic] …", their outputs "basic_…") in
the same process, with MLflow's Basic auth variables instead of the token (the client reads them at
every request): one interpreter start instead of two.
"""
import json
import os
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402

from compat import State, Steps, check, check_eq  # noqa: E402

s = Steps()
client = MlflowClient()


def scenario(experiment_name, label=""):
    """Every step, named with `label` first; the outputs' keys too."""
    state = State()
    work = tempfile.mkdtemp(prefix="mlflow-compat-")

    class Out:
        def __setitem__(self, key, value):
            s.out[label.strip("[] ") + "_" + key if label else key] = value

    out = Out()

    def step(name):
        return s.step(label + name)



    @step("set_experiment creates, then finds, the experiment")
    def _():
        exp = mlflow.set_experiment(experiment_name)
        check(exp.experiment_id, "no experiment id")
        check_eq(exp.name, experiment_name, "experiment name")
        check_eq(exp.lifecycle_stage, "active", "lifecycle stage")
        again = mlflow.set_experiment(experiment_name)
        check_eq(again.experiment_id, exp.experiment_id, "set_experiment on an existing name")
        check_eq(client.get_experiment_by_name(experiment_name).experiment_id, exp.experiment_id, "get_experiment_by_name")
        state["experiment_id"] = exp.experiment_id
        out["experiment_id"] = exp.experiment_id


    @step("start_run")
    def _():
        run = mlflow.start_run(run_name="compat-parent", description="made by fluent.py")
        check(run.info.run_id, "no run id")
        check_eq(run.info.status, "RUNNING", "status of a started run")
        check_eq(run.info.experiment_id, state["experiment_id"], "experiment of the run")
        check_eq(run.info.run_name, "compat-parent", "run_name")
        state["run_id"] = run.info.run_id
        out["run_id"] = run.info.run_id


    @step("log_param and log_params")
    def _():
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"batch_size": 32, "optimizer": "adam", "layers": [64, 32]})


    @step("log_metric and log_metrics with steps")
    def _():
        mlflow.log_metric("loss", 1.0, step=0)
        mlflow.log_metrics({"loss": 0.5, "accuracy": 0.75}, step=1)
        for step in range(2, 12):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("nan_metric", float("nan"))
        mlflow.log_metric("inf_metric", float("inf"))


    @step("set_tag and set_tags")
    def _():
        mlflow.set_tags({"team": "compat", "purpose": "client test"})
        mlflow.set_tag("single", "x" * 100)


    @step("log_artifact and log_artifacts")
    def _():
        path = os.path.join(work, "weights.bin")
        with open(path, "wb") as f:
            f.write(bytes(range(256)) * 64)
        mlflow.log_artifact(path)
        folder = os.path.join(work, "data")
        os.makedirs(os.path.join(folder, "nested"))
        with open(os.path.join(folder, "a.csv"), "w") as f:
            f.write("x,y\n1,2\n")
        with open(os.path.join(folder, "nested", "b.txt"), "w") as f:
            f.write("hello\n")
        mlflow.log_artifacts(folder, artifact_path="data")


    @step("log_dict and log_text")
    def _():
        mlflow.log_dict({"alpha": 1, "beta": [1, 2, 3]}, "config/params.json")
        mlflow.log_dict({"alpha": 2}, "config/params.yaml")
        mlflow.log_text("héllo wörld\n", "notes/hello.txt")


    @step("log_image and log_figure")
    def _():
        image = np.zeros((16, 16, 3), dtype=np.uint8)
        image[:, :8, 0] = 255
        mlflow.log_image(image, "images/half-red.png")
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [0, 1, 4])
        mlflow.log_figure(fig, "figures/curve.png")
        plt.close(fig)


    @step("nested run")
    def _():
        with mlflow.start_run(run_name="compat-child", nested=True) as child:
            mlflow.log_metric("child_metric", 3.0)
            mlflow.log_param("child_param", "c")
            state["child_id"] = child.info.run_id
        got = client.get_run(state["child_id"])
        check_eq(got.data.tags.get("mlflow.parentRunId"), state["run_id"], "mlflow.parentRunId of the child")
        check_eq(got.info.status, "FINISHED", "status of the ended child")
        check_eq(mlflow.active_run().info.run_id, state["run_id"], "active run after the child ends")
        out["child_id"] = state["child_id"]


    @step("async logging (synchronous=False)")
    def _():
        ops = [mlflow.log_metric("async_metric", float(i), step=i, synchronous=False) for i in range(50)]
        ops.append(mlflow.log_param("async_param", "yes", synchronous=False))
        ops.append(mlflow.set_tag("async_tag", "yes", synchronous=False))
        ops.append(mlflow.log_metrics({"async_a": 1.0, "async_b": 2.0}, step=0, synchronous=False))
        for op in ops:
            op.wait()
        mlflow.flush_async_logging()
        history = client.get_metric_history(state["run_id"], "async_metric")
        check_eq(sorted(m.step for m in history), list(range(50)), "steps of the async metric")


    @step("log_input with a pandas dataset, and log_table")
    def _():
        import pandas as pd

        df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(df, source="https://data.example/train.csv", name="train", targets="y")
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
        mlflow.log_table({"x": [1, 2], "pred": [0.1, 0.9]}, "tables/preds.json")
        run = client.get_run(state["run_id"])
        inputs = run.inputs.dataset_inputs
        check_eq(len(inputs), 1, "dataset inputs of the run")
        check_eq(inputs[0].dataset.name, "train", "dataset name")
        check_eq(inputs[0].dataset.digest, dataset.digest, "dataset digest")
        check_eq(inputs[0].dataset.source_type, "http", "dataset source type")
        tags = {t.key: t.value for t in inputs[0].tags}
        check_eq(tags.get("mlflow.data.context"), "training", "dataset context tag")
        check_eq(tags.get("split"), "train", "dataset input tag")
        table = mlflow.load_table("tables/preds.json", run_ids=[state["run_id"]])
        check_eq(list(table["pred"]), [0.1, 0.9], "logged table")


    @step("end_run finishes the run")
    def _():
        mlflow.end_run()
        check(mlflow.active_run() is None, "a run is still active after end_run")
        run = client.get_run(state["run_id"])
        check_eq(run.info.status, "FINISHED", "status after end_run")
        check(run.info.end_time and run.info.end_time >= run.info.start_time, "end_time not set")


    @step("get_run returns params, latest metrics and tags")
    def _():
        run = client.get_run(state["run_id"])
        params = run.data.params
        for k, v in {"lr": "0.01", "batch_size": "32", "optimizer": "adam", "layers": "[64, 32]", "async_param": "yes"}.items():
            check_eq(params.get(k), v, f"param {k}")
        metrics = run.data.metrics
        check_eq(metrics.get("loss"), 1.0 / 12, "latest loss (step 11)")
        check_eq(metrics.get("accuracy"), 0.75, "accuracy")
        check(metrics.get("nan_metric") != metrics.get("nan_metric"), f"nan metric came back as {metrics.get('nan_metric')!r}")
        # MLflow's SQL store keeps +inf as the largest double; either answer is what a client may see.
        check(metrics.get("inf_metric", 0) >= sys.float_info.max, f"inf metric came back as {metrics.get('inf_metric')!r}")
        tags = run.data.tags
        check_eq(tags.get("team"), "compat", "tag team")
        check_eq(tags.get("single"), "x" * 100, "tag single")
        check_eq(tags.get("async_tag"), "yes", "tag async_tag")
        check_eq(tags.get("mlflow.runName"), "compat-parent", "tag mlflow.runName")
        check_eq(tags.get("mlflow.note.content"), "made by fluent.py", "description tag")


    @step("get_metric_history")
    def _():
        history = client.get_metric_history(state["run_id"], "loss")
        steps = sorted(m.step for m in history)
        check_eq(steps, list(range(12)), "steps of loss")
        by_step = {m.step: m.value for m in history}
        check_eq(by_step[1], 0.5, "loss at step 1")


    @step("list_artifacts")
    def _():
        top = sorted(f.path for f in client.list_artifacts(state["run_id"]))
        for p in ["config", "data", "figures", "images", "notes", "weights.bin"]:
            check(p in top, f"{p} missing from the artifact list {top}")
        data = {f.path: f for f in client.list_artifacts(state["run_id"], "data")}
        check("data/a.csv" in data and not data["data/a.csv"].is_dir, f"data/a.csv missing: {list(data)}")
        check(data.get("data/nested") and data["data/nested"].is_dir, f"data/nested missing or not a folder: {list(data)}")
        weights = [f for f in client.list_artifacts(state["run_id"]) if f.path == "weights.bin"][0]
        check_eq(weights.file_size, 256 * 64, "file_size of weights.bin")


    @step("download artifacts and load_dict/load_text/load_image")
    def _():
        run_id = state["run_id"]
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="weights.bin", dst_path=os.path.join(work, "dl1"))
        with open(local, "rb") as f:
            check_eq(f.read(), bytes(range(256)) * 64, "downloaded weights.bin")
        folder = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data", dst_path=os.path.join(work, "dl2"))
        with open(os.path.join(folder, "nested", "b.txt")) as f:
            check_eq(f.read(), "hello\n", "downloaded data/nested/b.txt")
        check_eq(mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json"), {"alpha": 1, "beta": [1, 2, 3]}, "load_dict json")
        check_eq(mlflow.artifacts.load_text(f"runs:/{run_id}/config/params.yaml").strip(), "alpha: 2", "params.yaml")
        check_eq(mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt"), "héllo wörld\n", "load_text")
        image = mlflow.artifacts.load_image(f"runs:/{run_id}/images/half-red.png")
        check_eq(image.size, (16, 16), "size of the logged image")
        check_eq(image.getpixel((0, 0))[:3], (255, 0, 0), "pixel of the logged image")


    @step("end_run(status='FAILED') and last_active_run")
    def _():
        mlflow.start_run(run_name="compat-failed")
        rid = mlflow.active_run().info.run_id
        mlflow.log_metric("m", 1.0)
        mlflow.end_run(status="FAILED")
        check_eq(client.get_run(rid).info.status, "FAILED", "status of a failed run")
        check_eq(mlflow.last_active_run().info.run_id, rid, "last_active_run")
        state["failed_id"] = rid


    @step("delete_run, restore_run, search by view type")
    def _():
        rid = state["failed_id"]
        client.delete_run(rid)
        check_eq(client.get_run(rid).info.lifecycle_stage, "deleted", "lifecycle after delete_run")
        deleted = client.search_runs([state["experiment_id"]], run_view_type=ViewType.DELETED_ONLY)
        check([r.info.run_id for r in deleted] == [rid], f"DELETED_ONLY found {[r.info.run_id for r in deleted]}")
        active = client.search_runs([state["experiment_id"]], run_view_type=ViewType.ACTIVE_ONLY)
        check(rid not in [r.info.run_id for r in active], "a deleted run is listed as active")
        client.restore_run(rid)
        check_eq(client.get_run(rid).info.lifecycle_stage, "active", "lifecycle after restore_run")


    @step("experiment tags, rename, delete and restore")
    def _():
        eid = state["experiment_id"]
        mlflow.set_experiment_tags({"owner": "compat", "stage": "test"})
        client.set_experiment_tag(eid, "extra", "1")
        exp = client.get_experiment(eid)
        check_eq(exp.tags.get("owner"), "compat", "experiment tag owner")
        check_eq(exp.tags.get("extra"), "1", "experiment tag extra")
        client.rename_experiment(eid, experiment_name + "-renamed")
        check_eq(client.get_experiment(eid).name, experiment_name + "-renamed", "renamed experiment")
        client.rename_experiment(eid, experiment_name)
        client.delete_experiment(eid)
        check_eq(client.get_experiment(eid).lifecycle_stage, "deleted", "experiment lifecycle after delete")
        client.restore_experiment(eid)
        check_eq(client.get_experiment(eid).lifecycle_stage, "active", "experiment lifecycle after restore")


    @step("the Default experiment 0 exists")
    def _():
        exp = client.get_experiment("0")
        check_eq(exp.name, "Default", "name of experiment 0")


    @step("errors: unknown run and duplicate experiment")
    def _():
        from mlflow.exceptions import MlflowException, RestException

        try:
            client.get_run("0" * 32)
            raise AssertionError("get_run of an unknown id did not fail")
        except MlflowException as e:
            check_eq(e.error_code, "RESOURCE_DOES_NOT_EXIST", "error_code of an unknown run")
        try:
            client.create_experiment(experiment_name)
            raise AssertionError("creating a duplicate experiment did not fail")
        except RestException as e:
            check_eq(e.error_code, "RESOURCE_ALREADY_EXISTS", "error_code of a duplicate experiment")


    @step("param immutability: a changed value is refused")
    def _():
        from mlflow.exceptions import MlflowException

        with mlflow.start_run(experiment_id=state["experiment_id"], run_name="compat-immutable"):
            mlflow.log_param("p", "1")
            mlflow.log_param("p", "1")  # the same value again is fine
            try:
                mlflow.log_param("p", "2")
                raise AssertionError("changing a param did not fail")
            except MlflowException as e:
                check_eq(e.error_code, "INVALID_PARAMETER_VALUE", "error_code of a changed param")


scenario(sys.argv[1])
if len(sys.argv) > 2:
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = sys.argv[3], sys.argv[4]
    scenario(sys.argv[2], "[basic] ")
s.finish()
