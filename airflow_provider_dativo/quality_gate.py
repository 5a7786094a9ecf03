"""The contract's quality rules over one run, before its commit.

Extract already ran the per-row rules on every batch (``contracts.quality``); what they found
is in the manifest's ``rule_counts``. Here the other rules run once, over the run's staged
Parquet files: the files are read through the target's FileIO (local disk or object storage
alike), registered in an in-process DuckDB as ``${table}``, and each rule's measure is compared
with its bound. A failed rule blocks the commit when its severity is ``error``, or when it has
none and the job is strict; every other result is committed with the data and recorded
(``dativo.quality.*`` in the Iceberg snapshot summary, the commit marker's state on file
targets).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.contracts.quality import (
    RUN_TABLE,
    QualityRule,
    measure_sql,
    passes,
    quote,
    render_query,
    rules_of,
    table_names,
    with_results,
)
from airflow_provider_dativo.errors import ContractViolation

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.targets.base import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome in one run."""

    name: str
    type: str
    column: str | None
    measured: float | int | str | None
    bound: str
    status: str  # pass, fail, quarantined (warn mode removed the rows that broke it), skipped
    severity: str | None
    dimension: str | None
    blocking: bool = False  # failed and stops the commit

    def line(self) -> str:
        where = f" on {self.column}" if self.column else ""
        extra = ", ".join(f"{k} {v}" for k, v in (("severity", self.severity),
                                                  ("dimension", self.dimension)) if v)
        return (f"quality {self.name}{where}: {self.status.upper()} (measured "
                f"{_show(self.measured)}, bound {self.bound}" + (f"; {extra}" if extra else "")
                + ")")

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "blocking"}


@dataclass(frozen=True)
class QualityOutcome:
    state: dict[str, Any] | None  # what the load commits as state, with the results in it
    results: tuple[RuleResult, ...]

    @property
    def records(self) -> tuple[dict[str, Any], ...]:
        return tuple(r.record() for r in self.results)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return "-" if value is None else str(value)


def check_run(job: JobSpec, manifest: Mapping[str, Any], target: Target) -> QualityOutcome:
    """Run the job's quality rules over the staged run; raise when a blocking rule failed."""
    state = manifest.get("state")
    rules = [r for r in rules_of(job.contract) if r.runs]
    if not rules and not job.quality_skip:
        return QualityOutcome(state, ())
    started = time.monotonic()
    counts: Mapping[str, int] = manifest.get("rule_counts") or {}
    results = [_row_result(r, counts.get(r.name, 0)) for r in rules if r.per_row]
    later = [r for r in rules if not r.per_row]
    if later:
        if target.is_committed(manifest["run_id"]):
            # a retried load: the commit already holds this run's results; they are not redone
            return QualityOutcome(state, ())
        strict = job.validation_mode == "strict"
        results += [_compare(r, m, strict) for r, m in zip(
            later, _measure(job, later, _run_rows(job, manifest, target)), strict=True)]
    results += [RuleResult(name, "skipped", None, None, "-", "skipped", None, None)
                for name in job.quality_skip]
    for result in results:
        (log.warning if result.status == "fail" else log.info)("%s", result.line())
    log.info("quality rules of %s checked in %.2fs", job.dag_id, time.monotonic() - started)
    failed = [r for r in results if r.blocking]
    if failed:
        raise ContractViolation(
            f"quality rules of contract '{job.contract.name}' failed, so nothing of run "
            f"{manifest['run_id']!r} was committed:\n  " + "\n  ".join(r.line() for r in failed)
            + "\nFix the source data, or lower the rules' severity to warning to load and record "
            "them.")
    return QualityOutcome(with_results(state, {r.name: r.record() for r in results}),
                          tuple(results))


def _row_result(rule: QualityRule, count: int) -> RuleResult:
    # strict mode failed the extract on the first bad row; here any count was quarantined
    return RuleResult(rule.name, rule.type, rule.column, count, rule.bound_text(),
                      "pass" if count == 0 else "quarantined", rule.severity, rule.dimension)


def _compare(rule: QualityRule, measured: Any, strict: bool) -> RuleResult:
    if rule.type == "library" and rule.metric in ("between", "minCheck", "maxCheck"):
        ok = measured == 0
    else:
        ok = passes(rule.operator, rule.bound, measured)
    blocking = not ok and (rule.severity == "error" or (rule.severity is None and strict))
    return RuleResult(rule.name, rule.type, rule.column, measured, rule.bound_text(),
                      "pass" if ok else "fail", rule.severity, rule.dimension, blocking)


def _run_rows(job: JobSpec, manifest: Mapping[str, Any], target: Target) -> pa.Table:
    """The run's staged rows as one Arrow table, read through the target's FileIO."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_provider_dativo.contracts import arrow_schema

    schema = arrow_schema(job.contract)
    io = target.file_io()
    tables = []
    refusal = (f"the run-level quality rules of contract '{job.contract.name}' need the run's "
               f"rows, but target {job.target.type} stages other data")
    hint = "; list these rules under validation.quality.skip for this job"
    for entry in manifest.get("files") or ():
        path = str(entry["path"])
        try:
            with io.new_input(path).open() as stream:
                tables.append(pq.read_table(stream))
        except pa.ArrowInvalid as exc:
            raise ContractViolation(f"{refusal} ({path}: {exc}){hint}") from exc
    if not tables:
        return schema.empty_table()
    rows = pa.concat_tables(tables, promote_options="default")
    missing = [n for n in schema.names if n not in rows.column_names]
    if missing:
        raise ContractViolation(f"{refusal} (missing columns: {', '.join(missing)}){hint}")
    return rows


def _measure(job: JobSpec, rules: Sequence[QualityRule], rows: pa.Table) -> list[Any]:
    """Every rule's measure: the library rules in one scan, each SQL rule on its own."""
    import duckdb

    with duckdb.connect() as con:
        for name in table_names(job.contract):
            con.register(name, rows)
        library = [r for r in rules if r.type == "library"]
        values: dict[str, Any] = {}
        if library:
            select = ", ".join(f"{measure_sql(r)} AS {quote(f'm{i}')}"
                               for i, r in enumerate(library))
            row = con.execute(f"SELECT {select} FROM {RUN_TABLE}").fetchone() or ()
            values = {r.name: _plain(v) for r, v in zip(library, row, strict=True)}
        for rule in rules:
            if rule.type == "sql":
                try:
                    first = con.execute(render_query(rule)).fetchone()
                except duckdb.Error as exc:
                    raise ContractViolation(
                        f"the query of quality rule {rule.name!r} failed over the run's rows: "
                        f"{str(exc).splitlines()[0]}; run `dativo validate` on the asset"
                    ) from exc
                values[rule.name] = None if first is None else _plain(first[0])
    return [values[r.name] for r in rules]


def _plain(value: Any) -> Any:
    """A JSON-able measure (DuckDB gives Decimal for some aggregates)."""
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def result_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per recorded result (``RuleResult.record``): name, measured, bound, status."""
    blank = {"type": "", "column": None, "measured": None, "bound": "-", "status": "-",
             "severity": None, "dimension": None}
    names = set(RuleResult.__dataclass_fields__)
    return [RuleResult(**{**blank, **{k: v for k, v in r.items() if k in names}}).line()
            for r in records]
