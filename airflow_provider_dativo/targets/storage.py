"""Files on local disk or object storage, for targets that keep their own files.

Built on pyiceberg's ``PyArrowFileIO`` so plain-file targets take the same properties as an
Iceberg catalog (``s3.endpoint``, ``s3.access-key-id``, ``s3.region``, ...) and reach the same
storage the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from airflow_provider_dativo.errors import TargetError


@dataclass(frozen=True)
class StoredFile:
    path: str  # same form as the root it was listed under (URI or local path)
    size: int
    modified: dt.datetime | None


def is_object_store(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


class Storage:
    def __init__(self, properties: Mapping[str, Any] | None = None, io: Any = None) -> None:
        self._properties = {str(k): str(v) for k, v in (properties or {}).items()}
        self._io = io

    @property
    def io(self) -> Any:
        # made on first use: a local file written whole needs no FileIO
        if self._io is None:
            from pyiceberg.io.pyarrow import PyArrowFileIO

            self._io = PyArrowFileIO(self._properties)
        return self._io

    def open_output(self, path: str, overwrite: bool = False) -> BinaryIO:
        return cast(BinaryIO, self.io.new_output(path).create(overwrite=overwrite))

    def read_bytes(self, path: str) -> bytes:
        with self.io.new_input(path).open() as stream:
            return bytes(stream.read())

    def write_bytes(self, path: str, data: bytes, overwrite: bool = False) -> None:
        with self.open_output(path, overwrite=overwrite) as out:
            out.write(data)

    def write_whole(self, path: str, data: bytes, temp_dir: str | None = None) -> None:
        """Write ``path`` so that readers see it complete or not at all, replacing it.

        An object store's PUT is atomic: the object appears whole. A local file is written
        beside (in ``temp_dir`` when given, else its own folder), synced, then renamed over.
        """
        if is_object_store(path):
            self.write_bytes(path, data, overwrite=True)
            return
        local = path.removeprefix("file://")
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        temps = (temp_dir or os.path.dirname(local) or ".").removeprefix("file://")
        os.makedirs(temps, exist_ok=True)
        temp = f"{temps}/.{uuid.uuid4().hex}.tmp"
        try:
            with open(temp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, local)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def exists(self, path: str) -> bool:
        return bool(self.io.new_input(path).exists())

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.io.delete(path)

    def list_files(self, root: str) -> Iterator[StoredFile]:
        """Every file below ``root`` (recursively); nothing when ``root`` does not exist."""
        from pyarrow import fs as pafs

        filesystem, base, prefix = self._resolve(root)
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        try:
            infos = filesystem.get_file_info(selector)
        except OSError as exc:
            raise TargetError(f"cannot list {root}: {exc}") from exc
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            relative = info.path[len(base):].lstrip("/")
            modified = info.mtime
            if modified is not None and modified.tzinfo is None:
                modified = modified.replace(tzinfo=dt.UTC)
            yield StoredFile(f"{prefix}/{relative}", info.size or 0, modified)

    def _resolve(self, root: str) -> tuple[Any, str, str]:
        if not hasattr(self.io, "fs_by_scheme"):
            raise TargetError(
                f"cannot list {root}: the table's FileIO ({type(self.io).__name__}) cannot list "
                "files; use pyiceberg's PyArrowFileIO (py-io-impl) for this catalog"
            )
        scheme, netloc, path = self.io.parse_location(root, self.io.properties)
        return self.io.fs_by_scheme(scheme, netloc), path.rstrip("/"), root.rstrip("/")
