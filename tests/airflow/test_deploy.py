"""docker/: no Docker engine runs here, so the files are checked for what can break silently."""

from __future__ import annotations

import json

import yaml

from airflow_provider_dativo.hooks.iceberg_connection import catalog_properties
from tests.conftest import REPO


def test_compose_stack_is_consistent() -> None:
    compose = yaml.safe_load((REPO / "docker/compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "minio", "minio-init", "airflow-init", "airflow-apiserver",
            "airflow-scheduler", "airflow-dag-processor"} <= set(services)
    airflow = {n: s for n, s in services.items() if n.startswith("airflow-")}
    # one image, one JWT key, one database for every Airflow component
    assert {s["image"] for s in airflow.values()} == {"dativo-airflow:local"}
    envs = [s["environment"] for s in airflow.values()]
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
        assert len({e[key] for e in envs}) == 1, key
    assert envs[0]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
        "http://airflow-apiserver:8080/")
    assert services["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] == \
        "service_completed_successfully"
    # the lake connection is valid JSON that maps to a SQL catalog on MinIO
    lake = json.loads(envs[0]["AIRFLOW_CONN_LAKE"])
    props = catalog_properties(host=lake["host"], login=None, password=None,
                               extra=lake["extra"])
    assert props["type"] == "sql" and props["warehouse"] == "s3://lake/warehouse"
    assert props["s3.endpoint"] == "http://minio:9000"
    assert "CREATE DATABASE iceberg" in (REPO / "docker/postgres-init.sql").read_text()


def test_dockerfile_builds_on_airflow_3_3() -> None:
    text = (REPO / "docker/Dockerfile").read_text()
    # the official image unless the build names another base (tests/test_provider_image.py
    # builds it on the local one)
    assert "ARG BASE=apache/airflow:3.3" in text and "FROM ${BASE}" in text
    assert "pip install" in text and "constraints.txt" in text
