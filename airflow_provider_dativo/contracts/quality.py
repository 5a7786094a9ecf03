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

This module is the rules' public face; the parts live beside it: the rule itself and the results
a commit carries (``_quality_rule``), reading and checking the entries (``_quality_read``), the
rules as SQL for ``dativo validate`` and the gate (``_quality_sql``), and the per-row rules
(``_quality_rows``).
"""

from __future__ import annotations

from airflow_provider_dativo.contracts._quality_read import IssueSink, read_rules
from airflow_provider_dativo.contracts._quality_rows import row_failures
from airflow_provider_dativo.contracts._quality_rule import (
    ALIASES,
    COUNT_METRICS,
    LIBRARY_RULES,
    OPERATORS,
    RUN_METRICS,
    RUN_TABLE,
    SEVERITIES,
    STATE_KEY,
    SUMMARY_PREFIX,
    VALUE_METRICS,
    QualityRule,
    passes,
    results_in_state,
    results_in_summary,
    rules_of,
    split_results,
    with_results,
)
from airflow_provider_dativo.contracts._quality_sql import (
    measure_sql,
    quote,
    render_query,
    skip_issues,
    skip_warnings,
    table_names,
    validate_rules,
    without,
)

__all__ = [
    "ALIASES", "COUNT_METRICS", "LIBRARY_RULES", "OPERATORS", "RUN_METRICS", "RUN_TABLE",
    "SEVERITIES", "STATE_KEY", "SUMMARY_PREFIX", "VALUE_METRICS", "IssueSink", "QualityRule",
    "measure_sql", "passes", "quote", "read_rules", "render_query", "results_in_state",
    "results_in_summary", "row_failures", "rules_of",
    "skip_issues", "skip_warnings", "split_results", "table_names", "validate_rules",
    "with_results", "without",
]
