"""Where a job may read and write local files: the one rule, for the loader, sources and targets.

A local path in a config is relative to the config root, or absolute. It is refused when

* it has a ``..`` component (``**/../x`` is lexically inside the root, but ``**`` may match no
  folder at all, and then it is not);
* it, or any folder or file a wildcard of it matches, leads outside the allowed roots once
  symlinks are followed (a committed link to ``/etc/passwd``, a linked folder).

The allowed roots are the config root and, for data (source globs, file targets, a job's
staging root), the absolute folders listed in ``$DATIVO_DATA_ROOT`` (separated by ``:``): an
operator's setting, never a job's, so a job cannot widen what it may read. URIs such as
``s3://`` are not local and are not checked here.

The loader applies the rule when a job is validated; the file source applies it again each time
it lists files, so a link made after validation is refused too, and it opens the resolved path
it checked rather than the link.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from airflow_provider_dativo.errors import ConfigError, ConfigIssue

DATA_ROOT_ENV = "DATIVO_DATA_ROOT"
_WILDCARD = re.compile(r"[*?[]")


class PathRefused(ValueError):
    """A path that would read or write outside the allowed roots; the message says why."""


@dataclass(frozen=True, order=True)
class Match:
    path: Path  # as the pattern names it, under the root it was matched from
    real: Path  # with every symlink followed: what is checked and what is opened


def is_local(path: str) -> bool:
    """A filesystem path (``file://`` included) rather than an object-store URI."""
    return "://" not in path or path.startswith("file://")


def allowed_roots(root: Path, data: bool = True) -> tuple[Path, ...]:
    """The config root, and with ``data`` the folders of ``$DATIVO_DATA_ROOT``, resolved."""
    roots = [Path(os.path.realpath(root))]
    if data:
        for entry in os.environ.get(DATA_ROOT_ENV, "").split(os.pathsep):
            if not entry.strip():
                continue
            if not os.path.isabs(entry):
                raise PathRefused(f"{DATA_ROOT_ENV} entry '{entry}' is not an absolute path; "
                                  "list absolute folders separated by ':'")
            roots.append(Path(os.path.realpath(entry)))
    return tuple(roots)


def _where(roots: tuple[Path, ...]) -> str:
    if len(roots) == 1:
        return f"the config root {roots[0]}"
    return (f"the config root {roots[0]} and the data roots in ${DATA_ROOT_ENV} "
            f"({', '.join(map(str, roots[1:]))})")


def _remedy(data: bool, link: bool) -> str:
    steps = ["remove the link"] if link else []
    if data:
        steps.append(f"list the folder in {DATA_ROOT_ENV} if reading or writing there is "
                     "intended")
    return f"; {', or '.join(steps)}" if steps else ""


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _named(root: Path, text: str) -> Path:
    """The path ``text`` names, not yet resolved; a ``..`` component is refused outright."""
    raw = text.removeprefix("file://")
    if ".." in re.split(r"[\\/]", raw):
        raise PathRefused(f"path '{text}' has a '..' component, which may leave the config root; "
                          "name the path from the config root instead")
    path = Path(raw)
    return path if path.is_absolute() else Path(root) / path


def _checked(path: Path, text: str, roots: tuple[Path, ...], data: bool) -> Path:
    real = Path(os.path.realpath(path))
    if not _under(real, roots):
        via = "" if real == path else f" (through a symlink: {path} leads to {real})"
        raise PathRefused(f"path '{text}' points outside {_where(roots)}{via}"
                          f"{_remedy(data, bool(via))}")
    return real


def resolve(root: Path, text: str, *, data: bool = True) -> Path:
    """``text`` as an absolute path with symlinks followed, refused when it leaves the roots.

    With ``data=False`` only the config root is allowed (recipes, assets, job files)."""
    roots = allowed_roots(root, data)
    return _checked(_named(root, text), text, roots, data)


def resolve_for_job(job_file: str, root: Path, text: str, field: str) -> Path:
    """``resolve`` at run time: a refusal is a config error naming the job file and field."""
    try:
        return resolve(root, text)
    except PathRefused as exc:
        raise ConfigError([ConfigIssue(job_file, str(exc), None, field)]) from None


def glob_files(root: Path, pattern: str) -> list[Match]:
    """The files a source pattern matches (a plain path matches itself), each one checked.

    Every folder or file a wildcard matches is resolved and refused when it leads outside the
    allowed roots, before anything is read: one such match refuses the whole pattern, since it
    is an error of the job, not a bad row. Folders outside are never walked.
    """
    roots = allowed_roots(root)
    named = _named(root, pattern)
    parts = named.parts
    cut = next((i for i, part in enumerate(parts) if _WILDCARD.search(part)), len(parts))
    base, rest = Path(*parts[:cut]), parts[cut:]
    candidates: list[Path] = [base]
    if rest:
        real_base = _checked(base, pattern, roots, True)  # outside is refused even if missing
        if not real_base.is_dir():
            return []
        candidates = list(_walk(base, rest, pattern, roots, frozenset({real_base})))
    found: dict[Path, Match] = {}
    for path in candidates:
        real = _checked(path, pattern, roots, True)
        if real.is_file():
            found.setdefault(path, Match(path, real))
    return sorted(found.values())


def _walk(folder: Path, parts: tuple[str, ...], pattern: str, roots: tuple[Path, ...],
          walked: frozenset[Path]) -> Iterator[Path]:
    """Paths under ``folder`` matching ``parts``, one folder level per part; ``**`` matches
    any number of folders (none included), as in ``pathlib.Path.glob``."""
    if not parts:
        yield folder
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _walk(folder, rest, pattern, roots, walked)
        for child in _entries(folder):
            if child.is_dir():
                real = _checked(child, pattern, roots, True)
                if real not in walked:  # a link back up would walk forever
                    yield from _walk(child, parts, pattern, roots, walked | {real})
    elif _WILDCARD.search(head):
        for child in _entries(folder):
            if fnmatchcase(child.name, head.replace("**", "*")):
                real = _checked(child, pattern, roots, True)
                if not rest:
                    yield child
                elif real.is_dir():
                    yield from _walk(child, rest, pattern, roots, walked | {real})
    else:
        child = folder / head
        if not rest:
            if os.path.lexists(child):
                yield child
        elif child.is_dir():
            yield from _walk(child, rest, pattern, roots, walked)


def _entries(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return sorted(folder / entry.name for entry in it)
    except OSError:  # unreadable or vanished: matches nothing, like pathlib's glob
        return []
