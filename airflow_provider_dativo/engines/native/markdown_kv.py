"""Markdown-KV source: ``.md``/``.mdkv`` documents parsed back into rows, one row per file.

Files are found, versioned and read once exactly like the file source (local globs or
``s3://``); every key of a document that names a contract column becomes that column's text,
which the contract layer conforms to its type. A document that is not Markdown-KV is rejected
verbatim with its file and line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_dativo import markdown_kv as mdkv
from airflow_provider_dativo.engines.base import ReadItem, RejectedRecords, StateUpdate
from airflow_provider_dativo.engines.native.files import FileSource, FileSourceConfig, FoundFile

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec

DOCUMENTS_PER_BATCH = 4096


class MarkdownKVSource(FileSource):
    def __init__(self, config: FileSourceConfig, columns: Sequence[str] | None,
                 documents_per_batch: int = DOCUMENTS_PER_BATCH) -> None:
        super().__init__(config)
        # the contract's columns; None: every key the documents hold (discover of a recipe)
        self.columns = None if columns is None else list(columns)
        self.documents_per_batch = documents_per_batch

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        seen: dict[str, str] = dict((state or {}).get("files", {}))
        rows: list[dict[str, str]] = []
        for found in self.files():
            if seen.get(found.key) == found.stamp:
                continue  # read once: this version of the file was committed before
            item = self._document(found)
            if isinstance(item, RejectedRecords):
                yield item
            else:
                rows.append(item)
            seen[found.key] = found.stamp
            if len(rows) >= self.documents_per_batch:
                yield self._batch(rows)
                rows = []
                yield StateUpdate({"files": dict(sorted(seen.items()))})
        if rows:
            yield self._batch(rows)
        yield StateUpdate({"files": dict(sorted(seen.items()))})

    def _read_file(self, path: FoundFile) -> Iterator[pa.RecordBatch | RejectedRecords]:
        item = self._document(path)
        yield item if isinstance(item, RejectedRecords) else self._batch([item])

    def _document(self, found: FoundFile) -> dict[str, str] | RejectedRecords:
        with self._open(found) as raw:
            data = raw.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return RejectedRecords((data.decode("utf-8", "replace"),),
                                   (f"{found}: not UTF-8 text ({exc.reason})",))
        try:
            doc = mdkv.parse(text, str(found))
        except mdkv.MarkdownKVError as exc:
            return RejectedRecords((text,), (str(exc),))
        return doc.flat()

    def _batch(self, rows: list[dict[str, str]]) -> pa.RecordBatch:
        columns = (self.columns if self.columns is not None
                   else list(dict.fromkeys(k for r in rows for k in r)))
        return pa.record_batch({c: pa.array([r.get(c) for r in rows], pa.string())
                                for c in columns})


def from_job(job: JobSpec, connection: Mapping[str, Any]) -> MarkdownKVSource:
    config = FileSourceConfig.from_connection(job.root, connection)
    columns = [f.name for f in job.contract.fields]
    return MarkdownKVSource(config, columns)


def from_recipe(root: Path, recipe: ConnectorRecipe,
                connection: Mapping[str, Any]) -> MarkdownKVSource:
    """Without a contract every key of the documents is a column (what discover shows)."""
    return MarkdownKVSource(FileSourceConfig.from_connection(root, connection), columns=None)
