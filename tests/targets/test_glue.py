"""The Glue catalog for real: pyiceberg's ``type: glue`` against moto's Glue and S3 server on
127.0.0.1. A job creates its table, appends, evolves its schema and upserts through Glue, a
retried load commits nothing twice, and the table's governance is in Glue's table parameters
(where pyiceberg writes table properties) and its column descriptions in Glue's column comments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyiceberg.catalog import load_catalog

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import airflow, write
from tests.governance.conftest import ASSET, JOB
from tests.services import S3Server

REL = "jobs/acme/gov_orders.yaml"


def glue_catalog(s3: S3Server, bucket: str) -> dict[str, str]:
    keys = {"access-key-id": s3.access_key, "secret-access-key": s3.secret_key,
            "region": s3.region, "endpoint": s3.endpoint}
    return {"type": "glue", "warehouse": f"s3://{bucket}/lake",
            **{f"glue.{k}": v for k, v in keys.items()}, **{f"s3.{k}": v for k, v in keys.items()}}


@pytest.fixture
def glue_job(config_root: Path, s3_server: S3Server
             ) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """The governed orders job (contract, recipe and job governance) on a Glue catalog. Its
    database is the tenant's (a Glue database has no dots, so no namespace below it), and
    moto's server is shared by the session's tests: the database goes afterwards."""
    bucket = s3_server.new_bucket()
    catalog = glue_catalog(s3_server, bucket)
    database = "acme"
    write(config_root / "assets/file/v1.0/gov_orders.yaml", ASSET)
    recipe = config_root / "connectors/iceberg.yaml"
    recipe.write_text(recipe.read_text() + "governance:\n  project: lakehouse\n")
    job = yaml.safe_load(JOB.format(target="iceberg"))
    job["target"] = {"connection": {"catalog": catalog, "namespace": database}}
    write(config_root / REL, yaml.safe_dump(job))
    yield config_root, database, catalog
    glue = s3_server.client("glue")
    for table in glue.get_tables(DatabaseName=database)["TableList"]:
        glue.delete_table(DatabaseName=database, Name=table["Name"])
    glue.delete_database(Name=database)


def glue_table(s3: S3Server, database: str) -> dict[str, Any]:
    return s3.client("glue").get_table(DatabaseName=database, Name="gov_orders")["Table"]


def test_a_job_lands_through_glue_once_with_its_governance_in_glue(
        glue_job: tuple[Path, str, dict[str, str]], s3_server: S3Server) -> None:
    root, database, catalog = glue_job
    job = ConfigRoot(root).load_job(REL)
    manifest, result = runner.run_job(job, "glue-1")
    assert result.committed and result.rows == 8
    assert not runner.load_step(job, manifest).committed  # the same run id: a no-op

    # read back through a catalog of its own, as another engine would
    table = load_catalog("reader", **catalog).load_table(f"{database}.gov_orders")
    rows = table.scan().to_arrow()
    assert sorted(rows.column("order_id").to_pylist()) == list(range(1001, 1009))
    assert len(table.history()) == 1

    glue = glue_table(s3_server, database)
    params = glue["Parameters"]
    assert params["table_type"] == "ICEBERG"
    assert params["metadata_location"] == table.metadata_location
    assert params["dativo.owner"] == "job-owner@acme.example"  # the job over the contract
    assert params["dativo.classification"] == "confidential"
    assert params["dativo.retention_days"] == "730"
    assert params["dativo.governance.cost_centre"] == "CC-42"
    assert params["dativo.governance.project"] == "lakehouse"  # the recipe's default
    assert params["dativo.column.customer_email.classification"] == "PII"
    assert params["dativo.column.customer_email.tags"] == "contact,gdpr"
    assert params["dativo.column.status.classification"] == "public"  # the job's override
    comments = {c["Name"]: c.get("Comment") for c in glue["StorageDescriptor"]["Columns"]}
    assert comments["order_id"] == "Shop order number."


def test_schema_evolution_and_upsert_through_glue(
        glue_job: tuple[Path, str, dict[str, str]], s3_server: S3Server) -> None:
    root, database, catalog = glue_job
    runner.run_job(ConfigRoot(root).load_job(REL), "glue-1")

    # the contract gains a column and the job upserts on the primary key: two rows change
    asset = root / "assets/file/v1.0/gov_orders.yaml"
    asset.write_text(asset.read_text().replace(
        "      - name: ordered_at\n",
        "      - name: channel\n        logicalType: string\n        description: Where.\n"
        "      - name: ordered_at\n"))
    job_doc = yaml.safe_load((root / REL).read_text())
    job_doc["target"]["write_mode"] = "upsert"
    job_doc["source"]["connection"]["path"] = "examples/data/changed/*.csv"
    write(root / REL, yaml.safe_dump(job_doc))
    write(root / "examples/data/changed/a.csv",
          "order_id,customer_email,status,amount,currency,channel,ordered_at\n"
          "1001,ana@example.com,refunded,120.50,EUR,web,2026-11-25T08:15:00Z\n"
          "1009,eve@example.com,paid,5.00,EUR,shop,2026-11-27T08:00:00Z\n")
    _, result = runner.run_job(ConfigRoot(root).load_job(REL), "glue-2")
    assert result.committed and result.rows == 2

    table = load_catalog("reader", **catalog).load_table(f"{database}.gov_orders")
    rows = {r["order_id"]: r for r in table.scan().to_arrow().to_pylist()}
    assert sorted(rows) == list(range(1001, 1010))
    assert (rows[1001]["status"], rows[1001]["channel"]) == ("refunded", "web")
    assert rows[1002]["channel"] is None and rows[1009]["channel"] == "shop"
    glue = glue_table(s3_server, database)
    assert glue["Parameters"]["metadata_location"] == table.metadata_location
    columns = {c["Name"]: c for c in glue["StorageDescriptor"]["Columns"]}
    assert columns["channel"]["Type"] == "string"
    assert columns["channel"].get("Comment") == "Where."


@pytest.mark.airflow
def test_glue_through_an_airflow_aws_connection(
        glue_job: tuple[Path, str, dict[str, str]], s3_server: S3Server,
        airflow_env: dict[str, str]) -> None:
    """``aws_conn_id`` on the target: Glue's and S3's keys, region and endpoint come from the
    Airflow connection (the Amazon provider's hook), nothing from the job or the environment."""
    root, database, catalog = glue_job
    job_doc = yaml.safe_load((root / REL).read_text())
    job_doc["target"]["connection"] = {
        "aws_conn_id": "lake_aws", "namespace": database,
        "catalog": {"type": "glue", "warehouse": catalog["warehouse"]}}
    write(root / REL, yaml.safe_dump(job_doc))
    conn = {"conn_type": "aws", "login": "AKIA-glue-conn", "password": "glue-Conn-Secret-1f",
            "extra": {"region_name": s3_server.region, "endpoint_url": s3_server.endpoint}}
    env = {k: v for k, v in airflow_env.items() if not k.startswith("AWS_")}
    env |= {"AIRFLOW_CONN_LAKE_AWS": json.dumps(conn), "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    result = airflow(env, "dags", "test", "dativo__acme__gov_orders")
    output = result.stdout + result.stderr
    assert "committed 8 rows" in output
    assert "glue-Conn-Secret-1f" not in output

    table = load_catalog("reader", **catalog).load_table(f"{database}.gov_orders")
    assert table.scan().to_arrow().num_rows == 8
    params = glue_table(s3_server, database)["Parameters"]
    assert params["metadata_location"] == table.metadata_location
    assert params["dativo.owner"] == "job-owner@acme.example"
