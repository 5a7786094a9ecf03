"""Quality rules as SQL over the run's rows: the checks ``dativo validate`` makes up front
(each query prepared against an empty table of the contract's schema), the warnings it prints, and
the queries the quality gate runs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.contracts._quality_rule import (
    RUN_TABLE,
    SYMBOL,
    VALUE_METRICS,
    QualityRule,
    is_number,
    rules_of,
)
from airflow_provider_dativo.errors import ConfigIssue

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.model import Contract

# ${table}, ${model} and ${object} become RUN_TABLE; ${column}, the rule's column, quoted
_PLACEHOLDER = re.compile(r"\$\{(table|model|object|column)\}")


def without(contract: Contract, names: Iterable[str]) -> Contract:
    """The contract without the named rules (a job's ``validation.quality.skip``)."""
    import dataclasses

    skip = set(names)
    if not skip:
        return contract
    return dataclasses.replace(
        contract, quality=tuple(r for r in rules_of(contract) if r.name not in skip))


def skip_issues(doc: Any, contracts: Sequence[Contract]) -> list[ConfigIssue]:
    """A job's ``validation.quality.skip`` names rules its contracts have."""
    validation = doc.data.get("validation") if isinstance(doc.data, Mapping) else None
    skip = ((validation or {}).get("quality") or {}).get("skip") or ()
    known = {r.name for c in contracts for r in rules_of(c)}
    issues = []
    for i, name in enumerate(skip):
        if name not in known:
            path = f"validation.quality.skip[{i}]"
            listed = ", ".join(sorted(known)) or "none"
            issues.append(ConfigIssue(doc.file, f"no quality rule {name!r} in the job's "
                                      f"contract; its rules are: {listed}", doc.line_of(path),
                                      path))
    return issues


def table_names(contract: Contract) -> tuple[str, ...]:
    """Names the run's rows answer to in a SQL rule: ``${table}`` and, for queries that name
    the table as written, the schema object's physical name and name."""
    names = [RUN_TABLE, contract.table_name, contract.schema_object]
    return tuple(dict.fromkeys(n for n in names if n))


def validate_rules(contracts: Sequence[Contract],
                   file: str) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """Errors (SQL that does not parse or bind against the contract's columns) and warnings
    (rules dativo does not run, schedules it does not follow) for ``dativo validate``."""
    errors: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    for contract in contracts:
        errors += _sql_issues(contract, file)
        for rule in rules_of(contract):
            if rule.type == "custom":
                warnings.append(ConfigIssue(file, f"quality rule {rule.name!r}: not run here: "
                                f"engine {rule.engine}", rule.line, rule.path))
            if rule.runs and rule.schedule:
                warnings.append(ConfigIssue(file, f"quality rule {rule.name!r} has a schedule "
                                f"({rule.schedule}); dativo runs it on every load", rule.line,
                                f"{rule.path}.schedule"))
    return errors, warnings


def _sql_issues(contract: Contract, file: str) -> list[ConfigIssue]:
    """Each SQL rule prepared against an empty table of the contract's schema."""
    sql_rules = [r for r in rules_of(contract) if r.type == "sql"]
    if not sql_rules:
        return []
    import duckdb

    from airflow_provider_dativo.contracts.arrow_types import arrow_schema

    errors = []
    with duckdb.connect() as con:
        empty = arrow_schema(contract).empty_table()
        for name in table_names(contract):
            con.register(name, empty)
        for rule in sql_rules:
            where = f"{rule.path}.query"
            try:
                con.execute(render_query(rule)).fetchall()
                width = len(con.description or ())
            except duckdb.Error as exc:
                errors.append(ConfigIssue(file, f"the query of quality rule {rule.name!r} does "
                              f"not run against the contract's columns: {_first_line(exc)}",
                              rule.line, where))
                continue
            if width != 1:
                errors.append(ConfigIssue(file, f"the query of quality rule {rule.name!r} "
                              f"returns {width} columns; it must return one value", rule.line,
                              where))
    return errors


def skip_warnings(jobs: Sequence[Any]) -> list[ConfigIssue]:
    """What a job's ``validation.quality.skip`` turns off, for ``dativo validate``."""
    return [ConfigIssue(job.file, f"quality rule {name!r} of contract {job.contract.name!r} is "
                        "skipped by this job", None, "validation.quality.skip")
            for job in jobs for name in job.quality_skip]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def render_query(rule: QualityRule) -> str:
    """A SQL rule's query with ``${table}``/``${model}``/``${object}``/``${column}`` filled in."""
    assert rule.query is not None

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "column":
            return quote(rule.column or "")
        return RUN_TABLE

    return _PLACEHOLDER.sub(fill, rule.query)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if is_number(value):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _in_list(column: str, values: Sequence[Any]) -> str:
    return f"{column} IN ({', '.join(_literal(v) for v in values)})"


def _bad_predicate(rule: QualityRule) -> str:
    """SQL for the rows a count or value rule counts."""
    col = quote(rule.column or "")
    metric = rule.metric
    if metric == "nullValues":
        return f"{col} IS NULL"
    if metric == "missingValues":
        listed = [v for v in rule.option("missingValues", (None, "")) if v is not None]
        return f"{col} IS NULL" + (f" OR {_in_list(col, listed)}" if listed else "")
    parts: list[str] = []
    if metric in ("validValues", "invalidValues") and rule.option("validValues") is not None:
        parts.append(f"NOT ({_in_list(col, rule.option('validValues'))})")
    if metric == "invalidValues":
        if rule.option("invalidValues"):
            parts.append(_in_list(col, rule.option("invalidValues")))
        if rule.option("pattern") is not None:
            parts.append(f"NOT regexp_full_match(CAST({col} AS VARCHAR), "
                         f"{_literal(rule.option('pattern'))})")
    if metric in VALUE_METRICS:
        op, bound = rule.operator, rule.bound
        if op in ("mustBeBetween", "mustNotBeBetween"):
            inside = f"{col} BETWEEN {_literal(bound[0])} AND {_literal(bound[1])}"
            parts.append(f"NOT ({inside})" if op == "mustBeBetween" else inside)
        else:
            parts.append(f"NOT ({col} {SYMBOL[op or 'mustBe']} {_literal(bound)})")
    return f"{col} IS NOT NULL AND ({' OR '.join(parts) or 'FALSE'})"


def measure_sql(rule: QualityRule) -> str:
    """The aggregate a library rule measures over ``RUN_TABLE``, as one SELECT expression."""
    if rule.metric == "rowCount":
        expr = "count(*)" if rule.column is None else f"count({quote(rule.column)})"
    elif rule.metric == "duplicateValues":
        if rule.column is not None:
            col = quote(rule.column)
            expr = f"count({col}) - count(DISTINCT {col})"
        else:
            columns = rule.option("properties")
            listed = ", ".join(quote(c) for c in columns) if columns else "*"
            expr = (f"count(*) - (SELECT count(*) FROM (SELECT DISTINCT {listed} "
                    f"FROM {RUN_TABLE}))")
    else:
        expr = f"count(*) FILTER (WHERE {_bad_predicate(rule)})"
    if rule.unit == "percent" and rule.metric != "rowCount":
        return f"100.0 * ({expr}) / NULLIF(count(*), 0)"
    return expr

