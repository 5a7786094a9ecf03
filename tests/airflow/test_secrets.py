"""Secrets never leak: a job whose credentials come from an Airflow connection, a Variable and an
environment variable runs through ``airflow dags test`` against S3 (moto's server); afterwards no
secret appears in the task logs, console output, XCom, rendered template fields, the DAG's docs,
or anywhere in Airflow's metadata database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_dativo.config import airflow_refs
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import airflow, write
from tests.services import S3Server

pytestmark = pytest.mark.airflow

S3_SECRET = "s3-Secret-Value-7f3a9c01"  # the catalog's S3 secret key: used for real
VAR_SECRET = "var-Secret-Value-55e1d2aa"  # from an Airflow Variable
CONN_SECRET = "conn-Password-Value-0b9d"  # an Airflow connection's password
EXTRA_SECRET = "conn-Extra-Token-c3f81e"  # an Airflow connection's extra
ENV_SECRET = "env-Secret-Value-91ab4c"  # a ${VAR} under a credential key
SECRETS = (S3_SECRET, VAR_SECRET, CONN_SECRET, EXTRA_SECRET, ENV_SECRET)

JOB = "jobs/acme/orders.yaml"


def secret_job(config_root: Path, extra_ref: str = "token") -> None:
    path = config_root / JOB
    text = path.read_text().replace("""    path: examples/data/orders/*.csv
""", f"""    path: examples/data/orders/*.csv
    # resolved at run time; the file source ignores them, resolution must still succeed
    api_token: "${{var:orders_token}}"
    api_password: "${{conn:orders_api.password}}"
    api_extra: "${{conn:orders_api.extra.{extra_ref}}}"
    password: "${{ORDERS_ENV_SECRET}}"
""") + """target:
  connection:
    catalog: {conn_id: lake}
"""
    write(path, text)


def secret_env(airflow_env: dict[str, str], s3: S3Server, tmp_path: Path) -> dict[str, str]:
    bucket = s3.new_bucket()
    lake = {
        "conn_type": "dativo_iceberg",
        "host": f"sqlite:///{tmp_path / 'lake_catalog.db'}",
        "extra": {
            "catalog_type": "sql",
            "warehouse": f"s3://{bucket}/warehouse",
            "properties": json.dumps({"s3.endpoint": s3.endpoint, "s3.region": s3.region,
                                      "s3.access-key-id": "testing",
                                      "s3.secret-access-key": S3_SECRET}),
        },
    }
    api = {"conn_type": "http", "host": "api.example", "login": "svc",
           "password": CONN_SECRET, "extra": {"token": EXTRA_SECRET}}
    env = {k: v for k, v in airflow_env.items() if not k.startswith("AWS_")}
    return {
        **env,
        "AIRFLOW_CONN_LAKE": json.dumps(lake),
        "AIRFLOW_CONN_ORDERS_API": json.dumps(api),
        "AIRFLOW_VAR_ORDERS_TOKEN": VAR_SECRET,
        "ORDERS_ENV_SECRET": ENV_SECRET,
        # moto checks no signature, so the secret key is used for real yet any value works
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        # INFO, Airflow's default: at DEBUG, the in-process supervisor of `airflow dags test`
        # logs each mask request with the value it masks (Airflow's own code, for its own
        # connection lookups too), so DEBUG logs are not fit for production anyway
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # OpenLineage events go to a file: checked for lineage, and scanned for secrets too
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(tmp_path / "openlineage.jsonl"),
             "append": True}),
    }


def leaks(env: dict[str, str], output: str) -> dict[str, list[str]]:
    """Where each secret shows up: console output, log files, or the metadata database."""
    home = Path(env["AIRFLOW_HOME"])
    places = {"console": output}
    for log in (home / "logs").rglob("*"):
        if log.is_file():
            places[str(log.relative_to(home))] = log.read_text(errors="replace")
    # the whole database file, compressed serialized DAGs aside, covers XCom and rendered fields
    lineage = Path(env["AIRFLOW__OPENLINEAGE__TRANSPORT"].split('"log_file_path": "')[1]
                   .split('"')[0])
    places["openlineage events"] = lineage.read_text() if lineage.exists() else ""
    places["airflow.db"] = (home / "airflow.db").read_bytes().decode("latin-1")
    with sqlite3.connect(home / "airflow.db") as db:
        for table in ("xcom", "rendered_task_instance_fields", "dag_code", "dag"):
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            places[f"table {table}"] = repr(rows)
    return {s: [where for where, text in places.items() if s in text] for s in SECRETS
            if any(s in text for text in places.values())}


def test_no_secret_reaches_logs_xcom_or_rendered_fields(
        airflow_env: dict[str, str], config_root: Path, s3_server: S3Server,
        tmp_path: Path) -> None:
    secret_job(config_root)
    env = secret_env(airflow_env, s3_server, tmp_path)
    result = airflow(env, "dags", "test", "dativo__acme__orders")
    output = result.stdout + result.stderr
    assert "committed 8 rows" in output

    home = Path(env["AIRFLOW_HOME"])
    with sqlite3.connect(home / "airflow.db") as db:
        xcoms = dict(db.execute("SELECT task_id, value FROM xcom").fetchall())
        rendered = db.execute("SELECT task_id, rendered_fields FROM "
                              "rendered_task_instance_fields").fetchall()
    assert {"validate", "extract", "load"} <= set(xcoms)  # the manifests really are there
    assert len(rendered) == 3
    assert "s3://" in str(xcoms["extract"])  # files landed on S3 through the connection
    assert leaks(env, output) == {}
    assert_lineage(tmp_path / "openlineage.jsonl", config_root)


def assert_lineage(events_file: Path, config_root: Path) -> None:
    """extract reads the CSV files, load writes the Iceberg table (catalog, namespace.table)."""
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line]
    done = {e["job"]["name"].rsplit(".", 1)[-1]: e for e in events
            if e.get("eventType") == "COMPLETE" and "." in e["job"]["name"]}
    extract, load = done["extract"], done["load"]
    assert [(d["namespace"], d["name"]) for d in extract["inputs"]] == [
        ("file", str(config_root / "examples/data/orders/*.csv"))]
    assert ("iceberg://lake", "acme.orders") in [(d["namespace"], d["name"])
                                                  for d in load["outputs"]]


def test_a_missing_reference_fails_without_showing_any_value(
        airflow_env: dict[str, str], config_root: Path, s3_server: S3Server,
        tmp_path: Path) -> None:
    secret_job(config_root, extra_ref="missing")
    env = secret_env(airflow_env, s3_server, tmp_path)
    result = airflow(env, "dags", "test", "dativo__acme__orders", check=False)
    output = result.stdout + result.stderr
    assert "Airflow connection 'orders_api' has no extra 'missing' (it has: token)" in output
    assert leaks(env, output) == {}


def test_airflow_references_need_airflow(config_root: Path) -> None:
    """Outside a task there is no resolver: the reference is named, never guessed."""
    secret_job(config_root)
    job = ConfigRoot(config_root).load_job(JOB)  # parsing never resolves
    assert job.source_connection["api_token"] == "${var:orders_token}"
    with pytest.raises(ConfigError, match=r"var:orders_token\} is an Airflow reference"):
        job.resolved_source_connection({"ORDERS_ENV_SECRET": "x"})
    with pytest.raises(ConfigError, match="catalog connection 'lake'"):
        job.resolved_target_connection({})

    class Fake:  # the lookups of AirflowResolver, answered from a dict
        def variable(self, key: str) -> str:
            return {"orders_token": "tok"}[key]

        def connection_field(self, conn_id: str, field: str) -> str:
            return f"{conn_id}/{field}"

        def catalog_properties(self, conn_id: str) -> dict[str, str]:
            return {"type": "sql", "uri": "sqlite://"}

    with airflow_refs.using(Fake()):
        resolved = job.resolved_source_connection({"ORDERS_ENV_SECRET": "x"})
        target = job.resolved_target_connection({})
    assert resolved["api_token"] == "tok" and resolved["password"] == "x"
    assert resolved["api_extra"] == "orders_api/extra.token"
    assert target["catalog"] == {"name": "lake", "type": "sql", "uri": "sqlite://"}



def test_every_resolved_secret_reaches_airflows_masker(config_root: Path) -> None:
    """Airflow's task logs pass through Airflow's own secrets masker. A key written in the job
    itself (not a ${VAR} the recipe names), a header and a URL password are secrets by the one
    rule: resolving the connection inside a task registers them there too, so the line the HTTP
    library logs for each request (its URL, query string included) is masked in the task log."""
    from airflow.sdk.log import redact

    from airflow_provider_dativo.operators.secrets import mask_job_secrets

    rel = "jobs/examples/toy_http_tickets_native.yaml"
    text = (config_root / rel).read_text().replace(
        '    api_key: "${TOY_HTTP_API_KEY}"\n', "").replace(
        "auth: {type: api_key, header: X-API-Key}",
        "auth: {type: api_key, query_param: key, value: literal-Key-2f9c1e}\n"
        "    headers: {X-Tenant-Token: literal-Header-77ab01}\n"
        "    proxy: http://svc:literal-Proxy-Pw-5c3d@proxy:3128")
    job = ConfigRoot(config_root).load_job(write(config_root / rel, text))
    line = ("HTTP Request: GET http://127.0.0.1:9/tickets?page=1&key=literal-Key-2f9c1e "
            "headers=literal-Header-77ab01 via literal-Proxy-Pw-5c3d")
    assert redact(line) == line  # nothing is known to Airflow's masker yet
    mask_job_secrets(job)  # what each operator does first
    job.resolved_source_connection({})  # what the runner does inside the task
    masked = redact(line)
    for secret in ("literal-Key-2f9c1e", "literal-Header-77ab01", "literal-Proxy-Pw-5c3d"):
        assert secret not in masked
    assert masked.startswith("HTTP Request: GET http://127.0.0.1:9/tickets?page=1&key=")
