"""Real local services for tests: moto's S3 server on 127.0.0.1 (the machine runs PostgreSQL,
MariaDB and Redis itself; `.ci/run` starts them when they are down)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def client(self, service: str = "s3"):  # type: ignore[no-untyped-def]
        """A boto3 client of this server: S3, or any other service moto serves (glue)."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """Variables that point AWS SDKs (boto3, pyarrow, pyiceberg) at this server."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_ENDPOINT_URL_S3": self.endpoint}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server as its own process: pyarrow's and pyiceberg's S3 clients reach it over
    HTTP, which moto's in-process decorator cannot intercept."""
    port = free_port()
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"})
    try:
        wait_for_port(port)
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Database:
    """A fresh database on the machine's PostgreSQL or MariaDB, dropped after the test."""

    kind: str  # postgres | mysql
    name: str
    port: int

    def execute(self, *statements: str, params: list | None = None) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                 dbname=self.name, autocommit=True) as con:
                for sql in statements:
                    con.execute(sql, params)  # type: ignore[arg-type]
            return
        import pymysql

        con = pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="",
                              database=self.name, autocommit=True, charset="utf8mb4")
        try:
            with con.cursor() as cur:
                for sql in statements:
                    cur.execute(sql, params)
        finally:
            con.close()

    def connection(self) -> dict[str, str | int]:
        """``source.connection`` settings for this database."""
        user = "postgres" if self.kind == "postgres" else "root"
        return {"host": "127.0.0.1", "port": self.port, "user": user, "database": self.name}


def _fresh_database(kind: str) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    if kind == "postgres":
        import psycopg

        def admin(sql: str) -> None:
            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                 autocommit=True) as con:
                con.execute(sql)  # type: ignore[arg-type]
        port = 5432
    else:
        import pymysql

        def admin(sql: str) -> None:
            con = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
            try:
                with con.cursor() as cur:
                    cur.execute(sql)
            finally:
                con.close()
        port = 3306
    admin(f"CREATE DATABASE {name}")
    try:
        yield Database(kind, name, port)
    finally:
        admin(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if kind == "postgres" else ""))


@pytest.fixture
def pg_database() -> Iterator[Database]:
    """A fresh database on PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth)."""
    yield from _fresh_database("postgres")


@pytest.fixture
def mysql_database() -> Iterator[Database]:
    """A fresh database on MariaDB at 127.0.0.1:3306 (user root, no password)."""
    yield from _fresh_database("mysql")
