"""Reading a contract's ``quality`` entries into rules, with every problem reported at its path
(unknown rule names, operators that do not fit, missing bounds or options)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from airflow_provider_dativo.contracts._quality_rule import (
    ALIASES,
    COUNT_METRICS,
    LIBRARY_RULES,
    OPERATORS,
    RUN_METRICS,
    SEVERITIES,
    VALUE_METRICS,
    QualityRule,
    freeze,
    is_number,
)

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.model import FieldSpec

# Value bounds are numbers (as ODCS types them), so they compare with numeric columns.
_NUMERIC: Final = frozenset({"integer", "int32", "double", "decimal"})


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
        bound=freeze(bound), unit=str(item.get("unit") or "rows"), severity=severity,
        dimension=item.get("dimension"), description=item.get("description"),
        engine=item.get("engine"), schedule=item.get("schedule"),
        options=freeze(options), path=path, line=issues.line_of(path))


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


def _check_bound(operator: str | None, bound: Any, path: str, issues: _Counter) -> Any:
    if operator in ("mustBeBetween", "mustNotBeBetween"):
        if not (isinstance(bound, list | tuple) and len(bound) == 2
                and all(is_number(v) for v in bound)):
            issues.add(path, f"{operator} takes two numbers, the smaller first: [1, 10]")
            return None
        if bound[0] > bound[1]:
            issues.add(path, f"{operator} lists {bound[0]} before {bound[1]}; put the smaller "
                       "first")
        return tuple(bound)
    if operator not in (None, "mustBe", "mustNotBe") and not is_number(bound):
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
            and not is_number(bound)):
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

