"""A newcomer's path from docs/CONNECTOR_DEVELOPMENT.md, step by step: scaffold a REST API
source, point it at their own mock API, validate, run the generated test, add a job, and see a
DAG land rows in Iceberg."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from tests.conftest import BIN, airflow

RECORDS = [{"id": f"r-{i}", "name": f"record {i}",
            "updated_at": f"2026-11-{1 + i % 28:02d}T10:00:00Z"} for i in range(250)]


class MockApi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("X-API-Key") != "test-key":
            self.send_response(401)
            self.end_headers()
            return
        query = parse_qs(url.query)
        page, size = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["100"])[0])
        body = json.dumps({"data": RECORDS[(page - 1) * size: page * size]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mock_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), MockApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def dativo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), *args], capture_output=True,
                          text=True, timeout=120, env={"PATH": str(BIN), "COLUMNS": "200",
                                                       "ORDERS_API_API_KEY": "test-key"})


def test_from_scaffold_to_rows_in_iceberg(config_root: Path, airflow_env: dict[str, str],
                                          mock_api: str) -> None:
    # 1. scaffold
    made = dativo(config_root, "new", "connector", "orders_api", "--engine", "native")
    assert made.returncode == 0, made.stdout + made.stderr
    # 2. point the recipe at the API (the mock stands in for the real one)
    recipe = config_root / "connectors/orders_api.yaml"
    recipe.write_text(recipe.read_text().replace("https://api.example.com", mock_api))
    # 3. validate, and run the generated test
    checked = dativo(config_root, "validate")
    assert checked.returncode == 0, checked.stdout
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/connectors/test_orders_api.py"], cwd=config_root,
                            capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0, tested.stdout[-3000:]
    discovered = dativo(config_root, "discover", "--connector", "orders_api", "--json")
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    assert '"name": "records"' in discovered.stdout
    # 4. a tenant's job from the sample job
    job = config_root / "jobs/acme/orders_api.yaml"
    job.write_text((config_root / "tests/fixtures/jobs/orders_api.yaml").read_text()
                   .replace("tenant_id: fixtures", "tenant_id: acme"))
    listed = dativo(config_root, "list")
    assert "dativo__acme__orders_api" in listed.stdout
    # 5. the DAG runs and the rows land
    airflow(airflow_env, "dags", "test", "dativo__acme__orders_api")
    spec = ConfigRoot(config_root).load_job(job)
    table = runner.open_job_target(spec).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    assert table.num_rows == len(RECORDS)
    assert sorted(table["id"].to_pylist()) == sorted(r["id"] for r in RECORDS)
