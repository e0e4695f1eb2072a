"""What a client that cannot get in is told, in one process (an interpreter start of mlflow costs
seconds): `mlflow.search_experiments()` with a wrong token, a wrong password and no credentials at
the tracking URI, and with a valid token at the server's root instead of a tracking URI. The client
reads its credentials from the environment at every request, so each case sets them before its call.

Usage: python refusals.py <tracking URI> <server root> <valid token>
Prints `RESULT {json}`: for each case, the traceback the call raised, or null when it was let in.
"""
import json
import os
import sys
import traceback

import mlflow

tracking_uri, root, token = sys.argv[1:4]
CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
cases = {
    "wrong token": (tracking_uri, {"MLFLOW_TRACKING_TOKEN": "not-a-token"}),
    "wrong password": (tracking_uri, {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "wrong"}),
    "no credentials": (tracking_uri, {}),
    "server root": (root, {"MLFLOW_TRACKING_TOKEN": token}),
}
out = {}
for name, (uri, credentials) in cases.items():
    for k in CREDENTIALS:
        os.environ.pop(k, None)
    os.environ.update(credentials)
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.search_experiments()
        out[name] = None
    except Exception:  # noqa: BLE001 - the error is what the test reads
        out[name] = traceback.format_exc()
print("RESULT " + json.dumps(out), flush=True)
