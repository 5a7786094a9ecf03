"""The Docker launcher on a real Docker engine (``make docker-engine``): the guide's toy_http
image against its mock API, container limits and mounts as the engine reports them, a stopped
task's container, and the failures that must commit nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.engines.airbyte import AirbyteSource
from airflow_provider_dativo.engines.base import PendingState
from airflow_provider_dativo.engines.launchers import FileArg, launcher_for
from airflow_provider_dativo.engines.launchers.base import block_lines, line_blocks
from airflow_provider_dativo.engines.launchers.docker import (
    LABEL,
    OWNER_LABEL,
    DockerLauncher,
    DockerSettings,
    container_spec,
    demultiplexed,
    owner,
)
from airflow_provider_dativo.errors import EngineError
from tests.conftest import REPO, write
from tests.connectors.test_toy_http import KEY, toy_api  # noqa: F401 - fixture
from tests.docker_engine import (  # noqa: F401 - fixture
    FAKER,
    TOY_HTTP,
    containers_of,
    docker_engine,
    faker_job,
)
from tests.services import S3Server, free_port

GUIDE_JOB = "jobs/examples/toy_http_tickets.yaml"
RECIPE = "connectors/toy_http.yaml"


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
        "environment": {"LOG_LEVEL": "debug"}, "auto_remove": False, "init": True,
        "labels": {LABEL: "acme/source-x:1.2", OWNER_LABEL: owner()},
        "stdin_open": False, "tty": False, "nano_cpus": 1_500_000_000, "mem_limit": "2g",
        "network_mode": "none", "user": "1000:1000"}
    # removed after the run, the container gets no log of its own: the launcher reads its
    # output over the attach stream
    assert container_spec("acme/source-x:1.2", [], "/tmp/dir", DockerSettings.from_options(
        {}))["log_config"] == {"Type": "none", "Config": {}}
    assert container_spec("acme/source-x:1.2", [], "/tmp/dir", DockerSettings.from_options(
        {"docker": {"log_driver": "local"}}))["log_config"] == {"Type": "local", "Config": {}}
    with pytest.raises(EngineError, match=r"docker\.pull must be one of"):
        DockerSettings.from_options({"docker": {"pull": "sometimes"}})


def test_line_blocks_rejoin_chunks_into_whole_lines() -> None:
    blocks = list(line_blocks([b'{"a"', b':1}\n{"b":', b"2}\n", b"tail"]))
    assert blocks == [b'{"a":1}\n', b'{"b":2}\n', b"tail"]
    assert [line for block in blocks for line in block_lines(block)] == [
        b'{"a":1}', b'{"b":2}', b"tail"]


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize("cut", [1, 3, 8, 9, 17, 4096])
def test_the_attach_stream_splits_into_stdout_and_stderr_wherever_it_is_cut(cut: int) -> None:
    """The engine's frames, cut into chunks of ``cut`` bytes (through headers and payloads):
    stdout comes out whole and in order, stderr goes aside, an empty frame is skipped."""
    out = [b'{"type":"RECORD","n":%d}\n' % i for i in range(200)]
    stream = b"".join(frame(1, line) + (frame(2, b"log %d\n" % i) if i % 50 == 0 else b"")
                      for i, line in enumerate(out)) + frame(1, b"") + frame(1, b"tail")
    chunks = [stream[i:i + cut] for i in range(0, len(stream), cut)]
    stderr: list[bytes] = []
    assert b"".join(demultiplexed(chunks, stderr.append)) == b"".join(out) + b"tail"
    assert b"".join(stderr) == b"log 0\nlog 50\nlog 100\nlog 150\n"


@pytest.mark.parametrize(("name", "image"), [("stripe", "airbyte/source-stripe:5.6.0"),
                                             ("hubspot", "airbyte/source-hubspot:4.4.8"),
                                             ("toy_http", TOY_HTTP),
                                             ("faker_docker", FAKER)])
def test_shipped_image_recipes_run_on_docker(name: str, image: str) -> None:
    recipe = ConfigRoot(REPO).recipe(REPO / "connectors" / f"{name}.yaml")
    launcher = launcher_for(REPO, recipe, "airbyte")
    assert isinstance(launcher, DockerLauncher) and launcher.image == image


# -- on the engine -------------------------------------------------------------------------------
pytest_docker = pytest.mark.docker


def docker_recipe(config_root: Path, docker: str, image: str = TOY_HTTP) -> None:
    """The guide's toy_http recipe with ``options.docker`` (the API mock is on 127.0.0.1, which
    a container reaches only on the host's network)."""
    text = (config_root / RECIPE).read_text().replace(
        f"  image: {TOY_HTTP}\n",
        f"  image: {image}\n  options:\n    docker: {{network_mode: host, {docker}}}\n")
    write(config_root / RECIPE, text)


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on moto's S3 server, named by S3_BUCKET as the guide's job expects."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    name = s3_server.new_bucket()
    monkeypatch.setenv("S3_BUCKET", name)
    return name


def guide_job(config_root: Path, api: str) -> JobSpec:
    """The guide's job as written, but for the API host, which is the local mock here."""
    path = config_root / GUIDE_JOB
    write(path, path.read_text().replace("https://mock.toy-http.dev", api))
    return ConfigRoot(config_root).load_job(GUIDE_JOB)


def committed_nothing(job: JobSpec) -> bool:
    try:
        table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    except Exception:
        return True  # no table: nothing was ever committed
    return table.current_snapshot() is None


def touch(api: str, count: int) -> None:
    import urllib.request

    request = urllib.request.Request(f"{api}/tickets/touch?count={count}", method="POST",
                                     headers={"Authorization": f"Bearer {KEY}"})
    urllib.request.urlopen(request, timeout=10).close()


@pytest_docker
def test_toy_http_image_answers_spec_check_and_discover(docker_engine: Any,  # noqa: F811
                                                        toy_api: str) -> None:  # noqa: F811
    launcher = DockerLauncher(TOY_HTTP, DockerSettings(network_mode="host", pull="never"))
    source = AirbyteSource(launcher, {"base_url": toy_api, "api_key": KEY}, connector="toy_http")
    spec = source.spec()
    assert spec["connectionSpecification"]["properties"]["api_key"]["airbyte_secret"] is True
    assert source.check().ok
    [tickets] = source.discover()
    assert tickets.name == "tickets" and tickets.cursor_fields == ("updated_at",)
    wrong = AirbyteSource(launcher, {"base_url": toy_api, "api_key": "wrong-key-9"},
                          connector="toy_http")
    with pytest.raises(EngineError, match=r"toy_http API answered 401") as err:
        wrong.check()
    assert "wrong-key-9" not in str(err.value)
    assert containers_of(docker_engine, TOY_HTTP) == []  # each command's container is gone


@pytest_docker
@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "waited-for"])
def test_a_state_known_after_the_start_reaches_the_container(
        docker_engine: Any, toy_api: str, fifo: bool,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On an engine that shares this machine's files the state is a FIFO the connector opens
    while the target is still answering; elsewhere it is written before the container starts.
    Either way the connector reads it: with a cursor past every ticket it sends none."""
    from airflow_provider_dativo.engines.launchers import docker as launcher_module

    monkeypatch.setattr(launcher_module, "shares_files", lambda client: fifo)
    launcher = DockerLauncher(TOY_HTTP, DockerSettings(network_mode="host", pull="never"))
    source = AirbyteSource(launcher, {"base_url": toy_api, "api_key": KEY}, connector="toy_http")
    source.catalog()  # kept, so the read starts its container at once

    def rows(state: list[dict[str, Any]] | None) -> int:
        pending = PendingState()
        timer = threading.Timer(0.3, pending.set, args=[{"airbyte": state} if state else None])
        timer.start()
        try:
            return sum(item.num_rows for item in source.read("tickets", pending)
                       if isinstance(item, pa.RecordBatch))
        finally:
            timer.join()

    assert rows(None) == 120
    assert rows([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "tickets"},
                                               "stream_state": {"updated_at": "9999-12-31"}}}]) == 0
    assert containers_of(docker_engine, TOY_HTTP) == []


@pytest_docker
def test_the_guides_job_lands_in_s3_then_reads_only_what_changed(
        config_root: Path, toy_api: str, s3_server: S3Server,  # noqa: F811
        docker_engine: Any, bucket: str) -> None:  # noqa: F811
    docker_recipe(config_root, "pull: never")
    job = guide_job(config_root, toy_api)
    manifest, result = runner.run_job(job, "docker-1")
    assert result.committed and manifest["rows"] == 120
    cursor = manifest["state"]["source"]["airbyte"][0]["stream"]["stream_state"]["updated_at"]
    touch(toy_api, 5)
    manifest, _ = runner.run_job(job, "docker-2")
    assert manifest["rows"] == 5  # the container was handed the committed state
    assert manifest["state"]["source"]["airbyte"][0]["stream"]["stream_state"]["updated_at"] > (
        cursor)
    table = runner.open_job_target(job).load_table()  # type: ignore[attr-defined]
    assert table.scan().to_arrow().num_rows == 125
    assert containers_of(docker_engine, TOY_HTTP) == []


@pytest_docker
def test_the_guides_job_writes_its_files_to_its_s3_bucket(
        config_root: Path, toy_api: str, s3_server: S3Server,  # noqa: F811
        docker_engine: Any, bucket: str) -> None:  # noqa: F811
    docker_recipe(config_root, "pull: never")
    runner.run_job(guide_job(config_root, toy_api), "docker-s3")
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(
        Bucket=bucket).get("Contents", [])]
    assert any(k.startswith("raw/toy_http/tickets/") and k.endswith(".parquet")
               for k in keys), keys


@pytest_docker
def test_limits_read_only_mounts_and_no_secret_in_the_container(
        config_root: Path, toy_api: str, docker_engine: Any,  # noqa: F811
        bucket: str) -> None:
    # kept after they end (auto_remove false), so the engine can be asked what they were
    docker_recipe(config_root, 'cpus: 0.5, memory: 256m, user: "1000:1000", '
                               "auto_remove: false, pull: never, env: {LOG_LEVEL: info}")
    job = guide_job(config_root, toy_api)
    before = {c.id for c in containers_of(docker_engine, TOY_HTTP)}
    try:
        manifest, _ = runner.run_job(job, "limits")
        assert manifest["rows"] == 120  # files handed to uid 1000 stayed readable to it
        kept = [c for c in containers_of(docker_engine, TOY_HTTP) if c.id not in before]
        commands = {c.attrs["Config"]["Cmd"][0] for c in kept}
        assert commands >= {"check", "read"}
        for container in kept:
            info = container.attrs
            host = info["HostConfig"]
            assert host["NanoCpus"] == 500_000_000
            assert host["Memory"] == 256 * 1024 * 1024
            assert info["Config"]["User"] == "1000:1000"
            assert host["NetworkMode"] == "host"
            [mount] = info["Mounts"]
            assert mount["Destination"] == "/dativo" and mount["RW"] is False
            assert all(arg.startswith("/dativo/") for arg in info["Config"]["Cmd"]
                       if "/" in arg)
            assert "LOG_LEVEL=info" in info["Config"]["Env"]
            # a kept container keeps the engine's own log, for docker logs
            assert host["LogConfig"]["Type"] != "none"
            # the key is only in the mounted config file, which is gone with the run
            assert KEY not in json.dumps(info)
            assert not Path(mount["Source"]).exists()
    finally:
        for container in containers_of(docker_engine, TOY_HTTP):
            if container.id not in before:
                container.remove(force=True)


@pytest_docker
def test_without_an_engine_log_the_records_still_arrive_whole(
        config_root: Path, toy_api: str, docker_engine: Any,  # noqa: F811
        bucket: str) -> None:
    """The log driver "none" (the default while containers are removed after the run): the
    engine keeps no copy of the records, and the attach stream still carries all of them."""
    docker_recipe(config_root, "auto_remove: false, pull: never, log_driver: none")
    job = guide_job(config_root, toy_api)
    before = {c.id for c in containers_of(docker_engine, TOY_HTTP)}
    try:
        manifest, _ = runner.run_job(job, "no-log")
        assert manifest["rows"] == 120
        kept = [c for c in containers_of(docker_engine, TOY_HTTP) if c.id not in before]
        assert kept and all(c.attrs["HostConfig"]["LogConfig"]["Type"] == "none"
                            for c in kept)
    finally:
        for container in containers_of(docker_engine, TOY_HTTP):
            if container.id not in before:
                container.remove(force=True)


@pytest_docker
def test_on_kill_stops_and_removes_the_running_container(config_root: Path,
                                                         docker_engine: Any) -> None:  # noqa: F811
    from airflow_provider_dativo.operators.dativo import DativoExtractOperator

    job = faker_job(config_root, 10_000_000)  # far more than is read before the kill
    failures: list[BaseException] = []

    def extract() -> None:
        try:
            runner.extract_step(job, "killed")
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=extract)
    thread.start()
    try:
        while not [c for c in containers_of(docker_engine, FAKER)
                   if c.attrs["Config"]["Cmd"][0] == "read" and c.status == "running"]:
            assert thread.is_alive(), failures
            threading.Event().wait(0.1)
    finally:
        # what Airflow calls on the task when it is killed
        DativoExtractOperator(task_id="extract", job_file=job.file,
                              config_root=str(config_root)).on_kill()
        thread.join(timeout=60)
        for container in containers_of(docker_engine, FAKER):  # a failed test leaves none
            container.remove(force=True)
    assert not thread.is_alive()
    assert failures and isinstance(failures[0], EngineError), failures
    assert containers_of(docker_engine, FAKER) == []
    assert committed_nothing(job)


@pytest_docker
def test_a_connector_exiting_non_zero_fails_and_commits_nothing(
        config_root: Path, docker_engine: Any, toy_api: str,  # noqa: F811
        bucket: str) -> None:
    # the bare base image has no connector: the `spec` it is handed is no program
    docker_recipe(config_root, "pull: never", image="dativo/debian-python:bookworm")
    job = guide_job(config_root, toy_api)
    with pytest.raises(EngineError, match=r"(?s)spec failed: exit code 127.*exec spec failed"):
        runner.run_job(job, "broken")
    assert committed_nothing(job)
    assert containers_of(docker_engine, "dativo/debian-python:bookworm") == []


@pytest_docker
def test_a_missing_image_with_pull_never_fails_and_commits_nothing(
        config_root: Path, docker_engine: Any, toy_api: str,  # noqa: F811
        bucket: str) -> None:
    docker_recipe(config_root, "pull: never", image="dativo/not-built:0.0.1")
    job = guide_job(config_root, toy_api)
    with pytest.raises(EngineError, match=r"image dativo/not-built:0.0.1 is not on the Docker "
                                          r"engine and docker.pull is never.*make docker-engine"):
        runner.run_job(job, "missing")
    assert committed_nothing(job)


def test_an_engine_that_is_not_running_fails_and_commits_nothing(
        config_root: Path, toy_api: str, bucket: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")  # nothing listens
    docker_recipe(config_root, "pull: never")
    job = guide_job(config_root, toy_api)
    with pytest.raises(EngineError, match=r"no Docker engine reachable .*start Docker"):
        runner.run_job(job, "no-engine")
    assert committed_nothing(job)
