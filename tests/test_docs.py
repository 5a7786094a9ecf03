"""The docs' examples are real: they validate and do what the docs say."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import arrow_schema, to_odcs, validate_official
from tests.conftest import REPO, write


def yaml_blocks(doc: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.S)


def test_the_minimal_asset_validates_and_exports(config_root: Path) -> None:
    (block,) = yaml_blocks(REPO / "docs/MINIMAL_ASSET_EXAMPLE.md")
    path = write(config_root / "assets/crm/v1.0/contacts.yaml", block)
    report = ConfigRoot(config_root).validate([path])
    assert report.all_issues() == [] and report.files["asset"] == ["assets/crm/v1.0/contacts.yaml"]
    contract = ConfigRoot(config_root).asset(path)
    assert contract.owner == "crm-team@example.com"
    assert contract.governance_properties()["dativo.owner"] == "crm-team@example.com"
    assert arrow_schema(contract).names == ["contact_id", "email", "lifecycle", "updated_at",
                                           "ingest_date"]
    doc = to_odcs(contract)
    assert validate_official(doc) == []
    assert doc["status"] == "active" and doc["id"]


def test_the_readme_job_is_the_shipped_job() -> None:
    readme_job = next(b for b in yaml_blocks(REPO / "README.md") if "tenant_id: acme" in b)
    shipped = (REPO / "jobs/acme/orders.yaml").read_text()
    for line in readme_job.splitlines():
        assert line.split("#")[0].rstrip() in shipped


def test_the_readme_streams_are_the_shipped_example() -> None:
    readme_streams = next(b for b in yaml_blocks(REPO / "README.md") if b.startswith("streams:"))
    shipped = (REPO / "jobs/examples/files_multi.yaml").read_text()
    assert readme_streams.strip() in shipped


def test_the_config_reference_is_generated_from_the_current_schemas() -> None:
    from airflow_provider_dativo.config.reference import render

    current = (REPO / "docs/CONFIG_REFERENCE.md").read_text()
    assert current == render(), ("docs/CONFIG_REFERENCE.md is stale: run `make docs` "
                                 "(python -m airflow_provider_dativo.config.reference)")
    for field in ("`tenant_id`", "`default_engine.type`", "`schema[].enum`",
                  "`connectors.<name>.modes`"):
        assert field in current
