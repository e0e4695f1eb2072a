"""azureml-core's datasets against the server (Dataset.File.from_files, Dataset.Tabular.from_delimited_files,
register, Dataset.get_by_name / get_by_id, ws.datasets, to_pandas_dataframe, download, update, add_tags,
remove_tags, unregister_all_versions), in one process.
Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth
from azureml.core import Dataset, Datastore, Workspace

cap_core_polling()
auth = core_auth()
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])
store = Datastore.get(ws, "workspaceblobstore")

# Datastore.upload_files / download: the system blob datastore through the server's Blob REST subset.
os.makedirs("iris", exist_ok=True)
with open("iris/iris.csv", "w") as fh:
    fh.write("sepal_length,sepal_width,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n")
with open("iris/README.txt", "w") as fh:
    fh.write("two flowers\n")
step("datastore endpoint", lambda: [store.endpoint.split(":")[0], store.credential_type])
step("datastore.upload_files", lambda: store.upload_files(["iris/iris.csv", "iris/README.txt"], relative_root=".", target_path="up", overwrite=True, show_progress=False).path_on_datastore)
step("datastore.download", lambda: [store.download("dl", prefix="up/iris", overwrite=True, show_progress=False), sorted(os.path.relpath(os.path.join(d, f), "dl") for d, _, fs in os.walk("dl") for f in fs), open("dl/up/iris/iris.csv").read().count("\n")])


files = step("Dataset.File.from_files", lambda: Dataset.File.from_files((store, "iris/"), validate=False))
step("file.register", lambda: (lambda d: [d.name, d.version, d.id is not None])(files.register(ws, "iris-files", description="iris files", tags={"k": "v"})))
table = step("Dataset.Tabular.from_delimited_files", lambda: Dataset.Tabular.from_delimited_files([(store, "iris/iris.csv")], validate=False, infer_column_types=False))
step("tabular.register", lambda: (lambda d: [d.name, d.version])(table.register(ws, "iris-table", description="iris table")))
step("tabular.register (again)", lambda: table.register(ws, "iris-table"))
step("tabular.register (same, new version)", lambda: (lambda d: [d.name, d.version])(table.register(ws, "iris-table", create_new_version=True)))
table2 = Dataset.Tabular.from_delimited_files([(store, "iris/iris.csv")], validate=False, infer_column_types=False, separator=";")
step("tabular.register (changed, new version)", lambda: (lambda d: [d.name, d.version])(table2.register(ws, "iris-table", create_new_version=True)))
step("ws.datasets", lambda: sorted(ws.datasets.keys()))
got = step("Dataset.get_by_name", lambda: Dataset.get_by_name(ws, "iris-table"))
step("get_by_name fields", lambda: [got.name, got.version, type(got).__name__, got.description])
step("Dataset.get_by_name(version)", lambda: Dataset.get_by_name(ws, "iris-table", version=1).version)
step("Dataset.get_by_name(missing)", lambda: Dataset.get_by_name(ws, "no-such-dataset"))
step("Dataset.get_all registrations", lambda: sorted([r.name, r.version] for r in Dataset.get_all(ws).registrations))
step("ws.datasets[name] (made through ARM)", lambda: (lambda d: [type(d).__name__, d.name, d.version])(ws.datasets["arm-data"]))
step("Dataset.get_by_id", lambda: Dataset.get_by_id(ws, got.id).name)
step("to_pandas_dataframe", lambda: (lambda df: [list(df.columns), len(df)])(got.to_pandas_dataframe()))
step("file get_by_name", lambda: (lambda d: [type(d).__name__, d.name, d.tags])(Dataset.get_by_name(ws, "iris-files")))

# update / add_tags / remove_tags: the description and tags of the version the dataset object names.
step("dataset.update", lambda: (lambda d: [d.version, d.description, d.tags])(got.update(description="iris, edited", tags={"stage": "dev"})))
step("dataset.add_tags", lambda: got.add_tags({"team": "flowers"}).tags)
step("dataset.add_tags (different value)", lambda: got.add_tags({"stage": "prod"}))
step("dataset.remove_tags", lambda: got.remove_tags(["stage"]).tags)
step("get_by_name after edits", lambda: (lambda d: [d.version, d.description, d.tags])(Dataset.get_by_name(ws, "iris-table")))
step("get_by_name(version=1) untouched", lambda: (lambda d: [d.description, d.tags])(Dataset.get_by_name(ws, "iris-table", version=1)))
step("dataset.update (clear)", lambda: (lambda d: [d.description, d.tags])(Dataset.get_by_name(ws, "iris-files").update(description="", tags={})))

# unregister_all_versions: the data asset and its versions are archived (as Azure does).
drop = Dataset.File.from_files((store, "up/"), validate=False)
step("register to-drop", lambda: [drop.register(ws, "to-drop").version, Dataset.File.from_files((store, "up/iris/"), validate=False).register(ws, "to-drop", create_new_version=True).version])
step("unregister_all_versions", lambda: Dataset.get_by_name(ws, "to-drop").unregister_all_versions())
step("get_by_name after unregister", lambda: Dataset.get_by_name(ws, "to-drop"))
step("ws.datasets after unregister", lambda: sorted(ws.datasets.keys()))
step("register again after unregister", lambda: (lambda d: [d.name, d.version])(drop.register(ws, "to-drop")))

# Saved (unregistered) datasets: what a dataset given to a model or a run without registering becomes.
unsaved = Dataset.Tabular.from_delimited_files([(store, "iris/iris.csv")], validate=False, infer_column_types=False, separator="|")
step("unregistered dataset.id (before saving)", lambda: unsaved.id)
saved_id = step("dataset._ensure_saved", lambda: unsaved._ensure_saved(ws))
step("dataset.id (saved)", lambda: unsaved.id == saved_id)
step("_ensure_saved (same definition again)", lambda: Dataset.Tabular.from_delimited_files([(store, "iris/iris.csv")], validate=False, infer_column_types=False, separator="|")._ensure_saved(ws) == saved_id)
step("Dataset.get_by_id (saved)", lambda: (lambda d: [type(d).__name__, d.name, d.version, d.id == saved_id])(Dataset.get_by_id(ws, saved_id)))
step("ws.datasets (saved ones not listed)", lambda: sorted(ws.datasets.keys()))
def model_with_dataset():
    from azureml.core import Model
    with open("model.txt", "w") as fh:
        fh.write("weights\n")
    ds = Dataset.File.from_files((store, "up/iris/README.txt"), validate=False)
    m = Model.register(ws, model_path="model.txt", model_name="with-data", datasets=[("training", ds)])
    return [m.name, m.version, {k: [[type(d).__name__, d.name, d.id == ds.id] for d in v] for k, v in (Model(ws, "with-data").datasets or {}).items()}]


step("Model.register(datasets=[unregistered])", model_with_dataset)
step("register a saved dataset", lambda: (lambda d: [d.name, d.version])(Dataset.get_by_id(ws, saved_id).register(ws, "from-saved")))
print(json.dumps(step.out, default=str))
sys.stdout.flush()
