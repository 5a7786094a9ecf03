"""Jobs that collide: two job files with one DAG id, or two jobs writing one table.

Each job claims a DAG id and the tables it writes, read from its file as written (no contract,
connector or secret is loaded, so the DAG loader can afford it for every file on every parse).
A collision refuses every job in it, each with an issue naming the other files. Jobs that mean
to write one table say so with ``target.shared: true``, all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_dativo.config.specs import ConnectorRecipe, dag_id_for, merge
from airflow_provider_dativo.config.streams import stream_items
from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path
from airflow_provider_dativo.errors import ConfigError, ConfigIssue


class ConfigRoot(Protocol):
    """What a claim reads of the config root (``config.loader.ConfigRoot``, which calls this
    module, so it is described here rather than imported)."""

    root: Path

    def job_document(self, path: Path) -> tuple[YamlDocument, tuple[ConfigIssue, ...]]: ...

    def inside(self, rel: str, doc: YamlDocument, path: str) -> Path: ...

    def recipe(self, path: Path) -> ConnectorRecipe: ...

FILE_TARGETS = ("parquet", "markdown_kv")  # tables made of files under a folder


@dataclass(frozen=True)
class TableClaim:
    key: tuple[str, ...]  # equal keys: the same table
    label: str  # the table as messages name it
    path: str  # the field of the job that names the table
    line: int | None


@dataclass(frozen=True)
class JobClaim:
    file: Path
    dag_id: str
    dag_id_path: str  # the field to change for another DAG id
    dag_id_line: int | None
    tables: tuple[TableClaim, ...] = ()
    shared: bool = False


def job_claim(root: ConfigRoot, path: Path) -> JobClaim:
    """What ``path`` claims; an unreadable or schema-invalid job claims only its DAG id, the
    one its placeholder DAG takes (the folder and file name stand in for what is missing)."""
    tenant, name = path.parent.name, path.stem
    try:
        doc, schema_issues = root.job_document(path)
    except ConfigError:
        return JobClaim(path, dag_id_for(tenant, name), "", None)
    data = doc.data if isinstance(doc.data, dict) else {}
    tenant = str(data.get("tenant_id") or tenant)
    name = str(data.get("name") or name)
    field = "name" if "name" in data else "tenant_id"
    claim = JobClaim(path, dag_id_for(tenant, name), field, doc.line_of(field))
    if not data or schema_issues:
        return claim
    target = data.get("target", {})
    return JobClaim(claim.file, claim.dag_id, claim.dag_id_path, claim.dag_id_line,
                    tuple(_tables(root, doc, data)), bool(target.get("shared", False)))


def _tables(root: ConfigRoot, doc: YamlDocument, data: dict[str, Any]) -> list[TableClaim]:
    items, issues = stream_items(data, doc)
    if issues:
        return []
    kind = str(data["target_connector"])
    target = data.get("target", {})
    try:
        recipe = root.recipe(root.inside(data["target_connector_path"], doc,
                                         "target_connector_path"))
        defaults: Mapping[str, Any] = recipe.connection
    except (ConfigError, OSError):
        defaults = {}
    connection = merge(defaults, target.get("connection", {}))
    namespace = str(connection.get("namespace") or data["tenant_id"])
    quarantine = bool(target.get("options", {}).get("quarantine_table"))
    claims = []
    for prefix, item in items:
        field = "table" if item.get("table") else "asset"
        path = join_path(prefix, field) if prefix else (
            "target.table" if field == "table" else "asset")
        table = str(item.get("table") or item["asset"])
        for name in (table, f"{table}_quarantine") if quarantine else (table,):
            key, label = _table_identity(root.root, kind, connection, namespace, name)
            claims.append(TableClaim(key, label, path, doc.line_of(path)))
    return claims


def _table_identity(root: Path, kind: str, connection: Mapping[str, Any], namespace: str,
                    table: str) -> tuple[tuple[str, ...], str]:
    """What makes two tables one, from the connection as written (``${VAR}`` left as is)."""
    if kind in FILE_TARGETS:
        # the folder <path>/<namespace folders>/<table> of targets.registry.file_table_root,
        # whichever file target writes it
        base = connection.get("path")
        s3 = connection.get("s3") or {}
        if not base and isinstance(s3, Mapping) and s3.get("bucket"):
            base = f"s3://{s3['bucket']}/{str(s3.get('prefix', '')).strip('/')}"
        text = str(base or f".dativo/{kind}").removeprefix("file://").rstrip("/")
        if "://" not in text:
            text = os.path.normpath(text if Path(text).is_absolute() else root / text)
        folder = f"{text}/{namespace.replace('.', '/')}/{table}"
        return ("files", folder), f"the table folder {folder}"
    catalog = connection.get("catalog") or {}
    catalog = catalog if isinstance(catalog, Mapping) else {}
    # an Airflow connection names one catalog; else its name, type and URI do (no type: the
    # config root's embedded catalog)
    where = (("conn_id", str(catalog["conn_id"])) if catalog.get("conn_id") else
             (str(catalog.get("name", "dativo")), str(catalog.get("type", "embedded")),
              str(catalog.get("uri", ""))))
    label = f"{kind} table {namespace}.{table} (catalog {catalog.get('conn_id') or where[0]})"
    return (kind, *where, namespace, table), label


def collision_issues(claims: Iterable[JobClaim], display: Callable[[Path], str]
                     ) -> dict[Path, list[ConfigIssue]]:
    """Every job of a collision, with one issue per collision naming the other files."""
    claims = list(claims)
    out: dict[Path, list[ConfigIssue]] = {}

    def add(claim: JobClaim, message: str, line: int | None, path: str) -> None:
        out.setdefault(claim.file, []).append(ConfigIssue(str(claim.file), message, line, path))

    def others(claim: JobClaim, group: list[JobClaim]) -> str:
        return ", ".join(dict.fromkeys(display(c.file) for c in group if c.file != claim.file))

    by_id: dict[str, list[JobClaim]] = {}
    for claim in claims:
        by_id.setdefault(claim.dag_id, []).append(claim)
    for dag_id, group in by_id.items():
        if len(group) < 2:
            continue
        for claim in group:
            add(claim, f"DAG id {dag_id} is also the DAG id of {others(claim, group)}; each "
                "job needs its own: give one of them another name (it defaults to the file "
                "name) or tenant_id", claim.dag_id_line, claim.dag_id_path)

    by_table: dict[tuple[str, ...], list[tuple[JobClaim, TableClaim]]] = {}
    for claim in claims:
        for table in claim.tables:
            by_table.setdefault(table.key, []).append((claim, table))
    for entries in by_table.values():
        group = [claim for claim, _ in entries]
        if len({c.file for c in group}) < 2 or all(c.shared for c in group):
            continue
        unshared = ", ".join(dict.fromkeys(display(c.file) for c in group if not c.shared))
        for claim, table in entries:
            add(claim, f"{table.label} is also written by {others(claim, group)}; jobs that "
                f"write one table must all set target.shared: true (missing in {unshared}), "
                "or write different tables", table.line, table.path)
    return out
