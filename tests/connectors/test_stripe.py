"""stripe: an Airbyte image. No Docker engine runs here, so this checks what a run would hand
the engine; the Airbyte protocol itself is tested on real processes (test_faker, toy_http)."""

from __future__ import annotations

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines.launchers import launcher_for
from airflow_provider_dativo.engines.launchers.docker import DockerLauncher
from tests.conftest import REPO
from tests.connectors.common import check_connector


def test_stripe_configs_and_its_job() -> None:
    (job,) = check_connector("stripe")
    assert job.dag_id == "dativo__acme__stripe_customers"
    assert job.source_engine == "airbyte" and job.table == "customers"
    assert job.secret_envs[0] == "STRIPE_API_KEY"
    resolved = job.resolved_source_connection({"STRIPE_API_KEY": "sk_test_x"})
    assert resolved == {"start_date": "2024-01-01T00:00:00Z", "client_secret": "sk_test_x"}


def test_stripe_runs_its_image_through_docker() -> None:
    recipe = ConfigRoot(REPO).recipe(REPO / "connectors/stripe.yaml")
    launcher = launcher_for(REPO, recipe, "airbyte")
    assert isinstance(launcher, DockerLauncher)
    assert launcher.image == "airbyte/source-stripe:5.6.0"
