"""Native file source: CSV, JSON Lines and Parquet, streamed as Arrow record batches.

Files come from a glob under the config root or from object storage (``s3://bucket/prefix/*.csv``,
through pyarrow's S3 client). CSV and JSON columns are read as text or as JSON's own types and
conformed to the contract later, by the contract layer, so one bad value fails one row rather
than the whole file; Parquet keeps its own types. Lines that cannot be parsed at all come out as
``RejectedRecords`` that name the file and line. Reads are incremental by file version: state
records each file's modification time and size, so each version is read once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from airflow_provider_dativo.config import paths
from airflow_provider_dativo.engines.base import (
    CheckStatus,
    ReadItem,
    RejectedRecords,
    StateUpdate,
    StreamInfo,
)
from airflow_provider_dativo.errors import EngineError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}
BLOCK_BYTES = 8 << 20  # bytes per parse block: bounds memory, large enough to stay vectorized


PARQUET_BATCH_ROWS = 65536


@dataclass(frozen=True)
class FileSourceConfig:
    root: Path
    path: str  # glob relative to the config root, or s3://bucket/prefix/glob
    format: str | None = None  # csv | jsonl | parquet; by default from each file's extension
    delimiter: str = ","
    # quoted values spanning lines; off by default since the parser then cannot count lines
    multiline: bool = False
    block_bytes: int = BLOCK_BYTES
    # s3:// only: endpoint, region, access_key_id, secret_access_key (else the AWS_* variables)
    s3: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_connection(cls, root: Path, connection: Mapping[str, Any]) -> FileSourceConfig:
        if "path" not in connection:
            raise EngineError("the file source needs source.connection.path (a file or glob "
                              "relative to the config root, or s3://bucket/prefix/glob)")
        return cls(root=root, path=str(connection["path"]), format=connection.get("format"),
                   delimiter=str(connection.get("delimiter", ",")),
                   multiline=bool(connection.get("multiline", False)),
                   block_bytes=int(connection.get("block_bytes", BLOCK_BYTES)),
                   s3=MappingProxyType(dict(connection.get("s3") or {})))


@dataclass(frozen=True)
class FoundFile:
    key: str  # how state and messages name it: path under the config root, or the s3:// URI
    path: str  # the path the filesystem opens
    stamp: str  # modification time (ns) and size: a new version gets a new stamp

    @property
    def suffix(self) -> str:
        return Path(self.path).suffix

    def __str__(self) -> str:
        return self.key


def s3_filesystem(options: Mapping[str, Any]) -> pafs.S3FileSystem:
    """pyarrow's S3 client from the connection's ``s3`` block, else the AWS_* variables."""
    endpoint = str(options.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL_S3")
                   or os.environ.get("AWS_ENDPOINT_URL") or "")
    kwargs: dict[str, Any] = {
        "region": str(options.get("region") or os.environ.get("AWS_REGION")
                      or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")}
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        kwargs["endpoint_override"] = host or endpoint
        kwargs["scheme"] = scheme or "https"
    if options.get("access_key_id"):
        kwargs["access_key"] = str(options["access_key_id"])
        kwargs["secret_key"] = str(options.get("secret_access_key") or "")
    return pafs.S3FileSystem(**kwargs)


def _has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a local one reads: '*' and '?' stay within a folder, '**/' crosses folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


class FileSource:
    """Reads each matching file once: state records the version of every file already read."""

    def __init__(self, config: FileSourceConfig,
                 json_types: Mapping[str, pa.DataType] | None = None):
        self.config = config
        # JSON-native types of contract columns, so the fast parser needs no inference
        self.json_types = dict(json_types or {})
        self.remote = config.path.startswith("s3://")
        self.fs: pafs.FileSystem = (s3_filesystem(config.s3) if self.remote
                                    else pafs.LocalFileSystem())

    def files(self) -> list[FoundFile]:
        return self._remote_files() if self.remote else self._local_files()

    def _local_files(self) -> list[FoundFile]:
        # checked again at every listing, so a link made after validation is refused too;
        # the resolved path is what gets opened
        base = self.config.root
        try:
            matches = paths.glob_files(base, self.config.path)
        except paths.PathRefused as exc:
            raise EngineError(f"source.connection.path: {exc}") from None
        found = []
        for m in matches:
            st = m.real.stat()
            key = m.path.relative_to(base) if base in m.path.parents else m.path
            found.append(FoundFile(str(key), str(m.real), f"{st.st_mtime_ns}:{st.st_size}"))
        return found

    def _remote_files(self) -> list[FoundFile]:
        pattern = self.config.path.removeprefix("s3://")
        if not _has_glob(pattern):
            infos = [self._info(pattern)]
        else:
            cut = min(pattern.index(c) for c in "*?[" if c in pattern)
            prefix = pattern[:cut].rsplit("/", 1)[0]
            try:
                infos = self.fs.get_file_info(pafs.FileSelector(prefix, recursive=True,
                                                                allow_not_found=True))
            except OSError as exc:
                raise EngineError(f"cannot list s3://{prefix}: {exc}. Check the bucket, the "
                                  "credentials and source.connection.s3.endpoint") from None
            regex = _glob_regex(pattern)
            infos = [i for i in infos if regex.fullmatch(i.path)]
        return [FoundFile(f"s3://{i.path}", i.path,
                          f"{i.mtime_ns}:{i.size}") for i in sorted(infos, key=lambda i: i.path)
                if i.type == pafs.FileType.File]

    def _info(self, path: str) -> pafs.FileInfo:
        try:
            return self.fs.get_file_info(path)
        except OSError as exc:
            raise EngineError(f"cannot reach s3://{path}: {exc}. Check the bucket, the "
                              "credentials and source.connection.s3.endpoint") from None

    def _format(self, found: FoundFile) -> str:
        fmt = self.config.format or FORMATS.get(found.suffix.lower())
        if fmt not in ("csv", "jsonl", "parquet"):
            raise EngineError(f"{found}: unknown file format; set source.connection.format to "
                              "csv, jsonl or parquet")
        return fmt

    def _open(self, found: FoundFile) -> IO[bytes]:
        return self.fs.open_input_stream(found.path)  # type: ignore[return-value]

    def check(self) -> CheckStatus:
        try:
            found = self.files()
        except EngineError as exc:
            return CheckStatus(False, str(exc))
        where = "" if self.remote else f" under {self.config.root}"
        if not found:
            return CheckStatus(False, f"no file matches '{self.config.path}'{where}")
        unreadable = [f.key for f in found if not self.remote and not os.access(f.path, os.R_OK)]
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
        for found in self.files():
            if seen.get(found.key) == found.stamp:
                continue  # read once: this version of the file was committed before
            yield from self._read_file(found)
            seen[found.key] = found.stamp
            yield StateUpdate({"files": dict(sorted(seen.items()))})

    # -- formats -------------------------------------------------------------------------
    def _read_file(self, path: FoundFile) -> Iterator[pa.RecordBatch | RejectedRecords]:
        fmt = self._format(path)
        if fmt == "csv":
            yield from self._read_csv(path)
        elif fmt == "parquet":
            yield from self._read_parquet(path)
        else:
            yield from self._read_jsonl(path)

    def _read_parquet(self, path: FoundFile) -> Iterator[pa.RecordBatch]:
        """Row group by row group in its own types; the contract layer conforms them."""
        try:
            with self.fs.open_input_file(path.path) as fh:
                for batch in pq.ParquetFile(fh).iter_batches(batch_size=PARQUET_BATCH_ROWS):
                    if batch.num_rows:
                        yield batch
        except (pa.ArrowInvalid, OSError) as exc:
            raise EngineError(f"{path}: cannot read Parquet: {exc}") from None

    def _read_csv(self, path: FoundFile) -> Iterator[pa.RecordBatch | RejectedRecords]:
        with self._open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8",
                                                        newline="") as fh:
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
                self._open(path),
                read_options=pacsv.ReadOptions(block_size=self.config.block_bytes),
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
            with self._open(path) as raw:
                lines = _line_numbers(raw, [text for text, _ in bad])
            yield RejectedRecords(
                tuple(text for text, _ in bad),
                tuple(f"{path}:{line}: {problem}" if line else f"{path}: {problem}"
                      for line, (_, problem) in zip(lines, bad, strict=True)))

    def _csv_blocks(self, path: FoundFile, header: list[str], parse: pacsv.ParseOptions,
                    convert: pacsv.ConvertOptions) -> Iterator[pa.RecordBatch]:
        """Parse whole-line blocks one at a time, so memory stays at about one block.

        pyarrow's streaming reader reads the file ahead as fast as it can, which made memory
        grow with the file size.
        """
        for number, block in enumerate(self._blocks(path)):
            read = pacsv.ReadOptions(column_names=header, skip_rows=1 if number == 0 else 0,
                                     block_size=max(self.config.block_bytes // 2, 1 << 20))
            table = pacsv.read_csv(io.BytesIO(block), read_options=read, parse_options=parse,
                                   convert_options=convert)
            yield from table.to_batches()

    def _blocks(self, path: FoundFile) -> Iterator[bytes]:
        with self._open(path) as fh:
            yield from _line_blocks(fh, self.config.block_bytes)

    def _read_jsonl(self, path: FoundFile) -> Iterator[pa.RecordBatch | RejectedRecords]:
        first_line = 1
        for block in self._blocks(path):
            yield from self._parse_json_block(block, path, first_line)
            first_line += block.count(b"\n")

    def _parse_json_block(self, block: bytes, path: FoundFile,
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
            rows.append({k: as_text(v) for k, v in value.items()})
        if raw:
            yield RejectedRecords(tuple(raw), tuple(reasons))
        if rows:
            names = list(dict.fromkeys(k for r in rows for k in r))
            yield pa.RecordBatch.from_pylist(rows, schema=pa.schema([(n, pa.string())
                                                                     for n in names]))


def _line_numbers(raw: IO[bytes], texts: list[str]) -> list[int | None]:
    """Line numbers of rejected rows; the parser does not report them, so look them up once.

    Only files that had bad rows pay for this scan.
    """
    wanted: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        wanted.setdefault(text, []).append(i)
    found: list[int | None] = [None] * len(texts)
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            slots = wanted.get(line.rstrip("\r\n"))
            if slots:
                found[slots.pop(0)] = number
    return found


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _line_blocks(fh: IO[bytes], size: int) -> Iterator[bytes]:
    """Blocks of whole lines of about ``size`` bytes."""
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
