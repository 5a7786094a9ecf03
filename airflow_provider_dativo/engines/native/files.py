"""Native file source: CSV and JSON Lines from local paths, streamed as Arrow record batches.

Every column is read as text or as JSON's own types and conformed to the contract later, by the
contract layer, so one bad value fails one row rather than the whole file. Lines that cannot be
parsed at all come out as ``RejectedRecords`` that name the file and line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from airflow_provider_dativo.engines.base import (
    CheckStatus,
    ReadItem,
    RejectedRecords,
    StateUpdate,
    StreamInfo,
)
from airflow_provider_dativo.errors import EngineError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
BLOCK_BYTES = 8 << 20  # bytes per parse block: bounds memory, large enough to stay vectorized


@dataclass(frozen=True)
class FileSourceConfig:
    root: Path
    path: str  # glob, relative to the config root
    format: str | None = None  # csv | jsonl; by default from each file's extension
    delimiter: str = ","
    # quoted values spanning lines; off by default since the parser then cannot count lines
    multiline: bool = False
    block_bytes: int = BLOCK_BYTES

    @classmethod
    def from_connection(cls, root: Path, connection: Mapping[str, Any]) -> FileSourceConfig:
        if "path" not in connection:
            raise EngineError("the file source needs source.connection.path (a file or glob "
                              "relative to the config root)")
        return cls(root=root, path=str(connection["path"]), format=connection.get("format"),
                   delimiter=str(connection.get("delimiter", ",")),
                   multiline=bool(connection.get("multiline", False)),
                   block_bytes=int(connection.get("block_bytes", BLOCK_BYTES)))


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


class FileSource:
    """Reads each matching file once: state records the version of every file already read."""

    def __init__(self, config: FileSourceConfig,
                 json_types: Mapping[str, pa.DataType] | None = None):
        self.config = config
        # JSON-native types of contract columns, so the fast parser needs no inference
        self.json_types = dict(json_types or {})

    def files(self) -> list[Path]:
        pattern = self.config.path
        base = self.config.root
        matches = sorted(base.glob(pattern)) if any(c in pattern for c in "*?[") else [
            base / pattern]
        return [m for m in matches if m.is_file()]

    def _format(self, path: Path) -> str:
        fmt = self.config.format or FORMATS.get(path.suffix.lower())
        if fmt not in ("csv", "jsonl"):
            raise EngineError(f"{path}: unknown file format; set source.connection.format to "
                              "csv or jsonl")
        return fmt

    def check(self) -> CheckStatus:
        found = self.files()
        if not found:
            return CheckStatus(False, f"no file matches '{self.config.path}' under "
                                      f"{self.config.root}")
        unreadable = [str(f) for f in found if not os.access(f, os.R_OK)]
        if unreadable:
            return CheckStatus(False, f"cannot read: {', '.join(unreadable)}")
        return CheckStatus(True, f"{len(found)} file(s) match '{self.config.path}'")

    def discover(self) -> list[StreamInfo]:
        found = self.files()
        if not found:
            return []
        first = found[0]
        columns: dict[str, str] = {}
        batch = next((b for b in self._read_file(first) if isinstance(b, pa.RecordBatch)), None)
        if batch is not None:
            columns = {f.name: str(f.type) for f in batch.schema}
        return [StreamInfo(name=Path(self.config.path).stem.replace("*", "") or "files",
                           columns=columns, supports_incremental=True)]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        seen: dict[str, str] = dict((state or {}).get("files", {}))
        for path in self.files():
            key = str(path.relative_to(self.config.root))
            stamp = _stamp(path)
            if seen.get(key) == stamp:
                continue  # read once: this version of the file was committed before
            yield from self._read_file(path)
            seen[key] = stamp
            yield StateUpdate({"files": dict(sorted(seen.items()))})

    # -- formats -------------------------------------------------------------------------
    def _read_file(self, path: Path) -> Iterator[pa.RecordBatch | RejectedRecords]:
        if self._format(path) == "csv":
            yield from self._read_csv(path)
        else:
            yield from self._read_jsonl(path)

    def _read_csv(self, path: Path) -> Iterator[pa.RecordBatch | RejectedRecords]:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh, delimiter=self.config.delimiter), None)
        if not header:
            return
        bad: list[tuple[str, str]] = []  # (row text, problem)

        def on_invalid(row: Any) -> str:
            bad.append((row.text, f"expected {row.expected_columns} columns, found "
                                  f"{row.actual_columns}"))
            return "skip"

        parse = pacsv.ParseOptions(delimiter=self.config.delimiter,
                                   newlines_in_values=self.config.multiline,
                                   invalid_row_handler=on_invalid)
        # all text: conforming to the contract's types happens per value, not per file
        convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                       strings_can_be_null=True, quoted_strings_can_be_null=False)
        batches: Iterator[pa.RecordBatch]
        if self.config.multiline:
            # quoted line breaks need the whole-file parser, which reads ahead without bound
            batches = iter(pacsv.open_csv(
                path, read_options=pacsv.ReadOptions(block_size=self.config.block_bytes),
                parse_options=parse, convert_options=convert))
        else:
            batches = self._csv_blocks(path, header, parse, convert)
        try:
            for batch in batches:
                if batch.num_rows:
                    yield batch
        except pa.ArrowInvalid as exc:
            raise EngineError(f"{path}: cannot parse CSV: {exc}") from None
        if bad:
            lines = _line_numbers(path, [text for text, _ in bad])
            yield RejectedRecords(
                tuple(text for text, _ in bad),
                tuple(f"{path}:{line}: {problem}" if line else f"{path}: {problem}"
                      for line, (_, problem) in zip(lines, bad, strict=True)))

    def _csv_blocks(self, path: Path, header: list[str], parse: pacsv.ParseOptions,
                    convert: pacsv.ConvertOptions) -> Iterator[pa.RecordBatch]:
        """Parse whole-line blocks one at a time, so memory stays at about one block.

        pyarrow's streaming reader reads the file ahead as fast as it can, which made memory
        grow with the file size.
        """
        for number, block in enumerate(_line_blocks(path, self.config.block_bytes)):
            read = pacsv.ReadOptions(column_names=header, skip_rows=1 if number == 0 else 0,
                                     block_size=max(self.config.block_bytes // 2, 1 << 20))
            table = pacsv.read_csv(io.BytesIO(block), read_options=read, parse_options=parse,
                                   convert_options=convert)
            yield from table.to_batches()

    def _read_jsonl(self, path: Path) -> Iterator[pa.RecordBatch | RejectedRecords]:
        first_line = 1
        for block in _line_blocks(path, self.config.block_bytes):
            yield from self._parse_json_block(block, path, first_line)
            first_line += block.count(b"\n")

    def _parse_json_block(self, block: bytes, path: Path,
                          first_line: int) -> Iterator[pa.RecordBatch | RejectedRecords]:
        try:
            table = pajson.read_json(io.BytesIO(block), parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema(list(self.json_types.items())) if self.json_types
                else None, unexpected_field_behavior="infer"))
            yield from table.to_batches()
            return
        except pa.ArrowInvalid:
            pass  # a bad line or a value of another JSON type: fall back to line by line
        rows: list[dict[str, Any]] = []
        raw: list[str] = []
        reasons: list[str] = []
        for offset, line in enumerate(block.split(b"\n")):
            text = line.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raw.append(text)
                reasons.append(f"{path}:{first_line + offset}: invalid JSON: {exc.msg}")
                continue
            if not isinstance(value, dict):
                raw.append(text)
                reasons.append(f"{path}:{first_line + offset}: a JSON Lines record must be an "
                               "object")
                continue
            rows.append({k: _as_text(v) for k, v in value.items()})
        if raw:
            yield RejectedRecords(tuple(raw), tuple(reasons))
        if rows:
            names = list(dict.fromkeys(k for r in rows for k in r))
            yield pa.RecordBatch.from_pylist(rows, schema=pa.schema([(n, pa.string())
                                                                     for n in names]))


def _line_numbers(path: Path, texts: list[str]) -> list[int | None]:
    """Line numbers of rejected rows; the parser does not report them, so look them up once.

    Only files that had bad rows pay for this scan.
    """
    wanted: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        wanted.setdefault(text, []).append(i)
    found: list[int | None] = [None] * len(texts)
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            slots = wanted.get(line.rstrip("\r\n"))
            if slots:
                found[slots.pop(0)] = number
    return found


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _line_blocks(path: Path, size: int) -> Iterator[bytes]:
    """Blocks of whole lines of about ``size`` bytes."""
    with path.open("rb") as fh:
        rest = b""
        while chunk := fh.read(size):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest = chunk
                continue
            rest = chunk[cut + 1:]
            yield chunk[: cut + 1]
        if rest.strip():
            yield rest + b"\n"
