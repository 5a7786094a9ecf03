"""The Iceberg catalog connection type: registered with its form, mapped to pyiceberg
properties, and tested against a real catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dativo import get_provider_info
from airflow_provider_dativo.hooks.iceberg_connection import catalog_properties
from airflow_provider_dativo.masking import secret_values

pytestmark = pytest.mark.airflow


def test_fields_become_pyiceberg_properties() -> None:
    props = catalog_properties(
        host="https://catalog.example/api", login="client", password="s3cret-value",
        extra={"catalog_type": "rest", "warehouse": "lake",
               "properties": '{"s3.endpoint": "http://minio:9000", "s3.secret-access-key": "k"}'})
    assert props == {"type": "rest", "uri": "https://catalog.example/api", "warehouse": "lake",
                     "credential": "client:s3cret-value", "s3.endpoint": "http://minio:9000",
                     "s3.secret-access-key": "k"}
    assert set(secret_values(props)) == {"client:s3cret-value", "k"}
    token = catalog_properties(host=None, login=None, password="tok",
                               extra={"extra__dativo_iceberg__catalog_type": "glue"})
    assert token == {"type": "glue", "token": "tok"}
    url = catalog_properties(host="postgresql+psycopg://u:pw-123@db/ice", login=None,
                             password=None, extra={"catalog_type": "sql"})
    assert "pw-123" in secret_values(url)


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "names no catalog type"),
    ({"catalog_type": "sql", "properties": "{not json"}, "must be a JSON object"),
    ({"catalog_type": "sql", "properties": "[1]"}, "JSON object"),
])
def test_bad_connections_say_what_to_fix(extra: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        catalog_properties(host=None, login=None, password=None, extra=extra)


def test_the_connection_type_is_registered_with_its_form() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    info = get_provider_info()["connection-types"][0]
    assert info["connection-type"] == "dativo_iceberg"
    hook = ProvidersManagerTaskRuntime().hooks["dativo_iceberg"]
    pm = ProvidersManager()
    assert hook is not None and hook.connection_testable
    assert hook.hook_class_name == "airflow_provider_dativo.hooks.iceberg.IcebergCatalogHook"
    assert pm.field_behaviours["dativo_iceberg"]["relabeling"]["host"] == "Catalog URI"
    assert {"extra__dativo_iceberg__catalog_type", "extra__dativo_iceberg__warehouse",
            "extra__dativo_iceberg__properties"} <= set(pm.connection_form_widgets)


def test_test_connection_reaches_a_real_catalog(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dativo.hooks.iceberg import IcebergCatalogHook

    good = {"conn_type": "dativo_iceberg", "host": f"sqlite:///{tmp_path / 'catalog.db'}",
            "extra": {"catalog_type": "sql", "warehouse": (tmp_path / "wh").as_uri()}}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_OK", json.dumps(good))
    hook = IcebergCatalogHook("lake_ok")
    hook.get_conn().create_namespace("acme")
    assert hook.test_connection() == (True, "catalog reachable; 1 namespace(s)")

    bad = {**good, "host": f"sqlite:///{tmp_path / 'missing' / 'catalog.db'}"}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_BAD", json.dumps(bad))
    ok, message = IcebergCatalogHook("lake_bad").test_connection()
    assert not ok and "unable to open database file" in message
