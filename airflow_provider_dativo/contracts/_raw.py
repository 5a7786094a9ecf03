"""A contract as read from either asset form, before its rules are checked.

Reading (``reading.py``, ``odcs_reading.py``) turns a document into raw fields and partitions,
each with the document path of every value it came from; the rules (``rules.py``) check them
and build the ``FieldSpec``s, collecting every issue with its path and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_dativo.errors import ConfigIssue


class Issues:
    """Collects issues so one load reports every problem at once, and warnings beside them."""

    def __init__(self, file: str, lines: Mapping[str, int] | None):
        self.file = file
        self.lines = lines or {}
        self.items: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []

    def _issue(self, path: str, message: str) -> ConfigIssue:
        line = self.lines.get(path)
        probe = path
        while line is None and probe:
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
            line = self.lines.get(probe)
        return ConfigIssue(self.file, message, line, path)

    def add(self, path: str, message: str) -> None:
        self.items.append(self._issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(self._issue(path, message))


@dataclass
class RawField:
    """A field read from either form, with the document path of every attribute it came from."""

    base: str
    values: dict[str, Any]
    paths: dict[str, str]
    children: list[RawField] | None = None  # struct fields
    item: RawField | None = None  # list element

    def path(self, key: str) -> str:
        return self.paths.get(key, self.base)


@dataclass
class RawPartition:
    column: str
    transform: str
    path: str


@dataclass
class Parsed:
    fields: list[RawField]
    partitions: list[RawPartition]
    top: dict[str, Any]
    schema_object: str | None = None
    schema_objects: tuple[str, ...] = ()
    table_name: str | None = None


def read_partitioning(target: Any, base: str) -> list[RawPartition]:
    if not isinstance(target, Mapping) or not isinstance(target.get("partitioning"), list):
        return []
    out = []
    for j, item in enumerate(target["partitioning"]):
        path = f"{base}.partitioning[{j}]"
        if isinstance(item, str):
            out.append(RawPartition(item, "identity", path))
        elif isinstance(item, Mapping):
            transform = str(item.get("transform", "identity"))
            if transform == "bucket":
                # one string internally, spelled as Iceberg spells it: bucket[16]
                transform = f"bucket[{item.get('buckets')}]"
            out.append(RawPartition(str(item.get("column")), transform, path))
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
