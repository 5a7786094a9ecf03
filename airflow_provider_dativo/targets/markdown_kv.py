"""Markdown-KV target: every record becomes a Markdown-KV document (see ``markdown_kv``).

Modes (``target.options.markdown_kv``), all under the table folder ``<path>/<tenant>/<table>/``:

* ``string``: Parquet rows ``doc_id, markdown`` in ``documents/``, one document per record.
* ``structured`` with ``pattern``:
  ``row_per_kv`` — Parquet rows ``doc_id, section, key, value`` in ``kv/``, one per line;
  ``document_level`` — Parquet rows ``doc_id, front_matter, sections, markdown`` in
  ``documents/`` (front matter and sections as JSON objects of text);
  ``hybrid`` — both.
* ``raw_file``: one ``.md``/``.mdkv`` file per document at ``files/<run>/<path_pattern>``.

Files are written by extract and committed by a marker written last, exactly like the Parquet
target, so the same idempotence by run id and the same orphan cleanup apply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

import pyarrow as pa

from airflow_provider_dativo import markdown_kv as mdkv
from airflow_provider_dativo.errors import ConfigError, ConfigIssue, TargetError
from airflow_provider_dativo.targets.base import StagedFile, safe_run_id
from airflow_provider_dativo.targets.binding import (
    TableShape,
    append_only_issues,
    file_storage_properties,
    file_table_root,
    raise_issues,
    tenant_namespace,
    writer_of,
)
from airflow_provider_dativo.targets.commit_log import MarkedFilesTarget
from airflow_provider_dativo.targets.parquet_writer import StagedParquetWriter
from airflow_provider_dativo.targets.storage import Storage

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec

MODES = ("string", "structured", "raw_file")
PATTERNS = ("row_per_kv", "document_level", "hybrid")

STRING_SCHEMA = pa.schema([pa.field("doc_id", pa.string(), nullable=False),
                           pa.field("markdown", pa.string(), nullable=False)])
DOCUMENT_SCHEMA = pa.schema([pa.field("doc_id", pa.string(), nullable=False),
                             pa.field("front_matter", pa.string(), nullable=False),
                             pa.field("sections", pa.string(), nullable=False),
                             pa.field("markdown", pa.string(), nullable=False)])
KV_SCHEMA = pa.schema([pa.field("doc_id", pa.string(), nullable=False),
                       pa.field("section", pa.string(), nullable=False),
                       pa.field("key", pa.string(), nullable=False),
                       pa.field("value", pa.string(), nullable=False)])

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class MarkdownKVSettings:
    root: str  # the table folder, local absolute path or URI
    table: str  # tenant.table
    layout: mdkv.Layout
    mode: str = "string"
    pattern: str = "row_per_kv"
    path_pattern: str | None = None
    storage: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_options(cls, root: str, table: str, columns: Sequence[str],
                     options: Mapping[str, Any], default_front_matter: Sequence[str],
                     default_section: str, storage: Mapping[str, str]) -> MarkdownKVSettings:
        mode = str(options.get("mode", "string"))
        pattern = str(options.get("pattern", "row_per_kv"))
        if mode not in MODES:
            raise TargetError(f"markdown_kv mode {mode!r} is unknown; use {', '.join(MODES)}")
        if pattern not in PATTERNS:
            raise TargetError(f"markdown_kv pattern {pattern!r} is unknown; use "
                              f"{', '.join(PATTERNS)}")
        path_pattern = options.get("path_pattern")
        if mode == "raw_file":
            if not path_pattern:
                raise TargetError("markdown_kv mode raw_file needs path_pattern, such as "
                                  "'{order_id}.md'")
            missing = [p for p in _PLACEHOLDER.findall(path_pattern) if p not in columns]
            if missing:
                raise TargetError(f"path_pattern names unknown column(s): {', '.join(missing)}")
        try:
            layout = mdkv.Layout.for_columns(
                list(columns), options.get("front_matter", default_front_matter),
                options.get("sections"), default_section)
        except mdkv.MarkdownKVError as exc:
            raise TargetError(str(exc)) from exc
        return cls(root.rstrip("/"), table, layout, mode, pattern, path_pattern, dict(storage))


class MarkdownKVTarget(MarkedFilesTarget):
    """Implements ``targets.base.Target``; append only."""

    format = "markdown_kv"

    def __init__(self, settings: MarkdownKVSettings, schema: pa.Schema,
                 file_metadata: Mapping[str, str] | None = None,
                 writer: str | None = None) -> None:
        super().__init__(Storage(settings.storage), settings.root, settings.table, writer)
        self.settings = settings
        self._schema = schema
        self._file_metadata = dict(file_metadata or {})

    def open_output(self, path: str) -> BinaryIO:
        try:
            return self.storage.open_output(path)
        except FileExistsError as exc:
            raise TargetError(
                f"{path} is written twice in this run: two records map to the same file; "
                "make markdown_kv.path_pattern unique per record (use the primary key)"
            ) from exc
        except Exception as exc:
            raise TargetError(f"cannot create {path} for {self.table_identifier}: {exc}") from exc

    def staged_writer(self, run_id: str, **options: Any) -> MarkdownKVWriter:
        return MarkdownKVWriter(self, run_id, options)

    def commit_details(self) -> dict[str, Any]:
        return {"format": self.format, "mode": self.settings.mode}

    def parquet_writer(self, folder: str, schema: pa.Schema, run_id: str,
                       **options: Any) -> StagedParquetWriter:
        return StagedParquetWriter(f"{self.root}/{folder}", schema, open_output=self.open_output,
                                   file_prefix=safe_run_id(run_id),
                                   file_metadata=self._file_metadata, **options)


class MarkdownKVWriter:
    """Turns contract-conformed batches into documents and writes them in the target's mode."""

    def __init__(self, target: MarkdownKVTarget, run_id: str, options: Mapping[str, Any]):
        self._target = target
        self._settings = target.settings
        self._run = safe_run_id(run_id)
        self._seq = 0
        self._raw_files: list[StagedFile] = []
        s = self._settings
        structured = s.mode == "structured"
        self._documents = None
        self._kv = None
        if s.mode == "string":
            self._documents = target.parquet_writer("documents", STRING_SCHEMA, run_id, **options)
        if structured and s.pattern in ("document_level", "hybrid"):
            self._documents = target.parquet_writer("documents", DOCUMENT_SCHEMA, run_id,
                                                    **options)
        if structured and s.pattern in ("row_per_kv", "hybrid"):
            self._kv = target.parquet_writer("kv", KV_SCHEMA, run_id, **options)

    def write(self, batch: pa.RecordBatch) -> None:
        records = batch.to_pylist()
        docs = [mdkv.to_document(r, self._settings.layout) for r in records]
        ids = [self._doc_id(d) for d in docs]
        texts = [mdkv.render(d) for d in docs]
        if self._settings.mode == "raw_file":
            for record, text in zip(records, texts, strict=True):
                self._write_file(record, text)
            return
        if self._documents is not None:
            if self._settings.mode == "string":
                self._documents.write(pa.record_batch([ids, texts], schema=STRING_SCHEMA))
            else:
                fronts = [json.dumps(d.front_matter, sort_keys=True) for d in docs]
                sections = [json.dumps(d.sections) for d in docs]
                self._documents.write(pa.record_batch([ids, fronts, sections, texts],
                                                      schema=DOCUMENT_SCHEMA))
        if self._kv is not None:
            rows = [(i, *kv) for i, d in zip(ids, docs, strict=True) for kv in d.kv_rows()]
            columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[], [], [], []]
            self._kv.write(pa.record_batch(columns, schema=KV_SCHEMA))

    def close(self) -> list[StagedFile]:
        files = list(self._raw_files)
        for writer in (self._documents, self._kv):
            if writer is not None:
                files += writer.close()
        return files

    def abort(self) -> None:
        for writer in (self._documents, self._kv):
            if writer is not None:
                writer.abort()

    def _doc_id(self, doc: mdkv.Document) -> str:
        self._seq += 1
        if doc.front_matter:
            return "/".join(doc.front_matter.values())
        return f"{self._run}-{self._seq}"

    def _write_file(self, record: Mapping[str, Any], text: str) -> None:
        assert self._settings.path_pattern is not None

        def value(match: re.Match[str]) -> str:
            raw = mdkv.text(record.get(match.group(1)))
            return quote(raw, safe="") if raw else "_null_"

        relative = _PLACEHOLDER.sub(value, self._settings.path_pattern).lstrip("/")
        if any(part in ("", ".", "..") for part in relative.split("/")):
            raise TargetError(f"path_pattern gives the unsafe path {relative!r}")
        path = f"{self._target.root}/files/{self._run}/{relative}"
        data = text.encode("utf-8")
        with self._target.open_output(path) as out:
            out.write(data)
        self._raw_files.append(StagedFile(path=path, rows=1, bytes=len(data)))


# -- from a job (see targets.registry) ---------------------------------------------------------
KEEPS_QUARANTINE_TABLE = False
OPTIONS_FIELD = "target.options.markdown_kv"


def _settings(job: JobSpec, shape: TableShape, root: str, table: str,
              storage: Mapping[str, str]) -> MarkdownKVSettings:
    return MarkdownKVSettings.from_options(
        root=root, table=table, columns=shape.schema.names,
        options=job.target_options.get("markdown_kv") or {},
        default_front_matter=shape.primary_key, default_section=job.contract.name,
        storage=storage)


def job_issues(job: JobSpec) -> list[ConfigIssue]:
    """Markdown-KV files only append, and their options must describe a layout of the
    contract's columns."""
    issues = append_only_issues(job)
    try:
        _settings(job, TableShape.of_job(job), "", job.table, {})
    except TargetError as exc:
        issues.append(ConfigIssue(job.file, str(exc), None, OPTIONS_FIELD))
    return issues


def storage_properties(job: JobSpec, connection: Mapping[str, Any]) -> dict[str, str]:
    return file_storage_properties(connection)


def from_job(job: JobSpec, connection: Mapping[str, Any], shape: TableShape | None = None
             ) -> MarkdownKVTarget:
    raise_issues(append_only_issues(job))
    shape = shape or TableShape.of_job(job)
    try:
        settings = _settings(job, shape,
                             file_table_root(job, connection, ".dativo/markdown_kv", shape.table),
                             f"{tenant_namespace(job, connection)}.{shape.table}",
                             file_storage_properties(connection))
    except TargetError as exc:
        raise ConfigError([ConfigIssue(job.file, str(exc), None, OPTIONS_FIELD)]) from exc
    return MarkdownKVTarget(settings, shape.schema, file_metadata=shape.properties,
                            writer=writer_of(job))
