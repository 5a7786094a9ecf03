"""Secrets at run time: Airflow connections and Variables behind job references, all masked.

What is a secret, and the masker, live in ``airflow_provider_dativo.masking``; here every value
registered with that masker is also handed to Airflow's secrets masker (``use_airflow_masker``),
so no task log line, error message or XCom value can carry it in clear. Connection settings are
registered as they are resolved (``JobSpec.resolved_source_connection``), and the env values a
job may resolve are registered before the runner sees them.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_provider_dativo import masking
from airflow_provider_dativo.config import env_refs
from airflow_provider_dativo.config.specs import JobSpec


def _airflow_mask(value: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value)


def use_airflow_masker() -> None:
    """Every value the masker knows, now and later, is masked by Airflow's masker too."""
    masking.add_sink(_airflow_mask)


def mask(value: Any) -> None:
    use_airflow_masker()
    if value not in (None, ""):
        masking.register([str(value)])


def mask_settings(settings: Any) -> None:
    """Mask every secret of a connection's settings (the rule of ``masking.secret_values``)."""
    use_airflow_masker()
    masking.register_settings(settings)


def mask_job_secrets(job: JobSpec) -> None:
    """Mask the env values a job may resolve: its recipes' auth variables, and every ``${VAR}``
    written where the rule expects a secret."""
    use_airflow_masker()
    names = set(job.secret_envs)
    for connection in (job.source_connection, job.target_connection):
        names |= env_refs.references(masking.secret_values(connection))
    masking.register(os.environ.get(name) for name in sorted(names))


class AirflowResolver:
    """Resolves ``${conn:…}``, ``${var:…}``, catalog ``conn_id`` and ``aws_conn_id`` through
    Airflow's own lookups, so environment variables, the metadata database or any secrets
    backend serve them.

    Variable values, and the connection fields the rule calls secret
    (``masking.is_secret_connection_field``: password and extras), are masked as they are read;
    host, login, port and schema are addresses and stay readable in logs.
    """

    def variable(self, key: str) -> str:
        from airflow.sdk import Variable

        try:
            value = Variable.get(key)
        except Exception:  # the SDK raises its own error types for a missing Variable
            raise LookupError(f"Airflow Variable '{key}' is not set; create it (airflow "
                              f"variables set {key} VALUE) or supply it from a secrets "
                              "backend") from None
        mask(value)
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
            value = extra[key]
        else:
            value = getattr(conn, field, None)
            if value in (None, ""):
                raise LookupError(f"Airflow connection '{conn_id}' has no {field}; set it")
        if masking.is_secret_connection_field(field):
            mask(value)
        return str(value)

    def aws_credentials(self, conn_id: str) -> Any:
        from airflow_provider_dativo.hooks.aws import aws_credentials

        return aws_credentials(conn_id)

    def catalog_properties(self, conn_id: str) -> dict[str, str]:
        from airflow_provider_dativo.hooks.iceberg import IcebergCatalogHook

        self._connection(conn_id)  # a clear error when it does not exist
        return IcebergCatalogHook(iceberg_conn_id=conn_id).catalog_properties()
