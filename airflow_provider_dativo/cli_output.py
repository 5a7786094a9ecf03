"""Terminal output of the ``dativo`` command, in one place.

rich reads square brackets as markup and drops what it takes for a tag, so a JSON Schema
pattern, a list in a message or a connector's log line would lose characters. These consoles
parse no markup at all: every string reaches the terminal byte for byte, and the CLI's own
styling is applied only through ``styled`` (and rich objects built from it), never by markup
in a string that may hold someone else's text.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text from plain parts and ``(text, style)`` parts; no part is read as markup."""
    return Text.assemble(*parts)


def error_line(message: object) -> Text:
    return styled(("error", "red"), " ", str(message))
