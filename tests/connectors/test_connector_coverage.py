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
