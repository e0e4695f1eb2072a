"""Shared by the MLflow client scripts: named steps that record pass/fail and go on, so one run of a
script reports every feature that works and every one that does not (with the client's error).

The last line a script prints is `RESULT {json}`: passed steps, failed steps with their errors, and
ids the node test checks again through the REST API.
"""
import json
import sys
import traceback


class Blocked(Exception):
    """A step needs what an earlier, failed step should have made."""


class State(dict):
    """What steps hand to later steps; a missing entry blocks the step instead of failing it."""

    def __missing__(self, key):
        raise Blocked(f"needs '{key}' from an earlier step that failed")


class Steps:
    def __init__(self):
        self.passed = []
        self.failed = {}
        self.blocked = {}
        self.out = {}

    def step(self, name):
        """Decorator that runs the function at once as the step `name`."""

        def run(fn):
            try:
                fn()
                self.passed.append(name)
                print(f"PASS {name}", flush=True)
            except Blocked as e:
                self.blocked[name] = str(e)
                print(f"BLOCKED {name}: {e}", flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is a finding to report
                message = f"{type(e).__name__}: {e}".strip()
                self.failed[name] = message[:1500]
                print(f"FAIL {name}: {message[:1500]}", flush=True)
                traceback.print_exc(file=sys.stderr)
            return fn

        return run

    def finish(self):
        print("RESULT " + json.dumps({"passed": self.passed, "failed": self.failed, "blocked": self.blocked, **self.out}), flush=True)
        sys.exit(1 if self.failed or self.blocked else 0)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")
