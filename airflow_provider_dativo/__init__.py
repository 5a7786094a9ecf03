"""airflow-provider-dativo: declarative ingestion for Apache Airflow."""

from __future__ import annotations

from typing import Any

from airflow_provider_dativo.lazy_exports import lazy_exports

__version__ = "0.1.0"

# table_asset builds an Airflow Asset: imported on first use, so `dativo` and the core never
# import Airflow for it
__getattr__ = lazy_exports(__name__, {"table_asset": "operators.lineage"})
__all__ = ["get_provider_info", "table_asset"]


def get_provider_info() -> dict[str, Any]:
    """What Airflow reads through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_dativo.hooks import iceberg_connection as iceberg_form

    return {
        "package-name": "airflow-provider-dativo",
        "name": "Dativo",
        "description": "Declarative ingestion: YAML jobs and ODCS data contracts become DAGs "
        "that land data in Apache Iceberg.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Dativo",
                "external-doc-url": "https://pypi.org/project/airflow-provider-dativo/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {"integration-name": "Dativo",
             "python-modules": ["airflow_provider_dativo.operators.dativo"]},
        ],
        "hooks": [
            {"integration-name": "Dativo",
             "python-modules": ["airflow_provider_dativo.hooks.iceberg"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_dativo.hooks.iceberg.IcebergCatalogHook",
                "hook-name": "Iceberg catalog (dativo)",
                "connection-type": "dativo_iceberg",
                "ui-field-behaviour": iceberg_form.UI_FIELD_BEHAVIOUR,
                "conn-fields": iceberg_form.CONN_FIELDS,
            }
        ],
    }

