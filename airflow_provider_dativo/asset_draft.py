"""A data contract drafted from what a connector discovers: one column per field of a stream, its
type mapped from the stream's JSON Schema, the stream's primary key marked and its cursor said,
for the user to edit (rules, governance, descriptions) before a job uses it."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_dativo.engines.base import StreamInfo
from airflow_provider_dativo.errors import DativoError

# words in a discovered type (engines' StreamInfo.columns) -> the contract's type; first match
TYPE_WORDS = (("timestamp_without_timezone", "timestamp"), ("date-time", "timestamptz"),
              ("timestamp", "timestamptz"), ("(date)", "date"), ("integer", "long"),
              ("number", "double"), ("boolean", "boolean"), ("object", "json"),
              ("array", "json"))


def contract_type(discovered: str) -> str:
    for word, kind in TYPE_WORDS:
        if word in discovered:
            return kind
    return "string"


def asset_name(source: str, stream: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", f"{source}_{stream}".lower()).strip("_")


def pick_stream(streams: list[StreamInfo], wanted: str | None, source: str) -> StreamInfo:
    if not streams:
        raise DativoError(f"{source} discovered no streams; check its connection and run "
                          f"`dativo discover` to see what it offers")
    if wanted is None:
        return streams[0]
    for stream in streams:
        if stream.name == wanted:
            return stream
    raise DativoError(f"{source} has no stream '{wanted}' (it offers: "
                      f"{', '.join(s.name for s in streams)})")


def draft(source: str, stream: StreamInfo) -> str:
    """The contract's YAML: short-form ODCS with dativo's extensions, TODOs to fill in."""
    keys = set(stream.primary_key)
    cursor = stream.cursor_fields[0] if stream.cursor_fields else None
    lines = [
        "$schema: schemas/odcs/dativo-odcs-3.0.2-extended.schema.json",
        "apiVersion: v3.0.2",
        "kind: DataContract",
        f"name: {asset_name(source, stream.name)}",
        'version: "1.0"',
        f"description: TODO what one row of {stream.name} is (drafted from discover).",
        f"source_type: {source}",
        f"object: {stream.name}",
        "governance:",
        "  owner: TODO-owner@example.com",
        "  classification: [internal]",
        "schema:",
    ]
    if cursor:
        lines.insert(lines.index("schema:"), f"# cursor: {cursor} (a job reads incrementally "
                     f"with source.incremental.cursor_field: {cursor})")
    for name, discovered in stream.columns.items():
        lines += [f"  - name: {_quoted(name)}", f"    type: {contract_type(discovered)}"]
        if name in keys or name == cursor:
            lines.append("    required: true")
        if name in keys:
            lines.append("    primary_key: true")
    if not stream.columns:
        raise DativoError(f"stream '{stream.name}' of {source} declares no columns; write its "
                          "contract by hand (docs/MINIMAL_ASSET_EXAMPLE.md)")
    lines += ["target:", "  file_format: iceberg", "  partitioning: [ingest_date]"]
    return "\n".join(lines) + "\n"


def _quoted(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f'"{name}"'


def write_draft(root: Path, source: str, stream: StreamInfo, output: Path | None = None) -> Path:
    """Write the draft to ``output`` or ``assets/<source>/v1.0/<stream>.yaml``; never over a
    file that exists."""
    path = output or root / "assets" / source / "v1.0" / f"{asset_name('', stream.name)}.yaml"
    if path.exists():
        raise DativoError(f"{path} exists; pass --output for another file, or edit it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(draft(source, stream), encoding="utf-8")
    return path
