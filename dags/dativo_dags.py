"""Drop this file in the Airflow DAG folder: it builds one DAG per dativo job.

The config root is $DATIVO_HOME, or the folder above this file when that is unset.
"""

import os
from pathlib import Path

from airflow_provider_dativo.dag_factory import build_dags

_root = os.environ.get("DATIVO_HOME") or Path(__file__).resolve().parent.parent
globals().update(build_dags(_root))
