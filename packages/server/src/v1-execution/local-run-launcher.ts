/**
 * The launcher of an azureml-core local run (written into the invocation zip as
 * `azureml-setup/atelier_local_run.py`; see its docstring). Kept as text here so the server ships it
 * with its code whatever bundles it.
 */
export const LOCAL_RUN_LAUNCHER = String.raw`"""Atelier: runs the script of an azureml-core local run (compute_target='local') on the caller's
machine, as the invocation zip's Invocation.sh starts it (in the run's project copy), and reports the
run to the server: Running when the script starts; at its end the metrics its Run.get_context()
queued, the files it wrote to ./outputs and ./logs, this log (azureml-logs/70_driver_log.txt), then
Completed, or the error and Failed. The events are posted with the standard library, so a run whose
interpreter cannot import azureml-core still ends (Failed, saying so) instead of staying Running.
--failed MESSAGE only reports the run Failed (Invocation.sh, when this launcher could not run).
"""
import datetime
import json
import os
import runpy
import ssl
import sys
import traceback
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPORTED = os.path.join(HERE, ".reported")
LOG = os.path.join("azureml-logs", "70_driver_log.txt")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(name, **data):
    e = os.environ
    url = "%s/history/v1.0/subscriptions/%s/resourceGroups/%s/providers/Microsoft.MachineLearningServices/workspaces/%s/experiments/%s/runs/%s/events" % (
        e["AZUREML_SERVICE_ENDPOINT"],
        urllib.parse.quote(e["AZUREML_ARM_SUBSCRIPTION"], safe=""),
        urllib.parse.quote(e["AZUREML_ARM_RESOURCEGROUP"], safe=""),
        urllib.parse.quote(e["AZUREML_ARM_WORKSPACE_NAME"], safe=""),
        urllib.parse.quote(e["AZUREML_ARM_PROJECT_NAME"], safe=""),
        urllib.parse.quote(e["AZUREML_RUN_ID"], safe=""),
    )
    body = json.dumps({"timestamp": _now(), "name": name, "data": dict(RunId=e["AZUREML_RUN_ID"], **data)})
    request = urllib.request.Request(
        url,
        body.encode("utf-8"),
        {"Authorization": "Bearer " + e["AZUREML_RUN_TOKEN"], "Content-Type": "application/json"},
        method="POST",
    )
    ca = e.get("REQUESTS_CA_BUNDLE") or e.get("SSL_CERT_FILE")
    context = ssl.create_default_context(cafile=ca) if ca and url.startswith("https:") else None
    urllib.request.urlopen(request, context=context, timeout=120).read()


def finish(error):
    if error:
        event("Microsoft.MachineLearning.Run.Error", ErrorResponse={"error": {"code": "UserError", "message": error}})
        event("Microsoft.MachineLearning.Run.Failed", EndTime=_now())
    else:
        event("Microsoft.MachineLearning.Run.Completed", EndTime=_now())
    open(REPORTED, "w").close()


def upload():
    """The run's files, through azureml-core's own upload (the run's metrics flushed first)."""
    from azureml.core import Run

    run = Run.get_context()
    run.flush()
    for folder in ("outputs", "logs"):
        names, paths = [], []
        for root, _, files in os.walk(folder):
            for f in files:
                p = os.path.join(root, f)
                names.append(os.path.relpath(p).replace(os.sep, "/"))
                paths.append(p)
        if names:
            run.upload_files(names, paths)
    sys.stdout.flush()
    sys.stderr.flush()
    run.upload_file("azureml-logs/70_driver_log.txt", LOG)


def main(argv):
    if argv[:1] == ["--failed"]:
        finish(argv[1] if len(argv) > 1 else "the run's process ended without reporting")
        return 1
    event("Microsoft.MachineLearning.Run.Start", StartTime=_now())
    script, args = argv[0], argv[1:]
    sys.argv = [script] + args
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    error = None
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            error = "the script exited with code %s" % (e.code,)
    except BaseException as e:  # the script's own failure: its traceback goes to the log
        traceback.print_exc()
        error = "User program failed with %s: %s" % (type(e).__name__, e)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        upload()
    except BaseException as e:
        traceback.print_exc()
        error = error or "the run's files could not be uploaded (%s: %s)" % (type(e).__name__, e)
    finish(error)
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
`;
