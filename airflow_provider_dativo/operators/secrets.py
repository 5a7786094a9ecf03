"""Secrets at run time: Airflow connections and Variables behind job references, all masked.

Every value a task resolves that may be a credential is handed to Airflow's secrets masker
before the runner sees it, so no log line, error message or XCom value can carry it in clear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_dativo.config import env_refs
from airflow_provider_dativo.config.specs import JobSpec

# Keys whose values are credentials, in job connection settings and connection extras.
_SECRET_KEY = re.compile(r"pass|secret|token|credential|key|auth|private|session", re.I)


def mask(value: Any, name: str | None = None) -> None:
    from airflow.sdk.log import mask_secret

    if value not in (None, ""):
        mask_secret(str(value), name)


def mask_job_secrets(job: JobSpec) -> None:
    """Mask the env values a job may resolve: its recipes' auth variables, and every ``${VAR}``
    written under a key that names a credential."""
    names = set(job.secret_envs)
    for connection in (job.source_connection, job.target_connection):
        names |= _secret_refs(connection)
    for name in sorted(names):
        mask(os.environ.get(name), name)


def _secret_refs(value: Any, key: str = "") -> set[str]:
    if isinstance(value, str):
        return env_refs.references(value) if _SECRET_KEY.search(key) else set()
    if isinstance(value, Mapping):
        found: set[str] = set()
        for k, item in value.items():
            found |= _secret_refs(item, f"{key}.{k}")
        return found
    if isinstance(value, list | tuple):
        return set().union(*(_secret_refs(v, key) for v in value)) if value else set()
    return set()


class AirflowResolver:
    """Resolves ``${conn:…}``, ``${var:…}`` and catalog ``conn_id`` through Airflow's own
    lookups, so environment variables, the metadata database or any secrets backend serve them.

    Passwords, extras and Variable values are masked as they are read; host, login, port and
    schema are addresses, not secrets, and stay readable in logs.
    """

    def variable(self, key: str) -> str:
        from airflow.sdk import Variable

        try:
            value = Variable.get(key)
        except Exception:  # the SDK raises its own error types for a missing Variable
            raise LookupError(f"Airflow Variable '{key}' is not set; create it (airflow "
                              f"variables set {key} VALUE) or supply it from a secrets "
                              "backend") from None
        mask(value, key)
        return str(value)

    def _connection(self, conn_id: str) -> Any:
        from airflow.sdk import Connection

        try:
            return Connection.get(conn_id)
        except Exception:
            raise LookupError(f"Airflow connection '{conn_id}' is not defined; create it (UI, "
                              f"airflow connections add {conn_id} ..., AIRFLOW_CONN_"
                              f"{conn_id.upper()}) or supply it from a secrets backend") from None

    def connection_field(self, conn_id: str, field: str) -> str:
        conn = self._connection(conn_id)
        if field.startswith("extra."):
            key = field.removeprefix("extra.")
            extra = conn.extra_dejson
            if key not in extra:
                raise LookupError(f"Airflow connection '{conn_id}' has no extra '{key}' "
                                  f"(it has: {', '.join(sorted(extra)) or 'none'})")
            mask(extra[key], key)
            return str(extra[key])
        value = getattr(conn, field, None)
        if value in (None, ""):
            raise LookupError(f"Airflow connection '{conn_id}' has no {field}; set it")
        if field == "password":
            mask(value, f"{conn_id}.password")
        return str(value)

    def catalog_properties(self, conn_id: str) -> dict[str, str]:
        from airflow_provider_dativo.hooks.iceberg import IcebergCatalogHook

        self._connection(conn_id)  # a clear error when it does not exist
        return IcebergCatalogHook(iceberg_conn_id=conn_id).catalog_properties()
