"""Whether a field's pattern is valid for RE2 (the engine that evaluates it) without pyarrow.

Compiling with pyarrow means importing it, about 0.4 s of every DAG parse whose contracts have a
pattern (each parse is a fresh process). Most patterns use a small syntax that Python's ``re``
and RE2 both accept whenever either does: literals, ``.``, anchors, classes, groups,
alternation, ``* + ?`` (lazy too) and small counted repeats. For such a pattern Python's
compiler decides; any other pattern (a backreference, a lookaround, a possessive quantifier, a
POSIX class, an escape outside the list) is left to RE2 itself.
"""

from __future__ import annotations

import re
import warnings

SHORTHANDS = frozenset("sSdDwW")
PUNCTUATION = frozenset(r".^$*+?()[]{}|\/-")
COUNT = re.compile(r"\{(\d{1,4})(?:,(\d{0,4}))?\}")
MAX_REPEAT = 1000  # RE2 refuses a repeat count, or counts nested in one another, above it


def plainly_valid(pattern: str) -> bool:
    """True when ``pattern`` is in the common syntax and Python's ``re`` compiles it, so RE2
    compiles it too; False says nothing (ask RE2)."""
    if not pattern.isascii() or not pattern.isprintable() or not _in_subset(pattern):
        return False
    try:
        with warnings.catch_warnings():
            # Python warns of a class that a later version may read as a set operation
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)
    except re.error:
        return False
    return True


def _in_subset(p: str) -> bool:
    i, n = 0, len(p)
    quantified = 0  # 0: nothing to repeat modifiers on, 1: after a quantifier, 2: after lazy ?
    counted = 1  # the product of every counted repeat's bound: covers any nesting of them
    while i < n:
        c = p[i]
        if c in "*+?":
            if quantified == 2 or (quantified == 1 and c != "?"):
                return False  # possessive (Python 3.11 only) or a repeated quantifier
            quantified = 2 if quantified == 1 else 1
            i += 1
            continue
        if c == "{":
            m = COUNT.match(p, i)
            if m is None or quantified:
                return False
            low, high = int(m[1]), m[2]
            bound = max(low, int(high)) if high else low
            counted *= max(bound, 1)
            if counted > MAX_REPEAT or (high and int(high) < low):
                return False
            quantified = 1
            i = m.end()
            continue
        quantified = 0
        if c == "\\":
            if i + 1 >= n or not (p[i + 1] in SHORTHANDS or p[i + 1] in PUNCTUATION
                                  or p[i + 1] in "bB"):
                return False
            i += 2
        elif c == "(":
            if p.startswith("(?", i):
                if not p.startswith("(?:", i):
                    return False  # named groups, flags, lookarounds: their syntax differs
                i += 3
            else:
                i += 1
        elif c == "[":
            end = _class_end(p, i + 1)
            if end is None:
                return False
            i = end
        elif c in "]}":
            return False
        else:
            i += 1
    return True


def _class_end(p: str, i: int) -> int | None:
    """The index after the class opened before ``i``, or None when it leaves the subset."""
    if p.startswith("^", i):
        i += 1
    if p.startswith("]", i):
        return None  # a leading ] is a literal in both, but keep the subset simple
    while i < len(p):
        c = p[i]
        if c == "]":
            return i + 1
        if c == "[":
            return None  # [:alpha:] and friends
        if c == "\\":
            if i + 1 >= len(p) or not (p[i + 1] in SHORTHANDS or p[i + 1] in PUNCTUATION):
                return None
            i += 2
        else:
            i += 1
    return None
