"""docs/CONFIG_REFERENCE.md, generated from the JSON Schemas so the reference cannot drift.

    python -m airflow_provider_dativo.config.reference > docs/CONFIG_REFERENCE.md
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_dativo.config.schema_validation import SCHEMA_FILES, load_schema
from airflow_provider_dativo.config.yaml_loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

SECTIONS = (
    ("job", "Job", "jobs/<tenant>/<job>.yaml"),
    ("connector", "Connector recipe", "connectors/<type>.yaml"),
    ("asset", "Asset (data contract)", "assets/<source>/v1.0/<object>.yaml"),
    ("registry", "Registry", "registry/connectors.yaml"),
)


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    required: bool
    default: str
    description: str


def _deref(schema: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = schema.get("$ref")
    if not ref or not ref.startswith("#/"):
        return schema, None
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    merged = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return merged, ref.rsplit("/", 1)[-1]


def _type_of(schema: dict[str, Any], root: dict[str, Any]) -> str:
    schema, _ = _deref(schema, root)
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(_type_of(s, root) for s in schema[key]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        items = schema.get("items")
        return f"list of {_type_of(items, root)}" if isinstance(items, dict) else "list"
    if kind:
        return str(kind)
    if "properties" in schema:
        return "object"
    return "any"


def _branches(schema: dict[str, Any], root: dict[str, Any],
              always: bool = True) -> list[tuple[dict[str, Any], bool]]:
    """The schema and every sub-schema that may add fields at the same level, each with
    whether it always applies (only those make a field required)."""
    schema, _ = _deref(schema, root)
    out = [(schema, always)]
    for branch in schema.get("allOf", []):
        out += _branches(branch, root, always)
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            out += _branches(branch, root, False)
    for key in ("then", "else"):
        if isinstance(schema.get(key), dict):
            out += _branches(schema[key], root, False)
    return out


def _rows(schemas: list[dict[str, Any]], root: dict[str, Any], path: str, required: bool,
          depth: int = 0) -> Iterator[Row]:
    """Rows for ``path`` and below; ``schemas`` are every schema that describes this path."""
    tagged = [b for s in schemas for b in _branches(s, root)]
    levels = [level for level, _ in tagged]
    if path and not path.endswith("[]"):
        first = _deref(schemas[0], root)[0]
        described = next((b for b in levels if b.get("description")), {})
        default = json.dumps(first["default"]) if "default" in first else ""
        description = " ".join(str(described.get("description", "")).split())
        yield Row(path, _type_of(schemas[0], root), required, default, description)
    if depth > 6:
        return
    children: dict[str, list[dict[str, Any]]] = {}
    needed: set[str] = set()
    items: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    for level, always in tagged:
        if always:
            needed |= set(level.get("required", []))
        for name, sub in level.get("properties", {}).items():
            if isinstance(sub, dict):
                children.setdefault(name, []).append(sub)
        if isinstance(level.get("items"), dict):
            items.append(level["items"])
        if isinstance(level.get("additionalProperties"), dict):
            extra.append(level["additionalProperties"])
    for name, subs in children.items():
        child = f"{path}.{name}" if path else name
        yield from _rows(subs, root, child, name in needed, depth + 1)
    if items:
        yield from _rows(items, root, f"{path}[]", False, depth + 1)
    if extra:
        yield from _rows(extra, root, f"{path}.<name>", False, depth + 1)


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if "\\|" not in text else text


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from the JSON Schemas in `schemas/` by",
        "`python -m airflow_provider_dativo.config.reference`; a test fails when this file is",
        "stale. Paths use `.` for nested fields, `[]` for list items and `<name>` for keys you",
        "choose. `${VAR}` and `${VAR:-default}` may appear in any string of a job's `connection`",
        "blocks and are resolved when a task runs.",
    ]
    for kind, title, where in SECTIONS:
        schema = load_schema(kind)
        out += ["", f"## {title}: `{where}`", "",
                f"Schema: `schemas/{SCHEMA_FILES[kind]}`.", ""]
        if schema.get("description"):
            out += [" ".join(schema["description"].split()), ""]
        out += ["| field | type | required | default | description |", "|---|---|---|---|---|"]
        for row in _rows([schema], schema, "", True):
            out.append(f"| `{row.path}` | {_cell(row.type)} | {'yes' if row.required else ''} "
                       f"| {_cell(row.default)} | {_cell(row.description)} |")
    out += ["", *_limits()]
    return "\n".join(out) + "\n"


def _limits() -> list[str]:
    """The bounds of a file and the rules across jobs, with the numbers the code enforces."""
    return [
        "## Limits and rules across files",
        "",
        "Checked by `dativo validate` and by the DAG loader; a file that breaks one is refused",
        "with its path and line, and jobs not involved are unaffected.",
        "",
        f"- A config file holds at most {MAX_FILE_BYTES:,} bytes "
        f"({MAX_FILE_BYTES / 2**20:g} MiB).",
        f"- With its YAML aliases expanded, a document has at most {MAX_NODES:,} nodes "
        "(mappings, lists, keys",
        f"  and values) and nests at most {MAX_DEPTH} levels; an alias may not refer to a "
        "block that contains",
        "  it. Each aliased block is read once, so a file over a limit (an alias bomb, say) is "
        "refused in",
        "  milliseconds; the error gives the line of the file's first alias, if it has one.",
        "- Each job file under `jobs/` has its own DAG id, `dativo__<tenant_id>__<name>` "
        "(`name` defaults to",
        "  the file name). Files that share one are all refused, each naming the others; "
        "since two DAGs",
        "  cannot share an id, the DAG loader makes one failing DAG under that id whose error "
        "lists them all.",
        "- Two jobs writing one table are refused, each naming the other, unless every one of "
        "them sets",
        "  `target.shared: true`. One table means the same Iceberg catalog (its `conn_id`, "
        "else its `name`,",
        "  `type` and `uri` as written), namespace and table, or the same folder "
        "`<path>/<namespace>/<table>`",
        "  for Parquet and Markdown-KV; each stream of a multi-stream job counts, and so does "
        "a job's",
        "  `<table>_quarantine` when `target.options.quarantine_table` is set. Each refused job "
        "becomes a",
        "  failing DAG.",
    ]


if __name__ == "__main__":
    print(render(), end="")
