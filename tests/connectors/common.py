"""What every connector's test checks first: its recipe, registry entry, assets and shipped
jobs are valid together, and its assets are official ODCS contracts."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dativo.config.loader import FIXTURE_JOBS, ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.contracts import to_odcs, validate_official
from tests.conftest import REPO


def shipped_jobs(root: Path = REPO) -> list[Path]:
    config = ConfigRoot(root)
    return [*config.job_files(), *sorted((root / FIXTURE_JOBS).glob("*.yaml")),
            *sorted(root.glob("examples/*/job.yaml"))]


def check_connector(name: str, root: Path = REPO) -> list[JobSpec]:
    """Assert the connector's configs hold together; return the shipped jobs that use it."""
    config = ConfigRoot(root)
    recipe = config.recipe(root / "connectors" / f"{name}.yaml")
    assert recipe.type == name
    entry = config.registry()[name]
    assert recipe.default_engine.type in entry.engines
    assert entry.default_engine in entry.engines
    for path in sorted((root / "assets").glob("*/*/*.yaml")):
        contract = config.asset(path)
        if contract.source_type == name:
            assert validate_official(to_odcs(contract)) == [], path
    jobs = [config.load_job(p) for p in shipped_jobs(root)]
    using = [j for j in jobs if name in (j.source.type, j.target.type)]
    for job in using:
        role = "source" if job.source.type == name else "target"
        assert role in entry.roles, f"{job.file} uses {name} as a {role}"
    return using
