"""Where a file source reads: its settings from the connection, the files it finds (a glob under
the config root or on object storage) and the S3 client for ``s3://`` paths."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pyarrow.fs as pafs

from airflow_provider_dativo.errors import EngineError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}
BLOCK_BYTES = 8 << 20  # bytes per parse block: bounds memory, large enough to stay vectorized


PARQUET_BATCH_ROWS = 65536


@dataclass(frozen=True)
class FileSourceConfig:
    root: Path
    path: str  # glob relative to the config root, or s3://bucket/prefix/glob
    format: str | None = None  # csv | jsonl | parquet; by default from each file's extension
    delimiter: str = ","
    # quoted values spanning lines; off by default since the parser then cannot count lines
    multiline: bool = False
    block_bytes: int = BLOCK_BYTES
    # s3:// only: endpoint, region, access_key_id, secret_access_key, session_token (else the
    # AWS_* variables)
    s3: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_connection(cls, root: Path, connection: Mapping[str, Any]) -> FileSourceConfig:
        if "path" not in connection:
            raise EngineError("the file source needs source.connection.path (a file or glob "
                              "relative to the config root, or s3://bucket/prefix/glob)")
        return cls(root=root, path=str(connection["path"]), format=connection.get("format"),
                   delimiter=str(connection.get("delimiter", ",")),
                   multiline=bool(connection.get("multiline", False)),
                   block_bytes=int(connection.get("block_bytes", BLOCK_BYTES)),
                   s3=MappingProxyType(dict(connection.get("s3") or {})))


@dataclass(frozen=True)
class FoundFile:
    key: str  # how state and messages name it: path under the config root, or the s3:// URI
    path: str  # the path the filesystem opens
    stamp: str  # modification time (ns) and size: a new version gets a new stamp
    span: tuple[int, int] | None = None  # one part of a partitioned read: bytes [offset, end)

    @property
    def suffix(self) -> str:
        return Path(self.path).suffix

    @property
    def size(self) -> int:
        return int(self.stamp.rsplit(":", 1)[1])

    def __str__(self) -> str:
        if self.span is None:
            return self.key
        return f"{self.key} (bytes {self.span[0]}-{self.span[1]})"


def s3_filesystem(options: Mapping[str, Any]) -> pafs.S3FileSystem:
    """pyarrow's S3 client from the connection's ``s3`` block, else the AWS_* variables."""
    endpoint = str(options.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL_S3")
                   or os.environ.get("AWS_ENDPOINT_URL") or "")
    kwargs: dict[str, Any] = {
        "region": str(options.get("region") or os.environ.get("AWS_REGION")
                      or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")}
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        kwargs["endpoint_override"] = host or endpoint
        kwargs["scheme"] = scheme or "https"
    if options.get("access_key_id"):
        kwargs["access_key"] = str(options["access_key_id"])
        kwargs["secret_key"] = str(options.get("secret_access_key") or "")
        if options.get("session_token"):  # temporary credentials (an assumed role)
            kwargs["session_token"] = str(options["session_token"])
    return pafs.S3FileSystem(**kwargs)


def has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a local one reads: '*' and '?' stay within a folder, '**/' crosses folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))

