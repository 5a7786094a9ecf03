"""Conform a batch to its contract and split it into valid and rejected rows, vectorised.

Rules, per field and in this order: ``type`` (a non-null input value that cannot be converted;
for ``json``, text that is not one JSON document), ``required`` (no value; a row that already
failed ``type`` is not also counted as missing), ``nul_byte`` (string text containing a NUL
character, unless the field has ``allow_nul``; JSON text with a raw NUL already fails ``type``,
as JSON escapes it), ``enum``, ``pattern`` (full match, RE2 syntax), ``minimum``/``maximum``,
``min_length``/``max_length`` (characters) and ``unique``. Only non-null values are checked
against nul_byte, enum, pattern, bounds and lengths. A rejected row's ``_dativo_rules`` lists
every rule it broke as ``rule:field`` (``min_length:name``), its ``_dativo_reason`` says each in
words.

Struct and list columns are checked inside as well, by path: every nested property's rules (its
``required`` only where its parent holds a value) and a list's ``min_items``/``max_items``, as
``required:address.city`` or ``minimum:lines[].qty``; ``type`` of the column itself means the
value is not a struct or list of the declared shape at all.

``required`` means *not null*, as in ODCS: an empty string is a value and passes; blank input for
a non-text type (``""`` for an integer) reads as null and fails it. ``min_length: 1`` (ODCS
``logicalTypeOptions.minLength: 1``) is the way to refuse empty text; text of spaces only has a
length and passes it (``pattern: '.*\\S.*'`` refuses that too).

``unique`` is checked within the batch only: every row whose value occurs more than once in the
batch is rejected, because nothing in a batch says which of the copies is right. Uniqueness across
loads is the target's business (merge keys). ``primary_key`` implies neither ``required`` nor
``unique`` here; CDC batches legitimately repeat keys.

The ``ingest_date`` system column is always filled with the load date, whatever the input holds.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache, reduce

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_dativo.contracts._conform import as_text, conform
from airflow_provider_dativo.contracts._conform_more import conform_nested
from airflow_provider_dativo.contracts._json_check import holds_documents
from airflow_provider_dativo.contracts._types import INGEST_DATE, TEXT_TYPES
from airflow_provider_dativo.contracts.arrow_types import arrow_schema
from airflow_provider_dativo.contracts.model import Contract, FieldSpec
from airflow_provider_dativo.contracts.quality import row_failures

REASON_COLUMN = "_dativo_reason"
RULES_COLUMN = "_dativo_rules"

_NULL_TEXT = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class CheckResult:
    valid: pa.RecordBatch
    rejected: pa.RecordBatch | None
    rule_counts: Mapping[str, int]  # only rules at least one row failed
    unknown_columns: tuple[str, ...]

    @property
    def rejected_rows(self) -> int:
        return 0 if self.rejected is None else self.rejected.num_rows


def rejected_schema(contract: Contract) -> pa.Schema:
    """Schema of :attr:`CheckResult.rejected`: contract columns as text plus the two reasons."""
    return _plan(contract).rejected_schema


@dataclass(frozen=True)
class _Rule:
    key: str  # machine form, "enum:status"
    message: str  # human form, "status: not in [open, closed]"


_Found = list[tuple[_Rule, pa.Array]]  # each rule broken, with the rows that broke it


@dataclass(frozen=True)
class _FieldPlan:
    spec: FieldSpec
    type: pa.DataType
    system: bool
    type_rule: _Rule
    required_rule: _Rule | None
    nul_rule: _Rule | None
    enum_rule: _Rule | None
    enum_values: pa.Array | None
    pattern_rule: _Rule | None
    anchored_pattern: str | None
    bound_rules: tuple[tuple[_Rule, str, object], ...]  # (rule, comparison, limit)
    unique_rule: _Rule | None


@dataclass(frozen=True)
class _Plan:
    schema: pa.Schema
    rejected_schema: pa.Schema
    fields: tuple[_FieldPlan, ...]


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _type_label(spec: FieldSpec, type_: pa.DataType) -> str:
    if isinstance(type_, pa.Decimal128Type):
        return f"decimal({type_.precision},{type_.scale})"
    if spec.type == "json":
        return "JSON document"
    if spec.format is not None and spec.type in ("date", "timestamp", "timestamptz"):
        return f"{spec.type} in format {spec.format}"
    return spec.type


def _field_plan(spec: FieldSpec, type_: pa.DataType) -> _FieldPlan:
    name = spec.name

    def rule(kind: str, message: str) -> _Rule:
        return _Rule(f"{kind}:{name}", f"{name}: {message}")

    enum_values = None
    enum_rule = None
    if spec.enum is not None:
        # Converting the listed values the way data is converted keeps comparisons exact; they
        # are ISO text even when the data uses a custom format.
        iso = dataclasses.replace(spec, format=None)
        enum_values, _ = conform(pa.array(list(spec.enum)), iso, type_)
        shown = ", ".join(_show(v) for v in spec.enum)
        enum_rule = rule("enum", f"not in [{shown}]")
    bounds: list[tuple[_Rule, str, object]] = []
    if spec.minimum is not None:
        bounds.append(
            (rule("minimum", f"below minimum {_show(spec.minimum)}"),
             "less_equal" if spec.exclusive_minimum else "less", spec.minimum)
        )
    if spec.maximum is not None:
        bounds.append(
            (rule("maximum", f"above maximum {_show(spec.maximum)}"),
             "greater_equal" if spec.exclusive_maximum else "greater", spec.maximum)
        )
    if spec.min_length is not None:
        bounds.append(
            (
                rule("min_length", f"shorter than {spec.min_length} characters"),
                "shorter",
                spec.min_length,
            )
        )
    if spec.max_length is not None:
        bounds.append(
            (
                rule("max_length", f"longer than {spec.max_length} characters"),
                "longer",
                spec.max_length,
            )
        )
    return _FieldPlan(
        spec=spec,
        type=type_,
        system=name == INGEST_DATE,
        type_rule=rule("type", f"not a valid {_type_label(spec, type_)}"),
        required_rule=rule("required", "required value missing") if spec.required else None,
        nul_rule=rule("nul_byte", "contains a NUL character (set allow_nul to accept it)")
        if spec.type in TEXT_TYPES and not spec.allow_nul
        else None,
        enum_rule=enum_rule,
        enum_values=enum_values,
        pattern_rule=rule("pattern", f"does not match pattern {spec.pattern}")
        if spec.pattern is not None
        else None,
        anchored_pattern=f"^(?:{spec.pattern})$" if spec.pattern is not None else None,
        bound_rules=tuple(bounds),
        unique_rule=rule("unique", "duplicate value in batch") if spec.unique else None,
    )


@lru_cache(maxsize=128)
def _plan(contract: Contract) -> _Plan:
    schema = arrow_schema(contract)
    fields = tuple(
        _field_plan(spec, f.type) for spec, f in zip(contract.fields, schema, strict=True)
    )
    rejected = pa.schema(
        [pa.field(spec.name, pa.string()) for spec in contract.fields]
        + [
            pa.field(REASON_COLUMN, pa.string(), nullable=False),
            pa.field(RULES_COLUMN, pa.string(), nullable=False),
        ]
    )
    return _Plan(schema, rejected, fields)


def _as_batch(data: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
    if isinstance(data, pa.RecordBatch):
        return data
    table = data.combine_chunks()
    columns = [
        column.chunk(0) if column.num_chunks else pa.array([], column.type)
        for column in table.columns
    ]
    return pa.RecordBatch.from_arrays(columns, schema=table.schema)


def _duplicates(values: pa.Array) -> pa.Array:
    """Rows whose non-null value occurs more than once, in O(n) via dictionary encoding."""
    if len(pc.unique(values)) == len(values) - values.null_count + (1 if values.null_count else 0):
        # Cheaper than encoding, and the common case: no duplicates at all.
        return pc.fill_null(pa.nulls(len(values), pa.bool_()), False)
    encoded = pc.dictionary_encode(values)
    indices = encoded.indices
    counted = pc.value_counts(indices)
    present = pc.is_valid(counted.field("values"))
    seen = pc.filter(counted.field("values"), present)
    counts = pc.filter(counted.field("counts"), present)
    # value_counts lists each dictionary index once; sorting by index aligns the counts with the
    # dictionary so a take() maps them back onto rows.
    per_row = pc.take(pc.take(counts, pc.sort_indices(seen)), indices)
    return pc.fill_null(pc.greater(per_row, 1), False)


def _typed_limit(limit: object, type_: pa.DataType) -> object:
    """A bound in the column's type: ISO text bounds of date and time columns are parsed."""
    if not isinstance(limit, str):
        return limit
    from airflow_provider_dativo.contracts._conform import conform

    spec = FieldSpec("bound", "timestamptz" if getattr(type_, "tz", None) else "timestamp")
    if pa.types.is_date(type_):
        spec = FieldSpec("bound", "date")
    elif pa.types.is_time(type_):
        spec = FieldSpec("bound", "time")
    value, _ = conform(pa.array([limit[:10] if spec.type == "date" else limit]), spec, type_)
    return value[0]


def _comparable(values: pa.Array) -> pa.Array:
    """Extension arrays (uuid) compared by their storage, which Arrow's kernels understand."""
    return values.storage if isinstance(values, pa.ExtensionArray) else values


def _violations(
    plan: _FieldPlan, values: pa.Array, type_bad: pa.Array | None
) -> list[tuple[_Rule, pa.Array]]:
    found: list[tuple[_Rule, pa.Array]] = []
    if type_bad is not None:
        found.append((plan.type_rule, type_bad))
    if plan.required_rule is not None and values.null_count:
        missing = pc.is_null(values)
        if type_bad is not None:
            missing = pc.and_(missing, pc.invert(type_bad))
        found.append((plan.required_rule, missing))
    if values.null_count == len(values):
        return found
    if plan.nul_rule is not None:
        found.append((plan.nul_rule, pc.fill_null(pc.match_substring(values, "\x00"), False)))
    if plan.enum_rule is not None:
        outside = pc.and_(
            pc.is_valid(values), pc.invert(pc.is_in(values, value_set=plan.enum_values))
        )
        found.append((plan.enum_rule, outside))
    if plan.pattern_rule is not None:
        matched = pc.match_substring_regex(values, plan.anchored_pattern)
        found.append((plan.pattern_rule, pc.fill_null(pc.invert(matched), False)))
    for rule, comparison, limit in plan.bound_rules:
        if comparison in ("shorter", "longer"):
            lengths = pc.utf8_length(values)
            failed = (
                pc.less(lengths, limit) if comparison == "shorter" else pc.greater(lengths, limit)
            )
        else:
            failed = getattr(pc, comparison)(values, _typed_limit(limit, values.type))
        found.append((rule, pc.fill_null(failed, False)))
    if plan.unique_rule is not None:
        found.append((plan.unique_rule, _duplicates(_comparable(values))))
    return found


def _input_name(inputs: Mapping[str, pa.Array], spec: FieldSpec) -> str:
    """The name of the source column of ``spec``: its contract name, else its ODCS
    physicalName."""
    return spec.name if inputs.get(spec.name) is not None else spec.source_name


def _nested_column(plan: _FieldPlan, raw: pa.Array) -> tuple[pa.Array, _Found]:
    """A struct or list column, every rule of its nested values named by path
    (``shipping_address.city: required value missing``, ``lines[].qty: below minimum 1``)."""
    values, type_bad, nested = conform_nested(raw, plan.spec, plan.type)
    found = _violations(plan, values, type_bad)
    found.extend(_item_counts(plan.spec, plan.spec.name, values))
    for node in nested:
        child = _nested_plan(node.spec, node.path, node.values.type)
        rules = _violations(child, node.values, node.type_bad)
        if node.spec.required:
            missing = pc.is_null(node.values)
            if node.present is not None:
                missing = pc.and_(missing, node.present)
            if node.type_bad is not None:
                missing = pc.and_(missing, pc.invert(node.type_bad))
            rules.append((_Rule(f"required:{node.path}", f"{node.path}: required value missing"),
                          pc.fill_null(missing, False)))
        rules.extend(_item_counts(node.spec, node.path, node.values))
        found.extend((rule, node.to_rows(mask)) for rule, mask in rules)
    return values, found


@lru_cache(maxsize=512)
def _nested_plan(spec: FieldSpec, path: str, type_: pa.DataType) -> _FieldPlan:
    # required is checked against the parent (see _nested_column); unique is a column rule
    return _field_plan(dataclasses.replace(spec, name=path, required=False, unique=False), type_)


def _item_counts(spec: FieldSpec, path: str, values: pa.Array) -> _Found:
    """ODCS minItems/maxItems of a list value."""
    if spec.type != "list" or (spec.min_items is None and spec.max_items is None):
        return []
    lengths = pc.list_value_length(values)
    found: _Found = []
    if spec.min_items is not None:
        found.append((_Rule(f"min_items:{path}", f"{path}: fewer than {spec.min_items} items"),
                      pc.fill_null(pc.less(lengths, spec.min_items), False)))
    if spec.max_items is not None:
        found.append((_Rule(f"max_items:{path}", f"{path}: more than {spec.max_items} items"),
                      pc.fill_null(pc.greater(lengths, spec.max_items), False)))
    return found


def check_batch(
    batch: pa.RecordBatch | pa.Table,
    contract: Contract,
    *,
    ingest_date: datetime.date | None = None,
) -> CheckResult:
    """Conform ``batch`` to ``contract`` and split it into valid and rejected rows.

    Input columns may have any Arrow type; columns the contract lacks are dropped and reported in
    ``unknown_columns``, and contract columns the input lacks are all null.
    """
    plan = _plan(contract)
    data = _as_batch(batch)
    rows = data.num_rows
    inputs: dict[str, pa.Array] = {}
    documents: set[str] = set()  # input columns whose reader wrote every text as JSON itself
    for field, column in zip(data.schema, data.columns, strict=True):
        if field.name not in inputs:  # the first column of a name is the input
            inputs[field.name] = column
            if holds_documents(field):
                documents.add(field.name)
    known = set(contract.field_names) | {f.source_name for f in contract.fields}
    unknown = tuple(dict.fromkeys(n for n in data.schema.names if n not in known))
    load_date = ingest_date or datetime.datetime.now(datetime.UTC).date()

    conformed: list[pa.Array] = []
    raws: list[pa.Array] = []
    failures: list[tuple[_Rule, pa.Array]] = []
    for field_plan in plan.fields:
        if field_plan.system:
            filled = pc.fill_null(pa.nulls(rows, pa.date32()), pa.scalar(load_date, pa.date32()))
            conformed.append(filled)
            raws.append(filled)
            continue
        source = _input_name(inputs, field_plan.spec)
        raw = inputs.get(source)
        if raw is None:
            raw = pa.nulls(rows)
        if field_plan.spec.type in ("struct", "list"):
            values, found = _nested_column(field_plan, raw)
            failures.extend(found)
        elif field_plan.spec.type == "json" and source in documents:
            values = raw  # JSON text its reader wrote: documents all, nothing to parse again
            failures.extend(_violations(field_plan, values, None))
        else:
            values, type_bad = conform(raw, field_plan.spec, field_plan.type)
            failures.extend(_violations(field_plan, values, type_bad))
        conformed.append(values)
        raws.append(raw)
    # the contract's per-row quality rules (nullCheck, validValues, between...), same machinery
    failures.extend((_Rule(key, reason), mask) for key, reason, mask in
                    row_failures(contract, dict(zip(contract.field_names, conformed, strict=True))))

    counts: dict[str, int] = {}
    active: list[tuple[_Rule, pa.Array]] = []
    for rule, mask in failures:
        count = pc.sum(mask).as_py() or 0
        if count:
            counts[rule.key] = counts.get(rule.key, 0) + count
            active.append((rule, mask))
    if not active:
        return CheckResult(
            pa.RecordBatch.from_arrays(conformed, schema=plan.schema), None, {}, unknown
        )

    failed = reduce(pc.or_, (mask for _, mask in active))
    keep = pc.invert(failed)
    valid = pa.RecordBatch.from_arrays([pc.filter(v, keep) for v in conformed], schema=plan.schema)
    rejected = _rejected(plan, raws, active, failed)
    return CheckResult(valid, rejected, counts, unknown)


def _rejected(
    plan: _Plan,
    raws: list[pa.Array],
    active: list[tuple[_Rule, pa.Array]],
    failed: pa.Array,
) -> pa.RecordBatch:
    # Work on the failed rows only; they are usually a small share of the batch.
    texts = [as_text(pc.filter(raw, failed)) for raw in raws]
    reasons: list[pa.Array] = []
    keys: list[pa.Array] = []
    for rule, mask in active:
        hit = pc.filter(mask, failed)
        reasons.append(pc.if_else(hit, rule.message, _NULL_TEXT))
        keys.append(pc.if_else(hit, rule.key, _NULL_TEXT))
    reason = pc.binary_join_element_wise(*reasons, "; ", null_handling="skip")
    rules = pc.binary_join_element_wise(*keys, ",", null_handling="skip")
    return pa.RecordBatch.from_arrays([*texts, reason, rules], schema=plan.rejected_schema)
