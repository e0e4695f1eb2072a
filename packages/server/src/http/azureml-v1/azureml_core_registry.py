"""azureml-core's registrations read back through the other clients, and its datastore and workspace
creation variants, in one process (issue 11). Prints one JSON line: {step: {"ok": value} | {"error": …}}.
Environment: see testing/python/azure_clients.py; WORKSPACE (an existing workspace), WORKDIR.
"""
import json
import os
import sys

from azure_clients import GROUP, SUBSCRIPTION, URL, Steps, cap_core_polling, core_auth, credential
from azureml.core import Workspace
from azureml.core.model import Model

cap_core_polling()
auth = core_auth()
name = os.environ["WORKSPACE"]
step = Steps()
os.chdir(os.environ["WORKDIR"])
ws = step("Workspace()", lambda: Workspace(SUBSCRIPTION, GROUP, name, auth=auth))

# Model.register of a folder: the registered model MLflow's client sees, with the same files.
os.makedirs("clf/sub", exist_ok=True)
with open("clf/model.pkl", "wb") as f:
    f.write(b"model-bytes")
with open("clf/sub/conda.yaml", "w") as f:
    f.write("name: clf\n")
r = step("Model.register(folder)", lambda: Model.register(ws, model_path="clf", model_name="shared-clf", tags={"area": "registry"}, description="registered by azureml-core"))
step("Model.register result", lambda: [r.name, r.version, r.tags, r.description])

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

os.environ["MLFLOW_TRACKING_TOKEN"] = credential.get_token(URL + "/.default").token
os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = os.environ["REQUESTS_CA_BUNDLE"]
mlflow.set_tracking_uri(f"{URL}/mlflow/v1.0/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/{name}")
client = MlflowClient()
step("mlflow get_registered_model", lambda: (lambda m: [m.name, [v.version for v in m.latest_versions]])(client.get_registered_model("shared-clf")))
step("mlflow get_model_version", lambda: (lambda v: [v.name, v.version, v.description, v.tags, v.status])(client.get_model_version("shared-clf", "1")))
step("mlflow search_model_versions", lambda: sorted(f"{v.name}:{v.version}" for v in client.search_model_versions("name='shared-clf'")))


def mlflow_files():
    root = mlflow.artifacts.download_artifacts(artifact_uri="models:/shared-clf/1", dst_path=os.path.abspath("from-mlflow"))
    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, root).replace(os.sep, "/")] = f.read().decode()
    return files


step("mlflow download_artifacts(models:/)", mlflow_files)
# What MLflow changes, azureml-core reads.
step("mlflow update_model_version", lambda: client.update_model_version("shared-clf", "1", description="edited by MLflow") and None)
step("mlflow set_model_version_tag", lambda: client.set_model_version_tag("shared-clf", "1", "checked", "yes"))
step("Model after MLflow edit", lambda: (lambda m: [m.description, m.tags])(Model(ws, "shared-clf", version=1)))


# Datastores registered, read and unregistered by azureml-core: the W/datastores ARM serves.
from azureml.core import Datastore  # noqa: E402

account, key = os.environ["ACCOUNT"], os.environ["ACCOUNT_KEY"]
blob = lambda **kw: Datastore.register_azure_blob_container(ws, "teamblob", container_name="team-data", account_name=account, **kw)  # noqa: E731
step("register_azure_blob_container(wrong key)", lambda: blob(account_key="bm90LWEta2V5"))
step("register_azure_blob_container", lambda: (lambda d: [d.name, d.datastore_type, d.container_name, d.account_name])(blob(account_key=key)))
step("register_azure_blob_container(again)", lambda: blob(account_key=key))
step("register_azure_blob_container(overwrite)", lambda: blob(account_key=key, overwrite=True).name)
step("register_azure_file_share(no key)", lambda: Datastore.register_azure_file_share(ws, "teamshare", file_share_name="team-share", account_name=account))
step("register_azure_file_share", lambda: (lambda d: [d.name, d.datastore_type, d.container_name])(Datastore.register_azure_file_share(ws, "teamshare", file_share_name="team-share", account_name=account, account_key=key)))
step("register_azure_blob_container(missing account)", lambda: Datastore.register_azure_blob_container(ws, "nowhere", container_name="x-data", account_name="nosuchacct", account_key=key))
step("Datastore.get", lambda: (lambda d: [d.name, d.account_key == key, d.container_name])(Datastore.get(ws, "teamblob")))
step("ws.datastores (registered)", lambda: sorted(ws.datastores.keys()))
step("unregister", lambda: Datastore.get(ws, "teamshare").unregister())
step("Datastore.get(unregistered)", lambda: Datastore.get(ws, "teamshare"))
step("unregister(system)", lambda: Datastore.get(ws, "workspaceblobstore").unregister())

# The other kinds azureml-core registers: the connection details kept, the credential sealed in the
# workspace's key vault (answered only to callers allowed secrets/read, as the blob keys).
sp = dict(tenant_id=os.environ["AZURE_TENANT_ID"], client_id=os.environ["AZURE_CLIENT_ID"], client_secret=os.environ["AZURE_CLIENT_SECRET"])
step("register_azure_sql_database", lambda: (lambda d: [d.name, d.datastore_type, d.server_name, d.database_name, d.username, d.password])(Datastore.register_azure_sql_database(ws, "salesdb", server_name="sales-srv", database_name="sales", tenant_id=None, client_id=None, client_secret=None, username="analyst", password="sql-Secret1")))
step("register_azure_sql_database(service principal)", lambda: (lambda d: [d.client_id == sp["client_id"], d.client_secret == sp["client_secret"]])(Datastore.register_azure_sql_database(ws, "salesdb_sp", server_name="sales-srv", database_name="sales", **sp)))
step("register_azure_postgre_sql", lambda: (lambda d: [d.datastore_type, d.server_name, d.database_name, d.user_id, d.user_password, d.port_number, d.enforce_ssl])(Datastore.register_azure_postgre_sql(ws, "pgdb", server_name="pg-srv", database_name="metrics", user_id="analyst", user_password="pg-Secret1", port_number="5433")))
step("register_azure_my_sql", lambda: (lambda d: [d.datastore_type, d.server_name, d.database_name, d.user_id, d.port_number])(Datastore.register_azure_my_sql(ws, "mydb", server_name="my-srv", database_name="shop", user_id="shop", user_password="my-Secret1")))
step("register_azure_my_sql(bad port)", lambda: Datastore.register_azure_my_sql(ws, "mydb2", server_name="my-srv", database_name="shop", user_id="shop", user_password="x", port_number="99999"))
step("register_azure_data_lake", lambda: (lambda d: [d.datastore_type, d.store_name, d.client_id, d.client_secret == sp["client_secret"]])(Datastore.register_azure_data_lake(ws, "lake1", store_name="teamlake", **sp)))
step("register_azure_data_lake_gen2", lambda: (lambda d: [d.datastore_type, d.container_name, d.account_name, d.client_id])(Datastore.register_azure_data_lake_gen2(ws, "lake2", filesystem="team-lake", account_name=account, protocol="https", endpoint="core.windows.net", **sp)))
step("register_azure_data_lake_gen2(wrong secret)", lambda: Datastore.register_azure_data_lake_gen2(ws, "lake2bad", filesystem="team-lake", account_name=account, protocol="https", endpoint="core.windows.net", **{**sp, "client_secret": "not-its-secret"}))
step("register_dbfs", lambda: (lambda d: [d.name, d.datastore_type])(Datastore.register_dbfs(ws, "dbfs1")))
step("register_hdfs", lambda: (lambda d: [d.datastore_type, d.protocol, d.namenode_address, d.kerberos_principal, getattr(d.credential_type, "value", d.credential_type), d.credential_value])(Datastore.register_hdfs(ws, "hdfs1", protocol="https", namenode_address="namenode.example:9871", hdfs_server_certificate=None, kerberos_realm="EXAMPLE.COM", kerberos_kdc_address="kdc.example", kerberos_principal="ml@EXAMPLE.COM", kerberos_password="krb-Secret1")))
step("set_as_default(sql)", lambda: Datastore.get(ws, "salesdb").set_as_default())
step("set_as_default(gen2)", lambda: (Datastore.get(ws, "lake2").set_as_default(), ws.get_default_datastore().name)[1])
step("set_as_default(blob again)", lambda: (ws.set_default_datastore("workspaceblobstore"), ws.get_default_datastore().name)[1])
step("ws.datastores (other kinds)", lambda: sorted([n, d.datastore_type] for n, d in ws.datastores.items() if n in ("salesdb", "salesdb_sp", "pgdb", "mydb", "lake1", "lake2", "dbfs1", "hdfs1")))
step("unregister(mysql)", lambda: Datastore.get(ws, "mydb").unregister())
step("Datastore.get(unregistered mysql)", lambda: Datastore.get(ws, "mydb"))

# Workspace.create's variants: no group creation, existing dependent resources; connection filters.
step("create(create_resource_group=False, missing group)", lambda: Workspace.create("lost-ws", auth=auth, subscription_id=SUBSCRIPTION, resource_group="no-such-group", location="eastus2", create_resource_group=False, show_output=False))
arm = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers"
step("create(storage_account, key_vault)", lambda: (lambda d: [d["storageAccount"], d["keyVault"]])(Workspace.create("byo-ws", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP, location="eastus2", storage_account=f"{arm}/Microsoft.Storage/storageAccounts/{account}", key_vault=f"{arm}/Microsoft.KeyVault/vaults/{os.environ['VAULT']}", show_output=False).get_details()))
step("create(missing storage_account)", lambda: Workspace.create("byo-bad", auth=auth, subscription_id=SUBSCRIPTION, resource_group=GROUP, location="eastus2", storage_account=f"{arm}/Microsoft.Storage/storageAccounts/nosuchacct", show_output=False))
step("set_connection(feed)", lambda: ws.set_connection("feed", "PythonFeed", "https://pypi.example/simple", "PAT", '{"pat":"t"}')["name"])
step("set_connection(git)", lambda: ws.set_connection("repo", "Git", "https://git.example/team.git", "PAT", '{"pat":"t"}')["name"])
# list_connections answers the str() of a list of dicts.
names = lambda c: sorted(x["name"] for x in __import__("ast").literal_eval(c))  # noqa: E731
step("list_connections()", lambda: names(ws.list_connections()))
step("list_connections(category)", lambda: names(ws.list_connections(category="PythonFeed")))
step("list_connections(target)", lambda: names(ws.list_connections(target="https://git.example/team.git")))
step("list_connections(category, target)", lambda: names(ws.list_connections(category="Git", target="https://pypi.example/simple")))

print(json.dumps(step.out, default=str))
sys.stdout.flush()
