"""`dativo new connector`: what it writes validates, and its generated test passes as is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import DativoError
from airflow_provider_dativo.scaffold import new_connector


@pytest.mark.parametrize(("name", "engine", "role"), [
    ("acme_crm", "airbyte", "source"),
    ("tap_widgets", "singer", "source"),
    ("orders_api", "native", "source"),
    ("my_reader", "custom_plugin", "source"),
    ("my_sink", "native", "target"),
])
def test_scaffold_validates_and_its_test_passes(config_root: Path, name: str, engine: str,
                                                role: str) -> None:
    made = new_connector(ConfigRoot(config_root), name, engine, role)
    assert {p.relative_to(config_root).as_posix() for p in made.files} >= {
        f"connectors/{name}.yaml", f"assets/{name}/v1.0/records.yaml",
        f"tests/fixtures/jobs/{name}.yaml", f"tests/connectors/test_{name}.py"}
    report = ConfigRoot(config_root).validate()
    assert report.all_issues() == []
    assert f"tests/fixtures/jobs/{name}.yaml" in report.files["job"]
    entry = ConfigRoot(config_root).registry()[name]
    assert entry.roles == (role,) and entry.default_engine == engine
    if engine == "custom_plugin":
        assert entry.modes == ("self_hosted",)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             f"tests/connectors/test_{name}.py"], cwd=config_root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout


def test_scaffold_refuses_an_existing_name(config_root: Path) -> None:
    with pytest.raises(DativoError, match=r"connector 'stripe' already exists \(registry"):
        new_connector(ConfigRoot(config_root), "stripe", "airbyte")
    before = (config_root / "registry/connectors.yaml").read_text()
    with pytest.raises(DativoError, match="not a valid connector name"):
        new_connector(ConfigRoot(config_root), "Bad-Name", "native")
    assert (config_root / "registry/connectors.yaml").read_text() == before
