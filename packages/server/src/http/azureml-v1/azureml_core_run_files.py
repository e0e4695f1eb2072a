"""azureml-core's run files kept in a datastore (run.upload_file / upload_files / upload_folder with
datastore_name=…, get_file_names, download_file, download_files), the same run's files through
MLflow's client (list_artifacts, download_artifacts) and the datastore's own view (Datastore.download),
in one process (issue 11). Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, core_auth, credential
from azureml.core import Datastore, Experiment, Workspace

auth = core_auth()
name = os.environ["WORKSPACE"]
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, name, auth=auth)
os.chdir(os.environ["WORKDIR"])


def tree(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p) as f:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = f.read()
    return out


os.makedirs("folder/sub", exist_ok=True)
for path, text in [("metrics.json", '{"auc": 0.9}'), ("own.txt", "in the run's own store"), ("folder/a.txt", "a"), ("folder/sub/b.txt", "b")]:
    with open(path, "w") as f:
        f.write(text)

run = Experiment(ws, "files-exp").start_logging(snapshot_directory=None)
step("run.id", lambda: run.id)
# The file is written into the named datastore and is a file of the run.
step("run.upload_file(datastore_name=workspaceblobstore)", lambda: (lambda r: [r.artifacts["outputs/metrics.json"].path, r.artifacts["outputs/metrics.json"].data_path.data_store_name, r.artifacts["outputs/metrics.json"].data_path.relative_path])(run.upload_file("outputs/metrics.json", "metrics.json", datastore_name="workspaceblobstore")))
step("run.upload_folder(datastore_name=…)", lambda: len(list(run.upload_folder("outputs/folder", "folder", datastore_name="workspaceblobstore"))))
step("run.upload_file (run's own store)", lambda: bool(run.upload_file("outputs/own.txt", "own.txt")))
step("run.upload_file(datastore_name=workspacefilestore)", lambda: run.upload_file("outputs/x.txt", "own.txt", datastore_name="workspacefilestore"))
step("run.upload_file(datastore_name=missing)", lambda: run.upload_file("outputs/x.txt", "own.txt", datastore_name="no_such_store"))
step("run.upload_file(datastore over an own file)", lambda: run.upload_file("outputs/own.txt", "own.txt", datastore_name="workspaceblobstore"))
step("run.get_file_names", lambda: sorted(run.get_file_names()))
step("run.download_file", lambda: (run.download_file("outputs/metrics.json", "dl/metrics.json"), open("dl/metrics.json").read())[1])
step("run.download_files", lambda: (run.download_files(prefix="outputs", output_directory="dl-all"), tree("dl-all"))[1])
step("run.get_details", lambda: run.get_details()["runId"] == run.id)

# The datastore holds the bytes, where Azure ML keeps them (ExperimentRun/dcid.{run id}/…).
store = Datastore.get(ws, "workspaceblobstore")
step("Datastore.download", lambda: (store.download("from-store", prefix=f"ExperimentRun/dcid.{run.id}", overwrite=True, show_progress=False), tree("from-store"))[1])

# MLflow sees the same run files (one store behind every protocol).
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

os.environ["MLFLOW_TRACKING_TOKEN"] = credential.get_token(URL + "/.default").token
os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = os.environ["REQUESTS_CA_BUNDLE"]
mlflow.set_tracking_uri(f"{URL}/mlflow/v1.0/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{name}")
client = MlflowClient()
step("mlflow list_artifacts(outputs)", lambda: sorted([f.path, f.is_dir, f.file_size] for f in client.list_artifacts(run.id, "outputs")))
step("mlflow download_artifacts", lambda: tree(mlflow.artifacts.download_artifacts(run_id=run.id, artifact_path="outputs", dst_path=os.path.abspath("from-mlflow"))))
# MLflow writes a file; azureml-core reads it.
step("mlflow log_text", lambda: client.log_text(run.id, "from mlflow", "outputs/mlflow.txt"))
step("run.get_file_names (after MLflow)", lambda: sorted(run.get_file_names()))
run.complete()
print(json.dumps(step.out, default=str))
sys.stdout.flush()
