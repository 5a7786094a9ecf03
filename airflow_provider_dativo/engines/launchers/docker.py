"""Runs a connector image through the Docker engine (the docker SDK, as the Docker provider does).

Config, catalog and state are written to a private temp dir that is mounted read-only at
``/dativo``; the connector reads them there. A state known only after the start is a FIFO there,
as with the local launcher, where the engine sees this machine's own files. Only the container
spec and the stream handling live here: everything the connector says is handled by the same
protocol code as the local launcher.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_dativo.engines.launchers.base import (
    Arg,
    FileArg,
    LateFile,
    Masker,
    StderrTail,
    feed_fifo,
    line_blocks,
    resolved,
    track,
)
from airflow_provider_dativo.errors import EngineError
from airflow_provider_dativo.read_ahead import ReadAhead

MOUNT = "/dativo"
# on every container the launcher starts: which image, and which process started it (so the
# containers of a worker that died can be found and removed: docker ps --filter label=...)
LABEL = "dativo.connector"
OWNER_LABEL = "dativo.owner"


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
PULL_POLICIES = ("always", "if_not_present", "never")


@dataclass(frozen=True)
class DockerSettings:
    """Container settings from the recipe's engine ``options`` (all optional)."""

    cpus: float | None = None
    memory: str | None = None  # docker's notation: "2g", "512m"
    network_mode: str | None = None
    pull: str = "if_not_present"
    auto_remove: bool = True  # false keeps an ended container for `docker logs`
    user: str | None = None  # uid[:gid] the connector runs as; files are handed to it if root
    env: Mapping[str, str] = field(default_factory=dict)
    stop_timeout_s: int = 10
    # the engine's log driver for the container; None: "none" while the container is removed
    # after the run (its log would go with it), else the engine's default
    log_driver: str | None = None

    @property
    def engine_log_driver(self) -> str | None:
        """The log driver the container is created with (None: the engine's default)."""
        return self.log_driver or ("none" if self.auto_remove else None)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DockerSettings:
        docker = dict(options.get("docker") or {})
        pull = docker.get("pull", "if_not_present")
        if pull not in PULL_POLICIES:
            raise EngineError(f"docker.pull must be one of {', '.join(PULL_POLICIES)}, "
                              f"not '{pull}'")
        return cls(cpus=docker.get("cpus"), memory=docker.get("memory"),
                   network_mode=docker.get("network_mode"), pull=pull,
                   auto_remove=bool(docker.get("auto_remove", True)), user=docker.get("user"),
                   env={str(k): str(v) for k, v in (docker.get("env") or {}).items()},
                   stop_timeout_s=int(docker.get("stop_timeout_s", 10)),
                   log_driver=docker.get("log_driver"))


def container_spec(image: str, args: Sequence[Arg], host_dir: str,
                   settings: DockerSettings) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create``."""
    spec: dict[str, Any] = {
        "image": image,
        "command": [f"{MOUNT}/{a.name}" if isinstance(a, FileArg) else a for a in args],
        "volumes": {host_dir: {"bind": MOUNT, "mode": "ro"}},
        "environment": dict(settings.env),
        # removed by the launcher once it has the exit code: the engine's own auto-remove
        # could remove a fast connector before its exit code is read
        "auto_remove": False,
        "labels": {LABEL: image, OWNER_LABEL: owner()},
        # an init as PID 1 passes the stop signal on: a connector that is PID 1 itself
        # ignores it and is only killed once the stop timeout ran out
        "init": True,
        "stdin_open": False,
        "tty": False,  # a TTY would merge stderr into stdout and mangle the protocol
    }
    if settings.cpus:
        spec["nano_cpus"] = int(settings.cpus * 1e9)
    if settings.memory:
        spec["mem_limit"] = settings.memory
    if settings.network_mode:
        spec["network_mode"] = settings.network_mode
    if settings.user:
        spec["user"] = settings.user
    # The launcher reads stdout and stderr over the attach stream, so the engine's own log of
    # them is a second copy of every record, written to disk by the engine as the connector
    # runs (json-file: up to 7% of a 100k-record read here) and holding the records themselves
    if settings.engine_log_driver:
        spec["log_config"] = {"Type": settings.engine_log_driver, "Config": {}}
    return spec


# how much of the attach stream one read asks for: a connector writes its output in frames of
# a few KiB at most, so a large read takes many frames at once
READ_BYTES = 1 << 20
STDOUT_AHEAD = 64 << 20  # stdout bytes read ahead of the parser at most
STDOUT, STDERR = 1, 2
FRAME_HEADER = 8
_FRAME = struct.Struct(">BxxxL")


def demultiplexed(chunks: Iterable[bytes], on_stderr: Callable[[bytes], None]
                  ) -> Iterator[bytes]:
    """The stdout bytes of a non-TTY attach stream read in chunks cut anywhere; its stderr bytes
    go to ``on_stderr``. The engine interleaves both as frames, each an 8-byte header (stream,
    three zero bytes, big-endian length) and its payload; a chunk's stdout is handed on as one
    piece, so the work per frame is a header unpacked and a slice taken."""
    header = b""  # a header cut by the end of a chunk
    kind, left = 0, 0  # the frame being read and how much of its payload is still to come
    for chunk in chunks:
        out: list[bytes] = []
        pos, size = 0, len(chunk)
        while pos < size:
            if not left:
                need = FRAME_HEADER - len(header)
                header += chunk[pos:pos + need]
                pos += need
                if len(header) < FRAME_HEADER:
                    break
                kind, left = _FRAME.unpack(header)
                header = b""
                continue
            piece = chunk[pos:pos + left]
            pos += len(piece)
            left -= len(piece)
            if kind == STDOUT:
                out.append(piece)
            elif kind == STDERR:
                on_stderr(piece)
        if out:
            yield out[0] if len(out) == 1 else b"".join(out)


class _StderrLines:
    """Pieces of stderr, cut anywhere, to the tail a line at a time."""

    def __init__(self, tail: StderrTail) -> None:
        self._tail = tail
        self._rest = b""

    def feed(self, piece: bytes) -> None:
        *lines, self._rest = (self._rest + piece).split(b"\n")
        for line in lines:
            self._tail.feed(line)

    def flush(self) -> None:
        if self._rest:
            self._tail.feed(self._rest)
            self._rest = b""


class DockerProcess:
    def __init__(self, container: Any, tail: StderrTail, stop_timeout_s: int,
                 replay_log: bool = True) -> None:
        from docker.utils.socket import read

        self.container = container
        self._tail = tail
        self._stop_timeout_s = stop_timeout_s
        # One attach for both streams, read straight from its socket in large chunks and split
        # here: the SDK's own stream reads each frame with two polls and two reads, which for
        # a connector that writes a frame per record cost more than the parse of the records.
        # Attached before the start, so nothing is lost however fast the connector exits; the
        # replay of the engine's log is asked for only where there is one (an attach asking it
        # of a container without a log fails)
        self._socket = container.client.api.attach_socket(
            container.id, params={"stdout": 1, "stderr": 1, "stream": 1,
                                  "logs": int(replay_log)})
        self._stderr = _StderrLines(tail)
        self._drained = threading.Event()

        def chunks() -> Iterator[bytes]:
            try:
                while chunk := read(self._socket, READ_BYTES):
                    yield chunk
            except (OSError, ValueError):
                pass  # the socket was closed under us: the run is over
            finally:
                self._stderr.flush()
                self._drained.set()

        # read from now on, so stderr is logged even before anyone reads stdout, and the
        # connector never waits on a full pipe while a batch is built (bounded by bytes)
        self._stdout = ReadAhead(demultiplexed(chunks(), self._stderr.feed), STDOUT_AHEAD, len,
                                 join_on_close=False)
        self._lock = threading.Lock()
        self._killed = False
        self._ended = threading.Event()
        self.late_failures: list[BaseException] = []

    def start(self) -> None:
        # a kill that came first (the task was stopped while the container was being created)
        # wins: the container never runs
        with self._lock:
            if self._killed:
                raise EngineError(f"connector container of {self._tail.name} was stopped "
                                  "before it started; nothing was read")
            self.container.start()

    def blocks(self) -> Iterator[bytes]:
        try:
            yield from line_blocks(self._stdout)
        finally:
            self._stdout.close()

    def wait(self) -> int:
        code = int(self.container.wait().get("StatusCode", 1))
        self._ended.set()
        self._drained.wait(timeout=5)  # the stream ends just after the container
        if self.late_failures:  # the connector was stopped because its input never came
            raise self.late_failures[0]
        return code

    def alive(self) -> bool:
        return not self._ended.is_set()

    def stderr_tail(self) -> str:
        return self._tail.text()

    def kill(self) -> None:
        with self._lock:
            self._killed = True
        with suppress(Exception):
            self.container.stop(timeout=self._stop_timeout_s)
        self._ended.set()

    def close(self) -> None:
        """Let go of the attach stream (the container is gone or going)."""
        self._stdout.close()
        with suppress(Exception):
            self._socket.close()


# set by the Airflow hook for the duration of a task, so connectors run on the engine of the
# Docker connection the task names instead of the environment's DOCKER_HOST. Process-wide, not
# a context variable: a connector may be started from a read-ahead thread, and a task process
# runs one task.
_client_override: list[Callable[[], Any]] = []
_override_lock = threading.Lock()


@contextmanager
def engine_client(factory: Callable[[], Any]) -> Iterator[None]:
    """Inside this block the docker launcher gets its clients from ``factory``."""
    with _override_lock:
        _client_override.append(factory)
    try:
        yield
    finally:
        with _override_lock:
            _client_override.remove(factory)


def _docker_client() -> Any:
    with _override_lock:
        override = _client_override[-1] if _client_override else None
    if override is not None:
        try:
            return override()
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"no Docker engine reachable through the task's Docker "
                              f"connection ({exc}); check its docker_url") from exc
    try:
        import docker
    except ImportError as exc:
        raise EngineError("the docker launcher needs the docker SDK: pip install docker "
                          "(or apache-airflow-providers-docker)") from exc
    try:
        return docker.from_env()
    except Exception as exc:
        raise EngineError(f"no Docker engine reachable ({exc}); start Docker or set "
                          "DOCKER_HOST, or run the connector with a local command") from exc


class DockerLauncher:
    name = "docker"

    def __init__(self, image: str, settings: DockerSettings | None = None, *,
                 client_factory: Callable[[], Any] = _docker_client) -> None:
        self.image = image
        self.settings = settings or DockerSettings()
        self.client_factory = client_factory
        self.running: DockerProcess | None = None
        # The docker SDK (with requests and urllib3) is imported here, in the caller's thread,
        # before the read starts the container on its own thread: imported there it raced the
        # caller's own imports (pyarrow, pyiceberg) for the interpreter and took much longer,
        # all of it before the container was created. A missing SDK is reported
        # when a container is asked for.
        with suppress(ImportError):
            import docker  # noqa: F401

    def describe(self) -> str:
        return f"docker image {self.image}"

    def identity(self) -> str:
        return self.describe()

    def _ensure_image(self, client: Any) -> None:
        from docker.errors import ImageNotFound

        pull = self.settings.pull
        if pull != "always":
            try:
                client.images.get(self.image)
                return
            except ImageNotFound:
                if pull == "never":
                    raise EngineError(
                        f"image {self.image} is not on the Docker engine and docker.pull is "
                        "never; build or load it there first (the project's own images: "
                        "make docker-engine)") from None
        try:
            client.images.pull(self.image)
        except Exception as exc:
            raise EngineError(f"cannot pull image {self.image} ({exc}); check the image name "
                              "and the engine's registry access, or build the image on the "
                              "engine and set docker.pull: never") from exc

    def _private_dir(self, files: Mapping[str, bytes | LateFile]) -> str:
        """The files in a new folder; a late file becomes a FIFO fed once it is known."""
        folder = Path(tempfile.mkdtemp(prefix="dativo-connector-"))
        uid = _uid(self.settings.user)
        # the container's user must read the files; when we can, hand them to that user only,
        # else make them readable without making the folder listable
        private = uid is not None and os.geteuid() == 0
        for name, content in files.items():
            path = folder / name
            if isinstance(content, LateFile):
                os.mkfifo(path, 0o600)
            else:
                path.write_bytes(content)
            if private:
                os.chown(path, uid, -1)  # type: ignore[arg-type]
            path.chmod(0o600 if private else 0o644)
        if private:
            os.chown(folder, uid, -1)  # type: ignore[arg-type]
        else:
            folder.chmod(0o711)
        return str(folder)

    @contextmanager
    def start(self, args: Sequence[Arg], files: Mapping[str, bytes | LateFile],
              mask: Masker) -> Iterator[DockerProcess]:
        client = self.client_factory()
        self._ensure_image(client)
        late = {name: c for name, c in files.items() if isinstance(c, LateFile)}
        # a late file is a FIFO, so the connector starts while its content is still awaited,
        # only where the engine sees this machine's own files (a FIFO does not cross Docker
        # Desktop's file sharing or reach a remote engine); elsewhere it is waited for
        fifos = bool(late) and shares_files(client)
        folder = self._private_dir(files if fifos else resolved(files))
        try:
            try:
                container = client.containers.create(
                    **container_spec(self.image, args, folder, self.settings))
            except Exception as exc:
                raise EngineError(f"the Docker engine refused a container of {self.image}: "
                                  f"{exc}; check the recipe's options.docker") from exc
            try:
                process = DockerProcess(container, StderrTail(self.image, mask),
                                        self.settings.stop_timeout_s,
                                        self.settings.engine_log_driver != "none")
            except Exception:
                with suppress(Exception):
                    container.remove(force=True)
                raise
            self.running = process
            track(process, True)  # before the start, so a stopped task always finds it
            try:
                process.start()
                if fifos:
                    for name, content in late.items():
                        threading.Thread(
                            target=feed_fifo, daemon=True, name=f"dativo-{name}",
                            args=(Path(folder) / name, content, process.alive, process.kill,
                                  process.late_failures)).start()
                yield process
            finally:
                track(process, False)
                self.running = None
                process.kill()
                if self.settings.auto_remove:
                    with suppress(Exception):
                        container.remove(force=True)
                process.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def on_kill(self) -> None:
        """Stop the running container (the operator's ``on_kill``)."""
        if self.running is not None:
            self.running.kill()


_shared: dict[str, bool] = {}


def shares_files(client: Any) -> bool:
    """Whether the engine runs on this machine's own kernel and files: a Linux engine that
    names itself after this host (Docker Desktop's is named docker-desktop; a remote engine
    after its own host). Asked once per engine URL."""
    url = str(getattr(getattr(client, "api", None), "base_url", ""))
    if url not in _shared:
        try:
            info = client.info()
        except Exception:
            info = {}
        _shared[url] = (sys.platform == "linux" and info.get("OSType") == "linux"
                        and info.get("Name") == socket.gethostname())
    return _shared[url]


def _uid(user: str | None) -> int | None:
    if user and user.split(":")[0].isdigit():
        return int(user.split(":")[0])
    return None
