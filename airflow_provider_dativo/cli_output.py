"""Terminal output of the ``dativo`` command, in one place.

rich reads square brackets as markup and drops what it takes for a tag, so a JSON Schema
pattern, a list in a message or a connector's log line would lose characters. These consoles
parse no markup at all: every string reaches the terminal byte for byte, and the CLI's own
styling is applied only through ``styled`` (and rich objects built from it), never by markup
in a string that may hold someone else's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text from plain parts and ``(text, style)`` parts; no part is read as markup."""
    return Text.assemble(*parts)


def error_line(message: object) -> Text:
    return styled(("error", "red"), " ", str(message))


@dataclass(frozen=True)
class Column:
    """A column of a table that has to fit the terminal: ``drop`` 0 is always shown; the
    highest ``drop`` goes first when the table is wider than the terminal."""

    name: str
    drop: int = 0


WRAP_WIDTH = 14

# a rich table's frame: one border per column plus one, and a space each side of every cell
def _frame(columns: int) -> int:
    return 3 * columns + 1


def _natural(cell: str | Text) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in text.splitlines()), default=0)


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str | Text]],
                *, wide: bool = False, out: Console | None = None) -> None:
    """Print a table readable at the terminal's width (80 columns when not a terminal).

    Columns are kept in the order given (put short ones first) and the least useful are left
    out while the table would not fit, as a note under it says; the rest wrap their long
    values rather than cutting them short. ``wide`` prints every column at full width."""
    out = out or console
    widths = [max([len(c.name)] + [_natural(r[i]) for r in rows]) for i, c in enumerate(columns)]
    keep = list(range(len(columns)))
    if wide:
        out = Console(width=max(sum(widths) + _frame(len(widths)), out.width), markup=False,
                      highlight=False, file=out.file)
    else:
        # a long value may wrap onto a few lines; one narrower than WRAP_WIDTH would not read
        for index in sorted(keep, key=lambda i: -columns[i].drop):
            if sum(min(widths[i], WRAP_WIDTH) for i in keep) + _frame(len(keep)) <= out.width:
                break
            if columns[index].drop:
                keep.remove(index)
    table = Table(title=title)
    for i in keep:
        # a short column keeps its width; long ones fold inside a word rather than end in "…"
        table.add_column(columns[i].name, overflow="fold", no_wrap=wide,
                         min_width=widths[i] if widths[i] <= 12 else None)
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    out.print(table)
    left = [columns[i].name for i in range(len(columns)) if i not in keep]
    if left:
        out.print(f"not shown at {out.width} columns: {', '.join(left)} (--wide shows "
                  "every column)")


def add_table_flags(parser: Any) -> None:
    """``--wide`` and ``--json`` of a command that prints a table."""
    parser.add_argument("--wide", action="store_true",
                        help="every column at full width, however wide the terminal")
    parser.add_argument("--json", action="store_true", help="print JSON")
