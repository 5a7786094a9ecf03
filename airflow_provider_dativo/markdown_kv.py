"""The Markdown-KV format: records as documents that language models and people read easily.

One document per record::

    ---
    order_id: 1001
    ---
    # orders
    customer_email:: ana@example.com
    amount:: 120.50

* Front matter (between ``---`` lines) holds ``key: value`` lines, by default the primary key.
* ``# Title`` lines open sections; inside them every value is a ``key:: value`` line.
* A missing key is a null value; ``key::`` with nothing after it is the empty string.
* Values are one line: backslash, line feed and carriage return are escaped as ``\\\\``,
  ``\\n`` and ``\\r``. Lists and objects are written as JSON text.

``render`` and ``parse`` are each other's inverse on text values; the contract layer conforms the
parsed text to the column types, as for CSV.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FRONT_MATTER = "front_matter"  # the section name front matter keys report in row_per_kv form
_KEY = re.compile(r"^[^\s:#][^:]*$")


class MarkdownKVError(ValueError):
    """A document that is not Markdown-KV; the message names the line."""


@dataclass(frozen=True)
class Layout:
    """Which columns go to the front matter and to which section."""

    front_matter: tuple[str, ...] = ()
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    default_section: str = "record"

    @classmethod
    def for_columns(cls, columns: Sequence[str], front_matter: Sequence[str] = (),
                    sections: Mapping[str, Sequence[str]] | None = None,
                    default_section: str = "record") -> Layout:
        """Explicit sections first; every other column goes to ``default_section``."""
        placed = set(front_matter)
        ordered: list[tuple[str, tuple[str, ...]]] = []
        for title, cols in (sections or {}).items():
            ordered.append((str(title), tuple(cols)))
            placed.update(cols)
        unknown = sorted(placed - set(columns))
        if unknown:
            raise MarkdownKVError(f"unknown column(s) in the Markdown-KV layout: "
                                  f"{', '.join(unknown)} (columns: {', '.join(columns)})")
        rest = tuple(c for c in columns if c not in placed)
        if rest:
            merged = dict(ordered)
            merged[default_section] = merged.get(default_section, ()) + rest
            ordered = list(merged.items())
        return cls(tuple(front_matter), tuple(ordered), default_section)


@dataclass
class Document:
    front_matter: dict[str, str] = field(default_factory=dict)
    sections: dict[str, dict[str, str]] = field(default_factory=dict)

    def flat(self) -> dict[str, str]:
        """Every key with its text, front matter first; a key repeated in sections keeps the
        first value."""
        out = dict(self.front_matter)
        for values in self.sections.values():
            for key, value in values.items():
                out.setdefault(key, value)
        return out

    def kv_rows(self) -> list[tuple[str, str, str]]:
        """(section, key, value) per line, front matter under ``FRONT_MATTER``."""
        rows = [(FRONT_MATTER, k, v) for k, v in self.front_matter.items()]
        rows += [(s, k, v) for s, values in self.sections.items() for k, v in values.items()]
        return rows


def text(value: Any) -> str | None:
    """The one-line text of a value, before escaping; None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))
    return str(value)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def to_document(record: Mapping[str, Any], layout: Layout) -> Document:
    doc = Document()
    for key in layout.front_matter:
        value = text(record.get(key))
        if value is not None:
            doc.front_matter[key] = value
    for title, columns in layout.sections:
        values = {c: v for c in columns if (v := text(record.get(c))) is not None}
        doc.sections[title] = values
    return doc


def render(doc: Document) -> str:
    lines: list[str] = []
    if doc.front_matter:
        lines.append("---")
        lines += [f"{k}:" + (f" {escape(v)}" if v else "") for k, v in doc.front_matter.items()]
        lines.append("---")
    for title, values in doc.sections.items():
        lines.append(f"# {title}")
        lines += [f"{k}::" + (f" {escape(v)}" if v else "") for k, v in values.items()]
    return "\n".join(lines) + "\n"


def parse(source: str, name: str = "<document>") -> Document:
    """One document; a line that fits nowhere raises ``MarkdownKVError`` naming its number."""
    doc = Document()
    lines = source.splitlines()
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i].strip() == "---":
        start = i
        i += 1
        while i < len(lines) and lines[i].strip() != "---":
            line = lines[i]
            if line.strip():
                key, sep, value = line.partition(":")
                if not sep or not _KEY.match(key.strip()):
                    raise MarkdownKVError(f"{name}:{i + 1}: front matter line is not "
                                          "'key: value'")
                doc.front_matter[key.strip()] = unescape(_after_space(value))
            i += 1
        if i >= len(lines):
            raise MarkdownKVError(f"{name}:{start + 1}: front matter is never closed with ---")
        i += 1
    section: dict[str, str] | None = None
    for number in range(i, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            section = doc.sections.setdefault(title, {})
            continue
        key, sep, value = line.partition("::")
        if not sep or not _KEY.match(key.strip()):
            raise MarkdownKVError(f"{name}:{number + 1}: expected 'key:: value' or a "
                                  "'# section' line")
        if section is None:
            section = doc.sections.setdefault("", {})
        section[key.strip()] = unescape(_after_space(value))
    return doc


def _after_space(value: str) -> str:
    # exactly one space separates key and value; more belong to the value
    return value[1:] if value.startswith(" ") else value
