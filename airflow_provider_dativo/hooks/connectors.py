"""Hooks for connector engines: one interface (``get_engine``, ``check``, ``discover``) over the
Airbyte and Singer protocols, whichever launcher starts the process. The operators run every
step inside ``hook_for(job, ...).session()``.

``AirbyteDockerHook`` runs images on the Docker engine of an Airflow Docker connection
(``docker_conn_id`` in the job's ``source`` block, else in the recipe's engine ``options``),
through the Docker provider's ``DockerHook``. The engine's URL is the connection's extra
``docker_url`` (as the provider's DockerOperator names it), else its host when that is a URL
such as ``unix:///var/run/docker.sock`` or ``tcp://host:2376`` and the connection has no login;
with a login the host is the registry DockerHook logs in to. Without a ``docker_conn_id`` the
connectors run on the engine of DOCKER_HOST (default: the local socket).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.engines import (
    CheckStatus,
    SourceEngine,
    StreamInfo,
    engine_module,
    open_source,
)
from airflow_provider_dativo.errors import EngineError

DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock"
URL_SCHEMES = ("unix://", "tcp://", "http://", "https://", "ssh://")


class ConnectorHook(BaseHook):
    """A job's source connector: local processes (Airbyte or Singer) by default."""

    hook_name = "dativo connector"

    def __init__(self, job_file: str, config_root: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_file = job_file
        self.config_root = config_root

    def job(self) -> JobSpec:
        return ConfigRoot(self.config_root).load_job(self.job_file)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Where connector processes of this hook run; subclasses point it elsewhere."""
        yield

    def get_engine(self) -> SourceEngine:
        job = self.job()
        return open_source(job, job.resolved_source_connection())

    def check(self) -> CheckStatus:
        with self.session():
            return self.get_engine().check()

    def discover(self) -> list[StreamInfo]:
        with self.session():
            return self.get_engine().discover()

    def test_connection(self) -> tuple[bool, str]:
        status = self.check()
        return status.ok, status.message


class SingerHook(ConnectorHook):
    """A Singer tap by name, for Airflow code that builds one itself; it behaves as
    :class:`ConnectorHook` (``hook_for`` returns that for a tap on this machine)."""

    hook_name = "dativo Singer tap"


def docker_url(conn: Any) -> str:
    """The engine a Docker connection points at (see the module's docstring)."""
    url = (conn.extra_dejson or {}).get("docker_url")
    if url:
        return str(url)
    host = conn.host or ""
    if host.startswith(URL_SCHEMES) and not conn.login:
        return host
    return DEFAULT_DOCKER_URL


class AirbyteDockerHook(ConnectorHook):
    """An Airbyte image on the Docker engine of ``docker_conn_id`` (None: DOCKER_HOST's)."""

    conn_name_attr = "docker_conn_id"
    hook_name = "dativo Airbyte (Docker)"

    def __init__(self, job_file: str, config_root: str | None = None,
                 docker_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(job_file, config_root, **kwargs)
        self.docker_conn_id = docker_conn_id

    def docker_client(self) -> Any:
        """A docker SDK client on the connection's engine, made by the provider's DockerHook
        (which also logs in to the registry when the connection has a login)."""
        from airflow.providers.docker.hooks.docker import DockerHook

        import docker

        assert self.docker_conn_id
        try:
            conn = self.get_connection(self.docker_conn_id)
        except Exception as exc:
            raise EngineError(f"Docker connection '{self.docker_conn_id}' is not defined "
                              f"({exc}); add it (conn_type docker, extra docker_url) or remove "
                              "docker_conn_id from the job or recipe") from exc
        hook = DockerHook(docker_conn_id=self.docker_conn_id if conn.login else None,
                          base_url=docker_url(conn), version="auto")
        client = docker.DockerClient.__new__(docker.DockerClient)
        client.api = hook.api_client  # the high-level client is a thin shell over this one
        return client

    @contextmanager
    def session(self) -> Iterator[None]:
        if not self.docker_conn_id:
            yield
            return
        from airflow_provider_dativo.engines.launchers.docker import engine_client

        with engine_client(self.docker_client):
            yield


def hook_for(job: JobSpec, job_file: str, config_root: str | None) -> ConnectorHook:
    """The hook for a job's source: the Docker hook when its engine launches connectors and the
    recipe picks the docker launcher (its containers then honour ``docker_conn_id``), else the
    hook for processes on this machine."""
    from airflow_provider_dativo.engines.launchers import runs_in_container

    # an engine this version does not have fails here, naming the setting that chose it
    engine_module(job.source_engine, f"the job's source.engine for '{job.source.type}'")
    if runs_in_container(job.source, job.source_engine):
        return AirbyteDockerHook(job_file, config_root, docker_conn_id=job.docker_conn_id)
    return ConnectorHook(job_file, config_root)
