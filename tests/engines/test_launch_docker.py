"""The Docker launcher: the container spec handed to the docker client, and the stream handling
on recorded connector output. No Docker engine runs here, so the client is a recording stand-in;
the protocol behind it is the one tested for real with local processes."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_dativo.engines.airbyte import AirbyteSource
from airflow_provider_dativo.engines.base import PendingState, RecordsDone, StateUpdate
from airflow_provider_dativo.engines.launchers import FileArg, Masker
from airflow_provider_dativo.engines.launchers.base import split_lines
from airflow_provider_dativo.engines.launchers.docker import (
    DockerLauncher,
    DockerSettings,
    container_spec,
)
from airflow_provider_dativo.errors import EngineError

SCRIPT = Path(__file__).with_name("airbyte_script.py")


def recorded(command: str) -> bytes:
    """What the real connector program prints for ``command`` (recorded, replayed below)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as config:
        config.write('{"scenario": "ok"}')
        config.flush()
        args = [command] if command == "spec" else [command, "--config", config.name]
        return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                              check=True).stdout


class Container:
    def __init__(self, stdout: bytes, stderr: bytes, code: int) -> None:
        self.stdout, self.stderr, self.code = stdout, stderr, code
        self.stopped = 0
        self.started = False

    def start(self) -> None:
        self.started = True

    def attach(self, *, stdout: bool, stderr: bool, stream: bool, logs: bool) -> Any:
        assert not self.started, "attached after the start: early output would be lost"
        data = self.stdout if stdout else self.stderr
        # the API cuts its stream anywhere, not at line ends
        return iter([data[i:i + 7] for i in range(0, len(data), 7)])

    def wait(self) -> dict[str, int]:
        return {"StatusCode": self.code}

    def stop(self, timeout: int) -> None:
        self.stopped += 1


class Client:
    """Records what the launcher asks of the docker SDK."""

    def __init__(self, outputs: dict[str, bytes], code: int = 0, stderr: bytes = b"") -> None:
        self.outputs, self.code, self.stderr = outputs, code, stderr
        self.runs: list[dict[str, Any]] = []
        self.files: list[dict[str, tuple[int, bytes]]] = []
        self.pulled: list[str] = []
        self.local_images: set[str] = set()
        self.containers = self
        self.images = self
        self.last: Container | None = None

    def get(self, image: str) -> None:
        if image not in self.local_images:
            raise LookupError(image)

    def pull(self, image: str) -> None:
        self.pulled.append(image)
        self.local_images.add(image)

    def create(self, **spec: Any) -> Container:
        self.runs.append(spec)
        host = next(iter(spec["volumes"]))
        self.files.append({p.name: (stat.S_IMODE(p.stat().st_mode), p.read_bytes())
                           for p in Path(host).iterdir()})
        failing = spec["command"][0] != "spec"  # the spec always works; it names secrets
        self.last = Container(self.outputs[spec["command"][0]], self.stderr if failing else b"",
                              self.code if failing else 0)
        return self.last


def source(client: Client, settings: DockerSettings | None = None) -> AirbyteSource:
    launcher = DockerLauncher("acme/source-x:1.2", settings, client_factory=lambda: client)
    return AirbyteSource(launcher, {"scenario": "ok", "credentials": {"token": "tok-777777"}},
                         connector="x")


def test_container_spec_mounts_files_read_only_with_limits() -> None:
    settings = DockerSettings.from_options({"docker": {
        "cpus": 1.5, "memory": "2g", "network_mode": "none", "pull": "never",
        "auto_remove": False, "user": "1000:1000", "env": {"LOG_LEVEL": "debug"}}})
    spec = container_spec("acme/source-x:1.2", ["read", "--config", FileArg("config.json")],
                          "/tmp/dir", settings)
    assert spec == {
        "image": "acme/source-x:1.2",
        "command": ["read", "--config", "/dativo/config.json"],
        "volumes": {"/tmp/dir": {"bind": "/dativo", "mode": "ro"}},
        "environment": {"LOG_LEVEL": "debug"}, "auto_remove": False,
        "stdin_open": False, "tty": False, "nano_cpus": 1_500_000_000, "mem_limit": "2g",
        "network_mode": "none", "user": "1000:1000"}
    with pytest.raises(EngineError, match=r"docker\.pull must be one of"):
        DockerSettings.from_options({"docker": {"pull": "sometimes"}})


def test_read_over_docker_parses_the_recorded_stream() -> None:
    client = Client({c: recorded(c) for c in ("spec", "discover", "read")})
    engine = source(client)
    items = list(engine.read("users", None))
    batches = [i for i in items if isinstance(i, pa.RecordBatch)]
    assert sum(b.num_rows for b in batches) == 3
    # the stream's COMPLETE status ends the rows: the last checkpoint, then the end marker
    assert isinstance(items[-2], StateUpdate) and isinstance(items[-1], RecordsDone)
    read_spec = client.runs[-1]
    assert read_spec["command"][:3] == ["read", "--config", "/dativo/config.json"]
    assert read_spec["command"][3:] == ["--catalog", "/dativo/catalog.json"]
    files = client.files[-1]
    assert set(files) == {"config.json", "catalog.json"}
    assert all(mode == 0o644 for mode, _ in files.values())  # readable by the container user
    assert client.pulled == ["acme/source-x:1.2"]  # if_not_present: pulled once it was missing
    # the temp dir is gone once the container is done
    assert not Path(next(iter(read_spec["volumes"]))).exists()


def test_a_pending_state_is_in_the_mount_before_the_container_is_created() -> None:
    client = Client({c: recorded(c) for c in ("spec", "discover", "read")})
    pending = PendingState()
    saved = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"},
                                           "stream_state": {"offset": 3}}}]
    # the target answers a moment after the read began: the container waits for it
    threading.Timer(0.2, pending.set, args=[{"airbyte": saved}]).start()
    list(source(client).read("users", pending))
    read_spec = client.runs[-1]
    assert read_spec["command"][-2:] == ["--state", "/dativo/state.json"]
    assert json.loads(client.files[-1]["state.json"][1]) == saved


def test_a_failing_container_fails_with_its_stderr_and_is_stopped() -> None:
    client = Client({c: recorded(c) for c in ("spec", "discover")},
                    code=2, stderr=b"fatal: cannot reach api with tok-777777\n")
    engine = source(client, DockerSettings(pull="never"))
    with pytest.raises(EngineError, match=r"(?s)exit code 2.*cannot reach api with \*\*\*"):
        engine.catalog()
    assert client.last is not None and client.last.stopped == 1
    assert client.pulled == []


def test_on_kill_stops_the_running_container() -> None:
    client = Client({"spec": recorded("spec")})
    launcher = DockerLauncher("acme/source-x:1.2", DockerSettings(pull="never"),
                              client_factory=lambda: client)
    with launcher.start(["spec"], {}, Masker()) as process:
        launcher.on_kill()
        assert client.last is not None and client.last.stopped == 1
        process.wait()


def test_split_lines_rejoins_chunks() -> None:
    assert list(split_lines([b'{"a"', b':1}\n{"b":', b"2}\n", b"tail"])) == [
        b'{"a":1}', b'{"b":2}', b"tail"]


@pytest.mark.parametrize(("name", "image"), [("stripe", "airbyte/source-stripe:5.6.0"),
                                             ("hubspot", "airbyte/source-hubspot:4.4.8")])
def test_shipped_image_recipes_run_on_docker(name: str, image: str) -> None:
    from airflow_provider_dativo.config.loader import ConfigRoot
    from airflow_provider_dativo.engines.launchers import launcher_for
    from tests.conftest import REPO

    recipe = ConfigRoot(REPO).recipe(REPO / "connectors" / f"{name}.yaml")
    launcher = launcher_for(REPO, recipe, "airbyte")
    assert isinstance(launcher, DockerLauncher) and launcher.image == image
