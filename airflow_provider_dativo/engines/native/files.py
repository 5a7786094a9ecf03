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
from collections.abc import Generator, Iterator, Mapping
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

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
from airflow_provider_dativo.engines.native.csv_blocks import (
    UNCLOSED,
    CsvParser,
    Rejects,
    arrow_problem,
    as_text,
    line_numbers,
)
from airflow_provider_dativo.engines.native.file_config import (
    BLOCK_BYTES,
    FORMATS,
    PARQUET_BATCH_ROWS,
    FileSourceConfig,
    FoundFile,
    glob_regex,
    has_glob,
    s3_filesystem,
)
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

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec
    from airflow_provider_dativo.contracts.model import Contract

# the public names of the file source, wherever their section now lives
__all__ = ["BLOCK_BYTES", "FORMATS", "PARQUET_BATCH_ROWS", "UNCLOSED", "FileSource",
           "FileSourceConfig", "FoundFile", "as_text", "s3_filesystem"]
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

    starts_early = False

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
        if not has_glob(pattern):
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
            regex = glob_regex(pattern)
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
        parser = CsvParser(header, self.config.delimiter)
        rejects = Rejects(path)
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
        parser = CsvParser(header, self.config.delimiter, multiline=True)
        try:
            for batch in pacsv.open_csv(
                    self._open(path),
                    read_options=pacsv.ReadOptions(block_size=self.config.block_bytes),
                    parse_options=parser.parse, convert_options=parser.convert):
                if batch.num_rows:
                    yield batch
        except pa.ArrowInvalid as exc:
            raise EngineError(f"{path}: cannot parse CSV: {arrow_problem(exc, self.config)}"
                              ) from None
        if parser.invalid:
            with self._open(path) as raw:
                lines = line_numbers(raw, [text for text, _ in parser.invalid])
            rejects = Rejects(path)
            for number, (text, problem) in zip(lines, parser.invalid, strict=True):
                rejects.add(number, text, problem)
            yield from rejects.flush()

    def _blocks(self, path: FoundFile) -> Generator[bytes | LongLine, None, None]:
        with self._open(path) as fh:
            yield from line_blocks(fh, self.config.block_bytes)

    def _read_jsonl(self, path: FoundFile) -> Iterator[pa.RecordBatch | RejectedRecords]:
        rejects = Rejects(path)
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
                    rejects: Rejects) -> list[pa.RecordBatch]:
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
                    rejects: Rejects) -> list[pa.RecordBatch]:
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



def json_types(contract: Contract) -> dict[str, pa.DataType]:
    """Source columns (by the name the source sends) whose Arrow type JSON carries natively;
    the rest arrive as Arrow infers them. A ``json`` column is read as text: inference would
    merge the keys of every line into one struct and write keys a value never had."""
    from airflow_provider_dativo.contracts.arrow_types import arrow_type

    native = {pa.int64(), pa.float64(), pa.bool_(), pa.string()}
    types = {}
    for spec in contract.fields:
        type_ = arrow_type(spec)
        if type_ in native or pa.types.is_floating(type_):
            types[spec.source_name] = pa.float64() if pa.types.is_floating(type_) else type_
    return types


def from_job(job: JobSpec, connection: Mapping[str, Any]) -> FileSource:
    return FileSource(FileSourceConfig.from_connection(job.root, connection),
                      json_types=json_types(job.contract))


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: Mapping[str, Any]) -> FileSource:
    return FileSource(FileSourceConfig.from_connection(root, connection))
