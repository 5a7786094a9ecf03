"""A contract's ``quality`` rule as dativo keeps it, the operators it compares with, and the
rule results a commit carries. (``contracts.quality`` is the public face of the rules.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

OPERATORS: Final = (
    "mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
    "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween",
)
SYMBOL: Final = {
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
# The run's results travel to the target inside the state the load passes, under this key; the
# target takes them out again and records them (Iceberg: one snapshot summary key per rule).
STATE_KEY: Final = "quality"
SUMMARY_PREFIX: Final = "dativo.quality."


def freeze(value: Any) -> Any:
    """A hashable copy (contracts are cached by value)."""
    if isinstance(value, Mapping):
        return tuple((str(k), freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
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
    return f"{SYMBOL.get(operator or 'mustBe', '=')} {_show(bound)}"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, str | bool) or value is None else str(value)


def _zero_tolerance(operator: str | None, bound: Any, percent: bool) -> bool:
    """Whether a count rule allows no bad row at all, so each bad row breaks it."""
    if operator is None:
        return True
    if not is_number(bound):
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



def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rules_of(contract: object) -> tuple[QualityRule, ...]:
    """A contract's rules (typed as ``object`` so this module needs no contract import: the
    contract model imports ``QualityRule`` from here)."""
    return getattr(contract, "quality", ())


# --- results in the commit --------------------------------------------------------------------


def with_results(state: Mapping[str, Any] | None,
                 results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The state the load passes to the target, carrying the run's rule results."""
    if not results:
        return None if state is None else dict(state)
    return {**(state or {}), STATE_KEY: {k: dict(v) for k, v in results.items()}}


def results_in_state(state: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The rule results a file target's committed state carries (see ``with_results``)."""
    return [{"name": name, **result} for name, result in ((state or {}).get(STATE_KEY) or {}
                                                          ).items()]


def results_in_summary(summary: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rule results an Iceberg snapshot summary carries (see ``split_results``)."""
    return [{"name": key[len(SUMMARY_PREFIX):], **json.loads(value)}
            for key, value in sorted(summary.items()) if key.startswith(SUMMARY_PREFIX)]


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
