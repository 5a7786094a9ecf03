"""hubspot: an Airbyte image; like stripe, checked up to what a run hands the Docker engine."""

from __future__ import annotations

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines.launchers import launcher_for
from airflow_provider_dativo.engines.launchers.docker import DockerLauncher
from tests.conftest import REPO
from tests.connectors.common import check_connector


def test_hubspot_configs_and_its_image() -> None:
    check_connector("hubspot")
    recipe = ConfigRoot(REPO).recipe(REPO / "connectors/hubspot.yaml")
    assert recipe.secret_envs  # the access token is masked wherever it could show
    launcher = launcher_for(REPO, recipe, "airbyte")
    assert isinstance(launcher, DockerLauncher)
    assert launcher.image.startswith("airbyte/source-hubspot:")
    contract = ConfigRoot(REPO).asset(REPO / "assets/hubspot/v1.0/contacts.yaml")
    assert contract.source_type == "hubspot" and contract.primary_key
