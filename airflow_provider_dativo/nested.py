"""The one walk over nested settings: mappings, lists and tuples, as YAML and JSON give them.

Connection settings, connector specs and job overrides are trees of plain values. Finding the
secrets in them, the ``${VAR}`` and ``${conn:...}`` references, or the properties a connector's
spec marks secret is the same walk each time; ``nodes`` is that walk, and each rule is a filter
over what it yields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

# The way from the top to a value: mapping keys (as text) and list positions (as int).
Path = tuple[str | int, ...]


def nodes(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every value inside ``value``, ``value`` itself first, each parent before its children,
    with the path that leads to it."""
    # A stack rather than recursion: nested generators cost a frame per level for every value.
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        at, node = stack.pop()
        yield at, node
        if isinstance(node, Mapping):
            stack.extend(reversed([((*at, str(k)), item) for k, item in node.items()]))
        elif isinstance(node, list | tuple):
            stack.extend(reversed([((*at, i), item) for i, item in enumerate(node)]))


def rebuild(value: Any, leaf: Callable[[Any, Path], Any],
            mapping: Callable[[dict[Any, Any], Path], dict[Any, Any]] | None = None,
            path: Path = ()) -> Any:
    """A copy of ``value``: each mapping a dict with its keys, each list or tuple a list, every
    other value ``leaf(value, path)``; ``mapping(copy, path)``, when given, may change the copy
    of each mapping once its values are rebuilt."""
    if isinstance(value, Mapping):
        out = {k: rebuild(v, leaf, mapping, (*path, str(k))) for k, v in value.items()}
        return out if mapping is None else mapping(out, path)
    if isinstance(value, list | tuple):
        return [rebuild(v, leaf, mapping, (*path, i)) for i, v in enumerate(value)]
    return leaf(value, path)


def keys_of(path: Path) -> list[str]:
    """The mapping keys along ``path``: a list's items are under the key of the list."""
    return [step for step in path if isinstance(step, str)]


def strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``."""
    return (node for _, node in nodes(value) if isinstance(node, str))
