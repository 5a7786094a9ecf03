"""An example custom_plugin: records kept as ``key: value`` blocks in text files.

    sku: A-100
    name: Desk lamp
    stock: 12

Blocks are separated by a blank line. ``KeyValueReader`` reads every ``*.kv`` file matching
``path`` (relative to the config root) once per file version and yields Arrow batches of text
columns, which the contract then types and checks.

A job uses the reader with ``source.engine: custom_plugin`` and
``source.plugin: examples.plugins.kv_records:KeyValueReader`` (see jobs/examples/inventory.yaml).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from airflow_provider_dativo.config.paths import glob_files


class KeyValueReader:
    def __init__(self, config: Mapping[str, Any]):
        if not config.get("path"):
            raise ValueError("source.connection.path (a glob of .kv files) is required")
        self.root = Path(config.get("config_root") or ".")
        self.pattern = str(config["path"])
        self.batch_rows = int(config.get("batch_rows", 10_000))

    def files(self) -> list[Path]:
        # the provider's path rule: a match leading outside the config root (through a
        # symlink, say) is refused rather than read
        return [m.path for m in glob_files(self.root, self.pattern)]

    def check(self) -> tuple[bool, str]:
        found = self.files()
        return bool(found), f"{len(found)} file(s) match {self.pattern}"

    def discover(self) -> list[str]:
        return ["items"]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Any]:
        seen = dict((state or {}).get("files", {}))
        for path in self.files():
            key = str(path.relative_to(self.root))
            stat = path.stat()
            version = f"{stat.st_mtime_ns}:{stat.st_size}"
            if seen.get(key) == version:
                continue
            rows = list(self._records(path))
            for start in range(0, len(rows), self.batch_rows):
                yield pa.RecordBatch.from_pylist(rows[start:start + self.batch_rows])
            seen[key] = version
            yield {"state": {"files": seen}}

    @staticmethod
    def _records(path: Path) -> Iterator[dict[str, str]]:
        record: dict[str, str] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                if record:
                    yield record
                record = {}
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"{path}:{number}: expected 'key: value'")
            record[key.strip()] = value.strip()
        if record:
            yield record

