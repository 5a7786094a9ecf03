"""The name a Celery worker of the tests reports as its task instances' hostname.

Every worker of a test cluster runs on this one machine, so Airflow's default (the machine's
FQDN) would be the same for all of them; each worker's ``core.hostname_callable`` points here and
its environment names it, as separate machines would.
"""

from __future__ import annotations

import os


def hostname() -> str:
    return os.environ["DATIVO_TEST_WORKER_HOSTNAME"]
