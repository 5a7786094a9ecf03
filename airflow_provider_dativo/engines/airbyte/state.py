"""Airbyte state: the latest STREAM states per stream, or a GLOBAL one, or a LEGACY blob.

What is committed with the data (``{"airbyte": [...]}`` or ``{"airbyte_legacy": {...}}``) is
exactly what goes back to the connector as ``--state`` on the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_STATS = ("sourceStats", "destinationStats")


def _key(message: Mapping[str, Any]) -> tuple[str, str]:
    descriptor = (message.get("stream") or {}).get("stream_descriptor") or {}
    return descriptor.get("namespace") or "", descriptor.get("name") or ""


class AirbyteState:
    def __init__(self, saved: Mapping[str, Any] | None) -> None:
        self.streams: dict[tuple[str, str], dict[str, Any]] = {}
        self.global_: dict[str, Any] | None = None
        self.legacy: Any = None
        for message in (saved or {}).get("airbyte") or []:
            self.update(message)
        if saved and "airbyte_legacy" in saved:
            self.legacy = saved["airbyte_legacy"]

    def update(self, message: Mapping[str, Any]) -> bool:
        """Take one STATE payload; False when it carries nothing we can keep."""
        kind = message.get("type") or ("LEGACY" if "data" in message else None)
        clean = {k: v for k, v in message.items() if k not in _STATS}
        if kind == "STREAM" and isinstance(message.get("stream"), Mapping):
            self.streams[_key(message)] = clean
        elif kind == "GLOBAL" and isinstance(message.get("global"), Mapping):
            self.global_ = clean
        elif kind == "LEGACY":
            self.legacy = message.get("data")
        else:
            return False
        return True

    def saved(self) -> dict[str, Any] | None:
        if self.global_ is not None:
            return {"airbyte": [self.global_]}
        if self.streams:
            return {"airbyte": [self.streams[k] for k in sorted(self.streams)]}
        if self.legacy is not None:
            return {"airbyte_legacy": self.legacy}
        return None

    def argument(self) -> Any:
        """The ``--state`` file content, or None for a first run."""
        saved = self.saved()
        if saved is None:
            return None
        return saved.get("airbyte", saved.get("airbyte_legacy"))
