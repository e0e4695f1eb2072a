"""azureml-dataprep's engine reading registered datasets' files from the server's Blob REST subset:
FileDataset.to_path / download / mount, TabularDataset.to_pandas_dataframe (with and without column
type inference), from_delimited_files(validate=True), take / skip / filter. One process; prints one
JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR; DP_MOUNT
(set: mount too, which needs /dev/fuse);
HTTPS_PROXY (the engine's way to the server's host-style blob URIs) and SSL_CERT_FILE (its trust).
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
if os.environ.get("DP_READER"):
    # A principal with the Reader role: reads datasets (the datastore comes with a read-only SAS of its
    # container, never its key), registers, updates and unregisters nothing.
    fd = Dataset.get_by_name(ws, "dp-files")
    step("reader ws.datasets", lambda: sorted(ws.datasets.keys()))
    step("reader to_path", lambda: sorted(fd.to_path()))
    step("reader to_pandas_dataframe", lambda: Dataset.get_by_name(ws, "dp-table").to_pandas_dataframe()["species"].tolist())
    ds = Datastore.get(ws, "workspaceblobstore")
    step("reader Datastore.get", lambda: [ds.account_key, dict(p.split("=", 1) for p in ds.sas_token.split("&"))["sp"]])
    # azureml-core's upload reports a refused file in its log only: what is there afterwards tells.
    step("reader upload", lambda: (ds.upload_files([__file__], target_path="reader", overwrite=True, show_progress=False), ds.download("reader-down", prefix="reader", show_progress=False))[1])
    step("reader register", lambda: Dataset.File.from_files((ds, "dp/iris/"), validate=False).register(ws, "reader-files"))
    step("reader update", lambda: fd.update(description="changed by a reader"))
    step("reader unregister_all_versions", lambda: fd.unregister_all_versions())
    print(json.dumps(step.out, default=str))
    sys.exit(0)
store = Datastore.get(ws, "workspaceblobstore")

os.makedirs("data/iris/more", exist_ok=True)
with open("data/iris/a.csv", "w") as fh:
    fh.write("sepal_length,sepal_width,species,seen\n5.1,3.5,setosa,2024-01-02\n7.0,3.2,versicolor,2024-02-03\n6.3,3.3,virginica,2024-03-04\n")
with open("data/iris/more/b.csv", "w") as fh:
    fh.write("sepal_length,sepal_width,species,seen\n4.9,3.0,setosa,2024-04-05\n")
with open("data/iris/README.txt", "w") as fh:
    fh.write("iris flowers\n")
step("upload", lambda: store.upload("data", target_path="dp", overwrite=True, show_progress=False).path_on_datastore)

files = step("from_files", lambda: Dataset.File.from_files((store, "dp/iris/"), validate=False))
step("file.register", lambda: files.register(ws, "dp-files").version)
fd = step("file get_by_name", lambda: Dataset.get_by_name(ws, "dp-files"))
step("file.to_path", lambda: sorted(fd.to_path()))
step("file.download", lambda: (lambda got: sorted(os.path.relpath(p, os.path.abspath("down")) for p in got))(fd.download("down", overwrite=True)))
step("file.download content", lambda: open("down/more/b.csv").read())
step("file.take(2).to_path", lambda: sorted(fd.take(2).to_path()))
step("file.skip(2).to_path", lambda: sorted(fd.skip(2).to_path()))
step("from_files(validate) single file", lambda: Dataset.File.from_files((store, "dp/iris/a.csv"), validate=True).to_path())
# A data asset made through ARM (azure-ai-ml's way; short azureml://datastores/… URI) reads the same.
step("ARM data asset to_path", lambda: sorted(ws.datasets["dp-arm"].to_path()))
step("missing file download", lambda: Dataset.File.from_files((store, "dp/none/x.csv"), validate=False).download("none", overwrite=True))
step("missing folder to_path", lambda: Dataset.File.from_files((store, "dp/none/"), validate=False).to_path())

table = step("from_delimited_files(validate)", lambda: Dataset.Tabular.from_delimited_files([(store, "dp/iris/*.csv"), (store, "dp/iris/more/b.csv")], validate=True))
step("tabular.register", lambda: table.register(ws, "dp-table").version)
td = step("tabular get_by_name", lambda: Dataset.get_by_name(ws, "dp-table"))
step("to_pandas_dataframe", lambda: (lambda df: [list(df.columns), [str(t) for t in df.dtypes], df.values.tolist()])(td.to_pandas_dataframe()))
raw = Dataset.Tabular.from_delimited_files([(store, "dp/iris/a.csv")], validate=False, infer_column_types=False)
step("to_pandas_dataframe (no inference)", lambda: (lambda df: [[str(t) for t in df.dtypes], df.values.tolist()])(raw.to_pandas_dataframe()))
step("take(2)", lambda: td.take(2).to_pandas_dataframe()["species"].tolist())
step("skip(3)", lambda: td.skip(3).to_pandas_dataframe()["species"].tolist())
step("filter", lambda: td.filter(td["sepal_length"] > 6).to_pandas_dataframe()["species"].tolist())


def mounted():
    """FileDataset.mount(): the files through FUSE, unmounted again whatever happens."""
    ctx = fd.mount()
    ctx.start()
    try:
        with open(os.path.join(ctx.mount_point, "a.csv")) as fh:
            return [sorted(os.listdir(ctx.mount_point)), fh.read().count("\n")]
    finally:
        ctx.stop()


if os.environ.get("DP_MOUNT"):
    step("file mount", mounted)
print(json.dumps(step.out, default=str))
sys.stdout.flush()
