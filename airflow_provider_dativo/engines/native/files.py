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
import dataclasses
import io
import json
import os
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
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
from airflow_provider_dativo.engines.native.byte_ranges import COMPRESSED_SUFFIXES, LineRange
from airflow_provider_dativo.engines.native.lines import (
    LongLine,
    is_utf8,
    line_blocks,
    raw_text,
    utf8_problem,
)
from airflow_provider_dativo.engines.nesting import (
    DEEP_REASON,
    MAX_JSON_DEPTH,
    most_opened,
    too_deep,
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
    # s3:// only: endpoint, region, access_key_id, secret_access_key, session_token (else the
    # AWS_* variables)
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
    span: tuple[int, int] | None = None  # one part of a partitioned read: bytes [offset, end)

    @property
    def suffix(self) -> str:
        return Path(self.path).suffix

    @property
    def size(self) -> int:
        return int(self.stamp.rsplit(":", 1)[1])

    def __str__(self) -> str:
        if self.span is None:
            return self.key
        return f"{self.key} (bytes {self.span[0]}-{self.span[1]})"


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
        if options.get("session_token"):  # temporary credentials (an assumed role)
            kwargs["session_token"] = str(options["session_token"])
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
        self.part: Mapping[str, Any] | None = None  # one part of a partitioned read

    def restrict(self, part: Mapping[str, Any]) -> None:
        """Read one part only: the files it names, each whole or one byte range of it, as
        they were when the run was planned; see ``airflow_provider_dativo.partitions``."""
        self.part = part

    def files(self) -> list[FoundFile]:
        found = self._remote_files() if self.remote else self._local_files()
        if self.part is None:
            return found
        listed = {f.key: f for f in found}
        chosen = []
        for entry in self.part["files"]:
            now = listed.get(entry["key"])
            if now is None or now.stamp != entry["stamp"]:
                raise EngineError(f"{entry['key']} changed or went away since this run was "
                                  "planned, so its parts would not fit together; nothing of the "
                                  "run is committed: run the job again")
            span = entry.get("span")
            chosen.append(dataclasses.replace(now, span=None if span is None else tuple(span)))
        return chosen

    def splittable(self, found: FoundFile) -> bool:
        """Whether byte ranges of the file parse on their own: line-based text, uncompressed,
        without quoted line breaks."""
        return (self._format(found) in ("csv", "jsonl") and not self.config.multiline
                and not found.path.lower().endswith(COMPRESSED_SUFFIXES))

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
        if found.span is not None:
            return LineRange(self.fs.open_input_file(found.path), *found.span,  # type: ignore[return-value]
                             found.size, header=self._format(found) == "csv")
        return self.fs.open_input_stream(found.path)

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
        blocks = self._blocks(path)
        first = next(blocks, None)
        if first is None:
            return
        header, body = self._csv_header(path, first)
        if not header:
            return
        if self.config.multiline:
            blocks.close()
            yield from self._read_csv_multiline(path, header)
            return
        parser = _CsvParser(header, self.config.delimiter)
        rejects = _Rejects(path)
        line = 2  # the header is line 1
        for block in chain([body], blocks):
            if isinstance(block, LongLine):
                rejects.add(line, raw_text(block.head), block.problem(self.config.block_bytes))
                line += 1
                continue
            lines = block.count(b"\n")
            batches = parser.block(block, lines, line, rejects)
            yield from rejects.flush()
            yield from batches
            line += lines
        yield from rejects.flush()

    def _csv_header(self, path: FoundFile, first: bytes | LongLine) -> tuple[list[str], bytes]:
        """The column names on line 1, and the rest of the first block."""
        if isinstance(first, LongLine):
            raise EngineError(f"{path}:1: the header {first.problem(self.config.block_bytes)}")
        cut = first.index(b"\n")
        problem = utf8_problem(first[:cut])
        if problem:
            raise EngineError(f"{path}:1: the header is {problem}")
        text = first[:cut].decode("utf-8")
        return next(csv.reader([text], delimiter=self.config.delimiter), []), first[cut + 1:]

    def _read_csv_multiline(self, path: FoundFile,
                            header: list[str]) -> Iterator[pa.RecordBatch | RejectedRecords]:
        """Quoted line breaks need the whole-file parser, which reads ahead without bound and
        cannot tell which line it refused: a line it refuses fails the file."""
        parser = _CsvParser(header, self.config.delimiter, multiline=True)
        try:
            for batch in pacsv.open_csv(
                    self._open(path),
                    read_options=pacsv.ReadOptions(block_size=self.config.block_bytes),
                    parse_options=parser.parse, convert_options=parser.convert):
                if batch.num_rows:
                    yield batch
        except pa.ArrowInvalid as exc:
            raise EngineError(f"{path}: cannot parse CSV: {_arrow_problem(exc, self.config)}"
                              ) from None
        if parser.invalid:
            with self._open(path) as raw:
                lines = _line_numbers(raw, [text for text, _ in parser.invalid])
            rejects = _Rejects(path)
            for number, (text, problem) in zip(lines, parser.invalid, strict=True):
                rejects.add(number, text, problem)
            yield from rejects.flush()

    def _blocks(self, path: FoundFile) -> Generator[bytes | LongLine, None, None]:
        with self._open(path) as fh:
            yield from line_blocks(fh, self.config.block_bytes)

    def _read_jsonl(self, path: FoundFile) -> Iterator[pa.RecordBatch | RejectedRecords]:
        rejects = _Rejects(path)
        line = 1
        for block in self._blocks(path):
            if isinstance(block, LongLine):
                rejects.add(line, raw_text(block.head), block.problem(self.config.block_bytes))
                line += 1
                continue
            opened, lines = most_opened(block)
            batches = self._json_block(block, line, opened, rejects)
            yield from rejects.flush()
            yield from batches
            line += lines
        yield from rejects.flush()

    def _json_block(self, block: bytes, first_line: int, opened: int,
                    rejects: _Rejects) -> list[pa.RecordBatch]:
        """A block in one go when Arrow takes it; else line by line: the lines no parser
        takes are rejected, the rest go to Arrow together and, if it still refuses them
        (a value of another JSON type than the contract's), to Python one by one."""
        # no line opens more brackets than the depth limit, so none nests deeper
        if opened <= MAX_JSON_DEPTH and is_utf8(block):
            table = self._json_table(block)
            if table is not None:
                return table.to_batches()
        good: list[tuple[int, bytes]] = []
        for offset, line in enumerate(block.split(b"\n")):
            line = line.strip()
            if not line:
                continue
            problem = utf8_problem(line) or (DEEP_REASON if too_deep(line) else None)
            if problem:
                rejects.add(first_line + offset, raw_text(line), problem)
            else:
                good.append((first_line + offset, line))
        if not good:
            return []
        table = self._json_table(b"\n".join(line for _, line in good) + b"\n", whole=True)
        if table is not None:
            return table.to_batches()
        return self._json_lines(good, rejects)

    def _json_table(self, data: bytes, whole: bool = False) -> pa.Table | None:
        """Arrow's parse of whole lines, or None when it refuses them; ``whole`` parses them
        as one block, so that no line is too long for Arrow's own block size."""
        read = pajson.ReadOptions(block_size=len(data) + 1) if whole else pajson.ReadOptions()
        try:
            return pajson.read_json(io.BytesIO(data), read_options=read,
                                    parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema(list(self.json_types.items())) if self.json_types
                else None, unexpected_field_behavior="infer"))
        except pa.ArrowInvalid:
            return None

    def _json_lines(self, lines: list[tuple[int, bytes]],
                    rejects: _Rejects) -> list[pa.RecordBatch]:
        """UTF-8 lines no deeper than the limit, parsed one by one; every value as text."""
        rows: list[dict[str, Any]] = []
        for number, line in lines:
            text = line.decode("utf-8")
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                rejects.add(number, text, f"invalid JSON: {exc.msg}")
                continue
            if not isinstance(value, dict):
                rejects.add(number, text, "a JSON Lines record must be an object")
                continue
            rows.append({k: as_text(v) for k, v in value.items()})
        if not rows:
            return []
        names = list(dict.fromkeys(k for r in rows for k in r))
        return [pa.RecordBatch.from_pylist(rows, schema=pa.schema([(n, pa.string())
                                                                  for n in names]))]


class _Rejects:
    """Lines of one file that could not be parsed, handed on as one ``RejectedRecords``."""

    def __init__(self, path: FoundFile) -> None:
        self.path = path

        self.lines: list[tuple[int, str, str]] = []  # (line or 0 when unknown, raw, problem)

    def add(self, line: int | None, raw: str, problem: str) -> None:
        self.lines.append((line or 0, raw, problem))

    def flush(self) -> Iterator[RejectedRecords]:
        if self.lines:
            lines = sorted(self.lines, key=lambda item: item[0])
            self.lines = []
            yield RejectedRecords(tuple(raw for _, raw, _ in lines), tuple(
                f"{self.path}:{line}: {problem}" if line else f"{self.path}: {problem}"
                for line, _, problem in lines))


UNCLOSED = ("a quoted value is not closed on this line (values with line breaks need "
            "source.connection.multiline: true)")


class _CsvParser:
    """Arrow's CSV parser on blocks of whole lines, every column as text (conforming to the
    contract's types happens per value, not per file).

    A block is parsed in one go, with a last row of empty values after it: when every line
    came out as one row, no line left a quote open (one that does takes the lines after it,
    that last row included, into its value). Otherwise the block is taken line by line.
    """

    def __init__(self, header: list[str], delimiter: str, multiline: bool = False) -> None:
        self.header = header
        self.sentinel = delimiter.join(['""'] * len(header)).encode() + b"\n"
        self.invalid: list[tuple[str, str]] = []  # (row text, problem) of the last parse
        self.parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=multiline,
                                        invalid_row_handler=self._invalid_row)
        self.convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                            strings_can_be_null=True,
                                            quoted_strings_can_be_null=False)

    def _invalid_row(self, row: Any) -> str:
        self.invalid.append((row.text, f"expected {row.expected_columns} columns, found "
                                       f"{row.actual_columns}"))
        return "skip"

    def table(self, data: bytes, lines: int) -> tuple[pa.Table | None, str | None]:
        """``data``, ``lines`` whole lines, as a table; else None and why (None when a line
        took the next ones, or an empty line was skipped)."""
        self.invalid = []
        body = data + self.sentinel
        try:
            table = pacsv.read_csv(io.BytesIO(body), read_options=pacsv.ReadOptions(
                column_names=self.header, block_size=len(body) + 1),
                parse_options=self.parse, convert_options=self.convert)
        except pa.ArrowInvalid as exc:
            return None, str(exc)
        if table.num_rows + len(self.invalid) != lines + 1:
            return None, None
        return table.slice(0, table.num_rows - 1), None

    def block(self, data: bytes, lines: int, first_line: int,
              rejects: _Rejects) -> list[pa.RecordBatch]:
        # Arrow refuses text that is not UTF-8 too, but it would first hand the row to the
        # invalid-row handler, whose decoding then fails inside Arrow
        table = self.table(data, lines)[0] if is_utf8(data) else None
        if table is not None:  # the fast path: Python never looks at a line
            if self.invalid:
                self._reject_invalid(data.split(b"\n"), range(first_line, first_line + lines),
                                     rejects)
            return table.to_batches()
        return self._line_by_line(data, first_line, rejects)

    def _line_by_line(self, data: bytes, first_line: int,
                      rejects: _Rejects) -> list[pa.RecordBatch]:
        lines = data.split(b"\n")[:-1]
        kept: list[int] = []
        refused: dict[int, str] = {}
        for i, line in enumerate(lines):
            if line in (b"", b"\r"):
                continue  # Arrow skips empty lines
            problem = utf8_problem(line)
            if problem:
                refused[i] = problem
            else:
                kept.append(i)
        for j, problem in self._refused([lines[i] for i in kept]).items():
            refused[kept[j]] = problem
        for i in sorted(refused):
            rejects.add(first_line + i, raw_text(lines[i]), refused[i])
        good = [i for i in kept if i not in refused]
        if not good:
            return []
        table, problem = self.table(b"".join(lines[i] + b"\n" for i in good), len(good))
        if table is None:  # the lines Arrow took one group at a time, refused together
            raise EngineError(f"{rejects.path}:{first_line}-{first_line + len(lines) - 1}: "
                              f"cannot parse CSV: {problem or UNCLOSED}")
        if self.invalid:
            self._reject_invalid([lines[i] for i in good], [first_line + i for i in good],
                                 rejects)
        return table.to_batches()

    def _refused(self, lines: list[bytes]) -> dict[int, str]:
        """The lines Arrow refuses, or that leave a quote open, and why: halves of the lines
        are parsed until each group either parses or is one line."""
        refused: dict[int, str] = {}
        groups = [(0, len(lines))]
        while groups:
            lo, hi = groups.pop()
            if hi <= lo:
                continue
            table, problem = self.table(b"".join(line + b"\n" for line in lines[lo:hi]),
                                        hi - lo)
            if table is not None:
                continue
            if hi - lo == 1:
                refused[lo] = problem or UNCLOSED
                continue
            mid = (lo + hi) // 2
            groups += [(mid, hi), (lo, mid)]
        return refused

    def _reject_invalid(self, lines: Sequence[bytes], numbers: Sequence[int],
                        rejects: _Rejects) -> None:
        """Rows with the wrong number of values, with their line: the parser does not say
        which line it skipped, so the lines of this block are searched for its text."""
        wanted: dict[str, list[int]] = {}
        for k, (text, _) in enumerate(self.invalid):
            wanted.setdefault(text.rstrip("\r"), []).append(k)
        found: list[int | None] = [None] * len(self.invalid)
        for line, number in zip(lines, numbers, strict=False):
            slots = wanted.get(raw_text(line))
            if slots:
                found[slots.pop(0)] = number
        for at, (text, problem) in zip(found, self.invalid, strict=True):
            rejects.add(at, text, problem)


def _arrow_problem(exc: pa.ArrowInvalid, config: FileSourceConfig) -> str:
    """Arrow's message, with its own block size replaced by the job's setting."""
    text = str(exc)
    if "straddling" in text or "block size" in text:
        return (f"a row is longer than source.connection.block_bytes ({config.block_bytes:,}); "
                "raise that setting above the longest row")
    return text


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
