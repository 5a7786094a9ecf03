"""The one walk over nested settings: mappings, lists and tuples, as YAML and JSON give them.

Connection settings, connector specs and job overrides are trees of plain values. Finding the
secrets in them, the ``${VAR}`` and ``${conn:...}`` references, or the properties a connector's
spec marks secret is the same walk each time; ``nodes`` is that walk, and each rule is a filter
over what it yields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# The way from the top to a value: mapping keys (as text) and list positions (as int).
Path = tuple[str | int, ...]


def nodes(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every value inside ``value``, ``value`` itself first, each parent before its children,
    with the path that leads to it."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from nodes(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from nodes(item, (*path, index))


def keys_of(path: Path) -> list[str]:
    """The mapping keys along ``path``: a list's items are under the key of the list."""
    return [step for step in path if isinstance(step, str)]


def strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``."""
    return (node for _, node in nodes(value) if isinstance(node, str))
