"""A contract column the source never sends is reported, over the whole run."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_dativo.contracts import contract_from_mapping
from airflow_provider_dativo.contracts.unsent import UnsentColumns
from airflow_provider_dativo.errors import ContractViolation

CONTRACT = contract_from_mapping({
    "apiVersion": "v3.0.2", "kind": "DataContract", "id": "c", "version": "1", "status": "active",
    "name": "people",
    "schema": [{"name": "people", "properties": [
        {"name": "id", "logicalType": "string"},
        {"name": "note", "logicalType": "string"},
        {"name": "born", "logicalType": "date", "physicalName": "dob"},
    ]}],
})


def test_strict_refuses_a_column_no_batch_had() -> None:
    unsent = UnsentColumns(CONTRACT, "assets/file/v1.0/people.yaml")
    unsent.saw(["id", "note"])
    unsent.saw(["id"])  # a sparse batch: note came before
    with pytest.raises(ContractViolation, match=r"contract 'people' \(assets/file/v1.0/people"
                       r"\.yaml\) declares column\(s\) the source never sent: born \(sent as "
                       r"dob\)\. Give each the source's column name as its physicalName"):
        unsent.report("strict")


def test_warn_logs_and_a_physical_name_counts_as_sent(caplog: pytest.LogCaptureFixture) -> None:
    unsent = UnsentColumns(CONTRACT)
    unsent.saw(["id", "dob"])
    with caplog.at_level(logging.WARNING):
        unsent.report("warn")
    assert "never sent: note; they land as nulls" in caplog.text
    unsent.saw(["note"])
    assert unsent.missing == ()
    unsent.report("strict")


def test_a_run_without_batches_reports_nothing() -> None:
    UnsentColumns(CONTRACT).report("strict")
