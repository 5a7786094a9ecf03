"""Opening a pyiceberg catalog: the one place the target and the catalog hook load it from."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

log = logging.getLogger(__name__)

# A SQL catalog creates its own tables the first time it is opened, checking first and
# creating after. Tasks that open a fresh catalog at the same moment race in between, and the
# losers fail with "table already exists" (or a unique violation on PostgreSQL). Opening again
# finds the tables, so database errors while opening are retried a few times.
OPEN_ATTEMPTS = 5
OPEN_BACKOFF_SECONDS = 0.05


def _is_database_error(exc: BaseException) -> bool:
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # no SQL catalog support installed, so not a SQL catalog's error
        return False
    return isinstance(exc, SQLAlchemyError)


def open_catalog(name: str, properties: Mapping[str, str]) -> Catalog:
    """``pyiceberg.catalog.load_catalog(name, **properties)``, riding out the first-open race."""
    from pyiceberg.catalog import load_catalog

    for attempt in range(OPEN_ATTEMPTS - 1):
        try:
            return load_catalog(name, **dict(properties))
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            delay = OPEN_BACKOFF_SECONDS * (2**attempt) * (0.5 + random.random())
            log.info("opening Iceberg catalog %r failed (%s); retrying in %.2f s",
                     name, type(exc).__name__, delay)
            time.sleep(delay)
    return load_catalog(name, **dict(properties))  # the last attempt: its error is raised


def retryable(exc: BaseException) -> bool:
    """Another writer got in first: a commit conflict, an unknown commit outcome (the next
    attempt finds the run id if it did land) or a catalog database locked by that writer
    (SQLite). Worth another attempt on fresh metadata."""
    from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException

    if isinstance(exc, CommitFailedException | CommitStateUnknownException):
        return True
    text = str(exc).lower()
    return type(exc).__name__ == "OperationalError" and ("locked" in text or "busy" in text)


def embedded_catalog(root: Path) -> dict[str, str]:
    """The default catalog: SQLite and a local warehouse under ``<root>/.dativo``."""
    home = root / ".dativo"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "type": "sql",
        "uri": f"sqlite:///{home / 'catalog.db'}",
        "warehouse": (home / "warehouse").as_uri(),
    }


def s3_block_fileio(s3: Mapping[str, Any]) -> dict[str, str]:
    """FileIO properties for a warehouse an ``s3`` block names: the block's own endpoint,
    region and keys, else the endpoint and region the AWS variables name. pyarrow's S3 client
    reads the keys from the environment itself, but not ``AWS_ENDPOINT_URL``, and without a
    region it asks AWS for the bucket's."""
    from airflow_provider_dativo.config.aws_refs import AwsCredentials, fileio_properties

    def given(key: str) -> str | None:
        return str(s3[key]) if s3.get(key) else None

    # the block's keys are the S3 file source's (aws_refs.file_source_options writes them)
    props = fileio_properties(AwsCredentials(
        access_key_id=given("access_key_id"), secret_access_key=given("secret_access_key"),
        session_token=given("session_token"), region=given("region"),
        s3_endpoint=given("endpoint")))
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if endpoint:
        props.setdefault("s3.endpoint", endpoint)
    if region:
        props.setdefault("s3.region", region)
    return props


def iceberg_catalog_properties(root: Path, connection: Mapping[str, Any]) -> tuple[str, dict]:
    """Catalog name and pyiceberg properties from a resolved target connection.

    ``catalog`` holds pyiceberg's own properties (type, uri, warehouse, s3.endpoint, ...); an
    ``s3`` block with bucket and prefix sets the warehouse when the catalog names none, also
    for the embedded catalog, whose SQLite database then stays local while the files go to
    the bucket.
    """
    catalog = dict(connection.get("catalog") or {})
    name = str(catalog.pop("name", "dativo"))
    props = {str(k): str(v) for k, v in catalog.items()}
    s3 = connection.get("s3") or {}
    if "warehouse" not in props and s3.get("bucket"):
        prefix = str(s3.get("prefix", "")).strip("/")
        props["warehouse"] = f"s3://{s3['bucket']}/{prefix}".rstrip("/")
        props = {**s3_block_fileio(s3), **props}  # the catalog's own properties win
    if not props.get("type"):
        # the embedded default fills only what the connection left out, the warehouse too
        props = {**embedded_catalog(root), **props}
    return name, props
