"""Every shipped connector has its own test file, as the connector guide expects."""

from __future__ import annotations

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import REPO
from tests.connectors.common import check_connector

CONNECTORS = sorted(p.stem for p in (REPO / "connectors").glob("*.yaml"))


@pytest.mark.parametrize("name", CONNECTORS)
def test_every_connector_has_a_test_file_and_valid_configs(name: str) -> None:
    assert (REPO / "tests/connectors" / f"test_{name}.py").is_file(), (
        f"add tests/connectors/test_{name}.py (dativo new connector scaffolds one)")
    check_connector(name)


def test_every_registry_entry_has_a_recipe() -> None:
    assert sorted(ConfigRoot(REPO).registry()) == CONNECTORS


def test_every_connector_is_in_the_readme_and_experimental_ones_in_the_roadmap() -> None:
    """The review checklist's last item, for the shipped connectors."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("## What ships today", 1)[1].split("\n\n", 2)[1]
    experimental = (REPO / "ROADMAP.md").read_text().split("## Experimental", 1)[1].split(
        "\n## ", 1)[0]
    for name, entry in ConfigRoot(REPO).registry().items():
        assert f"`{name}`" in table, f"add {name} to the README's connector table"
        if entry.status == "experimental":
            assert f"`{name}`" in experimental, f"say in ROADMAP.md that {name} is experimental"
