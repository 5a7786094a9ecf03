"""How deep a JSON value may nest, and how deep one line nests.

One limit for every JSON source: a record nested deeper is refused as unparseable (quarantined
in warn mode) rather than reaching a parser that recurses per level. Arrow's JSON reader crashes
the process on values nested tens of thousands deep, Python's ``json`` raises RecursionError
near a thousand and ``orjson.dumps`` refuses values deeper than 254, so the limit sits below all
three.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate, repeat

MAX_JSON_DEPTH = 200

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = bytes(range(256)).translate(None, b"[]{}")
_NOT_OPENING = bytes(range(256)).translate(None, b"[{\n")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def most_opened(block: bytes) -> tuple[int, int]:
    """The most ``[`` and ``{`` any one line of ``block`` holds, and the number of lines.

    A line cannot nest deeper than the brackets it opens, so a block whose lines all open at
    most ``MAX_JSON_DEPTH`` goes to the fast parser without a look at each line; one C pass.
    """
    opened = block.translate(None, _NOT_OPENING).split(b"\n")
    return max(map(len, opened)), len(opened) - (1 if block.endswith(b"\n") else 0)


def most_opened_of(lines: Sequence[bytes]) -> int:
    """At least the most ``[`` and ``{`` any one of ``lines`` opens (``most_opened`` for lines
    already split): two counts per line, each a C call with no Python frame per line."""
    if not lines:
        return 0
    return max(map(bytes.count, lines, repeat(b"{"))) + max(map(bytes.count, lines, repeat(b"[")))


def json_depth(line: bytes) -> int:
    """How deep the arrays and objects of one JSON text nest (brackets inside strings aside)."""
    brackets = _STRING.sub(b"", line).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def too_deep(line: bytes) -> bool:
    return (line.count(b"[") + line.count(b"{") > MAX_JSON_DEPTH
            and json_depth(line) > MAX_JSON_DEPTH)


DEEP_REASON = f"nested deeper than {MAX_JSON_DEPTH} levels"
