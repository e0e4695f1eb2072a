"""azure-ai-ml's ml_client.models against the server (ARM W/models over the one model registry):
create_or_update from files in the workspace's blob datastore, get, list, archive/restore, and the
MLflow model the test made beforehand (MLFLOW_MODEL) seen as an azure-ai-ml model. Prints one JSON line.
Environment: see testing/python/azure_clients.py; WORKSPACE.
"""
import json
import os
import sys
import tempfile

import requests
from azure.ai.ml.constants import AssetTypes
from azure.ai.ml.entities import Data, Model

from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, credential, ml_client

ws_name = os.environ["WORKSPACE"]
ml = ml_client(ws_name, uploads=True)
step = Steps()
W = f"{URL}/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{ws_name}"
token = credential.get_token(URL + "/.default").token


def upload():
    """Two files into the workspace's blob datastore through a pending-upload SAS (the Blob REST subset)."""
    r = requests.post(f"{W}/codes/uploads/versions/1/startPendingUpload?api-version=2025-09-01",
                      json={"pendingUploadType": "TemporaryBlobReference"}, headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    sas = r.json()["blobReferenceForConsumption"]["credential"]["sasUri"]
    base, query = sas.split("?", 1)
    for rel, data in (("clf/model.pkl", b"pickled-bytes"), ("clf/conda.yaml", b"name: clf\n")):
        p = requests.put(f"{base}/{rel}?{query}", data=data, headers={"x-ms-blob-type": "BlockBlob"})
        p.raise_for_status()
    folder = base.split("/", 6)[-1]  # LocalUpload/{id}: the path below the container
    return f"azureml://datastores/workspaceblobstore/paths/{folder}/clf"


path = step("upload", upload)
step("create_or_update", lambda: (lambda m: [m.name, m.version, m.tags, m.description, m.type])(
    ml.models.create_or_update(Model(name="clf", version="1", path=path, description="a classifier", tags={"team": "vision"}, properties={"auc": "0.9"}))))
step("create_or_update(next version)", lambda: ml.models.create_or_update(Model(name="clf", path=path, type="custom_model")).version)
step("create_or_update(not a number)", lambda: ml.models.create_or_update(Model(name="clf", version="v2", path=path)).version)
step("get", lambda: (lambda m: [m.version, m.tags, m.properties.get("auc"), m.path])(ml.models.get("clf", version="1")))
step("get(label=latest)", lambda: ml.models.get("clf", label="latest").version)
step("list", lambda: sorted(m.name for m in ml.models.list()))
step("list(name)", lambda: [m.version for m in ml.models.list(name="clf")])
step("archive", lambda: ml.models.archive("clf", version="1"))
step("list(name) after archive", lambda: [m.version for m in ml.models.list(name="clf")])
step("restore", lambda: ml.models.restore("clf", version="1"))
step("update tags", lambda: (lambda m: (setattr(m, "tags", {"team": "nlp"}), ml.models.create_or_update(m).tags)[1])(ml.models.get("clf", "1")))
# Local paths: azure-ai-ml uploads to the default datastore (an expirable SAS from listSecrets, the
# Blob REST subset at {account}.blob.{suffix}), then registers the datastore path.
work = tempfile.mkdtemp()
os.makedirs(f"{work}/local-model/sub")
for rel, data in (("local-model/weights.bin", b"w" * 1000), ("local-model/sub/config.json", b"{}")):
    with open(f"{work}/{rel}", "wb") as f:
        f.write(data)
with open(f"{work}/train.csv", "w") as f:
    f.write("a,b\n1,2\n")
step("create_or_update(local folder)", lambda: (lambda m: [m.name, m.version, m.path])(
    ml.models.create_or_update(Model(name="local-model", path=f"{work}/local-model"))))


def download():
    target = f"{work}/downloaded"
    ml.models.download("local-model", "1", download_path=target)
    return sorted(os.path.relpath(os.path.join(d, n), target) for d, _, files in os.walk(target) for n in files)


step("download", download)
step("data.create_or_update(local file)", lambda: (lambda d: [d.name, d.version, d.path])(
    ml.data.create_or_update(Data(name="train", version="1", path=f"{work}/train.csv", type=AssetTypes.URI_FILE))))
step("data.create_or_update(local folder)", lambda: (lambda d: [d.name, d.version, d.path])(
    ml.data.create_or_update(Data(name="model-files", version="1", path=f"{work}/local-model", type=AssetTypes.URI_FOLDER))))
step("data.get", lambda: ml.data.get("train", version="1").path)
mlflow_model = os.environ.get("MLFLOW_MODEL", "")
step("get(mlflow model)", lambda: (lambda m: [m.name, m.version, m.description, m.path.split("/paths/")[0].split("/")[-1]])(ml.models.get(mlflow_model, version="1")))
print(json.dumps(step.out, default=str))
sys.stdout.flush()
