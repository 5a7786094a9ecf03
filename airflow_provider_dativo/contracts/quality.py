"""ODCS ``quality`` rules: read from the contract, checked up front, and run.

A rule sits on a schema object (the table) or on one of its properties (a column). dativo runs
``library`` and ``sql`` rules; ``text`` rules are documentation (shown in the DAG's doc_md) and
``custom`` rules belong to other engines (``dativo validate`` lists them as not run here).

Library rules, by what they measure (the name as written, then its aliases):

* counts of bad rows, on a column: ``nullValues`` (``nullCheck``), ``missingValues`` (null or one
  of the ``missingValues`` option, default ``[null, ""]``), ``validValues`` (a value outside the
  ``validValues`` option), ``invalidValues`` (a value in the ``invalidValues`` option, outside
  ``validValues`` or not fully matching ``pattern``). The operator compares the count (or, with
  ``unit: percent``, its share of the run's rows); without one the rule means ``mustBe: 0``.
* value bounds, on a column: ``between`` (``mustBeBetween`` or ``mustNotBeBetween``),
  ``minCheck`` (``mustBeGreaterThan``/``mustBeGreaterOrEqualTo``), ``maxCheck``
  (``mustBeLessThan``/``mustBeLessOrEqualTo``). The operator applies to every non-null value;
  what is measured is how many rows break it, which must be 0.
* over the run: ``rowCount`` (``countCheck``) and ``duplicateValues`` (``duplicateCount``: on a
  column, non-null values that repeat one before them; on a table, rows repeating another, over
  the ``properties`` option's columns or all columns).

Options come from the rule's ``customProperties`` (v3.0.x), its ``arguments`` (v3.1.0) or a
key of the rule itself (``validValues: [...]``), in that order of precedence.

Where a rule runs: a column rule that allows no bad row (no operator, ``mustBe: 0``,
``mustBeLessThan: 1``...) and whose severity is ``error`` or unset runs *per row*, on every
batch, beside the contract's own checks: strict mode fails the run, warn mode quarantines the
rows with the rule's name as their rule and its description as the reason. Every other rule runs
once per run over the run's staged files, before the commit (see ``quality_gate``), where an
``error`` rule (and, in strict mode, a rule without severity) fails the load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Protocol

from airflow_provider_dativo.errors import ConfigIssue

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.contracts.model import Contract, FieldSpec

OPERATORS: Final = (
    "mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
    "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween",
)
_SYMBOL: Final = {
    "mustBe": "=", "mustNotBe": "!=", "mustBeGreaterThan": ">", "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<", "mustBeLessOrEqualTo": "<=",
}
SEVERITIES: Final = ("error", "warning", "info")

COUNT_METRICS: Final = frozenset({"nullValues", "missingValues", "validValues", "invalidValues"})
VALUE_METRICS: Final = {
    "between": ("mustBeBetween", "mustNotBeBetween"),
    "minCheck": ("mustBeGreaterThan", "mustBeGreaterOrEqualTo"),
    "maxCheck": ("mustBeLessThan", "mustBeLessOrEqualTo"),
}
RUN_METRICS: Final = frozenset({"rowCount", "duplicateValues"})
ALIASES: Final = {"nullCheck": "nullValues", "countCheck": "rowCount",
                  "duplicateCount": "duplicateValues"}
LIBRARY_RULES: Final = tuple(sorted(COUNT_METRICS | set(VALUE_METRICS) | RUN_METRICS
                                    | set(ALIASES)))
# Where ${table}, ${model} and ${object} point in a SQL rule: the run's rows.
RUN_TABLE: Final = "dativo_run"
_PLACEHOLDER = re.compile(r"\$\{(table|model|object|column)\}")
# Value bounds are numbers (as ODCS types them), so they compare with numeric columns.
_NUMERIC: Final = frozenset({"integer", "int32", "double", "decimal"})
# The run's results travel to the target inside the state the load passes, under this key; the
# target takes them out again and records them (Iceberg: one snapshot summary key per rule).
STATE_KEY: Final = "quality"
SUMMARY_PREFIX: Final = "dativo.quality."


def _freeze(value: Any) -> Any:
    """A hashable copy (contracts are cached by value)."""
    if isinstance(value, Mapping):
        return tuple((str(k), _freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class QualityRule:
    """One ``quality`` entry of a contract, read and checked."""

    name: str  # as written, else derived: "nullValues:email", "rowCount", "sql:email#1"
    type: str  # library, sql, text, custom
    column: str | None  # the property a property-level rule sits on
    metric: str | None = None  # canonical library rule name
    query: str | None = None
    operator: str | None = None
    bound: Any = None  # a number (or any value for mustBe/mustNotBe), or (low, high)
    unit: str = "rows"
    severity: str | None = None
    dimension: str | None = None
    description: str | None = None
    engine: str | None = None  # custom rules
    schedule: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    path: str = ""  # document path, for messages
    line: int | None = field(default=None, compare=False)

    @property
    def level(self) -> str:
        return "property" if self.column is not None else "object"

    @property
    def runs(self) -> bool:
        return self.type in ("library", "sql")

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)

    @property
    def per_row(self) -> bool:
        """Whether the rule runs on every batch (a column rule that tolerates no bad row)."""
        if self.type != "library" or self.column is None or self.severity not in (None, "error"):
            return False
        if self.metric in VALUE_METRICS:
            return True
        return self.metric in COUNT_METRICS and _zero_tolerance(self.operator, self.bound,
                                                                self.unit == "percent")

    def bound_text(self) -> str:
        """The bound in words: ``= 0``, ``between 1 and 5``, ``each value >= 0``."""
        if self.metric in VALUE_METRICS:
            return f"0 rows with a value not {_bound_words(self.operator, self.bound)}"
        unit = " %" if self.unit == "percent" else ""
        return f"{_bound_words(self.operator, self.bound)}{unit}"

    def reason(self) -> str:
        """Why a row was refused, as its quarantine reason says it."""
        what = self.description or f"quality rule {self.name} ({self.bound_text()})"
        return f"{self.column}: {what}" if self.column else what


def _bound_words(operator: str | None, bound: Any) -> str:
    if operator in ("mustBeBetween", "mustNotBeBetween"):
        low, high = bound
        return f"{'' if operator == 'mustBeBetween' else 'not '}between {_show(low)} and " \
               f"{_show(high)}"
    return f"{_SYMBOL.get(operator or 'mustBe', '=')} {_show(bound)}"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, str | bool) or value is None else str(value)


def _zero_tolerance(operator: str | None, bound: Any, percent: bool) -> bool:
    """Whether a count rule allows no bad row at all, so each bad row breaks it."""
    if operator is None:
        return True
    if not _is_number(bound):
        return False
    if percent:  # any share above 0 may still be allowed
        return operator in ("mustBe", "mustBeLessOrEqualTo") and bound == 0
    return ((operator == "mustBe" and bound == 0) or (operator == "mustBeLessThan" and bound <= 1)
            or (operator == "mustBeLessOrEqualTo" and bound < 1))


def passes(operator: str | None, bound: Any, measured: Any) -> bool:
    """Whether ``measured`` satisfies ``operator`` (``None`` means ``mustBe: 0``)."""
    if operator is None:
        operator, bound = "mustBe", 0
    if measured is None:
        measured = 0  # a share of no rows, or an aggregate over none
    try:
        if operator == "mustBe":
            return bool(measured == bound)
        if operator == "mustNotBe":
            return bool(measured != bound)
        if operator in ("mustBeBetween", "mustNotBeBetween"):
            inside = bound[0] <= measured <= bound[1]
            return inside if operator == "mustBeBetween" else not inside
        return bool({"mustBeGreaterThan": measured > bound,
                     "mustBeGreaterOrEqualTo": measured >= bound,
                     "mustBeLessThan": measured < bound,
                     "mustBeLessOrEqualTo": measured <= bound}[operator])
    except TypeError:
        return False  # a text result compared with a number bound


# --- reading -------------------------------------------------------------------------------------


class IssueSink(Protocol):
    """Where reading reports problems: the contract loader's issue list."""

    def add(self, path: str, message: str) -> None: ...

    def line_of(self, path: str) -> int | None: ...


def read_rules(entries: Iterable[tuple[str, Any, FieldSpec | None]],
               issues: IssueSink) -> tuple[QualityRule, ...]:
    """Rules from ``(path of the quality list, the list, the property it sits on)`` triples."""
    rules: list[QualityRule] = []
    for base, items, spec in entries:
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            path = f"{base}[{i}]"
            if not isinstance(item, Mapping):
                issues.add(path, "a quality rule must be a mapping")
                continue
            rule = _read_rule(item, path, spec, i + 1, issues)
            if rule is not None:
                rules.append(rule)
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.name in seen:
            issues.add(f"{rule.path}.name", f"two quality rules are named {rule.name!r} (the "
                       f"other at {seen[rule.name]}); give each a distinct name")
        seen.setdefault(rule.name, rule.path)
    return tuple(rules)


def _options(item: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key in ("validValues", "invalidValues", "missingValues", "pattern", "properties"):
        if key in item:
            options[key] = item[key]
    arguments = item.get("arguments")
    if isinstance(arguments, Mapping):
        options.update(arguments)
    for prop in item.get("customProperties") or ():
        if isinstance(prop, Mapping) and isinstance(prop.get("property"), str):
            options[prop["property"]] = prop.get("value")
    return options


def _read_rule(item: Mapping[str, Any], path: str, spec: FieldSpec | None, number: int,
               issues: IssueSink) -> QualityRule | None:
    kind = str(item.get("type") or ("library" if "rule" in item or "metric" in item else "text"))
    if "query" in item and "type" not in item:
        kind = "sql"
    column = spec.name if spec is not None else None
    before = _Counter(issues)
    written = item.get("metric", item.get("rule"))
    metric = ALIASES.get(str(written), str(written)) if written is not None else None
    operators = [op for op in OPERATORS if op in item]
    operator = operators[0] if operators else None
    bound = item.get(operator) if operator else None
    severity = item.get("severity")
    if severity is not None and severity not in SEVERITIES:
        before.add(f"{path}.severity", f"severity {severity!r} is not one of "
                   f"{', '.join(SEVERITIES)}; dativo fails the load on error only")
    if kind in ("library", "sql"):
        if len(operators) > 1:
            before.add(f"{path}.{operators[1]}", f"a rule takes one operator; this one has "
                       f"{', '.join(operators)}")
        bound = _check_bound(operator, bound, f"{path}.{operator}", before)
    options = _options(item)
    if kind == "library":
        _check_library(written, metric, operator, bound, options, spec, path,
                       f"{path}.metric" if "metric" in item else f"{path}.rule", before)
    elif kind == "sql":
        _check_sql(item.get("query"), operator, column, path, before)
    if kind == "library" and operator is None and metric in COUNT_METRICS | RUN_METRICS:
        operator, bound = "mustBe", 0  # what a count rule without an operator means
    name = item.get("name")
    if not isinstance(name, str) or not name:
        name = _derived_name(kind, metric, column, number, item)
    if before.count:
        return None
    return QualityRule(
        name=name, type=kind, column=column, metric=metric if kind == "library" else None,
        query=item.get("query") if kind == "sql" else None, operator=operator,
        bound=_freeze(bound), unit=str(item.get("unit") or "rows"), severity=severity,
        dimension=item.get("dimension"), description=item.get("description"),
        engine=item.get("engine"), schedule=item.get("schedule"),
        options=_freeze(options), path=path, line=issues.line_of(path))


class _Counter:
    """Counts the issues one rule added, so a rule with a problem is left out."""

    def __init__(self, issues: IssueSink) -> None:
        self.issues, self.count = issues, 0

    def add(self, path: str, message: str) -> None:
        self.count += 1
        self.issues.add(path, message)


def _derived_name(kind: str, metric: str | None, column: str | None, number: int,
                  item: Mapping[str, Any]) -> str:
    if kind == "library":
        return f"{metric}:{column}" if column else str(metric)
    if kind == "custom":
        return f"{item.get('engine')}#{number}"
    return f"{kind}:{column}#{number}" if column else f"{kind}#{number}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_bound(operator: str | None, bound: Any, path: str, issues: _Counter) -> Any:
    if operator in ("mustBeBetween", "mustNotBeBetween"):
        if not (isinstance(bound, list | tuple) and len(bound) == 2
                and all(_is_number(v) for v in bound)):
            issues.add(path, f"{operator} takes two numbers, the smaller first: [1, 10]")
            return None
        if bound[0] > bound[1]:
            issues.add(path, f"{operator} lists {bound[0]} before {bound[1]}; put the smaller "
                       "first")
        return tuple(bound)
    if operator not in (None, "mustBe", "mustNotBe") and not _is_number(bound):
        issues.add(path, f"{operator} takes a number, not {bound!r}")
    return bound


def _check_library(written: Any, metric: str | None, operator: str | None, bound: Any,
                   options: Mapping[str, Any], spec: FieldSpec | None, path: str, key: str,
                   issues: _Counter) -> None:
    if metric is None:
        issues.add(path, "a library rule names its rule (rule: nullCheck, or metric: nullValues "
                   "in ODCS v3.1)")
        return
    if metric not in COUNT_METRICS | set(VALUE_METRICS) | RUN_METRICS:
        issues.add(key, f"unknown library rule {written!r}; dativo runs "
                   f"{', '.join(LIBRARY_RULES)} (or write the check as a sql rule)")
        return
    if spec is None and metric not in RUN_METRICS:
        issues.add(key, f"{written} applies to a column: move it to the property's quality")
    if metric in VALUE_METRICS:
        fitting = VALUE_METRICS[metric]
        if operator not in fitting:
            got = f"not {operator}" if operator else "without one"
            issues.add(f"{path}.{operator}" if operator else key,
                       f"{written} needs {' or '.join(fitting)} ({got}), the bound every value "
                       "must meet")
        if spec is not None and spec.type not in _NUMERIC:
            issues.add(key, f"{written} compares values with a number; column {spec.name!r} "
                       f"is {spec.type} (write the check as a sql rule)")
    elif metric == "rowCount" and operator is None:
        issues.add(key, f"{written} needs an operator, such as mustBeGreaterThan: 0")
    if (operator in ("mustBe", "mustNotBe") and metric not in VALUE_METRICS
            and not _is_number(bound)):
        issues.add(f"{path}.{operator}", f"{written} counts rows, so {operator} takes a number, "
                   f"not {bound!r}")
    if metric == "validValues" and not isinstance(options.get("validValues"), list):
        issues.add(key, f"{written} needs the validValues option: a list of the allowed values")
    if metric == "invalidValues" and not any(
            options.get(k) is not None for k in ("validValues", "invalidValues", "pattern")):
        issues.add(key, f"{written} needs validValues, invalidValues or pattern among its options")
    pattern = options.get("pattern")
    if metric == "invalidValues" and pattern is not None and not isinstance(pattern, str):
        issues.add(key, "the pattern option must be a regular expression")
    if metric in ("missingValues", "validValues", "invalidValues"):
        for opt in ("missingValues", "validValues", "invalidValues"):
            if opt in options and not isinstance(options[opt], list):
                issues.add(key, f"the {opt} option must be a list of values")
    if metric == "duplicateValues" and spec is None:
        columns = options.get("properties")
        if columns is not None and not (isinstance(columns, list)
                                        and all(isinstance(c, str) for c in columns)):
            issues.add(key, "the properties option of duplicateValues must list column names")


def _check_sql(query: Any, operator: str | None, column: str | None, path: str,
               issues: _Counter) -> None:
    if not isinstance(query, str) or not query.strip():
        issues.add(f"{path}.query", "a sql rule needs a query returning one value")
        return
    if operator is None:
        issues.add(path, "a sql rule needs an operator to compare its result with, such as "
                   "mustBe: 0")
    if column is None and "${column}" in query:
        issues.add(f"{path}.query", "${column} means the rule's property; this rule sits on "
                   "the schema object, so name the column instead")


# --- helpers for reporting ------------------------------------------------------------------------


def rules_of(contract: Contract) -> tuple[QualityRule, ...]:
    return getattr(contract, "quality", ())


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
    """Errors (SQL that does not parse or bind against the contract's columns) and notices
    (rules dativo does not run, schedules it does not follow) for ``dativo validate``."""
    errors: list[ConfigIssue] = []
    notices: list[ConfigIssue] = []
    for contract in contracts:
        errors += _sql_issues(contract, file)
        for rule in rules_of(contract):
            if rule.type == "custom":
                notices.append(ConfigIssue(file, f"quality rule {rule.name!r}: not run here: "
                               f"engine {rule.engine}", rule.line, rule.path))
            if rule.runs and rule.schedule:
                notices.append(ConfigIssue(file, f"quality rule {rule.name!r} has a schedule "
                               f"({rule.schedule}); dativo runs it on every load", rule.line,
                               f"{rule.path}.schedule"))
    return errors, notices


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


def skip_notices(jobs: Sequence[Any]) -> list[ConfigIssue]:
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
    if _is_number(value):
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
            parts.append(f"NOT ({col} {_SYMBOL[op or 'mustBe']} {_literal(bound)})")
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


# --- per-row evaluation -----------------------------------------------------------------------


@dataclass(frozen=True)
class _RowCheck:
    rule: QualityRule
    spec: FieldSpec
    values: Any  # typed listed values (pa.Array) by option, or typed bounds


@lru_cache(maxsize=128)
def _row_checks(contract: Contract) -> tuple[_RowCheck, ...]:
    import dataclasses

    from airflow_provider_dativo.contracts.arrow_types import arrow_schema

    schema = arrow_schema(contract)
    checks: list[_RowCheck] = []
    for rule in rules_of(contract):
        if not rule.per_row:
            continue
        spec = contract.field(rule.column or "")
        type_ = schema.field(spec.name).type
        iso = dataclasses.replace(spec, format=None)
        typed: dict[str, Any] = {}
        for key in ("missingValues", "validValues", "invalidValues"):
            listed = rule.option(key, (None, "") if key == "missingValues" else None)
            if listed is not None:
                typed[key] = _typed_values([v for v in listed if v is not None], iso, type_)
        if rule.metric in VALUE_METRICS:
            bounds = rule.bound if isinstance(rule.bound, tuple) else (rule.bound,)
            typed["bounds"] = _typed_values(list(bounds), iso, type_)
        checks.append(_RowCheck(rule, spec, typed))
    return tuple(checks)


def _typed_values(values: list[Any], spec: FieldSpec, type_: pa.DataType) -> pa.Array:
    """Listed values converted the way the column's data is, so comparisons are exact."""
    import pyarrow as pa

    from airflow_provider_dativo.contracts._conform import conform

    if spec.type in ("date", "timestamp", "timestamptz", "time", "uuid") or \
            pa.types.is_string(type_):
        raw = pa.array([str(v) for v in values], pa.string())
    else:
        raw = pa.array(values)
    typed, _ = conform(raw, spec, type_)
    return typed


def row_failures(contract: Contract,
                 columns: Mapping[str, pa.Array]) -> list[tuple[str, str, pa.Array]]:
    """``(rule name, reason, mask of failing rows)`` for the per-row rules of ``contract``."""
    checks = _row_checks(contract)
    if not checks:
        return []
    import pyarrow as pa
    import pyarrow.compute as pc

    found = []
    for check in checks:
        values = columns[check.spec.name]
        if isinstance(values, pa.ExtensionArray):
            values = values.storage
        found.append((check.rule.name, check.rule.reason(),
                      pc.fill_null(_row_mask(check, values), False)))
    return found


def _row_mask(check: _RowCheck, values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    rule, typed = check.rule, check.values
    if rule.metric == "nullValues":
        return pc.is_null(values)
    if rule.metric == "missingValues":
        return pc.or_(pc.is_null(values), pc.is_in(values, value_set=typed["missingValues"]))
    bad: list[pa.Array] = []
    if "validValues" in typed:
        bad.append(pc.invert(pc.is_in(values, value_set=typed["validValues"])))
    if "invalidValues" in typed and rule.metric == "invalidValues":
        bad.append(pc.is_in(values, value_set=typed["invalidValues"]))
    if rule.metric == "invalidValues" and rule.option("pattern") is not None:
        text = values if _is_text(values) else pc.cast(values, "string")
        bad.append(pc.invert(pc.match_substring_regex(text, f"^(?:{rule.option('pattern')})$")))
    if rule.metric in VALUE_METRICS:
        bounds = typed["bounds"]
        if rule.operator in ("mustBeBetween", "mustNotBeBetween"):
            inside = pc.and_(pc.greater_equal(values, bounds[0]), pc.less_equal(values, bounds[1]))
            bad.append(pc.invert(inside) if rule.operator == "mustBeBetween" else inside)
        else:
            kernel = {">": pc.greater, ">=": pc.greater_equal, "<": pc.less,
                      "<=": pc.less_equal}[_SYMBOL[rule.operator or "mustBe"]]
            bad.append(pc.invert(kernel(values, bounds[0])))
    if not bad:
        return pc.and_(pc.is_null(values), pc.is_valid(values))  # no row
    mask = bad[0]
    for more in bad[1:]:
        mask = pc.or_(mask, more)
    return pc.and_(pc.is_valid(values), mask)


def _is_text(values: pa.Array) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(values.type) or pa.types.is_large_string(values.type))


# --- results in the commit --------------------------------------------------------------------


def with_results(state: Mapping[str, Any] | None,
                 results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The state the load passes to the target, carrying the run's rule results."""
    if not results:
        return None if state is None else dict(state)
    return {**(state or {}), STATE_KEY: {k: dict(v) for k, v in results.items()}}


def split_results(state: Mapping[str, Any] | None
                  ) -> tuple[Mapping[str, Any] | None, dict[str, str]]:
    """The state without the rule results, and the results as ``dativo.quality.*`` summary
    properties; a state that only carried results is none."""
    if state is None or STATE_KEY not in state:
        return state, {}
    rest = {k: v for k, v in state.items() if k != STATE_KEY}
    props = {SUMMARY_PREFIX + name: json.dumps(result, sort_keys=True, default=str)
             for name, result in state[STATE_KEY].items()}
    return rest or None, props
