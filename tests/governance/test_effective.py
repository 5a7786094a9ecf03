"""Which governance a job's table gets: job over contract over recipe, per key; column
metadata from the contract; overrides of unknown columns refused with file, line and field."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from airflow_provider_dativo.cli import main
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import BIN


def test_each_value_comes_from_the_highest_level_that_sets_it(governed_root: Path) -> None:
    job = ConfigRoot(governed_root).load_job("jobs/acme/gov_orders.yaml")
    table = job.governance.table
    assert (table["owner"].value, table["owner"].origin) == ("job-owner@acme.example", "job")
    assert table["cost_centre"].origin == "job"
    assert (table["retention_days"].value, table["retention_days"].origin) == (730, "contract")
    assert (table["project"].value, table["project"].origin) == ("lakehouse", "target recipe")
    assert table["project"].file == "connectors/iceberg.yaml"
    assert table["classification"].value == ["confidential"]

    email = job.governance.column("customer_email")
    assert email is not None
    assert email.classification is not None and email.classification.origin == "contract"
    assert email.business_name == "Customer e-mail"
    assert email.custom == {"piiCategory": "contact", "maskingRule": {"kind": "hash",
                                                                      "salt": "none"}}
    status = job.governance.column("status")
    assert status is not None and status.classification is not None
    assert (status.classification.value, status.classification.origin) == ("public", "job")

    props = job.governance.properties()
    assert props["dativo.owner"] == "job-owner@acme.example"
    assert props["dativo.retention_days"] == "730"
    assert props["dativo.governance.cost_centre"] == "CC-42"
    assert props["dativo.governance.project"] == "lakehouse"
    assert props["dativo.column.customer_email.classification"] == "PII"
    assert props["dativo.column.customer_email.tags"] == "contact,gdpr"
    assert props["dativo.column.customer_email.business_name"] == "Customer e-mail"
    assert props["dativo.column.customer_email.custom.piiCategory"] == "contact"
    assert props["dativo.column.customer_email.custom.maskingRule"] == \
        '{"kind": "hash", "salt": "none"}'
    assert props["dativo.column.status.classification"] == "public"
    assert props["dativo.column.order_id.description"] == "Shop order number."
    assert "dativo.column.currency.classification" not in props


def test_the_job_owner_field_counts_as_the_jobs_when_governance_names_none(
        governed_root: Path) -> None:
    job_file = governed_root / "jobs/acme/gov_orders.yaml"
    job_file.write_text(job_file.read_text().replace(
        "  owner: job-owner@acme.example\n", "").replace("tenant_id: acme\n",
                                                         "tenant_id: acme\nowner: dag-owner\n"))
    job = ConfigRoot(governed_root).load_job(job_file)
    assert job.governance.table["owner"].value == "dag-owner"
    assert job.governance.table["owner"].origin == "job"


def test_an_override_of_an_unknown_column_is_an_error_of_the_job_file(
        governed_root: Path, capsys) -> None:
    job_file = governed_root / "jobs/acme/gov_orders.yaml"
    job_file.write_text(job_file.read_text().replace("  status: public\n",
                                                     "  status: public\n  e_mail: PII\n"))
    line = job_file.read_text().splitlines().index("  e_mail: PII") + 1
    assert main(["--root", str(governed_root), "validate"]) == 1
    out = capsys.readouterr().out
    assert "jobs/acme/gov_orders.yaml" in out
    assert f":{line}" in out
    assert "classification_overrides.e_mail" in out
    assert "unknown column 'e_mail'" in out and "customer_email" in out


def test_governance_values_are_schema_checked(governed_root: Path, capsys) -> None:
    job_file = governed_root / "jobs/acme/gov_orders.yaml"
    job_file.write_text(job_file.read_text().replace("  cost_centre: CC-42\n",
                                                     "  cost_centre: CC-42\n  Bad-Key: 1\n"
                                                     "  retention_days: soon\n"))
    assert main(["--root", str(governed_root), "validate"]) == 1
    out = capsys.readouterr().out
    assert "governance" in out and "Bad-Key" in out and "retention_days" in out


def test_show_prints_the_effective_values_and_their_origins(governed_root: Path) -> None:
    shown = subprocess.run(
        [str(BIN / "dativo"), "--root", str(governed_root), "show", "jobs/acme/gov_orders.yaml",
         "--governance"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "250"})
    assert shown.returncode == 0, shown.stderr
    out = re.sub(r"[\s│┃]+", " ", shown.stdout)
    assert "owner job-owner@acme.example job (jobs/acme/gov_orders.yaml)" in out
    assert "retention_days 730 contract (assets/file/v1.0/gov_orders.yaml)" in out
    assert "project lakehouse target recipe (connectors/iceberg.yaml)" in out
    assert "status public job (jobs/acme/gov_orders.yaml)" in out
    assert "customer_email PII contract" in out
