"""The connector guide's toy_http Airbyte source (docker/toy_http/) against its mock API
(examples/toy_http/), run as a local process: full read, then only what changed."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import EngineError
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
KEY = "toy-key-0042"


def _server_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("toy_http_server",
                                                  REPO / "examples/toy_http/server.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy_api(config_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for rel in ("docker/toy_http", "examples/toy_http"):
        shutil.copytree(REPO / rel, config_root / rel)
    port = free_port()
    server = _server_module().serve(port, KEY, 120)
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("TOY_HTTP_BASE_URL", url)
    monkeypatch.setenv("TOY_HTTP_API_KEY", KEY)
    try:
        yield url
    finally:
        server.shutdown()


def test_full_read_then_only_updated_tickets(config_root: Path, toy_api: str) -> None:
    job = ConfigRoot(config_root).load_job("examples/toy_http/job.yaml")
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 120
    cursor = manifest["state"]["source"]["airbyte"][0]["stream"]["stream_state"]["updated_at"]

    import urllib.request

    request = urllib.request.Request(f"{toy_api}/tickets/touch?count=5", method="POST",
                                     headers={"Authorization": f"Bearer {KEY}"})
    urllib.request.urlopen(request, timeout=10).close()
    manifest, _ = runner.run_job(job)
    assert manifest["rows"] == 5  # the source resumed after the committed cursor
    newer = manifest["state"]["source"]["airbyte"][0]["stream"]["stream_state"]["updated_at"]
    assert newer > cursor
    rows = runner.open_job_target(job).load_table().scan().to_arrow()  # type: ignore[attr-defined]
    assert rows.num_rows == 125


def test_a_wrong_key_fails_with_the_connectors_message(config_root: Path, toy_api: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_HTTP_API_KEY", "wrong-key-1")
    job = ConfigRoot(config_root).load_job("examples/toy_http/job.yaml")
    with pytest.raises(EngineError, match=r"toy_http API answered 401 .*\(config_error\)") as err:
        runner.validate_step(job)
    assert "wrong-key-1" not in str(err.value)


def test_the_guides_image_job_needs_docker(config_root: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_HTTP_API_KEY", KEY)
    monkeypatch.setenv("S3_BUCKET", "lake")
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")  # nothing listens
    job = ConfigRoot(config_root).load_job("jobs/examples/toy_http_tickets.yaml")
    with pytest.raises(EngineError, match="Docker engine"):
        runner.validate_step(job)
