"""A job's streams: the top-level asset pair (one stream) or the ``streams`` list (several).

Each stream is one source object bound to one asset and one target table; the rest of the job
(connectors, schedule, validation mode, target settings) is shared by all of them.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path
from airflow_provider_dativo.errors import ConfigIssue

# Airflow task ids allow letters, digits, '-', '.' and '_'
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def task_suffix(stream: str) -> str:
    """The part of a stream's task ids (``extract__<suffix>``) that Airflow accepts."""
    return _UNSAFE.sub("_", stream)


def either_or_issues(data: Any, doc: YamlDocument) -> list[ConfigIssue]:
    """A job names its asset once: ``asset`` + ``asset_path``, or ``streams``.

    Safe on documents that failed the schema, so these issues join the schema's.
    """
    if not isinstance(data, dict):
        return []
    issues: list[ConfigIssue] = []

    def issue(path: str, message: str) -> None:
        issues.append(ConfigIssue(doc.file, message, doc.line_of(path), path))

    single = [k for k in ("asset", "asset_path") if k in data]
    if "streams" not in data:
        if not single:
            issue("", "'asset' is required: add asset and asset_path (one stream), or a "
                  "streams list (one item per source stream)")
        for key, other in (("asset", "asset_path"), ("asset_path", "asset")):
            if key in data and other not in data:
                issue("", f"'{other}' is required: a single-stream job names both asset "
                      "and asset_path (or use a streams list instead)")
        return issues
    for key in single:
        issue(key, f"'{key}' and 'streams' are alternatives: move the asset into a streams "
              "item, or remove streams")
    for section, key in (("source", "object"), ("target", "table")):
        if isinstance(data.get(section), dict) and key in data[section]:
            issue(f"{section}.{key}", f"with streams, set '{key}' on each streams item "
                  f"instead of {section}.{key}")
    return issues


def stream_items(data: dict[str, Any], doc: YamlDocument
                 ) -> tuple[list[tuple[str, dict[str, Any]]], list[ConfigIssue]]:
    """``(field path prefix, stream)`` pairs of a schema-valid job, and their issues.

    A single-stream job gives one item with the prefix ``""``, built from ``asset``,
    ``asset_path``, ``source.object`` and ``target.table``.
    """
    issues = either_or_issues(data, doc)
    if issues:
        return [], issues
    if "streams" not in data:
        item = {"object": data.get("source", {}).get("object"), "asset": data["asset"],
                "asset_path": data["asset_path"], "table": data.get("target", {}).get("table"),
                "schema_object": data.get("schema_object")}
        return [("", item)], issues
    items: list[tuple[str, dict[str, Any]]] = []
    names: dict[str, str] = {}
    tables: dict[str, str] = {}
    for i, item in enumerate(data["streams"]):
        prefix = join_path("streams", i)
        for value, seen, what, field in (
                (task_suffix(item["object"]), names, "stream", "object"),
                (item.get("table") or item.get("schema_object") or item["asset"], tables,
                 "target table", "table")):
            if value in seen:
                issues.append(ConfigIssue(
                    doc.file, f"{what} '{value}' is already used by {seen[value]}; each "
                    f"stream needs its own {what}", doc.line_of(join_path(prefix, field)),
                    join_path(prefix, field)))
            seen.setdefault(value, prefix)
        items.append((prefix, item))
    return items, issues
