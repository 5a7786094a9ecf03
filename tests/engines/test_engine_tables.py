"""The engine tables: every engine and native extractor opens from a job and from a recipe, and
what is missing (an extractor, a driver) is named with the way to fix it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import ENGINES, engine_module, open_recipe_source
from airflow_provider_dativo.engines.native import EXTRACTORS
from airflow_provider_dativo.engines.native.postgres import open_postgres
from airflow_provider_dativo.errors import EngineError
from tests.conftest import REPO, write
from tests.test_cli import dativo

PACKAGE = REPO / "airflow_provider_dativo"


def test_every_engine_and_extractor_module_builds_from_a_job_and_a_recipe() -> None:
    from importlib import import_module

    for name in ENGINES:
        module = engine_module(name, "test")
        assert callable(module.from_job) and callable(module.from_recipe), name
    for name, module_name in EXTRACTORS.items():
        module = import_module(f"airflow_provider_dativo.engines.native.{module_name}")
        assert callable(module.from_job) and callable(module.from_recipe), name


def test_no_connector_name_in_the_engine_code() -> None:
    # connectors reach an extractor through their recipe (options.extractor), never by name
    # (jsonl and parquet are also file formats the engines read, iceberg a target)
    recipes = ({p.stem for p in (REPO / "connectors").glob("*.yaml")} - set(EXTRACTORS)
               - {"jsonl", "parquet", "iceberg"})
    assert "toy_http" in recipes
    for path in (PACKAGE / "engines").rglob("*.py"):
        strings = {n.value for n in ast.walk(ast.parse(path.read_text()))
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not strings & recipes, (path, strings & recipes)


def test_the_cli_picks_engines_from_the_table_only() -> None:
    for module in ("cli.py", "cli_connectors.py"):
        tree = ast.parse((PACKAGE / module).read_text())
        compared = {c.value for n in ast.walk(tree) if isinstance(n, ast.Compare)
                    for c in ast.walk(n) if isinstance(c, ast.Constant)}
        assert not compared & set(ENGINES), (module, compared & set(ENGINES))


def test_discover_markdown_kv_from_its_recipe(config_root: Path) -> None:
    write(config_root / "docs/notes/a.md", "---\nid: 1\ntitle: hello\n---\n# body\nstatus:: open\n")
    result = dativo(config_root, "discover", "--connector", "markdown_kv",
                    "--set", "path=docs/notes/*.md", "--columns", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"id": "string"' in result.stdout and '"status": "string"' in result.stdout


def test_a_recipe_on_an_unknown_extractor_names_the_known_ones(config_root: Path) -> None:
    recipe = ConfigRoot(config_root).recipe(
        write(config_root / "connectors/weird.yaml", "type: weird\nversion: 1.0.0\n"
              "default_engine:\n  type: native\n"))
    with pytest.raises(EngineError, match=r"no native extractor 'weird'.*file, http, markdown_kv"):
        open_recipe_source(config_root, recipe, "native", {})


def test_a_missing_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql.dbapi", None)
    source = open_postgres({"host": "127.0.0.1", "database": "postgres", "table": "t"})
    with pytest.raises(EngineError) as info:
        source.discover()
    assert "pip install 'airflow-provider-dativo[postgres]'" in str(info.value)
