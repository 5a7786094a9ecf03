"""airflow-provider-dativo: declarative ingestion for Apache Airflow."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """What Airflow reads through the ``apache_airflow_provider`` entry point."""
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
    }
