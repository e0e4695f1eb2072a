"""azure-ai-ml's sweep jobs against an Atelier server, as a user writes them: a command job from
local code whose input is a search-space distribution, `.sweep(…)` with grid sampling, a primary
metric, limits and a Bandit policy; submitted, followed until it ends, read, and its trials listed.

Run by jobs/sweep/azure-ai-ml-sweep.test.ts. Prints one JSON line.
Environment: what testing/python/azure_clients.py reads, WORKSPACE, CODE_DIR.
"""
import json
import os
import sys
import time

from azure.ai.ml import command
from azure.ai.ml.sweep import BanditPolicy, Choice
from azure_clients import Steps, ml_client

ml = ml_client(os.environ["WORKSPACE"])
steps = Steps()

trial = command(
    code=os.environ["CODE_DIR"],
    command="python train.py --x ${{inputs.x}}",
    inputs={"x": Choice([1, 2, 3])},
    experiment_name="aiml-sweep",
    display_name="tune",
)
sweep = trial.sweep(
    sampling_algorithm="grid",
    primary_metric="acc",
    goal="Maximize",
    early_termination_policy=BanditPolicy(slack_factor=0.5, evaluation_interval=1, delay_evaluation=1),
)
sweep.set_limits(max_total_trials=3, max_concurrent_trials=2, timeout=600)
created = None


def create():
    global created
    created = ml.jobs.create_or_update(sweep)
    return created.name


steps("create", create)


def wait():
    for _ in range(2400):
        j = ml.jobs.get(created.name)
        if j.status in ("Completed", "Failed", "Canceled"):
            break
        time.sleep(0.05)
    return {
        "type": j.type,
        "status": j.status,
        "goal": j.objective.goal,
        "metric": j.objective.primary_metric,
        "sampling": j.sampling_algorithm.type if hasattr(j.sampling_algorithm, "type") else str(j.sampling_algorithm),
        "max_total_trials": j.limits.max_total_trials,
        "best_trial": j.properties.get("best_trial"),
        "search_space": sorted(j.search_space.keys()),
    }


if created is not None:
    steps("created", lambda: {"name": created.name, "type": created.type, "status": created.status})
    steps("wait", wait)
    steps("trials", lambda: sorted((c.name, c.status) for c in ml.jobs.list(parent_job_name=created.name)))
print(json.dumps(steps.out))
sys.stdout.flush()
