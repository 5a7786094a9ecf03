"""A job file → its typed specs, one per stream: the recipes, the asset contract and the
registry entry it names resolved, every problem of the file collected before any is raised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_dativo.config import registry as reg
from airflow_provider_dativo.config.assets import binding_issues, default_table
from airflow_provider_dativo.config.governance import override_issues
from airflow_provider_dativo.config.governance import resolve as resolve_governance
from airflow_provider_dativo.config.partitions import extractor_of, partition_spec
from airflow_provider_dativo.config.scheduling import scheduling_from
from airflow_provider_dativo.config.specs import (
    ConnectionLayer,
    ConnectorRecipe,
    IncrementalSpec,
    JobSpec,
    freeze,
    merge,
)
from airflow_provider_dativo.config.streams import either_or_issues, stream_items
from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path, load_yaml
from airflow_provider_dativo.contracts import quality as quality_rules
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import RegistryEntry

T = TypeVar("T")


class ConfigRoot(Protocol):
    """What a job's build reads through its config root (``config.loader.ConfigRoot``), named
    here so this module does not import the loader that imports it."""

    root: Path

    def inside(self, rel: str, doc: YamlDocument, path: str) -> Path: ...

    def data_path_issues(self, doc: YamlDocument, path: str, field: str, *,
                         glob: bool) -> list[ConfigIssue]: ...

    def display(self, path: Path) -> str: ...

    def registry(self) -> dict[str, RegistryEntry]: ...

    def recipe(self, path: Path) -> ConnectorRecipe: ...

    def asset(self, path: Path, schema_object: str | None = None) -> Any: ...

    def job_document(self, path: Path) -> tuple[YamlDocument, tuple[ConfigIssue, ...]]: ...


def build_streams(self: ConfigRoot, path: Path) -> tuple[JobSpec, ...]:
    doc, schema_issues = self.job_document(path)
    if schema_issues:
        raise ConfigError([*schema_issues, *either_or_issues(doc.data, doc)])
    data = doc.data
    issues: list[ConfigIssue] = []

    def attempt(fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except ConfigError as exc:
            issues.extend(exc.issues)
            return None

    def referenced(key: str, rel: str, loader: Callable[[Path], T]) -> T | None:
        target = attempt(lambda: self.inside(rel, doc, key))
        if target is None:
            return None
        if not target.is_file():
            issues.append(ConfigIssue(doc.file, f"file '{rel}' does not exist",
                                      doc.line_of(key), key))
            return None
        return attempt(lambda: loader(target))

    entries = attempt(self.registry) or {}
    source = referenced("source_connector_path", data["source_connector_path"], self.recipe)
    target = referenced("target_connector_path", data["target_connector_path"], self.recipe)
    src_cfg = data.get("source", {})
    tgt_cfg = data.get("target", {})
    mode = data.get("mode", "self_hosted")
    scheduling, scheduling_issues = scheduling_from(data, doc)
    issues += scheduling_issues
    items, stream_issues = stream_items(data, doc)
    issues += stream_issues
    contracts = [referenced(join_path(key, "asset_path"), item["asset_path"],
                            partial(self.asset, schema_object=item.get("schema_object")))
                 for key, item in items]

    for role, recipe in (("source", source), ("target", target)):
        if recipe is not None and recipe.type != data[f"{role}_connector"]:
            key = f"{role}_connector"
            issues.append(ConfigIssue(
                doc.file, f"'{data[key]}' does not match the recipe's type '{recipe.type}' "
                f"in {data[key + '_path']}", doc.line_of(key), key))
    for (key, item), contract in zip(items, contracts, strict=True):
        if contract is not None:
            issues += binding_issues(doc, key, item, contract)
        connector = data["source_connector"]
        reads = source.reads_assets_of if source is not None else connector
        if contract is not None and contract.source_type not in (None, reads):
            where = join_path(key, "asset_path")
            via = "" if reads == connector else \
                f" (whose recipe reads assets of source_type '{reads}')"
            issues.append(ConfigIssue(
                doc.file, f"{item['asset_path']} is an asset of source_type "
                f"'{contract.source_type}', and this job's source_connector is "
                f"'{connector}'{via}; use an asset written for {reads}, or set the asset's "
                f"source_type to {reads}", doc.line_of(where), where))
    read = [c for c in contracts if c is not None]
    if len(read) == len(contracts):
        issues += override_issues(doc, read)

    issues += quality_rules.skip_issues(doc, read)
    source_engine = src_cfg.get("engine") or (
        source.default_engine.type if source else None)
    issues += reg.lookback_issues(doc, src_cfg.get("incremental"), source_engine,
                              tgt_cfg.get("write_mode", "append"),
                              [c for c in contracts if c is not None])
    if entries and source_engine:
        issues += reg.job_rule_issues(doc, entries, role="source",
                                      connector=data["source_connector"],
                                      engine=source_engine, mode=mode,
                                      incremental=src_cfg.get("incremental"), recipe=source)
    if entries and target is not None:
        issues += reg.job_rule_issues(doc, entries, role="target",
                                      connector=data["target_connector"],
                                      engine=target.default_engine.type, mode=mode,
                                      incremental=None, recipe=target)
    for key, item in items:
        conn_path = merge(src_cfg.get("connection", {}), item.get("connection", {})).get("path")
        if conn_path is not None and reads_local_path(source, source_engine):
            where = (join_path(key, "connection.path") if "path" in item.get("connection", {})
                     else "source.connection.path")
            issues += self.data_path_issues(doc, str(conn_path), where, glob=True)
    issues += target_path_issues(self, doc, target, tgt_cfg.get("connection", {}))
    partitions = None
    if source is not None and source_engine:
        partitions, partition_issues = partition_spec(doc, src_cfg.get("partitions"), source,
                                                      source_engine)
        issues += partition_issues
    if data.get("staging", {}).get("root") is not None:
        issues += self.data_path_issues(doc, str(data["staging"]["root"]), "staging.root",
                                        glob=False)
    if issues:
        raise ConfigError(sorted(dict.fromkeys(issues), key=lambda i: (i.line or 0, i.path)))
    assert source is not None and target is not None and source_engine is not None

    incremental = src_cfg.get("incremental")
    skip = tuple(data.get("validation", {}).get("quality", {}).get("skip", ()))
    specs = []
    for (key, item), contract in zip(items, contracts, strict=True):
        assert contract is not None
        connection = merge(src_cfg.get("connection", {}), item.get("connection", {}))
        specs.append(JobSpec(
            file=str(path),
            root=self.root,
            tenant_id=data["tenant_id"],
            name=data.get("name") or path.stem,
            mode=mode,
            source=source,
            source_entry=entries[data["source_connector"]],
            source_engine=source_engine,
            source_object=item.get("object") or contract.object,
            source_connection=freeze(merge(source.connection, connection)),
            target=target,
            target_entry=entries[data["target_connector"]],
            target_connection=freeze(merge(target.connection, tgt_cfg.get("connection", {}))),
            contract=quality_rules.without(contract, skip),
            asset_file=str(self.inside(item["asset_path"], doc, join_path(key, "asset_path"))),
            table=item.get("table") or default_table(contract),
            write_mode=tgt_cfg.get("write_mode", "append"),
            target_options=freeze(tgt_cfg.get("options", {})),
            validation_mode=data.get("validation", {}).get("mode", "strict"),
            quality_skip=skip,
            incremental=IncrementalSpec(incremental["cursor_field"],
                                        incremental.get("lookback_days", 0))
            if incremental else None,
            batch_size=src_cfg.get("batch_size"),
            schedule=data.get("schedule"),
            owner=data.get("owner") or contract.owner,
            tags=tuple(data.get("tags", ())),
            description=data.get("description"),
            staging_root=data.get("staging", {}).get("root"),
            source_plugin=src_cfg.get("plugin"),
            scheduling=scheduling,
            stream=item["object"] if key else None,
            source_layers=(source.connection_layer(), *(
                ConnectionLayer(str(path), field, values, doc.lines) for field, values in (
                    ("source.connection", src_cfg.get("connection", {})),
                    (join_path(key, "connection"), item.get("connection", {})))
                if values)),
            target_layers=(target.connection_layer(), ConnectionLayer(
                str(path), "target.connection", tgt_cfg.get("connection", {}), doc.lines)),
            governance=resolve_governance(
                data, self.display(path), contract, item["asset_path"],
                [("source recipe", self.display(Path(source.file)), source.governance),
                 ("target recipe", self.display(Path(target.file)), target.governance)]),
            partitions=partitions,
            docker_conn_id=docker_conn_id_of(src_cfg, source.engine(source_engine).options),
        ))
    return tuple(specs)

def docker_conn_id_of(source: Mapping[str, Any], engine_options: Mapping[str, Any]) -> str | None:
    """The job's ``source.docker_conn_id``, else its recipe engine's ``options.docker_conn_id``."""
    named = source.get("docker_conn_id") or engine_options.get("docker_conn_id")
    return str(named) if named else None


def reads_local_path(recipe: ConnectorRecipe | None, engine: str | None) -> bool:
    """Whether the job's source reads its ``connection.path`` as local files, so validation
    checks it against the config root: a native file-like extractor, or an engine that runs
    a connector of its own on this machine (Airbyte, Singer, a plugin), whose path dativo
    cannot tell from a file's and checks as one. A connector image reads the path inside its
    container, which the config root does not hold."""
    if recipe is None or engine is None:
        return False  # the missing recipe is its own issue
    extractor = extractor_of(recipe, engine)
    if extractor is None:
        from airflow_provider_dativo.engines.launchers import runs_in_container

        return not runs_in_container(recipe, engine)
    from airflow_provider_dativo.engines.native import READS_FILES  # with the extractor table

    return extractor in READS_FILES


def target_path_issues(self: ConfigRoot, doc: YamlDocument, recipe: ConnectorRecipe | None,
                        connection: dict[str, Any]) -> list[ConfigIssue]:
    """A file target's ``connection.path``: the job's own, else its recipe's default."""
    if "path" in connection:
        return self.data_path_issues(doc, str(connection["path"]), "target.connection.path",
                                     glob=False)
    if recipe is None or recipe.connection.get("path") is None:
        return []
    recipe_doc = load_yaml(Path(recipe.file))
    return self.data_path_issues(recipe_doc, str(recipe.connection["path"]),
                                 "connection.path", glob=False)

# -- whole-repository validation --------------------------------------------------------
