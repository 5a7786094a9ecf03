"""How a job binds to its target, for every target module: who writes (the writer key of its
commits and state), under which tenant namespace or folder, and the shape of each table.

Each target module builds itself from a job with these (``from_job``) and states its own static
rules as pure functions; ``targets.registry`` names the modules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_dativo.config import paths
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.targets.partitioning import PartitionFieldLike


def staging_root(job: JobSpec) -> str:
    """Where the job's run folders are: its ``staging.root``, else ``$DATIVO_STAGING``, else
    ``.dativo/staging`` under the config root."""
    return job.staging_root or os.environ.get("DATIVO_STAGING") or str(
        job.root / ".dativo" / "staging")


def writer_of(job: JobSpec) -> str:
    """Who commits to a target, as its commits and state are keyed: the job's DAG id, and the
    stream of a multi-stream job. Jobs sharing a table keep their state apart by it."""
    return job.dag_id if job.stream is None else f"{job.dag_id}/{job.stream}"


@dataclass(frozen=True)
class TableShape:
    """What one table of a job looks like: the job's own table, or its quarantine table."""

    table: str
    schema: pa.Schema
    partitioning: tuple[PartitionFieldLike, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    write_mode: str = "append"
    primary_key: tuple[str, ...] = ()

    @classmethod
    def of_job(cls, job: JobSpec) -> TableShape:
        from airflow_provider_dativo.contracts import arrow_schema

        return cls(job.table, arrow_schema(job.contract), tuple(job.contract.partitioning),
                   job.governance.properties(), job.write_mode,
                   tuple(job.contract.primary_key))

    @classmethod
    def quarantine_of(cls, job: JobSpec) -> TableShape:
        from airflow_provider_dativo.targets.partitioning import PartitionSpecField
        from airflow_provider_dativo.targets.quarantine import QUARANTINE_SCHEMA

        return cls(f"{job.table}_quarantine", QUARANTINE_SCHEMA,
                   (PartitionSpecField("quarantined_at", "day"),),
                   {**job.governance.table_properties(), "dativo.quarantine-of": job.table})


def tenant_namespace(job: JobSpec, connection: Mapping[str, Any]) -> str:
    """The namespace (Iceberg) or folder (files) a job writes under: its tenant, or below it."""
    namespace = str(connection.get("namespace") or job.tenant_id)
    if namespace != job.tenant_id and not namespace.startswith(f"{job.tenant_id}."):
        # tenants are isolated: a job writes only under its own namespace
        raise ConfigError([ConfigIssue(
            job.file, f"namespace '{namespace}' is outside tenant '{job.tenant_id}'", None,
            "target.connection.namespace")])
    return namespace


def file_table_root(job: JobSpec, connection: Mapping[str, Any], default: str,
                    table: str | None = None) -> str:
    """``<path>/<tenant folders>/<table>`` for targets made of plain files.

    ``path`` is a local folder (relative to the config root) or a URI; an ``s3`` block with
    bucket and prefix stands in for it, like the Iceberg warehouse.
    """
    path = connection.get("path")
    s3 = connection.get("s3") or {}
    if not path and s3.get("bucket"):
        path = f"s3://{s3['bucket']}/{str(s3.get('prefix', '')).strip('/')}"
    base = str(path or default).rstrip("/")
    folders = tenant_namespace(job, connection).replace(".", "/")
    if not paths.is_local(base):
        return f"{base}/{folders}/{table or job.table}"
    # local: under the config root or a data root, checked with symlinks followed (see paths)
    return str(paths.resolve_for_job(job.file, job.root, f"{base}/{folders}/{table or job.table}",
                                     "target.connection.path"))


def file_storage_properties(connection: Mapping[str, Any]) -> dict[str, str]:
    """A file target's ``storage`` block: pyiceberg FileIO properties (``s3.endpoint``, ...)."""
    return {str(k): str(v) for k, v in (connection.get("storage") or {}).items()}


def append_only_issues(job: JobSpec) -> list[ConfigIssue]:
    """A target that only appends refuses any other write mode."""
    if job.write_mode == "append":
        return []
    return [ConfigIssue(job.file, f"target '{job.target.type}' only appends; write mode "
                        f"'{job.write_mode}' needs the iceberg target", None, "target.write_mode")]


def raise_issues(issues: list[ConfigIssue]) -> None:
    if issues:
        raise ConfigError(issues)
