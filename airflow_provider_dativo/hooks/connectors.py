"""Hooks for connector engines: one interface (``get_engine``, ``check``, ``discover``) over the
Airbyte and Singer protocols, whichever launcher starts the process.

``AirbyteDockerHook`` runs images on the Docker engine of an Airflow Docker connection (the
Docker provider's ``docker`` connection type: host such as ``unix://var/run/docker.sock`` or
``tcp://host:2376``), through the Docker provider's hook when it is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.specs import JobSpec
from airflow_provider_dativo.engines import CheckStatus, SourceEngine, StreamInfo, open_source


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
    """A Singer tap, usually a local executable in its own virtual environment."""

    hook_name = "dativo Singer tap"


class AirbyteDockerHook(ConnectorHook):
    """An Airbyte image on the Docker engine of ``docker_conn_id``."""

    conn_name_attr = "docker_conn_id"
    default_conn_name = "docker_default"
    hook_name = "dativo Airbyte (Docker)"

    def __init__(self, job_file: str, config_root: str | None = None,
                 docker_conn_id: str | None = default_conn_name, **kwargs: Any) -> None:
        super().__init__(job_file, config_root, **kwargs)
        self.docker_conn_id = docker_conn_id

    def client_factory(self) -> Callable[[], Any]:
        def build() -> Any:
            import docker

            try:
                from airflow.providers.docker.hooks.docker import DockerHook
            except ImportError:
                conn = self.get_connection(self.docker_conn_id) if self.docker_conn_id else None
                return docker.DockerClient(base_url=conn.host) if conn and conn.host else (
                    docker.from_env())
            client = docker.DockerClient.__new__(docker.DockerClient)
            client.api = DockerHook(docker_conn_id=self.docker_conn_id).api_client
            return client

        return build

    @contextmanager
    def session(self) -> Iterator[None]:
        from airflow_provider_dativo.engines.launchers.docker import CLIENT_FACTORY

        token = CLIENT_FACTORY.set(self.client_factory())
        try:
            yield
        finally:
            CLIENT_FACTORY.reset(token)


def hook_for(job: JobSpec, job_file: str, config_root: str | None,
             docker_conn_id: str | None = None) -> ConnectorHook:
    """The hook for a job's source: Docker-launched Airbyte, a Singer tap, or a local process."""
    engine = job.source.engine(job.source_engine)
    launcher = engine.options.get("launcher") or ("local" if engine.command else "docker")
    if job.source_engine == "airbyte" and launcher == "docker":
        conn_id = docker_conn_id or AirbyteDockerHook.default_conn_name
        return AirbyteDockerHook(job_file, config_root, docker_conn_id=conn_id)
    if job.source_engine == "singer":
        return SingerHook(job_file, config_root)
    return ConnectorHook(job_file, config_root)
