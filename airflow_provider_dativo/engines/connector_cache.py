"""What a connector says about itself, kept between runs so a run starts the connector once.

Starting a Python connector costs seconds of imports, often more than a small read. Its spec
depends only on what is installed, and its catalog on that and the config, so both are kept
under the connectors home and keyed by the launcher's identity (an image reference, or a
command and when its files last changed) and, for catalogs, a digest of the config (never
the values) and of the contract's fields (a field added to the contract, a column the
connector may have gained since, asks the connector again). A reinstall or a config change
therefore misses the cache by itself; readers ask for a fresh catalog when a cached one lacks
what the job needs, and ``dativo discover`` always refreshes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from airflow_provider_dativo.engines.connector_venvs import connectors_home


def cache_dir(root: Path) -> Path:
    return connectors_home(root) / ".cache"


class ConnectorCache:
    """The spec and catalogs of one connector install; ``folder=None`` keeps nothing."""

    def __init__(self, folder: Path | None, kind: str, identity: str,
                 fields: Sequence[str] = ()) -> None:
        self.folder = folder
        self.kind = kind
        self.identity = identity.encode()
        self.fields = orjson.dumps(list(fields))

    def _path(self, what: str, extra: bytes = b"") -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(self.identity + b"\0" + extra).hexdigest()[:24]
        return self.folder / f"{self.kind}-{what}-{digest}.json"

    def _load(self, path: Path | None) -> Any:
        if path is None:
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # absent, or cut short by a full disk: ask again
            return None

    def _save(self, path: Path | None, value: Any) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(value))
            tmp.replace(path)  # atomic: a concurrent reader never sees half a file
        except OSError:
            pass  # a read-only home only costs the next run a connector start

    def spec(self) -> Any:
        return self._load(self._path("spec"))

    def save_spec(self, spec: Any) -> None:
        self._save(self._path("spec"), spec)

    def catalog(self, config: bytes) -> Any:
        """The catalog kept for the connector's ``config`` file and the contract's fields."""
        return self._load(self._path("catalog", config + self.fields))

    def save_catalog(self, config: bytes, catalog: Any) -> None:
        self._save(self._path("catalog", config + self.fields), catalog)
