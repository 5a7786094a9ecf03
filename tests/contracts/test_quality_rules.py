"""ODCS quality rules run: per row on every batch (strict fails, warn quarantines), once per run
over the staged files before the commit (an error rule commits nothing), with the results in
the task log, the CLI, the Iceberg snapshot summary and ``dativo show``; bad rules are refused
by ``dativo validate`` with file, line and field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.contracts import check_batch, contract_from_mapping
from airflow_provider_dativo.contracts.checks import REASON_COLUMN, RULES_COLUMN
from airflow_provider_dativo.errors import ConfigError, ContractViolation
from tests.conftest import BIN, write

HEAD = {"apiVersion": "v3.0.2", "kind": "DataContract", "id": "orders-q", "status": "active",
        "name": "orders_q", "version": "1.0"}


def doc(quality: dict[str, list[dict[str, Any]]] | None = None,
        table_rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An orders contract with ``quality`` lists on the named properties and the table."""
    quality = quality or {}
    props = [
        {"name": "id", "logicalType": "integer", "required": True},
        {"name": "email", "logicalType": "string"},
        {"name": "amount", "logicalType": "number"},
        {"name": "status", "logicalType": "string"},
    ]
    for prop in props:
        if prop["name"] in quality:
            prop["quality"] = quality[prop["name"]]
    obj: dict[str, Any] = {"name": "orders_q", "logicalType": "object", "properties": props}
    if table_rules:
        obj["quality"] = table_rules
    return {**HEAD, "schema": [obj],
            "customProperties": [{"property": "sourceType", "value": "file"},
                                 {"property": "object", "value": "orders"}]}


ROWS = {"id": [1, 2, 3, 4], "email": ["a@x", None, "", "d@x"], "amount": [5.0, 20.0, -1.0, None],
        "status": ["open", "closed", "lost", "open"]}


def failing_ids(rules: dict[str, list[dict[str, Any]]]) -> dict[int, str]:
    result = check_batch(pa.record_batch(ROWS), contract_from_mapping(doc(rules)))
    if result.rejected is None:
        return {}
    rejected = result.rejected.to_pydict()
    return {int(i): r for i, r in zip(rejected["id"], rejected[RULES_COLUMN], strict=True)}


# -- per-row rules, each rule and operator --------------------------------------------------------

@pytest.mark.parametrize(("column", "rule", "expected"), [
    ("email", {"rule": "nullCheck"}, {2}),
    ("email", {"metric": "nullValues", "mustBe": 0}, {2}),
    ("email", {"rule": "nullValues", "mustBeLessThan": 1}, {2}),
    ("email", {"rule": "nullValues", "mustBeLessOrEqualTo": 0}, {2}),
    ("email", {"rule": "missingValues"}, {2, 3}),
    ("email", {"rule": "missingValues",
               "customProperties": [{"property": "missingValues", "value": ["d@x"]}]}, {2, 4}),
    ("status", {"rule": "validValues", "validValues": ["open", "closed"]}, {3}),
    ("status", {"metric": "invalidValues", "arguments": {"invalidValues": ["closed"]}}, {2}),
    ("status", {"metric": "invalidValues", "arguments": {"pattern": "o.*"}}, {2, 3}),
    ("status", {"rule": "invalidValues",
                "customProperties": [{"property": "validValues", "value": ["open"]}]}, {2, 3}),
    ("amount", {"rule": "between", "mustBeBetween": [0, 10]}, {2, 3}),
    ("amount", {"rule": "between", "mustNotBeBetween": [0, 10]}, {1}),
    ("amount", {"rule": "minCheck", "mustBeGreaterOrEqualTo": 0}, {3}),
    ("amount", {"rule": "minCheck", "mustBeGreaterThan": 5}, {1, 3}),
    ("amount", {"rule": "maxCheck", "mustBeLessThan": 20}, {2}),
    ("amount", {"rule": "maxCheck", "mustBeLessOrEqualTo": 20}, set()),
])
def test_each_row_rule_refuses_exactly_the_rows_that_break_it(
        column: str, rule: dict[str, Any], expected: set[int]) -> None:
    found = failing_ids({column: [rule]})
    assert set(found) == expected
    metric = rule.get("rule", rule.get("metric"))
    canonical = {"nullCheck": "nullValues"}.get(metric, metric)
    assert all(r == f"{canonical}:{column}" for r in found.values())


def test_a_rule_s_name_and_description_are_the_quarantine_rule_and_reason() -> None:
    contract = contract_from_mapping(doc({"email": [
        {"name": "email_present", "rule": "nullCheck", "description": "every order has an email",
         "dimension": "completeness"}]}))
    rejected = check_batch(pa.record_batch(ROWS), contract).rejected
    assert rejected is not None
    assert rejected.column(RULES_COLUMN).to_pylist() == ["email_present"]
    assert rejected.column(REASON_COLUMN).to_pylist() == ["email: every order has an email"]


def test_tolerant_and_non_error_rules_do_not_refuse_rows() -> None:
    # a tolerance, a share, or a warning severity is measured over the run, not per row
    assert failing_ids({"email": [
        {"name": "few", "rule": "nullCheck", "mustBeLessThan": 5},
        {"name": "share", "rule": "nullCheck", "mustBeLessThan": 30, "unit": "percent"},
        {"rule": "missingValues", "severity": "warning"},
    ]}) == {}


# -- rules refused up front ------------------------------------------------------------------------

@pytest.mark.parametrize(("column", "rule", "message"), [
    ("email", {"rule": "notARule"}, "unknown library rule 'notARule'"),
    ("amount", {"rule": "minCheck", "mustBeLessThan": 3}, "minCheck needs mustBeGreaterThan"),
    ("amount", {"rule": "between"}, "between needs mustBeBetween or mustNotBeBetween"),
    ("amount", {"rule": "between", "mustBeBetween": [9, 1]}, "put the smaller first"),
    ("email", {"rule": "between", "mustBeBetween": [1, 2]}, "column 'email' is string"),
    ("status", {"rule": "validValues"}, "needs the validValues option"),
    ("email", {"rule": "nullCheck", "mustBe": 0, "mustBeLessThan": 2}, "takes one operator"),
    ("email", {"rule": "nullCheck", "mustBe": "none"}, "takes a number"),
    ("email", {"rule": "nullCheck", "severity": "fatal"}, "severity 'fatal'"),
    ("email", {"type": "sql", "query": "SELECT 1"}, "needs an operator"),
])
def test_bad_rules_are_refused_with_their_field(column: str, rule: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        contract_from_mapping(doc({column: [rule]}))
    assert info.value.issues[0].path.startswith("schema[0].properties[")


def test_table_rules_cannot_use_column_rules_or_column_placeholders() -> None:
    with pytest.raises(ConfigError) as info:
        contract_from_mapping(doc(table_rules=[
            {"rule": "nullCheck"}, {"type": "sql", "query": "SELECT count(${column}) FROM ${table}",
                                    "mustBe": 0}]))
    text = str(info.value)
    assert "schema[0].quality[0].rule: nullCheck applies to a column" in text
    assert "schema[0].quality[1].query: ${column} means the rule's property" in text


# -- through dativo run and dativo validate --------------------------------------------------------

JOB = """\
tenant_id: acme
source_connector: file
source_connector_path: connectors/file.yaml
asset: orders_q
asset_path: assets/file/v1.0/orders_q.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: examples/data/orders_q/*.jsonl
    format: jsonl
"""

LINES = [{"id": i, "email": f"u{i}@x" if i % 5 else None, "amount": float(i),
          "status": "open" if i % 2 else "closed"} for i in range(1, 11)]


def setup(root: Path, contract: dict[str, Any], *, mode: str = "strict", skip: list[str] = (),
          lines: list[dict[str, Any]] = LINES) -> Path:
    write(root / "assets/file/v1.0/orders_q.yaml", yaml.safe_dump(contract, sort_keys=False))
    write(root / "examples/data/orders_q/a.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    extra = f"validation:\n  mode: {mode}\n"
    if skip:
        extra += "  quality:\n    skip: [" + ", ".join(skip) + "]\n"
    return write(root / "jobs/acme/orders_q.yaml", JOB + extra)


def dativo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def summary_of(root: Path) -> dict[str, str]:
    job = ConfigRoot(root).load_job("jobs/acme/orders_q.yaml")
    snapshot = runner.open_job_target(job).load_table().current_snapshot()  # type: ignore[attr-defined]
    assert snapshot is not None and snapshot.summary is not None
    return dict(snapshot.summary.additional_properties)


RUN_RULES = [
    {"name": "enough_rows", "rule": "rowCount", "mustBeGreaterOrEqualTo": 10,
     "dimension": "completeness", "severity": "error"},
    {"name": "unique_ids", "rule": "duplicateCount", "customProperties": [
        {"property": "properties", "value": ["id"]}]},
    {"name": "open_share", "type": "sql", "mustBeBetween": [40, 60],
     "query": "SELECT 100.0 * count(*) FILTER (WHERE status = 'open') / count(*) FROM ${table}"},
]
COLUMN_RULES = {"email": [{"name": "few_missing_emails", "rule": "nullCheck",
                           "mustBeLessOrEqualTo": 2, "severity": "warning"}],
                "amount": [{"name": "amount_sum", "type": "sql", "mustBe": 55,
                            "query": "SELECT sum(${column}) FROM ${object}"}]}


def test_passing_rules_commit_and_are_recorded_everywhere(config_root: Path) -> None:
    setup(config_root, doc(COLUMN_RULES, RUN_RULES))
    run = dativo(config_root, "run", "jobs/acme/orders_q.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    for name, measured in (("enough_rows", "10"), ("unique_ids", "0"), ("open_share", "50"),
                           ("few_missing_emails", "2"), ("amount_sum", "55")):
        assert any(line.startswith(f"quality {name}") and f"PASS (measured {measured}," in line
                   for line in run.stdout.splitlines()), (name, run.stdout)
    summary = summary_of(config_root)
    recorded = json.loads(summary["dativo.quality.enough_rows"])
    assert recorded == {"name": "enough_rows", "type": "library", "measured": 10,
                        "bound": ">= 10", "status": "pass", "severity": "error",
                        "dimension": "completeness"}
    assert json.loads(summary["dativo.quality.amount_sum"])["column"] == "amount"
    assert "quality" not in json.loads(summary.get("dativo.state", "{}"))
    show = dativo(config_root, "show", "jobs/acme/orders_q.yaml")
    assert show.returncode == 0, show.stderr
    assert "quality open_share: PASS (measured 50, bound between 40 and 60" in show.stdout


def test_a_failed_error_rule_commits_nothing_and_names_rule_measure_and_bound(
        config_root: Path) -> None:
    setup(config_root, doc(COLUMN_RULES, RUN_RULES))
    assert dativo(config_root, "run", "jobs/acme/orders_q.yaml").returncode == 0
    before = summary_of(config_root)
    # a second file: twelve more rows, of which two repeat ids and a third breaks the sum
    more = [{"id": 1, "email": "again@x", "amount": 1.0, "status": "open"},
            {"id": 2, "email": "again@x", "amount": 1.0, "status": "closed"}]
    write(config_root / "examples/data/orders_q/b.jsonl",
          "".join(json.dumps(x) + "\n" for x in more))
    run = dativo(config_root, "run", "jobs/acme/orders_q.yaml")
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "nothing of run" in text and "was committed" in text
    # this run has only the two new rows: too few rows (error), and a sum of 2
    assert "quality enough_rows: FAIL (measured 2, bound >= 10; severity error" in text
    assert "quality amount_sum on amount: FAIL (measured 2, bound = 55" in text
    assert summary_of(config_root) == before  # table and state unchanged


def test_warn_mode_commits_failed_rules_and_records_them(config_root: Path) -> None:
    rules = [{**RUN_RULES[0], "severity": "warning"}, *RUN_RULES[1:]]
    setup(config_root, doc({"email": [{"rule": "nullCheck"}]}, rules), mode="warn",
          lines=LINES[:4])
    run = dativo(config_root, "run", "jobs/acme/orders_q.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "quality enough_rows: FAIL (measured 4, bound >= 10; severity warning" in run.stdout
    # the per-row rule quarantined the one row without an email (id 5 is not in the first 4)
    assert "quality nullValues:email on email: PASS (measured 0" in run.stdout
    summary = summary_of(config_root)
    assert json.loads(summary["dativo.quality.enough_rows"])["status"] == "fail"
    assert json.loads(summary["dativo.quality.open_share"])["measured"] == 50


def test_strict_per_row_rule_fails_the_extract_and_warn_quarantines(config_root: Path) -> None:
    contract = doc({"email": [{"name": "email_present", "rule": "nullCheck",
                               "description": "every order has an email"}]})
    job = ConfigRoot(config_root).load_job(setup(config_root, contract))
    with pytest.raises(ContractViolation, match="email_present=2"):
        runner.run_job(job, "strict-1")
    assert runner.open_job_target(job).read_state() is None  # nothing committed
    job = ConfigRoot(config_root).load_job(setup(config_root, contract, mode="warn"))
    manifest, result = runner.run_job(job, "warn-1")
    assert result.committed and result.rows == 8
    quarantined = [r for p in manifest["quarantine"] for r in pq.read_table(p).to_pylist()]
    assert sorted(int(r["id"]) for r in quarantined) == [5, 10]
    assert {r[REASON_COLUMN] for r in quarantined} == {"email: every order has an email"}
    assert [r for r in result.quality if r["name"] == "email_present"] == [
        {"name": "email_present", "type": "library", "column": "email", "measured": 2,
         "bound": "= 0", "status": "quarantined"}]


def test_a_retried_load_does_not_run_the_rules_again(config_root: Path) -> None:
    job = ConfigRoot(config_root).load_job(setup(config_root, doc(COLUMN_RULES, RUN_RULES)))
    manifest = runner.extract_step(job, "retry-1")
    first = runner.load_step(job, manifest)
    before = summary_of(config_root)
    # the retry finds the run committed: same snapshot, the recorded results stay as they are
    again = runner.load_step(job, manifest)
    assert first.committed and not again.committed
    assert again.snapshot_id == first.snapshot_id and again.quality == ()
    assert summary_of(config_root) == before
    assert len(first.quality) == 5


def test_skipped_rules_do_not_run_and_validate_reports_them(config_root: Path) -> None:
    rules = [{**RUN_RULES[0], "mustBeGreaterOrEqualTo": 1000}]
    setup(config_root, doc(table_rules=rules), skip=["enough_rows"])
    run = dativo(config_root, "run", "jobs/acme/orders_q.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "quality enough_rows: SKIPPED" in run.stdout
    validate = dativo(config_root, "validate", str(config_root / "jobs/acme/orders_q.yaml"))
    assert validate.returncode == 0
    assert "quality rule 'enough_rows' of contract 'orders_q' is skipped by this job" in \
        validate.stdout
    setup(config_root, doc(table_rules=rules), skip=["no_such_rule"])
    validate = dativo(config_root, "validate", str(config_root / "jobs/acme/orders_q.yaml"))
    assert validate.returncode == 1
    assert "validation.quality.skip[0]: no quality rule 'no_such_rule'" in validate.stdout


def test_validate_refuses_sql_that_does_not_bind_and_lists_other_engines(
        config_root: Path) -> None:
    contract = doc({"amount": [{"type": "sql", "query": "SELECT sum(amout) FROM ${table}",
                                "mustBe": 1}]},
                   [{"type": "sql", "query": "SELEC count(*) FROM ${table}", "mustBe": 1},
                    {"type": "sql", "query": "SELECT id, email FROM ${table}", "mustBe": 1},
                    {"type": "custom", "engine": "soda", "implementation": "row_count > 0"},
                    {"type": "text", "description": "Orders arrive by 6am."}])
    setup(config_root, contract)
    asset = "assets/file/v1.0/orders_q.yaml"
    result = dativo(config_root, "validate", str(config_root / asset))
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "schema[0].quality[0].query: the query of quality rule 'sql#1' does not run" in out
    assert "Parser Error" in out
    assert "schema[0].quality[1].query: the query of quality rule 'sql#2' returns 2 columns" in out
    assert "schema[0].properties[2].quality[0].query" in out and '"amout" not found' in out
    assert "quality rule 'soda#3': not run here: engine soda" in out
    lines = yaml.compose(Path(config_root / asset).read_text())  # line numbers are given
    assert lines is not None and ".yaml:" in result.stdout


def test_the_shipped_fixtures_keep_loading() -> None:
    # quality entries as the ODCS corpus writes them parse into rules
    corpus = Path(__file__).resolve().parents[1] / "fixtures" / "odcs"
    for path in sorted(corpus.glob("*.yaml")):
        contract = contract_from_mapping(yaml.safe_load(path.read_text()))
        assert all(r.name for r in contract.quality)
    shop = contract_from_mapping(yaml.safe_load((corpus / "v301_shop_two_tables.yaml")
                                                .read_text()))
    assert [(r.name, r.per_row) for r in shop.quality] == [("nullValues:amount", False)]


def test_rules_are_part_of_the_contract_value() -> None:
    one = contract_from_mapping(doc({"email": [{"rule": "nullCheck"}]}))
    other = copy.deepcopy(doc({"email": [{"rule": "nullCheck", "mustBe": 0}]}))
    assert one == contract_from_mapping(other)  # no operator means mustBe: 0
    assert one != contract_from_mapping(doc())


def test_run_rules_read_a_file_target_s_staged_files(config_root: Path) -> None:
    path = setup(config_root, doc(COLUMN_RULES, RUN_RULES))
    path.write_text(path.read_text().replace("target_connector: iceberg", "target_connector: "
                    "parquet").replace("connectors/iceberg.yaml", "connectors/parquet.yaml"))
    job = ConfigRoot(config_root).load_job(path)
    _, result = runner.run_job(job, "parquet-1")
    assert result.committed and {r["status"] for r in result.quality} == {"pass"}
    state = runner.open_job_target(job).read_state()
    assert state is not None and state["quality"]["amount_sum"]["measured"] == 55
    write(config_root / "examples/data/orders_q/b.jsonl",
          json.dumps({"id": 1, "email": "a@x", "amount": 1, "status": "open"}) + "\n")
    with pytest.raises(ContractViolation, match="quality enough_rows: FAIL"):
        runner.run_job(job, "parquet-2")
    assert runner.open_job_target(job).read_state() == state  # nothing committed
