"""JSON records from connector protocols (Airbyte, Singer) into typed Arrow batches.

Columns are typed from the stream's JSON schema; the contract check in the runner then conforms
them to the asset contract, which wins where the two differ. Objects and arrays travel as JSON
text, except where the contract declares the column a struct or list: those are parsed into that
shape straight away (by Arrow's JSON reader, with the names the source uses). A record nested
deeper than ``MAX_JSON_DEPTH`` is rejected with its stream and line before any parser sees it.
A value that does not fit its declared type turns the whole column of that batch into text, so
the contract check rejects only the rows that are really wrong instead of the batch failing to
build.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from airflow_provider_dativo.contracts._json_check import json_documents
from airflow_provider_dativo.engines.base import ReadItem, RejectedRecords, StateUpdate
from airflow_provider_dativo.engines.nesting import (
    DEEP_REASON,
    MAX_JSON_DEPTH,
    most_opened_of,
    too_deep,
)

if TYPE_CHECKING:
    from airflow_provider_dativo.contracts.model import FieldSpec

_SCALARS = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
            "string": pa.string()}


def json_type_to_arrow(prop: Mapping[str, Any]) -> pa.DataType:
    """Arrow type of one JSON-schema property; nested or ambiguous values travel as JSON text."""
    declared = prop.get("type", "string")
    types = [declared] if isinstance(declared, str) else list(declared)
    types = [t for t in types if t != "null"]
    if len(types) != 1:
        return pa.string()
    if types[0] == "number" and prop.get("airbyte_type") == "integer":
        return pa.int64()
    return _SCALARS.get(types[0], pa.string())


def arrow_schema_of(json_schema: Mapping[str, Any], keep: Sequence[str] = (),
                    shapes: Mapping[str, pa.DataType] | None = None) -> pa.Schema:
    """Arrow schema of a stream's JSON schema; with ``keep``, only those properties (the
    contract's fields: the contract check drops the rest, so they are never converted);
    ``shapes`` types the columns the contract declares struct or list."""
    props = json_schema.get("properties") or {}
    wanted = set(keep)
    shapes = shapes or {}
    return pa.schema([
        (name, shapes[name] if name in shapes and _declares_nested(p)
         else json_type_to_arrow(p if isinstance(p, Mapping) else {}))
        for name, p in props.items() if not wanted or name in wanted])


def _declares_nested(prop: Any) -> bool:
    """Whether the JSON schema lets a property be an object or an array (or does not say)."""
    if not isinstance(prop, Mapping) or "type" not in prop:
        return True
    declared = prop["type"]
    types = {declared} if isinstance(declared, str) else set(declared)
    return bool(types & {"object", "array"})


def nested_shapes(specs: Sequence[FieldSpec]) -> dict[str, pa.DataType]:
    """The Arrow types of the contract's struct and list columns, under the source's names."""
    from airflow_provider_dativo.contracts._conform_more import source_type
    from airflow_provider_dativo.contracts.arrow_types import arrow_type

    return {spec.source_name: source_type(spec, arrow_type(spec)) for spec in specs
            if spec.type in ("struct", "list")}


def _declared_text(prop: Any) -> bool:
    """Whether a property is a plain JSON string (else its text form is JSON)."""
    if not isinstance(prop, Mapping):
        return False
    declared = prop.get("type", "string")
    types = [declared] if isinstance(declared, str) else [t for t in declared if t != "null"]
    return types == ["string"]


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # nested deeper than orjson writes; lines that deep are rejected before
        return None


def _column(values: list[Any], type_: pa.DataType) -> pa.Array:
    if type_ == pa.string():
        return pa.array([_as_text(v) for v in values], pa.string())
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([_as_text(v) for v in values], pa.string())


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class RecordBuffer:
    """Collects one stream's records and turns them into a batch of at most ``size`` rows."""

    def __init__(self, json_schema: Mapping[str, Any], size: int,
                 keep: Sequence[str] = (), shapes: Mapping[str, pa.DataType] | None = None,
                 ) -> None:
        self.schema = arrow_schema_of(json_schema, keep, shapes)
        self.size = size
        self.rows: list[dict[str, Any]] = []
        props = json_schema.get("properties") or {}
        # text columns that hold objects, arrays or mixed types: serialised before building
        self.as_json = [f.name for f in self.schema
                        if f.type == pa.string() and not _declared_text(props.get(f.name))]
        self._parsed = pa.schema([f for f in self.schema if f.name not in self.as_json])

    def add(self, record: dict[str, Any]) -> bool:
        """Keep a record; True when the buffer is full and should be flushed."""
        self.rows.append(record)
        return len(self.rows) >= self.size

    def flush(self) -> pa.RecordBatch | None:
        rows, self.rows = self.rows, []
        if not rows:
            return None
        if len(self.schema):
            batch = self._fast(rows)
            if batch is not None:
                return batch
        names = list(self.schema.names)
        if not names:  # a stream that declares no properties: keep what the records carry
            names = list(dict.fromkeys(k for r in rows for k in r))
        types = {f.name: f.type for f in self.schema}
        arrays = [_column([r.get(n) for r in rows], types.get(n, pa.string())) for n in names]
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def _fast(self, rows: list[dict[str, Any]]) -> pa.RecordBatch | None:
        """The whole batch built by Arrow at once; None when a value does not fit its type."""
        for name in self.as_json:
            for row in rows:
                value = row.get(name)
                if value is not None and not isinstance(value, str):
                    row[name] = _as_text(value)
        try:
            return pa.RecordBatch.from_pylist(rows, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            return None

    def from_lines(self, lines: Sequence[bytes],
                   envelope: Sequence[str]) -> pa.RecordBatch | None:
        """A batch straight from whole message lines, the record object at ``envelope``
        inside each: Arrow's JSON reader parses the typed columns in C++, and only columns
        kept as JSON text are decoded in Python. None when a line is not valid JSON or a
        value does not fit its type: the caller then takes the lines one by one."""
        if not len(self.schema) or not lines:
            return None
        nested: pa.DataType = pa.struct(list(self._parsed))
        for key in reversed(envelope):
            nested = pa.struct([(key, nested)])
        text = b"\n".join(lines)
        try:
            table = pa_json.read_json(
                pa.BufferReader(text),
                # one block, one thread: the connector needs the other core more than a batch
                # of a few MiB needs two
                read_options=pa_json.ReadOptions(use_threads=False,
                                                 block_size=max(len(text) + 1, 1 << 20)),
                parse_options=pa_json.ParseOptions(explicit_schema=pa.schema(nested),
                                                   unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(lines):  # a line held more than one value
            return None
        column: pa.Array = table.column(0).combine_chunks()
        for _ in envelope[1:]:
            column = column.field(0)
        parsed = pa.RecordBatch.from_struct_array(column)
        if not self.as_json:
            return parsed
        # the one per-record Python step; each record is dropped as soon as its values are
        # taken, and parsed JSON holds no reference cycles, so the cycle collector is paused:
        # its passes over every long-lived object of the process would cost more than this
        texts: dict[str, list[str | None]] = {name: [] for name in self.as_json}
        passed: set[str] = set()  # columns with a value that came as a string, kept as it is
        columns = list(texts.items())
        loads = orjson.loads
        with _cycle_collector_paused():
            for line in lines:
                record: Any = loads(line)
                for key in envelope:
                    record = record[key]
                for name, values in columns:
                    value = record.get(name)
                    if value.__class__ is str:
                        passed.add(name)
                    values.append(_as_text(value))
        return pa.RecordBatch.from_arrays(
            [pa.array(texts[f.name], pa.string()) if f.name in texts else parsed.column(f.name)
             for f in self.schema],
            # a column whose every text was written here holds JSON documents only: the
            # contract check need not read them again to know
            schema=pa.schema([json_documents(f) if f.name in texts and f.name not in passed else f
                              for f in self.schema]))


class ProtocolBatches:
    """What one connector read hands on, in order: record batches, the lines that were not
    records, then the latest checkpoint, which therefore covers every record before it.

    Records arrive either parsed (``add``) or as whole message lines not yet parsed
    (``add_lines``, the record object at ``envelope`` inside each), which are turned into a
    batch together; a batch holds one kind only, so rows keep their arrival order.
    """

    def __init__(self, json_schema: Mapping[str, Any], size: int, connector: str, *,
                 keep: Sequence[str] = (), envelope: Sequence[str] = (),
                 nested: Sequence[FieldSpec] = (), stream: str | None = None) -> None:
        self.keep = tuple(keep)
        self.envelope = tuple(envelope)
        self.shapes = nested_shapes(nested) if nested else {}
        self.buffer = RecordBuffer(json_schema, size, self.keep, self.shapes)
        self.size = size
        self.connector = connector
        self.stream = stream
        self._lines: list[bytes] = []  # record lines not parsed yet
        self._runs: list[tuple[int, int]] = []  # their stdout line numbers: (first, count)s
        self._raw: list[str] = []
        self._reasons: list[str] = []
        self._state: Mapping[str, Any] | None = None

    def add(self, record: dict[str, Any]) -> Iterator[ReadItem]:
        if self._lines:
            yield from self.flush()
        if self.buffer.add(record):
            yield from self.flush()

    def add_lines(self, first: int, lines: Sequence[bytes]) -> Iterator[ReadItem]:
        """Consecutive stdout lines, from line ``first`` on, that look like record messages of
        the stream."""
        if most_opened_of(lines) > MAX_JSON_DEPTH:  # some line may nest too deep: look at each
            for number, line in enumerate(lines, first):
                if too_deep(line):
                    self.reject(line.decode("utf-8", "replace"),
                                f"stdout line {number}: {DEEP_REASON}")
                else:
                    yield from self._take(number, (line,))
            return
        yield from self._take(first, lines)

    def _take(self, first: int, lines: Sequence[bytes]) -> Iterator[ReadItem]:
        if self.buffer.rows:
            yield from self.flush()
        while lines:
            room = self.size - len(self._lines)
            self._lines.extend(lines[:room])
            self._runs.append((first, min(room, len(lines))))
            first, lines = first + room, lines[room:]
            if len(self._lines) >= self.size:
                yield from self.flush()

    def add_text(self, where: str, line: bytes) -> Iterator[ReadItem]:
        """One record as JSON text (a line of a Singer BATCH file), found at ``where``."""
        if too_deep(line):
            self.reject(line.decode("utf-8", "replace"), f"{where}: {DEEP_REASON}")
            return
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self.reject(line.decode("utf-8", "replace"), f"{where}: not valid JSON ({exc.msg})")
            return
        if not isinstance(record, dict):
            self.reject(line.decode("utf-8", "replace"), f"{where}: not a JSON object")
            return
        yield from self.add(record)

    def reject(self, raw: str, reason: str) -> None:
        self._raw.append(raw)
        where = f"stream '{self.stream}', " if self.stream else ""
        self._reasons.append(f"{self.connector}: {where}{reason}")

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        self._state = state

    def reschema(self, json_schema: Mapping[str, Any]) -> Iterator[ReadItem]:
        """Rows so far keep the schema they arrived under; later rows take the new one."""
        yield from self.flush()
        self.buffer = RecordBuffer(json_schema, self.size, self.keep, self.shapes)

    def _lines_batch(self) -> pa.RecordBatch | None:
        lines, runs = self._lines, self._runs
        self._lines, self._runs = [], []
        batch = self.buffer.from_lines(lines, self.envelope)
        if batch is not None:
            return batch
        numbers = [number for first, count in runs for number in range(first, first + count)]
        # one by one: find the lines that are not JSON, and type the rest value by value
        for number, line in zip(numbers, lines, strict=True):
            try:
                record: Any = orjson.loads(line)
                for key in self.envelope:
                    record = record[key]
            except orjson.JSONDecodeError as exc:
                self.reject(line.decode("utf-8", "replace"),
                            f"stdout line {number}: not valid JSON ({exc.msg})")
                continue
            except (KeyError, TypeError):
                record = None
            if not isinstance(record, dict):
                self.reject(line.decode("utf-8", "replace"),
                            f"stdout line {number}: a record message without its record")
                continue
            self.buffer.add(record)
        return self.buffer.flush()

    def flush(self) -> Iterator[ReadItem]:
        batch = self._lines_batch() if self._lines else self.buffer.flush()
        if batch is not None:
            yield batch
        if self._raw:
            yield RejectedRecords(tuple(self._raw), tuple(self._reasons))
            self._raw, self._reasons = [], []
        if self._state is not None:
            state, self._state = self._state, None
            yield StateUpdate(state)
