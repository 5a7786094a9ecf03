"""What a job reads and writes, named the same way for Airflow Assets and OpenLineage.

Names come from the job as written (never from resolved secrets), so they are stable across
runs, known at parse time, and the same on every worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_dativo.config.specs import JobSpec

DEFAULT_CATALOG = "dativo"


def catalog_key(job: JobSpec) -> str:
    """The catalog a job's table lives in: its Airflow connection id, its name, or the default."""
    catalog = job.target_connection.get("catalog") or {}
    for key in ("conn_id", "name"):
        value = catalog.get(key) if isinstance(catalog, Mapping) else None
        if isinstance(value, str) and value and "${" not in value:
            return value
    return DEFAULT_CATALOG


def table_name(job: JobSpec) -> str:
    namespace = job.target_connection.get("namespace") or job.tenant_id
    return f"{namespace}.{job.table}"


def table_uri(job: JobSpec) -> str:
    """``x-iceberg://<catalog>/<namespace>/<table>``: the outlet Asset of the job's load task.

    The ``x-`` prefix is Airflow's mark of a custom scheme: such URIs are used as written,
    while any other scheme makes Airflow load every provider's URI normalizers at parse time
    (about a second per parsing process, measured by bench/parse_dags.py).
    """
    namespace, _, table = table_name(job).rpartition(".")
    return f"x-{job.target.type}://{catalog_key(job)}/{namespace.replace('.', '/')}/{table}"


def table_asset(job: JobSpec) -> Any:
    from airflow.sdk import Asset

    return Asset(uri=table_uri(job), name=table_name(job), group="dativo",
                 extra={"tenant": job.tenant_id, "contract": job.contract.name,
                        "contract_version": str(job.contract.version)})


def source_dataset(job: JobSpec) -> tuple[str, str]:
    """OpenLineage (namespace, name) of what the job reads, without resolving any secret."""
    conn = job.source_connection
    path = conn.get("path")
    if isinstance(path, str) and path and "${" not in path:
        if "://" in path:
            scheme, rest = path.split("://", 1)
            bucket, _, key = rest.partition("/")
            return f"{scheme}://{bucket}", key
        full = path if path.startswith("/") else str(job.root / path)
        return "file", full
    return f"{job.source.type}://{job.source_engine}", job.source_object or job.contract.name


def openlineage(job: JobSpec, *, inputs: bool, outputs: bool) -> Any:
    """An ``OperatorLineage`` for the task; imported lazily so OpenLineage stays optional."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    ins = [Dataset(namespace=ns, name=name) for ns, name in [source_dataset(job)]] if inputs \
        else []
    outs = [Dataset(namespace=f"{job.target.type}://{catalog_key(job)}", name=table_name(job))] \
        if outputs else []
    return OperatorLineage(inputs=ins, outputs=outs)
