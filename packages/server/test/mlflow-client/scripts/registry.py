"""MlflowClient model registry calls: registered models, versions, tags, aliases, stages, search.

Usage: python registry.py <model name prefix>
"""
import os
import sys
import tempfile
import warnings

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from compat import State, Steps, check, check_eq

warnings.filterwarnings("ignore", category=FutureWarning)  # stages are deprecated in MLflow 3, still served

s = Steps()
prefix = sys.argv[1]
name = f"{prefix}-model"
client = MlflowClient()
state = State()


@s.step("create_registered_model with tags and description")
def _():
    rm = client.create_registered_model(name, tags={"team": "compat"}, description="first model")
    check_eq(rm.name, name, "name")
    check_eq(rm.description, "first model", "description")
    check_eq(rm.tags, {"team": "compat"}, "tags")
    check(rm.creation_timestamp > 0, "creation_timestamp")
    state["model"] = name
    s.out["model"] = name


@s.step("a duplicate name is refused with RESOURCE_ALREADY_EXISTS")
def _():
    try:
        client.create_registered_model(state["model"])
        raise AssertionError("a duplicate registered model was accepted")
    except MlflowException as e:
        check_eq(e.error_code, "RESOURCE_ALREADY_EXISTS", "error_code")


@s.step("create_model_version from a run's artifacts")
def _():
    mlflow.set_experiment(f"{prefix}-registry")
    with mlflow.start_run() as run:
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "MLmodel"), "w") as f:
            f.write("flavors: {}\n")
        mlflow.log_artifacts(folder, "model")
    source = f"{run.info.artifact_uri}/model"
    v1 = client.create_model_version(state["model"], source, run_id=run.info.run_id, tags={"v": "1"}, description="v one")
    check_eq(v1.version, "1", "first version number")
    check_eq(v1.run_id, run.info.run_id, "run_id of the version")
    check_eq(v1.tags, {"v": "1"}, "version tags")
    v2 = client.create_model_version(state["model"], source, run_id=run.info.run_id)
    check_eq(v2.version, "2", "second version number")
    state["run_id"] = run.info.run_id
    state["source"] = source
    s.out["run_id"] = run.info.run_id


@s.step("get_registered_model and get_model_version")
def _():
    rm = client.get_registered_model(state["model"])
    check_eq(rm.name, state["model"], "name")
    v = client.get_model_version(state["model"], "1")
    check_eq(v.source, state["source"], "source")
    check(v.status in ("READY",), f"status {v.status}")
    check_eq(v.description, "v one", "description")


@s.step("update_registered_model and update_model_version")
def _():
    client.update_registered_model(state["model"], description="better")
    check_eq(client.get_registered_model(state["model"]).description, "better", "model description")
    client.update_model_version(state["model"], "2", description="v two")
    check_eq(client.get_model_version(state["model"], "2").description, "v two", "version description")


@s.step("registered model and version tags: set and delete")
def _():
    client.set_registered_model_tag(state["model"], "stage", "dev")
    client.delete_registered_model_tag(state["model"], "team")
    check_eq(client.get_registered_model(state["model"]).tags, {"stage": "dev"}, "model tags")
    client.set_model_version_tag(state["model"], "2", "validated", "yes")
    client.delete_model_version_tag(state["model"], "1", "v")
    check_eq(client.get_model_version(state["model"], "2").tags, {"validated": "yes"}, "version 2 tags")
    check_eq(client.get_model_version(state["model"], "1").tags, {}, "version 1 tags")


@s.step("aliases: set, get by alias, listed on the model, delete")
def _():
    client.set_registered_model_alias(state["model"], "champion", "1")
    client.set_registered_model_alias(state["model"], "challenger", "2")
    check_eq(client.get_model_version_by_alias(state["model"], "champion").version, "1", "champion")
    check_eq(client.get_registered_model(state["model"]).aliases, {"champion": "1", "challenger": "2"}, "aliases on the model")
    check_eq(client.get_model_version(state["model"], "2").aliases, ["challenger"], "aliases on version 2")
    client.set_registered_model_alias(state["model"], "champion", "2")
    check_eq(client.get_model_version_by_alias(state["model"], "champion").version, "2", "moved champion")
    client.delete_registered_model_alias(state["model"], "challenger")
    check_eq(client.get_registered_model(state["model"]).aliases, {"champion": "2"}, "aliases after delete")


@s.step("stages: transition_model_version_stage and get_latest_versions")
def _():
    v = client.transition_model_version_stage(state["model"], "1", "Staging")
    check_eq(v.current_stage, "Staging", "stage of version 1")
    client.transition_model_version_stage(state["model"], "2", "Production")
    latest = {x.current_stage: x.version for x in client.get_latest_versions(state["model"], stages=["Staging", "Production"])}
    check_eq(latest, {"Staging": "1", "Production": "2"}, "latest versions per stage")
    client.transition_model_version_stage(state["model"], "1", "Production", archive_existing_versions=True)
    check_eq(client.get_model_version(state["model"], "2").current_stage, "Archived", "archived by archive_existing_versions")


@s.step("rename_registered_model")
def _():
    renamed = f"{prefix}-renamed"
    client.rename_registered_model(state["model"], renamed)
    check_eq(client.get_registered_model(renamed).name, renamed, "renamed model")
    check_eq(client.get_model_version(renamed, "1").name, renamed, "versions follow the rename")
    client.rename_registered_model(renamed, state["model"])


@s.step("search_registered_models and search_model_versions")
def _():
    client.create_registered_model(f"{prefix}-other")
    found = [m.name for m in client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"])]
    check_eq(found, [f"{prefix}-model", f"{prefix}-other"], "registered models by name")
    found = [m.name for m in client.search_registered_models(filter_string="tags.stage = 'dev'")]
    check(state["model"] in found, f"search by tag found {found}")
    page = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", max_results=1)
    check_eq(len(page), 1, "page size")
    check(page.token, "no page token for the second page")
    versions = client.search_model_versions(f"name = '{state['model']}'")
    check_eq(sorted(v.version for v in versions), ["1", "2"], "versions of the model")
    versions = client.search_model_versions(f"run_id = '{state['run_id']}'")
    check_eq(len(versions), 2, "versions by run_id")


@s.step("get_model_version_download_uri")
def _():
    uri = client.get_model_version_download_uri(state["model"], "1")
    check_eq(uri, state["source"], "download uri")


@s.step("delete_model_version and delete_registered_model")
def _():
    client.delete_model_version(state["model"], "2")
    check_eq([v.version for v in client.search_model_versions(f"name = '{state['model']}'")], ["1"], "versions after delete")
    client.delete_registered_model(state["model"])
    try:
        client.get_registered_model(state["model"])
        raise AssertionError("a deleted model is still there")
    except MlflowException as e:
        check_eq(e.error_code, "RESOURCE_DOES_NOT_EXIST", "error_code")


s.finish()
