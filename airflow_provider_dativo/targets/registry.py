"""Target registry: connector type → the module that lands data, behind ``base.Target``.

Each module builds its target from a job (``from_job``), names the storage properties an
object-storage staging root is reached with (``storage_properties``) and states its static
rules (``job_issues``, and whether it ``KEEPS_QUARANTINE_TABLE``). Modules are imported on first
use: the runner opens its targets while a connector starts, and Arrow and Iceberg load then.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from airflow_provider_dativo.errors import ConfigError, ConfigIssue, TargetError
from airflow_provider_dativo.targets.binding import (  # noqa: F401 - their earlier home
    TableShape,
    file_table_root,
    staging_root,
    tenant_namespace,
    writer_of,
)
from airflow_provider_dativo.targets.iceberg_catalog import (  # noqa: F401 - their earlier home
    embedded_catalog,
    iceberg_catalog_properties,
)
from airflow_provider_dativo.targets.storage import Storage, is_object_store

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.targets.base import Target

TARGETS: dict[str, str] = {
    "iceberg": "airflow_provider_dativo.targets.iceberg",
    "parquet": "airflow_provider_dativo.targets.parquet",
    "markdown_kv": "airflow_provider_dativo.targets.markdown_kv",
}


class TargetModule(Protocol):
    KEEPS_QUARANTINE_TABLE: bool

    def from_job(self, job: JobSpec, connection: Mapping[str, Any],
                 shape: TableShape | None = None) -> Target: ...

    def storage_properties(self, job: JobSpec, connection: Mapping[str, Any]
                           ) -> dict[str, str]: ...

    def job_issues(self, job: JobSpec) -> list[ConfigIssue]: ...


def target_module(kind: str) -> TargetModule:
    name = TARGETS.get(kind)
    if name is None:
        raise TargetError(f"target '{kind}' is not available in this version of dativo "
                          f"(available: {', '.join(sorted(TARGETS))})")
    return cast("TargetModule", importlib.import_module(name))


def quarantine_table_targets() -> list[str]:
    return [kind for kind in TARGETS if target_module(kind).KEEPS_QUARANTINE_TABLE]


def job_issues(job: JobSpec) -> list[ConfigIssue]:
    """The job's target rules, checked without reaching the target (``dativo validate``)."""
    if job.target.type not in TARGETS:
        return [ConfigIssue(job.file, f"target '{job.target.type}' is not available in this "
                            f"version of dativo (available: {', '.join(sorted(TARGETS))})",
                            None, "target_connector_path")]
    module = target_module(job.target.type)
    issues = list(module.job_issues(job))
    if job.target_options.get("quarantine_table") and not module.KEEPS_QUARANTINE_TABLE:
        issues.append(_no_quarantine_table(job))
    return issues


def _no_quarantine_table(job: JobSpec) -> ConfigIssue:
    return ConfigIssue(
        job.file, f"target '{job.target.type}' cannot keep a quarantine table (available "
        f"for: {', '.join(quarantine_table_targets())}); remove quarantine_table",
        None, "target.options.quarantine_table")


def open_target(job: JobSpec, connection: Mapping[str, Any]) -> Target:
    return target_module(job.target.type).from_job(job, connection)


def open_quarantine_target(job: JobSpec, connection: Mapping[str, Any]) -> Target | None:
    """The job's quarantine table, when ``target.options.quarantine_table`` asks for one."""
    if not job.target_options.get("quarantine_table"):
        return None
    module = target_module(job.target.type)
    if not module.KEEPS_QUARANTINE_TABLE:
        raise ConfigError([_no_quarantine_table(job)])
    return module.from_job(job, connection, shape=TableShape.quarantine_of(job))


def staging_storage(job: JobSpec, connection: Mapping[str, Any], root: str) -> Storage | None:
    """How the run's manifest and quarantine files reach an object-storage staging ``root``:
    with the target's own storage settings (the Iceberg catalog's, or a file target's
    ``storage``), so an ``s3://`` staging root uses the same endpoint and keys. None for a
    local root."""
    if not is_object_store(root):
        return None
    return Storage(target_module(job.target.type).storage_properties(job, connection))


@dataclass(frozen=True)
class JobTargets:
    """What one step of a job writes to, from one resolution of its target connection."""

    data: Target
    quarantine: Target | None  # the quarantine table, when the job keeps one
    # how the run folder's files (manifest, quarantine files) reach an object-storage staging
    # root; None for a local one
    staging: Storage | None


def open_targets(job: JobSpec) -> JobTargets:
    """The job's data target, quarantine target and staging storage; the target connection is
    resolved once (``${conn:...}`` references may ask Airflow's connections)."""
    connection = job.resolved_target_connection()
    return JobTargets(open_target(job, connection), open_quarantine_target(job, connection),
                      staging_storage(job, connection, staging_root(job)))
