"""``aws_conn_id``: a job's S3 credentials, region and endpoint come from an Airflow AWS
connection through the Amazon provider's hook, inside a task only, and are never logged, kept
in XCom or rendered; outside Airflow the reference is an error naming it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from airflow_provider_dativo.config import aws_refs
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import airflow
from tests.services import S3Server

pytestmark = pytest.mark.airflow

ACCESS_KEY = "AKIA-dativo-conn-7f31"
SECRET_KEY = "aws-Conn-Secret-5c2e9d70"
JOB = "jobs/acme/orders.yaml"


def aws_job(config_root: Path, bucket: str) -> None:
    """The orders job reading its CSV files from S3 and landing them there, both sides with
    the same Airflow AWS connection."""
    path = config_root / JOB
    text = path.read_text().replace(
        "    path: examples/data/orders/*.csv\n",
        f"    path: s3://{bucket}/in/*.csv\n    aws_conn_id: lake_aws\n")
    path.write_text(text + f"""staging:
  root: s3://{bucket}/staging
target:
  connection:
    aws_conn_id: lake_aws
    catalog:
      type: sql
      uri: sqlite:///{config_root / "lake.db"}
      warehouse: s3://{bucket}/lake
""")


def test_outside_airflow_the_reference_is_an_error_naming_it(config_root: Path) -> None:
    aws_job(config_root, "some-bucket")
    job = ConfigRoot(config_root).load_job(JOB)
    with pytest.raises(ConfigError) as info:
        job.resolved_target_connection()
    [issue] = info.value.issues
    assert issue.path == "target.connection.aws_conn_id"
    with pytest.raises(ConfigError, match=r"source\.connection\.aws_conn_id"):
        job.resolved_source_connection()
    assert "aws_conn_id 'lake_aws'" in issue.message and "Airflow task" in issue.message


def test_the_blocks_that_talk_to_aws_get_the_connections_values() -> None:
    creds = aws_refs.AwsCredentials("AK", "SK", "TOK", "eu-west-1", "http://s3.local",
                                    "http://glue.local")
    out = aws_refs.expand({"aws_conn_id": "x", "catalog": {"type": "glue",
                                                           "s3.region": "us-east-2"}}, creds)
    assert "aws_conn_id" not in out
    assert out["catalog"]["s3.region"] == "us-east-2"  # written in the job: it wins
    assert out["catalog"]["s3.session-token"] == "TOK"
    assert out["catalog"]["glue.endpoint"] == "http://glue.local"
    assert out["storage"]["s3.endpoint"] == "http://s3.local"
    assert out["s3"] == {"access_key_id": "AK", "secret_access_key": "SK",
                         "session_token": "TOK", "region": "eu-west-1",
                         "endpoint": "http://s3.local"}


def test_a_job_lands_on_s3_with_the_airflow_aws_connection(
        airflow_env: dict[str, str], config_root: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    aws_job(config_root, bucket)
    for csv in sorted((config_root / "examples/data/orders").glob("*.csv")):
        s3_server.client().put_object(Bucket=bucket, Key=f"in/{csv.name}",
                                      Body=csv.read_bytes())
    conn = {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
            "extra": {"region_name": s3_server.region, "endpoint_url": s3_server.endpoint}}
    # no AWS_* variables: endpoint and keys can only come from the connection
    env = {k: v for k, v in airflow_env.items() if not k.startswith("AWS_")}
    env |= {"AIRFLOW_CONN_LAKE_AWS": json.dumps(conn), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    result = airflow(env, "dags", "test", "dativo__acme__orders")
    output = result.stdout + result.stderr
    assert "committed 8 rows" in output

    s3 = pafs.S3FileSystem(endpoint_override=s3_server.endpoint.removeprefix("http://"),
                           scheme="http", access_key="testing", secret_key="testing",
                           region=s3_server.region)
    files = s3.get_file_info(pafs.FileSelector(f"{bucket}/lake", recursive=True))
    data = [f.path for f in files if f.path.endswith(".parquet")]
    assert data, "no data file reached the bucket"
    assert sum(pq.read_metadata(p, filesystem=s3).num_rows for p in data) == 8
    staged = s3.get_file_info(pafs.FileSelector(f"{bucket}/staging", recursive=True))
    assert any(f.path.endswith("manifest.json") for f in staged)

    home = Path(env["AIRFLOW_HOME"])
    places = {"console": output}
    for log in (home / "logs").rglob("*"):
        if log.is_file():
            places[str(log)] = log.read_text(errors="replace")
    with sqlite3.connect(home / "airflow.db") as db:
        for table in ("xcom", "rendered_task_instance_fields"):
            places[table] = repr(db.execute(f"SELECT * FROM {table}").fetchall())
    assert places["xcom"] != "[]"
    leaked = {where for where, text in places.items() if SECRET_KEY in text or
              ACCESS_KEY in text}
    assert leaked == set()
