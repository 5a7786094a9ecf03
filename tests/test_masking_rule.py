"""The one secret rule as connectors extend it, and the one masker for what sources report."""

from __future__ import annotations

import pytest

from airflow_provider_dativo import masking, nested
from airflow_provider_dativo.engines.native.http import HttpSourceConfig
from airflow_provider_dativo.engines.native.postgres import open_postgres
from airflow_provider_dativo.errors import EngineError

SPEC = {"connectionSpecification": {"type": "object", "properties": {
    "host": {"type": "string"},
    "credentials": {"oneOf": [
        {"properties": {"pem_blob": {"type": "string", "airbyte_secret": True},
                        "client_id": {"type": "string"}}},
        {"properties": {"refresh": {"type": "string", "airbyte_secret": True}}},
    ]},
}}}


def test_keys_a_connector_spec_marks_secret_are_secret_names() -> None:
    assert masking.declared_secret_keys(SPEC) == {"pem_blob", "refresh"}
    config = {"host": "db.example", "credentials": {"client_id": "client-7", "pem_blob": "BLOB-1",
                                                    "password": "pw-2"},
              "list": [{"refresh": "RF-3"}]}
    assert masking.secret_values(config) == ["pw-2"]  # the rule alone
    assert sorted(masking.secret_values(
        config, secret_keys=masking.declared_secret_keys(SPEC))) == ["BLOB-1", "RF-3", "pw-2"]


def test_env_secrets_are_the_values_of_named_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASKING_RULE_TOKEN", "tok-123456")
    monkeypatch.delenv("MASKING_RULE_UNSET", raising=False)
    assert masking.env_secrets(["MASKING_RULE_TOKEN", "MASKING_RULE_UNSET"]) == ["tok-123456"]


def test_http_auth_secrets_follow_the_rule() -> None:
    def secrets(auth: dict) -> tuple[str, ...]:
        return HttpSourceConfig.from_connection({"base_url": "http://127.0.0.1:1/x",
                                                 "auth": auth}).secrets

    assert secrets({"type": "basic", "username": "ann", "password": "pw-9"}) == ("pw-9",)
    assert secrets({"type": "api_key", "header": "X-Key", "value": "key-8"}) == ("key-8",)
    assert secrets({"type": "bearer", "token": "tok-7"}) == ("tok-7",)


def test_a_database_error_never_shows_the_password() -> None:
    source = open_postgres({"host": "127.0.0.1", "port": 5432, "user": "nobody_here",
                            "password": "Pw-masking-rule", "database": "no_such_db_masking",
                            "table": "t"})

    def fail() -> None:
        raise RuntimeError(  # as a driver raises its own errors
            "connection to postgresql://nobody_here:Pw-masking-rule@127.0.0.1 failed; "
            "password Pw-masking-rule refused")

    with pytest.raises(EngineError) as err:
        source.guarded("check", fail)
    assert "Pw-masking-rule" not in str(err.value)
    assert "postgresql://nobody_here:***@127.0.0.1" in str(err.value)


def test_the_walk_yields_every_value_with_its_path() -> None:
    tree = {"a": [1, {"b": "x"}], 2: None}
    assert list(nested.nodes(tree)) == [
        ((), tree), (("a",), [1, {"b": "x"}]), (("a", 0), 1), (("a", 1), {"b": "x"}),
        (("a", 1, "b"), "x"), (("2",), None)]
    assert nested.keys_of(("a", 1, "b")) == ["a", "b"]
    assert list(nested.strings(tree)) == ["x"]
