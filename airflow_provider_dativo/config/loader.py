"""The one loader: a config root's registry, recipes, assets and jobs, validated and resolved.

Everything is cached by file path, modification time and size, so a scheduler that re-parses
the DAG folder re-reads only the YAML files that changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from airflow_provider_dativo.config import paths
from airflow_provider_dativo.config import registry as reg
from airflow_provider_dativo.config.collisions import collision_issues, job_claim
from airflow_provider_dativo.config.job_builder import build_streams
from airflow_provider_dativo.config.parse_cache import (
    JOBS,
    cached,
    file_stamp,
    job_document,
    schema_checked,
)
from airflow_provider_dativo.config.recipes import read_recipe
from airflow_provider_dativo.config.specs import (
    ConnectorRecipe,
    JobSpec,
    RegistryEntry,
)
from airflow_provider_dativo.config.yaml_loader import YamlDocument
from airflow_provider_dativo.contracts import quality as quality_rules
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

T = TypeVar("T")

KINDS = ("registry", "connector", "asset", "job")
FIXTURE_JOBS = "tests/fixtures/jobs"  # the fixtures tenant of the connector tests


def default_root() -> Path:
    """``$DATIVO_HOME`` if set, else the current directory."""
    return Path(os.environ.get("DATIVO_HOME") or Path.cwd()).resolve()


@dataclass
class ValidationReport:
    """What ``dativo validate`` found, by config kind."""

    files: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    issues: dict[str, list[ConfigIssue]] = field(default_factory=lambda: {k: [] for k in KINDS})
    # what is valid but worth a look, and does not fail the validation: an asset without
    # source_type, quality rules dativo does not run or a job skips; each listed once
    warnings: list[ConfigIssue] = field(default_factory=list)

    def warn(self, found: Iterable[ConfigIssue]) -> None:
        self.warnings.extend(w for w in dict.fromkeys(found) if w not in self.warnings)

    @property
    def ok(self) -> bool:
        return not any(self.issues.values())

    def all_issues(self) -> list[ConfigIssue]:
        return [i for kind in KINDS for i in self.issues[kind]]


class ConfigRoot:
    """A config repository: ``connectors/``, ``assets/``, ``jobs/``, ``registry/``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).resolve() if root is not None else default_root()
        # rel -> the config file it resolves to; a parse resolves the same few connector and
        # asset paths for every job, each a chain of realpath calls. Kept for this object's
        # life only (one parse, one command), so a changed symlink is seen by the next parse.
        self._inside: dict[str, Path] = {}

    # -- paths -------------------------------------------------------------------------------
    def inside(self, rel: str, doc: YamlDocument, path: str) -> Path:
        """A config file ``rel`` resolved under the root; one outside is a config error."""
        hit = self._inside.get(rel)
        if hit is not None:
            return hit
        try:
            found = self._inside[rel] = paths.resolve(self.root, rel, data=False)
        except paths.PathRefused as exc:
            raise ConfigError([ConfigIssue(doc.file, str(exc), doc.line_of(path), path)]) from None
        return found

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
            doc = schema_checked("registry", path)
            entries = reg.entries_from(doc)
            issues = reg.registry_issues(doc, entries)
            if issues:
                raise ConfigError(issues)
            return entries

        return cached("registry", path, build)

    def recipe(self, path: Path) -> ConnectorRecipe:
        return cached("connector", path, lambda: read_recipe(schema_checked("connector", path)))

    def asset(self, path: Path, schema_object: str | None = None) -> Any:
        """The asset's contract (``contracts.Contract``) for one of its schema objects."""
        from airflow_provider_dativo.config.assets import load_asset

        def build() -> Any:
            return load_asset(path, schema_object)

        return cached(f"asset:{schema_object or ''}", path, build)

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
        hit = JOBS.get(str(p))
        if hit is not None and tuple(file_stamp(d) for d in hit[0]) == hit[1]:
            return hit[2]
        own = file_stamp(p)  # taken first: an edit during the build is seen on the next call
        specs = self._build_streams(p)
        first = specs[0]
        deps = (p, self.root / reg.REGISTRY_FILE, Path(first.source.file),
                Path(first.target.file), *dict.fromkeys(Path(s.asset_file) for s in specs))
        JOBS[str(p)] = (deps, (own, *(file_stamp(d) for d in deps[1:])), specs)
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
        return cached("job-document", path, lambda: job_document(path))

    def _build_streams(self, path: Path) -> tuple[JobSpec, ...]:
        return build_streams(self, path)

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
                    errors, warnings = quality_rules.validate_rules(contracts, str(path))
                    report.issues[kind] += errors
                    report.warn(warnings)
                if kind == "job":
                    report.warn(quality_rules.skip_warnings(loaded))
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
                report.warn(untyped_asset_warnings(self, loaded))
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
        f"'{spec.source.type}'); add source_type: {spec.source.reads_assets_of}",
        None, "source_type") for spec in specs if spec.contract.source_type is None]
