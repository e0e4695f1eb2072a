"""Large artifacts the way the MLflow client moves them: proxied multipart upload
(MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD) and multipart download in parallel Range requests
(MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD), with small part sizes so a few MiB make several parts.

Usage: python artifacts_large.py <experiment name>
"""
import hashlib
import os
import sys
import tempfile

MIB = 1024 * 1024
os.environ["MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE"] = str(MIB)
os.environ["MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"] = str(MIB)
os.environ["MLFLOW_MULTIPART_DOWNLOAD_MINIMUM_FILE_SIZE"] = str(MIB)
os.environ["MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE"] = str(MIB)

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from compat import State, Steps, check, check_eq  # noqa: E402

s = Steps()
client = MlflowClient()
state = State()
work = tempfile.mkdtemp(prefix="mlflow-large-")
SIZE = 5 * MIB + 12345  # six parts, the last one short


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


@s.step("set up a run and a 5 MiB file")
def _():
    mlflow.set_experiment(sys.argv[1])
    run = mlflow.start_run(run_name="large-artifacts")
    path = os.path.join(work, "big.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(SIZE))
    state["run_id"] = run.info.run_id
    state["path"] = path
    state["sha"] = sha256(path)
    s.out["run_id"] = run.info.run_id


@s.step("plain streamed upload and download")
def _():
    os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "false"
    mlflow.log_artifact(state["path"], "plain")
    local = mlflow.artifacts.download_artifacts(run_id=state["run_id"], artifact_path="plain/big.bin", dst_path=os.path.join(work, "d1"))
    check_eq(sha256(local), state["sha"], "sha256 of the downloaded file")


@s.step("multipart upload (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD)")
def _():
    os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "true"
    try:
        mlflow.log_artifact(state["path"], "multipart")
    finally:
        os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "false"
    listed = {f.path: f.file_size for f in client.list_artifacts(state["run_id"], "multipart")}
    check_eq(listed.get("multipart/big.bin"), SIZE, "size of the multipart upload")
    local = mlflow.artifacts.download_artifacts(run_id=state["run_id"], artifact_path="multipart/big.bin", dst_path=os.path.join(work, "d2"))
    check_eq(sha256(local), state["sha"], "sha256 after multipart upload")


@s.step("multipart download (MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD)")
def _():
    os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD"] = "true"
    try:
        local = mlflow.artifacts.download_artifacts(run_id=state["run_id"], artifact_path="plain/big.bin", dst_path=os.path.join(work, "d3"))
    finally:
        os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD"] = "false"
    check_eq(sha256(local), state["sha"], "sha256 after multipart download")


@s.step("end_run")
def _():
    mlflow.end_run()
    check(client.get_run(state["run_id"]).info.status == "FINISHED", "run not finished")


s.finish()
