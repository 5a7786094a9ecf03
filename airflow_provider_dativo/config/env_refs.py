"""``${VAR}`` and ``${VAR:-default}`` references.

Configs keep them unresolved; they are resolved only when a task runs, so a DAG file never
reads a secret at parse time and any secrets backend can supply them.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_dativo import nested
from airflow_provider_dativo.config.yaml_loader import join_path
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def references(value: Any) -> set[str]:
    """Names of all variables referenced anywhere inside ``value``."""
    return {m.group(1) for text in nested.strings(value) for m in _REF.finditer(text)}


# where a value inside the resolved value is written: (file, line, field path), from the path
# of the value relative to the resolved value
Origin = Callable[[str], tuple[str, int | None, str]]


def resolve(value: Any, env: Mapping[str, str] | None = None, *, file: str = "<config>",
            path: str = "", origin: Origin | None = None) -> Any:
    """A copy of ``value`` with references replaced; every missing variable is reported,
    where ``origin`` says the reference is written, else in ``file`` at ``path``."""
    env = os.environ if env is None else env
    missing: list[ConfigIssue] = []

    def leaf(item: Any, steps: nested.Path) -> Any:
        if not isinstance(item, str):
            return item
        rel = functools.reduce(join_path, steps, "")

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            where = (file, None, path + rel if rel[:1] in ("", "[") else
                     join_path(path, rel))
            in_file, line, field = origin(rel) if origin is not None else where
            missing.append(ConfigIssue(
                in_file, f"environment variable {name} is not set (set it, or give a "
                         f"default as ${{{name}:-value}})", line, field))
            return m.group(0)
        return _REF.sub(sub, item)

    out = nested.rebuild(value, leaf)
    if missing:
        raise ConfigError(missing)
    return out
