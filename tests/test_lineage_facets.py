"""The load's lineage facets from real runs (``dativo run``'s code, no scheduler): a rule whose
rows a warn run quarantined is an assertion that found issues, a rule the job skips is not an
assertion, the metrics are the run's own, and a no-op retry reports nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openlineage.client.serde import Serde

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.operators import lineage
from airflow_provider_dativo.operators.lineage_facets import run_metrics
from tests.contracts.test_quality_rules import RUN_RULES, doc, setup
from tests.openlineage_schema import errors

pytest.importorskip("airflow.providers.openlineage")

RULES = {"email": [{"name": "email_present", "rule": "nullCheck"}]}
TABLE_RULES = [{**RUN_RULES[0], "mustBeGreaterOrEqualTo": 5}, *RUN_RULES[1:]]


def output_of(job: runner.JobSpec, manifest: dict, result: runner.CommitResult) -> dict:
    metrics = run_metrics(job, manifest, result.rows) if result.committed else None
    found = lineage.openlineage(job, inputs=False, outputs=True,
                                landed={"quality": list(result.quality), "metrics": metrics})
    return json.loads(Serde.to_json(found.outputs[0]))


def test_quarantined_rows_fail_their_assertion_and_skipped_rules_are_left_out(
        config_root: Path) -> None:
    rel = setup(config_root, doc(RULES, TABLE_RULES), mode="warn", skip=["unique_ids"])
    job = ConfigRoot(config_root).load_job(rel)
    manifest, result = runner.run_job(job, "lin-1")
    assert result.committed and result.rows == 8  # ids 5 and 10 have no email
    output = output_of(job, manifest, result)
    # the facets of a real run, wrapped in the event the provider would send, pass the schemas
    event = {"eventTime": "2026-12-01T12:00:00Z", "eventType": "COMPLETE",
             "producer": "https://example.invalid/producer",
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
             "run": {"runId": "0190b3a6-4c5e-7cde-8a2b-2f6f0c1d2e3f"},
             "job": {"namespace": "default", "name": "dativo__acme__orders_q.load"},
             "inputs": [], "outputs": [output]}
    assert errors(event) == []

    assertions = {a["name"]: a for a in output["facets"]["dataQualityAssertions"]["assertions"]}
    assert set(assertions) == {"email_present", "enough_rows", "open_share"}
    assert assertions["email_present"]["success"] is False
    assert assertions["email_present"]["params"]["status"] == "quarantined"
    assert assertions["email_present"]["actual"] == "2"
    assert assertions["enough_rows"]["success"] is True
    assert (assertions["enough_rows"]["expected"], assertions["enough_rows"]["actual"]) == (
        ">= 5", "8")
    metrics = output["facets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 8
    assert metrics["columnMetrics"]["email"]["nullCount"] == 0  # the null rows were refused
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 8

    again = runner.load_step(job, manifest)
    assert not again.committed
    retried = output_of(job, manifest, again)
    assert "outputStatistics" not in retried.get("outputFacets", {})
    assert "dataQualityMetrics" not in retried["facets"]
