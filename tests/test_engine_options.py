"""Engine ``options`` of a recipe are checked per engine by ``dativo validate``: a key the engine
does not read is an error at its line that names the keys it does read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dativo.config.schema_validation import load_schema
from airflow_provider_dativo.engines import ENGINES
from airflow_provider_dativo.engines.native import EXTRACTORS
from tests.conftest import REPO, write
from tests.test_cli import dativo


@pytest.mark.parametrize(("engine", "block", "line", "allowed"), [
    ("airbyte", "  command: source-x\n  options:\n    launchr: local\n", 7,
     "docker, docker_conn_id, launcher, sync_mode"),
    ("singer", "  command: tap-x\n  options:\n    replication-key: id\n", 7,
     "catalog_flag, docker, docker_conn_id, launcher, replication_key"),
    ("native", "  options:\n    extracter: http\n", 6, "extractor"),
    ("custom_plugin", "  plugin: m:C\n  options:\n    batch: 10\n", 7, "none"),
])
def test_an_unknown_option_names_the_allowed_ones(config_root: Path, engine: str, block: str,
                                                 line: int, allowed: str) -> None:
    write(config_root / "connectors/typo.yaml",
          f"type: typo\nversion: 1.0.0\ndefault_engine:\n  type: {engine}\n{block}")
    result = dativo(config_root, "validate")
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert f"connectors/typo.yaml:{line}: default_engine.options." in out, out
    assert f"allowed: {allowed}" in out, out


def test_an_unknown_docker_setting_and_a_wrong_value_are_errors(config_root: Path) -> None:
    write(config_root / "connectors/typo.yaml",
          "type: typo\nversion: 1.0.0\ndefault_engine:\n  type: airbyte\n  image: x:1\n"
          "engines:\n  singer:\n    type: singer\n    options:\n      docker: {memroy: 2g}\n"
          "      sync_mode: incremental\n")
    out = " ".join(dativo(config_root, "validate").stdout.split())
    assert "typo.yaml:10: engines.singer.options.docker.memroy: unknown field(s) 'memroy'" in out
    # sync_mode is the airbyte engine's, not singer's
    assert "typo.yaml:11: engines.singer.options.sync_mode: unknown field(s)" in out


def test_the_shipped_recipes_and_examples_validate() -> None:
    recipes = [str(p) for p in (REPO / "examples").rglob("connector*.yaml")]
    result = dativo(REPO, "validate", "connectors", *recipes)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_knows_every_engine_and_extractor() -> None:
    defs = load_schema("connector")["$defs"]
    assert {k.removesuffix("_options") for k in defs if k.endswith("_options")} == set(ENGINES)
    extractor = defs["native_options"]["properties"]["extractor"]
    assert sorted(extractor["enum"]) == sorted(EXTRACTORS), json.dumps(extractor)
