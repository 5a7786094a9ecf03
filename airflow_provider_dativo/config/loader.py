"""The one loader: a config root's registry, recipes, assets and jobs, validated and resolved.

Everything is cached by file path, modification time and size, so a scheduler that re-parses
the DAG folder re-reads only the YAML files that changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from airflow_provider_dativo.config import paths
from airflow_provider_dativo.config import registry as reg
from airflow_provider_dativo.config.assets import binding_issues, default_table
from airflow_provider_dativo.config.collisions import collision_issues, job_claim
from airflow_provider_dativo.config.governance import override_issues
from airflow_provider_dativo.config.governance import resolve as resolve_governance
from airflow_provider_dativo.config.partitions import partition_spec
from airflow_provider_dativo.config.scheduling import scheduling_from
from airflow_provider_dativo.config.schema_validation import validate_document
from airflow_provider_dativo.config.specs import (
    ConnectionLayer,
    ConnectorRecipe,
    EngineSpec,
    IncrementalSpec,
    JobSpec,
    ObjectSpec,
    RegistryEntry,
    freeze,
    merge,
)
from airflow_provider_dativo.config.streams import either_or_issues, stream_items
from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path, load_yaml
from airflow_provider_dativo.contracts import quality as quality_rules
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

T = TypeVar("T")

_CACHE: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}

KINDS = ("registry", "connector", "asset", "job")
FIXTURE_JOBS = "tests/fixtures/jobs"  # the fixtures tenant of the connector tests


def default_root() -> Path:
    """``$DATIVO_HOME`` if set, else the current directory."""
    return Path(os.environ.get("DATIVO_HOME") or Path.cwd()).resolve()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _cached(kind: str, path: Path, build: Callable[[], T]) -> T:
    """``build()`` once per file version; a failure is cached as well and raised again."""
    stamp = _stamp(path)
    if stamp is None:
        return build()
    key = (kind, str(path))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        value = hit[1]
    else:
        try:
            value = build()
        except ConfigError as exc:
            value = exc
        _CACHE[key] = (stamp, value)
    if isinstance(value, ConfigError):
        raise value
    return value


# A job depends on more files than its own: it is reused only while none of them changed.
_JOBS: dict[str, tuple[tuple[Path, ...], tuple[tuple[int, int] | None, ...],
                       tuple[JobSpec, ...]]] = {}


def _schema_checked(kind: str, path: Path) -> YamlDocument:
    doc = load_yaml(path)
    issues = validate_document(kind, doc)
    if issues:
        raise ConfigError(issues)
    return doc


def _job_document(path: Path) -> tuple[YamlDocument, tuple[ConfigIssue, ...]]:
    doc = load_yaml(path)
    return doc, tuple(validate_document("job", doc))


def _engine(raw: dict[str, Any]) -> EngineSpec:
    command = raw.get("command") or ()
    return EngineSpec(
        type=raw["type"],
        image=raw.get("image"),
        command=(command,) if isinstance(command, str) else tuple(command),
        pip=raw.get("pip"),
        plugin=raw.get("plugin"),
        options=freeze(raw.get("options", {})),
    )


def _recipe(doc: YamlDocument) -> ConnectorRecipe:
    data = doc.data
    auth = data.get("auth", {})
    secret_envs = tuple(
        item["env"] for group in ("required", "optional") for item in auth.get(group, [])
        if item.get("env") and item.get("secret", True)
    )
    objects = []
    for obj in data.get("objects", []):
        pk = obj.get("primary_key") or ()
        objects.append(ObjectSpec(obj["name"], obj.get("cursor_field"),
                                  (pk,) if isinstance(pk, str) else tuple(pk)))
    return ConnectorRecipe(
        type=data["type"],
        version=str(data["version"]),
        file=doc.file,
        default_engine=_engine(data["default_engine"]),
        engines=freeze({k: _engine({**v, "type": k}) for k, v in data.get("engines", {}).items()}),
        connection=freeze(data.get("connection", {})),
        objects=tuple(objects),
        secret_envs=secret_envs,
        name=data.get("name"),
        description=data.get("description"),
        lines=doc.lines,
        modes=tuple(data["modes"]) if "modes" in data else None,
        governance=freeze(data.get("governance", {})),
    )


@dataclass
class ValidationReport:
    """What ``dativo validate`` found, by config kind."""

    files: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    issues: dict[str, list[ConfigIssue]] = field(default_factory=lambda: {k: [] for k in KINDS})
    # what is valid but likely a mistake; it does not fail the validation
    warnings: list[ConfigIssue] = field(default_factory=list)
    # findings that are not errors: quality rules dativo does not run, or a job skips
    notices: list[ConfigIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.issues.values())

    def all_issues(self) -> list[ConfigIssue]:
        return [i for kind in KINDS for i in self.issues[kind]]


class ConfigRoot:
    """A config repository: ``connectors/``, ``assets/``, ``jobs/``, ``registry/``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).resolve() if root is not None else default_root()

    # -- paths -------------------------------------------------------------------------------
    def inside(self, rel: str, doc: YamlDocument, path: str) -> Path:
        """A config file ``rel`` resolved under the root; one outside is a config error."""
        try:
            return paths.resolve(self.root, rel, data=False)
        except paths.PathRefused as exc:
            raise ConfigError([ConfigIssue(doc.file, str(exc), doc.line_of(path), path)]) from None

    def data_path_issues(self, doc: YamlDocument, path: str, field: str, *,
                         glob: bool) -> list[ConfigIssue]:
        """A local data path of a job checked now (a source glob: each match too); the file
        source checks its matches again when it reads."""
        if not paths.is_local(path):
            return []
        try:
            if glob:
                paths.glob_files(self.root, path)
            else:
                paths.resolve(self.root, path)
        except paths.PathRefused as exc:
            return [ConfigIssue(doc.file, str(exc), doc.line_of(field), field)]
        return []

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def job_files(self) -> list[Path]:
        jobs = self.root / "jobs"
        return sorted(p for p in jobs.glob("*/*.y*ml") if p.suffix in (".yaml", ".yml"))

    # -- documents ---------------------------------------------------------------------------
    def registry(self) -> dict[str, RegistryEntry]:
        path = self.root / reg.REGISTRY_FILE

        def build() -> dict[str, RegistryEntry]:
            doc = _schema_checked("registry", path)
            entries = reg.entries_from(doc)
            issues = reg.registry_issues(doc, entries)
            if issues:
                raise ConfigError(issues)
            return entries

        return _cached("registry", path, build)

    def recipe(self, path: Path) -> ConnectorRecipe:
        return _cached("connector", path, lambda: _recipe(_schema_checked("connector", path)))

    def asset(self, path: Path, schema_object: str | None = None) -> Any:
        """The asset's contract (``contracts.Contract``) for one of its schema objects."""
        from airflow_provider_dativo.config.assets import load_asset

        def build() -> Any:
            return load_asset(path, schema_object)

        return _cached(f"asset:{schema_object or ''}", path, build)

    def load_job(self, path: str | Path, stream: str | None = None) -> JobSpec:
        """Load, validate and resolve one job: the spec of ``stream`` in a multi-stream job.

        Without ``stream`` a multi-stream job gives its first stream, so tools that need only
        the job's connectors (check, discover) work on any job; ``load_streams`` gives all.
        """
        specs = self.load_streams(path)
        if stream is None:
            return specs[0]
        for spec in specs:
            if spec.stream == stream:
                return spec
        names = ", ".join(s.stream for s in specs if s.stream) or "none: a single-stream job"
        raise ConfigError([ConfigIssue(
            specs[0].file, f"unknown stream '{stream}'; the job's streams are: {names}",
            None, "streams")])

    def load_streams(self, path: str | Path) -> tuple[JobSpec, ...]:
        """Every stream of a job, one spec each (a single-stream job gives one spec).

        Every problem found, in any stream, is raised together.
        """
        p = self.job_path(path)
        hit = _JOBS.get(str(p))
        if hit is not None and tuple(_stamp(d) for d in hit[0]) == hit[1]:
            return hit[2]
        own = _stamp(p)  # taken first: an edit during the build is seen on the next call
        specs = self._build_streams(p)
        first = specs[0]
        deps = (p, self.root / reg.REGISTRY_FILE, Path(first.source.file),
                Path(first.target.file), *dict.fromkeys(Path(s.asset_file) for s in specs))
        _JOBS[str(p)] = (deps, (own, *(_stamp(d) for d in deps[1:])), specs)
        return specs

    def job_path(self, path: str | Path) -> Path:
        """A job file: relative paths are taken from the config root, which must contain it."""
        p = Path(path)
        p = (p if p.is_absolute() else self.root / p).resolve()
        if self.root not in p.parents:
            raise ConfigError([ConfigIssue(str(p), f"job file is outside the config root "
                                           f"{self.root}; pass --root or set DATIVO_HOME")])
        return p

    def job_document(self, path: Path) -> tuple[YamlDocument, tuple[ConfigIssue, ...]]:
        """A job file read and checked against the job schema once per file version: the DAG
        loader's claims (config/collisions.py) and the job's own build both start from it, so a
        parse of the DAG folder reads each job file once."""
        return _cached("job-document", path, lambda: _job_document(path))

    def _build_streams(self, path: Path) -> tuple[JobSpec, ...]:
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
            if contract is not None and contract.source_type not in (None, connector):
                where = join_path(key, "asset_path")
                issues.append(ConfigIssue(
                    doc.file, f"{item['asset_path']} is an asset of source_type "
                    f"'{contract.source_type}', and this job's source_connector is "
                    f"'{connector}'; use an asset written for {connector}, or set the asset's "
                    f"source_type to {connector}", doc.line_of(where), where))
        known = [c for c in contracts if c is not None]
        if len(known) == len(contracts):  # overrides need every stream's asset
            issues += override_issues(doc, known)

        issues += quality_rules.skip_issues(doc, known)
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
            if conn_path is not None:
                where = (join_path(key, "connection.path") if "path" in item.get("connection", {})
                         else "source.connection.path")
                issues += self.data_path_issues(doc, str(conn_path), where, glob=True)
        issues += self._target_path_issues(doc, target, tgt_cfg.get("connection", {}))
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
            ))
        return tuple(specs)

    def _target_path_issues(self, doc: YamlDocument, recipe: ConnectorRecipe | None,
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
    def iter_files(self) -> Iterator[tuple[str, Path]]:
        yield "registry", self.root / reg.REGISTRY_FILE
        for p in sorted((self.root / "connectors").glob("*.y*ml")):
            yield "connector", p
        for p in sorted((self.root / "assets").glob("*/*/*.y*ml")):
            yield "asset", p
        for p in self.job_files():
            yield "job", p
        # sample jobs of the connector tests: validated like any job, never turned into DAGs
        for p in sorted((self.root / FIXTURE_JOBS).glob("*.y*ml")):
            yield "job", p

    def validate(self, paths: list[Path] | None = None) -> ValidationReport:
        """Validate every config file (or only ``paths``), collecting all issues."""
        report = ValidationReport()
        selected = None if not paths else {p.resolve() for p in paths}
        for kind, path in self.iter_files():
            if selected is not None and not any(
                    path.resolve() == s or s in path.resolve().parents for s in selected):
                continue
            if kind == "registry" and not path.exists():
                report.issues[kind].append(ConfigIssue(
                    self.display(path), "registry file is missing; create it to declare "
                    "which connectors may run"))
                continue
            report.files[kind].append(self.display(path))
            loader: dict[str, Callable[[], Any]] = {
                "registry": self.registry,
                "connector": partial(self.recipe, path),
                "asset": partial(self.asset, path),
                "job": partial(self.load_streams, path),
            }
            try:
                loaded = loader[kind]()
                if kind == "asset":
                    contracts = [loaded] + [self.asset(path, o) for o in loaded.schema_objects[1:]]
                    errors, notices = quality_rules.validate_rules(contracts, str(path))
                    report.issues[kind] += errors
                    report.notices += notices
                if kind == "job":
                    report.notices += quality_rules.skip_notices(loaded)
            except ConfigError as exc:
                seen = set(report.all_issues())
                report.issues[kind].extend(i for i in exc.issues if i not in seen)
                continue
            if kind == "connector":  # its modes against the registry, used by a job or not
                try:
                    entries = self.registry()
                except ConfigError:
                    entries = {}  # reported as the registry's own issues
                report.issues[kind].extend(reg.recipe_mode_issues(loaded, entries))
            if kind == "job":
                report.warnings.extend(w for w in untyped_asset_warnings(self, loaded)
                                       if w not in report.warnings)
        # every job takes part, so a selected job is checked against the unselected ones too
        collisions = collision_issues((job_claim(self, p) for p in self.job_files()),
                                      self.display)
        for path, issues in collisions.items():
            if self.display(path) in report.files["job"]:
                report.issues["job"].extend(issues)
        return report


def untyped_asset_warnings(root: ConfigRoot, specs: tuple[JobSpec, ...]) -> list[ConfigIssue]:
    """Assets that name no source_type: any connector's job may read them unchecked."""
    return [ConfigIssue(
        root.display(Path(spec.asset_file)), f"the asset declares no source_type, so it is not "
        f"checked against the connector of the jobs that read it (a job reads it with "
        f"'{spec.source.type}'); add source_type: {spec.source.type}",
        None, "source_type") for spec in specs if spec.contract.source_type is None]
