"""custom_plugin: a user's own reader class, loaded by name.

The job names it in ``source.plugin`` (else the recipe's ``custom_plugin`` engine ``plugin``)
as ``package.module:Class`` or as the name of an entry point in the group ``dativo.plugins``.
A module that is not installed is also looked up under the config root, so a config repository
can carry its plugins. Where plugins may run is the registry's call like any engine's: the
connector's entry must list ``custom_plugin`` among its engines and the job's mode among its
modes, so a plugin connector registered for ``self_hosted`` only is refused in ``cloud`` mode.

The interface, kept small on purpose:

``Reader(config)`` with ``config`` the resolved ``source.connection`` plus ``config_root``
(the config repository's folder, for relative paths):
    ``check() -> bool | CheckStatus``; ``discover() -> list[StreamInfo | str]``;
    ``read(stream, state) ->`` an iterator of ``pyarrow.RecordBatch`` or ``pyarrow.Table``
    (the data), ``StateUpdate`` or a plain ``{"state": {...}}`` dict (a checkpoint; the last
    one is committed with the data) and, optionally, ``RejectedRecords``.

The engine checks what the reader yields and names the plugin in every error.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyarrow as pa

from airflow_provider_dativo.engines.base import (
    CheckStatus,
    ReadItem,
    RecordsDone,
    RejectedRecords,
    StateUpdate,
    StreamInfo,
    WholeStreamSource,
)
from airflow_provider_dativo.errors import DativoError, EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import ConnectorRecipe, JobSpec

ENTRY_POINT_GROUP = "dativo.plugins"


@runtime_checkable
class PluginReader(Protocol):
    def check(self) -> bool | CheckStatus: ...

    def discover(self) -> list[StreamInfo | str]: ...

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Any]: ...


# in-process: its settings are documented, not published by a connector (dativo spec)
PUBLISHES_SPEC = False
# it runs in dativo's own process, through no launcher
LAUNCHES_CONNECTORS = False


def load_class(reference: str, root: Path | None = None) -> type:
    """The class ``module:Class`` names, or the one an entry point of ``dativo.plugins`` names."""
    if ":" not in reference:
        found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
                 if ep.name == reference]
        if not found:
            raise EngineError(f"plugin '{reference}' is neither 'module:Class' nor an entry "
                              f"point in the group {ENTRY_POINT_GROUP}; install the package "
                              "that provides it or name the class as module:Class")
        try:
            loaded = found[0].load()
        except Exception as exc:  # the plugin's own import errors
            raise EngineError(f"plugin '{reference}' ({found[0].value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from None
        return _as_class(loaded, reference)
    module_name, _, attr = reference.partition(":")
    try:
        module = _import(module_name, root)
    except ModuleNotFoundError as exc:
        raise EngineError(f"plugin '{reference}': module '{module_name}' not found ({exc}); "
                          "install it, or put it under the config root") from None
    except Exception as exc:  # the plugin's own import errors
        raise EngineError(f"plugin '{reference}': importing '{module_name}' failed: "
                          f"{type(exc).__name__}: {exc}") from None
    value: Any = module
    for part in attr.split("."):
        value = getattr(value, part, None)
        if value is None:
            raise EngineError(f"plugin '{reference}': '{module_name}' has no '{attr}'")
    return _as_class(value, reference)


def _import(module_name: str, root: Path | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if root is None or exc.name not in {top, module_name} or not (
                (root / top).is_dir() or (root / f"{top}.py").is_file()):
            raise
    sys.path.insert(0, str(root))  # the config repository's own plugins
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(str(root))


def _as_class(value: Any, reference: str) -> type:
    if not isinstance(value, type):
        raise EngineError(f"plugin '{reference}' is a {type(value).__name__}, not a class")
    return value


class PluginSource(WholeStreamSource):
    """A plugin reader behind the ``SourceEngine`` interface."""

    def __init__(self, reference: str, reader: Any):
        missing = [m for m in ("check", "discover", "read") if not callable(
            getattr(reader, m, None))]
        if missing:
            raise EngineError(f"plugin '{reference}' lacks {', '.join(missing)}; a reader "
                              "implements check(), discover() and read(stream, state)")
        self.reference = reference
        self.reader = reader

    def _call(self, what: str, *args: Any) -> Any:
        try:
            return getattr(self.reader, what)(*args)
        except DativoError:
            raise
        except Exception as exc:  # the plugin's own failures, named
            raise EngineError(f"plugin '{self.reference}' {what}() failed: "
                              f"{type(exc).__name__}: {exc}") from exc

    def check(self) -> CheckStatus:
        result = self._call("check")
        if isinstance(result, CheckStatus):
            return result
        ok = bool(result[0] if isinstance(result, tuple) else result)
        message = str(result[1]) if isinstance(result, tuple) and len(result) > 1 else ""
        return CheckStatus(ok, message or f"plugin '{self.reference}' check "
                           f"{'passed' if ok else 'failed'}")

    def discover(self) -> list[StreamInfo]:
        return [s if isinstance(s, StreamInfo) else StreamInfo(name=str(s))
                for s in self._call("discover")]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[ReadItem]:
        items = self._call("read", stream, state)
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except DativoError:
                raise
            except Exception as exc:
                raise EngineError(f"plugin '{self.reference}' read() failed: "
                                  f"{type(exc).__name__}: {exc}") from exc
            if isinstance(item, pa.RecordBatch | StateUpdate | RejectedRecords | RecordsDone):
                yield item
            elif isinstance(item, pa.Table):
                yield from item.to_batches()
            elif isinstance(item, Mapping) and set(item) == {"state"}:
                yield StateUpdate(dict(item["state"]))
            else:
                raise EngineError(f"plugin '{self.reference}' read() yielded a "
                                  f"{type(item).__name__}; yield pyarrow RecordBatch or Table "
                                  "for data and StateUpdate or {'state': {...}} for checkpoints")


def plugin_reference(job: JobSpec) -> str:
    reference = job.source_plugin or job.source.engine("custom_plugin").plugin
    if not reference:
        raise EngineError(f"{job.file}: the custom_plugin engine needs a plugin: set "
                          "source.plugin in the job, or plugin in the recipe's custom_plugin "
                          "engine, to 'module:Class' or an entry point name")
    return reference


def from_job(job: JobSpec, connection: dict) -> PluginSource:
    reference = plugin_reference(job)
    cls = load_class(reference, job.root)
    try:
        reader = cls({**connection, "config_root": str(job.root)})
    except DativoError:
        raise
    except Exception as exc:
        raise EngineError(f"plugin '{reference}' could not start: {type(exc).__name__}: "
                          f"{exc}") from None
    return PluginSource(reference, reader)


def from_recipe(root: Path, recipe: ConnectorRecipe, connection: dict) -> PluginSource:
    """The recipe's plugin reader with resolved ``connection`` settings and no job."""
    reference = recipe.engine("custom_plugin").plugin
    if not reference:
        raise EngineError(f"{recipe.file}: the custom_plugin engine names no plugin; set "
                          "plugin: module:Class in the recipe, or use --job")
    reader = load_class(reference, root)({**connection, "config_root": str(root)})
    return PluginSource(reference, reader)
