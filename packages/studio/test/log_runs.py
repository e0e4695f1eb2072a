"""Logs the runs the studio's browser test looks at, with the real MLflow client.

MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN come from the environment; prints the experiment id.
"""
import base64
import json
import os
import tempfile
import time

import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

# A 2x2 PNG (red, green / blue, white).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)

mlflow.set_experiment("studio-flow")
client = MlflowClient()
for i, lr in enumerate(["0.01", "0.02", "0.05"]):
    with mlflow.start_run(run_name=f"trial-{i}") as run:
        mlflow.log_params({"lr": lr, "optimizer": "adam" if i < 2 else "sgd", "batch": 32})
        # The 300 points in one log_batch request (not 300 log_metric calls, one request each: the
        # studio reads the same metric, and this script ran several seconds shorter).
        now = int(time.time() * 1000)
        losses = [1.0 / (1 + step * float(lr)) + (3.0 if step == 150 + i else 0.0) for step in range(0, 300)]
        client.log_batch(run.info.run_id, metrics=[Metric("loss", v, now, step) for step, v in enumerate(losses)])
        mlflow.log_metric("accuracy", 0.8 + 0.05 * i)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "notes.txt"), "w") as f:
                f.write(f"trial {i} notes\n")
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump({"lr": lr, "layers": [64, 32]}, f)
            with open(os.path.join(d, "predictions.csv"), "w") as f:
                f.write("id,label,score\n1,cat,0.9\n2,dog,0.7\n")
            with open(os.path.join(d, "confusion.png"), "wb") as f:
                f.write(PNG)
            mlflow.log_artifacts(d)
            os.makedirs(os.path.join(d, "model"))
            with open(os.path.join(d, "model", "MLmodel"), "w") as f:
                f.write("artifact_path: model\nflavors: {}\n")
            mlflow.log_artifacts(os.path.join(d, "model"), "model")
print(mlflow.get_experiment_by_name("studio-flow").experiment_id)
