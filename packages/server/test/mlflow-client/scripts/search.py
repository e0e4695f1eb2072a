"""search_runs / search_experiments with filters, ordering and paging, through the MLflow client.

Usage: python search.py <name prefix>
"""
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType

from compat import State, Steps, check, check_eq

s = Steps()
prefix = sys.argv[1]
client = MlflowClient()
state = State()

# (run name, optimizer, accuracy, team tag)
RUNS = [
    ("alpha", "adam", 0.91, "vision"),
    ("beta", "sgd", 0.55, "vision"),
    ("gamma", "adam", 0.72, "nlp"),
    ("delta", "adam", 0.33, "nlp"),
    ("epsilon", "sgd", 0.88, "speech"),
    ("Zeta", "adamw", 0.64, "vision"),
]


@s.step("set up two experiments with six runs")
def _():
    a = mlflow.set_experiment(f"{prefix}-search-a").experiment_id
    b = client.create_experiment(f"{prefix}-search-b", tags={"owner": f"{prefix}-owner"})
    state["a"], state["b"] = a, b
    ids = {}
    for i, (name, optimizer, accuracy, team) in enumerate(RUNS):
        with mlflow.start_run(experiment_id=a if i < 4 else b, run_name=name) as run:
            mlflow.log_param("optimizer", optimizer)
            mlflow.log_metric("accuracy", accuracy)
            mlflow.log_metric("loss", 1 - accuracy)
            mlflow.set_tag("team", team)
            ids[name] = run.info.run_id
    state["ids"] = ids
    s.out["experiment_ids"] = [a, b]


def names(runs):
    return [r.info.run_name for r in runs]


@s.step("search_runs: metric and param filter ordered by a metric (pandas)")
def _():
    df = mlflow.search_runs(
        experiment_ids=[state["a"], state["b"]],
        filter_string="metrics.accuracy > 0.5 and params.optimizer = 'adam'",
        order_by=["metrics.accuracy DESC"],
    )
    check_eq(list(df["tags.mlflow.runName"]), ["alpha", "gamma"], "runs found")
    check_eq(list(df["metrics.accuracy"]), [0.91, 0.72], "accuracy column")
    check_eq(list(df["params.optimizer"]), ["adam", "adam"], "optimizer column")


@s.step("search_runs: output_format='list', ascending order, several experiments")
def _():
    runs = mlflow.search_runs(experiment_ids=[state["a"], state["b"]], order_by=["metrics.loss ASC"], output_format="list")
    check_eq(names(runs), ["alpha", "epsilon", "gamma", "Zeta", "beta", "delta"], "order by loss ASC")


@s.step("search_runs: tags, LIKE, ILIKE, IN and attributes")
def _():
    exps = [state["a"], state["b"]]
    runs = client.search_runs(exps, "tags.team = 'vision'", order_by=["attributes.run_name ASC"])
    check_eq(sorted(names(runs)), ["Zeta", "alpha", "beta"], "tags.team = 'vision'")
    runs = client.search_runs(exps, "params.optimizer LIKE 'adam%'")
    check_eq(sorted(names(runs)), ["Zeta", "alpha", "delta", "gamma"], "params LIKE 'adam%'")
    runs = client.search_runs(exps, "attributes.run_name ILIKE 'z%'")
    check_eq(names(runs), ["Zeta"], "run_name ILIKE 'z%'")
    ids = state["ids"]
    runs = client.search_runs(exps, f"attributes.run_id IN ('{ids['delta']}', '{ids['epsilon']}', '{ids['gamma']}')")
    check_eq(sorted(names(runs)), ["delta", "epsilon", "gamma"], "run_id IN")
    runs = client.search_runs(exps, "attributes.status = 'FINISHED' and metrics.loss <= 0.12")
    check_eq(sorted(names(runs)), ["alpha", "epsilon"], "status and metric <=")
    runs = client.search_runs(exps, f"attributes.run_id = '{state['ids']['beta']}'")
    check_eq(names(runs), ["beta"], "run_id =")
    runs = client.search_runs(exps, "params.optimizer != 'adam'", order_by=["params.optimizer DESC", "attributes.run_name"])
    check_eq(names(runs), ["beta", "epsilon", "Zeta"], "param != ordered by param DESC, name")


@s.step("search_runs: paging with max_results and page_token")
def _():
    exps = [state["a"], state["b"]]
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs(exps, "", order_by=["metrics.accuracy DESC"], max_results=4, page_token=token)
        seen += names(page)
        pages += 1
        token = page.token
        if not token:
            break
        check(pages < 5, "paging does not end")
    check_eq(seen, ["alpha", "epsilon", "gamma", "Zeta", "beta", "delta"], "all pages in order")
    check_eq(pages, 2, "pages of 4")


@s.step("search_runs: a bad filter is refused with INVALID_PARAMETER_VALUE")
def _():
    from mlflow.exceptions import MlflowException

    try:
        client.search_runs([state["a"]], "metrics.accuracy >>> 1")
        raise AssertionError("a malformed filter was accepted")
    except MlflowException as e:
        check_eq(e.error_code, "INVALID_PARAMETER_VALUE", "error_code of a bad filter")


@s.step("search_runs: run_view_type")
def _():
    client.delete_run(state["ids"]["delta"])
    exps = [state["a"]]
    check_eq(sorted(names(client.search_runs(exps, run_view_type=ViewType.ACTIVE_ONLY))), ["alpha", "beta", "gamma"], "ACTIVE_ONLY")
    check_eq(names(client.search_runs(exps, run_view_type=ViewType.DELETED_ONLY)), ["delta"], "DELETED_ONLY")
    check_eq(len(client.search_runs(exps, run_view_type=ViewType.ALL)), 4, "ALL")


@s.step("search_experiments: name filter, tags and ordering")
def _():
    exps = mlflow.search_experiments(filter_string=f"name LIKE '{prefix}-search-%'", order_by=["name DESC"])
    check_eq([e.name for e in exps], [f"{prefix}-search-b", f"{prefix}-search-a"], "experiments by name DESC")
    exps = client.search_experiments(filter_string=f"tags.owner = '{prefix}-owner'")
    check_eq([e.name for e in exps], [f"{prefix}-search-b"], "experiments by tag")
    exps = client.search_experiments(filter_string=f"name = '{prefix}-search-a'", max_results=1)
    check_eq([e.experiment_id for e in exps], [state["a"]], "experiment by exact name")


@s.step("search_experiments: view type of deleted experiments")
def _():
    client.delete_experiment(state["b"])
    active = [e.name for e in client.search_experiments(filter_string=f"name LIKE '{prefix}-search-%'")]
    check_eq(active, [f"{prefix}-search-a"], "active experiments")
    deleted = [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}-%'")]
    check_eq(deleted, [f"{prefix}-search-b"], "deleted experiments")
    client.restore_experiment(state["b"])


s.finish()
