"""The Iceberg catalog hook: a pyiceberg catalog from an Airflow connection (``dativo_iceberg``).

The connection's form and the field → property mapping live in ``iceberg_connection``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dativo.hooks.iceberg_connection import (
    CONN_TYPE,
    UI_FIELD_BEHAVIOUR,
    catalog_properties,
)
from airflow_provider_dativo.operators.secrets import mask_settings


class IcebergCatalogHook(BaseHook):
    """Builds a pyiceberg catalog from an Airflow connection of type ``dativo_iceberg``."""

    conn_name_attr = "iceberg_conn_id"
    default_conn_name = "dativo_iceberg_default"
    conn_type = CONN_TYPE
    hook_name = "Iceberg catalog (dativo)"

    def __init__(self, iceberg_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.iceberg_conn_id = iceberg_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        # the same form as the provider info declares, in the hook method's underscore keys
        return {k.replace("-", "_"): v for k, v in UI_FIELD_BEHAVIOUR.items()}

    def catalog_properties(self) -> dict[str, str]:
        """The connection's pyiceberg properties; credentials are masked before returning."""
        conn = self.get_connection(self.iceberg_conn_id)
        props = catalog_properties(host=conn.host, login=conn.login, password=conn.password,
                                   extra=conn.extra_dejson)
        mask_settings(props)
        return props

    def get_conn(self) -> Any:
        """A pyiceberg ``Catalog`` named after the connection id."""
        from airflow_provider_dativo.targets.iceberg_catalog import open_catalog

        return open_catalog(self.iceberg_conn_id, self.catalog_properties())

    def test_connection(self) -> tuple[bool, str]:
        """Loads the catalog and lists its namespaces (the button in the connection form)."""
        try:
            namespaces = self.get_conn().list_namespaces()
        except Exception as exc:  # the form shows any failure as text
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"catalog reachable; {len(namespaces)} namespace(s)"
