"""The Iceberg catalog connection type: its form, and its fields → pyiceberg properties.

No Airflow import here: the provider info reads the form without loading Airflow.

Form fields: Host is the catalog URI (REST endpoint, SQLAlchemy URL, Hive metastore);
Login/Password are the REST OAuth2 client credentials (a password alone is a bearer token);
``catalog_type``, ``warehouse`` and ``properties`` (a JSON object of any further pyiceberg
property, e.g. ``s3.endpoint``) live in the extras.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CONN_TYPE = "dativo_iceberg"
CATALOG_TYPES = ("rest", "sql", "glue", "hive", "dynamodb", "bigquery")


def _extra_value(extra: Mapping[str, Any], key: str) -> Any:
    # Airflow 3 stores form extras flat; older UIs prefixed them with extra__<type>__.
    return extra.get(key, extra.get(f"extra__{CONN_TYPE}__{key}"))


def catalog_properties(*, host: str | None, login: str | None, password: str | None,
                       extra: Mapping[str, Any]) -> dict[str, str]:
    """pyiceberg ``load_catalog`` properties from the parts of an Iceberg catalog connection."""
    props: dict[str, str] = {}
    catalog_type = _extra_value(extra, "catalog_type")
    if catalog_type:
        props["type"] = str(catalog_type)
    if host:
        props["uri"] = host
    warehouse = _extra_value(extra, "warehouse")
    if warehouse:
        props["warehouse"] = str(warehouse)
    if login and password:
        props["credential"] = f"{login}:{password}"
    elif password:
        props["token"] = password
    more = _extra_value(extra, "properties") or {}
    if isinstance(more, str):
        try:
            more = json.loads(more) if more.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"the 'properties' extra of an Iceberg catalog connection must be "
                             f"a JSON object: {exc.msg} at position {exc.pos}") from None
    if not isinstance(more, Mapping):
        raise ValueError("the 'properties' extra of an Iceberg catalog connection must be a "
                         "JSON object of pyiceberg properties")
    props.update({str(k): str(v) for k, v in more.items()})
    if "type" not in props:
        raise ValueError("the Iceberg catalog connection names no catalog type; set "
                         f"'catalog_type' to one of {', '.join(CATALOG_TYPES)}")
    return props


UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "Catalog URI", "login": "Client ID (REST OAuth2)",
                   "password": "Client secret or token"},
    "placeholders": {
        "host": "https://catalog.example/api/catalog or postgresql+psycopg://user:pw@db/iceberg",
        "login": "optional: OAuth2 client id",
        "password": "optional: OAuth2 client secret, or a bearer token without client id",
    },
}

CONN_FIELDS: dict[str, Any] = {
    "catalog_type": {
        "label": "Catalog type",
        "description": "pyiceberg catalog implementation.",
        "schema": {"type": ["string", "null"], "enum": [*CATALOG_TYPES, None], "default": "rest"},
    },
    "warehouse": {
        "label": "Warehouse",
        "description": "Warehouse location or name, e.g. s3://lake/warehouse.",
        "schema": {"type": ["string", "null"]},
    },
    "properties": {
        "label": "More catalog properties (JSON)",
        "description": "Any further pyiceberg property, e.g. "
                       '{"s3.endpoint": "http://minio:9000", "s3.path-style-access": "true"}.',
        "schema": {"type": ["string", "null"]},
    },
}
