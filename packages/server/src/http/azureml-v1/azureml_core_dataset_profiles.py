"""azureml-core's dataset profiles against the server: TabularDataset.submit_profile_run(compute_target,
experiment), get_profile(), get_profile_runs(), DatasetProfile.get_producing_run(), the profile's columns
checked against pandas reading the same file, in one process (issue 11).
Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import math
import os
import sys

import pandas as pd
from azure_clients import GROUP, SUBSCRIPTION, Steps, cap_core_polling, core_auth
from azureml.core import Dataset, Datastore, Experiment, Workspace

cap_core_polling()
auth = core_auth()
step = Steps()
ws = Workspace(SUBSCRIPTION, GROUP, os.environ["WORKSPACE"], auth=auth)
os.chdir(os.environ["WORKDIR"])
store = Datastore.get(ws, "workspaceblobstore")

os.makedirs("prof", exist_ok=True)
with open("prof/flowers.csv", "w") as fh:
    fh.write("length,width,species,count\n5.1,3.5,setosa,3\n7.0,,versicolor,10\n6.3,3.3,virginica,-2\n4.9,3.0,setosa,7\n,2.9,,1\n5.8,2.7,virginica,4\n")
with open("prof/more.csv", "w") as fh:
    fh.write("length,width,species,count\n6.7,3.1,versicolor,8\n")
step("upload", lambda: store.upload_files(["prof/flowers.csv", "prof/more.csv"], relative_root=".", target_path="data", overwrite=True, show_progress=False).path_on_datastore)
table = Dataset.Tabular.from_delimited_files([(store, "data/prof/*.csv")], validate=False, infer_column_types=False)
exp = Experiment(ws, "profiles")
from azureml.core.compute import AmlCompute, ComputeTarget  # noqa: E402

step("ComputeTarget.create", lambda: ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(vm_size="STANDARD_DS2_V2", max_nodes=1)).wait_for_completion(show_output=False))
step("submit_profile_run (no such compute)", lambda: table.submit_profile_run("no-such-compute", exp))

step("get_profile (none yet)", lambda: table.get_profile(ws))
run = step("submit_profile_run", lambda: table.submit_profile_run("cpu-cluster", exp))
step("profile run", lambda: [run.run.get_status(), run.run.experiment.name, sorted(run.run.get_file_names())])
profile = step("get_profile", lambda: table.get_profile(ws))
step("get_producing_run", lambda: profile.get_producing_run().id == run.run.id)

df = pd.concat([pd.read_csv("prof/flowers.csv"), pd.read_csv("prof/more.csv")], ignore_index=True)


def columns():
    out = {}
    for name, c in profile._profile.columns.items():
        out[name] = {"type": c.type.name, "count": c.count, "missing": c.missing_count, "min": c.min, "max": c.max,
                     "mean": c.mean, "std": c.std, "median": c.median, "q25": c.lower_quartile, "q75": c.upper_quartile,
                     "skewness": c.skewness, "kurtosis": c.kurtosis, "unique": c.unique_values,
                     "top": [[v.value, v.count] for v in (c.value_counts or [])[:2]]}
    return out


cols = step("profile columns", columns)


def versus_pandas():
    diffs = []
    for name in df.columns:
        c, s = cols[name], df[name]
        checks = {"count": len(s), "missing": int(s.isna().sum())}
        if s.dtype.kind in "if":
            checks.update({"min": s.min(), "max": s.max(), "mean": s.mean(), "std": s.std(), "median": s.median(),
                           "q25": s.quantile(0.25), "q75": s.quantile(0.75), "skewness": s.skew(), "kurtosis": s.kurt()})
        else:
            checks.update({"min": s.dropna().min(), "max": s.dropna().max(), "unique": int(s.nunique())})
        for k, want in checks.items():
            got = c[k]
            same = math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-12) if isinstance(want, (int, float)) and not isinstance(want, bool) or hasattr(want, "dtype") else got == want
            if not same:
                diffs.append([name, k, got, str(want)])
    return diffs


step("profile vs pandas (differences)", versus_pandas)
step("row_count, shape", lambda: [profile._profile.row_count, list(profile._profile.shape)])
step("second submit_profile_run", lambda: table.submit_profile_run("cpu-cluster", exp).run.id != run.run.id)
step("get_profile_runs", lambda: len(list(table.get_profile_runs(ws))))
files = Dataset.File.from_files((store, "data/prof/"), validate=False)
step("submit_profile_run (FileDataset)", lambda: files.submit_profile_run("cpu-cluster", exp))
step("submit_profile_run (local)", lambda: table.submit_profile_run("local", exp))
# Snapshots: azureml-core 1.61 refuses them itself (azureml.data._dataset_client._DatasetClient), sending nothing.
from azureml.data.dataset_snapshot import DatasetSnapshot  # noqa: E402

step("DatasetSnapshot.get_all", lambda: DatasetSnapshot.get_all(ws, "any"))
print(json.dumps(step.out, default=str))
sys.stdout.flush()
