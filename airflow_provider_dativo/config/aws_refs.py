"""``aws_conn_id``: a connection's AWS credentials, region and endpoint from an Airflow AWS
connection, as the properties each consumer of the connection reads.

A job's ``source.connection`` or ``target.connection`` may say ``aws_conn_id: aws_default``.
Inside an Airflow task the operators' resolver asks the Amazon provider's AWS hook for the
connection's credentials (so keys, profiles, assumed roles and any secrets backend work),
region and ``endpoint_url``; they are written into the blocks of the connection that talk to
AWS, and a value written in the job beside them wins:

* ``catalog``: pyiceberg FileIO properties (``s3.access-key-id``, ``s3.secret-access-key``,
  ``s3.session-token``, ``s3.region``, ``s3.endpoint``), and for ``type: glue`` the Glue
  client's ``glue.*`` properties as well;
* ``storage``: the same FileIO properties, for the Parquet and Markdown-KV targets and for an
  ``s3://`` staging root of a file target;
* ``s3``: the S3 file source's ``access_key_id``, ``secret_access_key``, ``session_token``,
  ``region`` and ``endpoint``.

No Airflow import here; outside a task (``dativo run``) the reference is an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KEY = "aws_conn_id"


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str | None
    secret_access_key: str | None
    session_token: str | None = None
    region: str | None = None
    s3_endpoint: str | None = None
    glue_endpoint: str | None = None

    def secrets(self) -> list[str]:
        return [v for v in (self.access_key_id, self.secret_access_key, self.session_token) if v]


def _present(values: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def fileio_properties(creds: AwsCredentials) -> dict[str, str]:
    """pyiceberg / pyarrow FileIO properties."""
    return _present({
        "s3.access-key-id": creds.access_key_id,
        "s3.secret-access-key": creds.secret_access_key,
        "s3.session-token": creds.session_token,
        "s3.region": creds.region,
        "s3.endpoint": creds.s3_endpoint,
    })


def glue_properties(creds: AwsCredentials) -> dict[str, str]:
    """pyiceberg's Glue catalog client properties."""
    return _present({
        "glue.access-key-id": creds.access_key_id,
        "glue.secret-access-key": creds.secret_access_key,
        "glue.session-token": creds.session_token,
        "glue.region": creds.region,
        "glue.endpoint": creds.glue_endpoint,
    })


def file_source_options(creds: AwsCredentials) -> dict[str, str]:
    """The S3 file source's ``s3`` block."""
    return _present({
        "access_key_id": creds.access_key_id,
        "secret_access_key": creds.secret_access_key,
        "session_token": creds.session_token,
        "region": creds.region,
        "endpoint": creds.s3_endpoint,
    })


def expand(connection: Mapping[str, Any], creds: AwsCredentials) -> dict[str, Any]:
    """``connection`` without ``aws_conn_id``, its AWS blocks filled from ``creds``."""
    out = {k: v for k, v in connection.items() if k != KEY}
    catalog = dict(out.get("catalog") or {})
    extra = fileio_properties(creds)
    if catalog.get("type") == "glue":
        extra.update(glue_properties(creds))
    out["catalog"] = {**extra, **catalog}
    out["storage"] = {**fileio_properties(creds), **dict(out.get("storage") or {})}
    out["s3"] = {**file_source_options(creds), **dict(out.get("s3") or {})}
    return out
