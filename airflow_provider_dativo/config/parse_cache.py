"""The parse cache: each config file is read and schema-checked once per version.

A version is the file's modification time and size, so a scheduler that re-parses the DAG folder
re-reads only the YAML files that changed. A job depends on more files than its own, so its
specs are kept with the stamps of every file they were built from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_dativo.config.schema_validation import validate_document
from airflow_provider_dativo.config.yaml_loader import YamlDocument, load_yaml
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec

T = TypeVar("T")

CACHE: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}


def file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def cached(kind: str, path: Path, build: Callable[[], T]) -> T:
    """``build()`` once per file version; a failure is cached as well and raised again."""
    version = file_stamp(path)
    if version is None:
        return build()
    key = (kind, str(path))
    hit = CACHE.get(key)
    if hit is not None and hit[0] == version:
        value = hit[1]
    else:
        try:
            value = build()
        except ConfigError as exc:
            value = exc
        CACHE[key] = (version, value)
    if isinstance(value, ConfigError):
        raise value
    return value


# A job depends on more files than its own: it is reused only while none of them changed.
JOBS: dict[str, tuple[tuple[Path, ...], tuple[tuple[int, int] | None, ...],
                       tuple[JobSpec, ...]]] = {}


def schema_checked(kind: str, path: Path) -> YamlDocument:
    doc = load_yaml(path)
    issues = validate_document(kind, doc)
    if issues:
        raise ConfigError(issues)
    return doc


def job_document(path: Path) -> tuple[YamlDocument, tuple[ConfigIssue, ...]]:
    doc = load_yaml(path)
    return doc, tuple(validate_document("job", doc))
