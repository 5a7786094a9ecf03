"""The connector registry and the rules it imposes on jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_dativo.config.specs import STATEFUL_ENGINES, ConnectorRecipe, RegistryEntry
from airflow_provider_dativo.config.yaml_loader import YamlDocument
from airflow_provider_dativo.errors import ConfigIssue

REGISTRY_FILE = "registry/connectors.yaml"


def entries_from(doc: YamlDocument) -> dict[str, RegistryEntry]:
    """Registry entries from a schema-valid document (the default engine must be allowed)."""
    out: dict[str, RegistryEntry] = {}
    for name, raw in doc.data["connectors"].items():
        out[name] = RegistryEntry(
            name=name,
            roles=tuple(raw["roles"]),
            engines=tuple(raw["engines"]),
            default_engine=raw["default_engine"],
            modes=tuple(raw["modes"]),
            incremental=bool(raw.get("incremental", False)),
            status=raw.get("status", "stable"),
            description=raw.get("description"),
        )
    return out


def registry_issues(doc: YamlDocument, entries: Mapping[str, RegistryEntry]) -> list[ConfigIssue]:
    """Rules the registry's schema cannot state."""
    issues = []
    for name, entry in entries.items():
        if entry.default_engine not in entry.engines:
            path = f"connectors.{name}.default_engine"
            issues.append(ConfigIssue(
                doc.file, f"default engine '{entry.default_engine}' is not among its engines "
                f"({', '.join(entry.engines)})", doc.line_of(path), path))
    return issues


def recipe_mode_issues(recipe: ConnectorRecipe, entries: Mapping[str, RegistryEntry]
                       ) -> list[ConfigIssue]:
    """A recipe's ``modes`` may only narrow its registry entry's: the registry decides."""
    entry = entries.get(recipe.type)
    if recipe.modes is None or entry is None:
        return []
    wider = [m for m in recipe.modes if m not in entry.modes]
    if not wider:
        return []
    return [ConfigIssue(
        recipe.file, f"mode(s) {', '.join(wider)} are not allowed for '{recipe.type}' by "
        f"{REGISTRY_FILE} (modes: {', '.join(entry.modes)}); a recipe's modes may only narrow "
        "the registry's: remove them here, or allow them in the registry",
        recipe.lines.get("modes"), "modes")]


def job_rule_issues(doc: YamlDocument, entries: Mapping[str, RegistryEntry], *, role: str,
                    connector: str, engine: str, mode: str,
                    incremental: Mapping[str, Any] | None,
                    recipe: ConnectorRecipe | None = None) -> list[ConfigIssue]:
    """Why the registry (or the recipe's narrower modes) refuses this use of ``connector``;
    empty when both allow it."""
    key = f"{role}_connector"
    entry = entries.get(connector)
    if entry is None:
        return [ConfigIssue(doc.file, f"connector '{connector}' is not in {REGISTRY_FILE}; "
                            "register it with its roles, engines and modes",
                            doc.line_of(key), key)]
    issues = []
    if role not in entry.roles:
        issues.append(ConfigIssue(
            doc.file, f"registry rule: '{connector}' cannot be a {role} "
            f"(roles: {', '.join(entry.roles)})", doc.line_of(key), key))
    if engine not in entry.engines:
        path = f"{role}.engine" if f"{role}.engine" in doc.lines else key
        issues.append(ConfigIssue(
            doc.file, f"registry rule: engine '{engine}' is not allowed for '{connector}' "
            f"(engines: {', '.join(entry.engines)})", doc.line_of(path), path))
    path = "mode" if "mode" in doc.lines else key
    if mode not in entry.modes:
        issues.append(ConfigIssue(
            doc.file, f"registry rule: '{connector}' is not allowed in {mode} mode "
            f"(modes: {', '.join(entry.modes)})", doc.line_of(path), path))
    elif recipe is not None and recipe.modes is not None:
        issues += recipe_mode_issues(recipe, entries)
        if mode not in recipe.modes:
            issues.append(ConfigIssue(
                doc.file, f"recipe rule: {REGISTRY_FILE} allows '{connector}' in {mode} mode, "
                f"but its recipe {recipe.file} narrows it to {', '.join(recipe.modes)}; run "
                f"the job in one of those modes or widen the recipe's modes",
                doc.line_of(path), path))
    if incremental and not entry.incremental:
        path = f"{role}.incremental"
        issues.append(ConfigIssue(
            doc.file, f"registry rule: '{connector}' does not support incremental reads; "
            "remove the incremental block or mark the connector incremental in the registry",
            doc.line_of(path), path))
    return issues


def lookback_issues(doc: YamlDocument, incremental: Mapping[str, Any] | None, engine: str | None,
                    write_mode: str, contracts: list[Any]) -> list[ConfigIssue]:
    """A lookback re-reads committed rows: only an upsert can take them without duplicates."""
    if not incremental or not incremental.get("lookback_days") or write_mode == "upsert":
        return []
    if engine in STATEFUL_ENGINES:
        return []
    cursor = incremental.get("cursor_field")
    if not any(cursor in c.field_names for c in contracts):
        return []  # a cursor the contract does not carry is not applied by the runner
    path = "source.incremental.lookback_days"
    return [ConfigIssue(
        doc.file, f"lookback_days re-reads rows already committed, and write_mode "
        f"'{write_mode}' would land them twice; set target.write_mode: upsert (with "
        "primary_key: true on the contract's key) or lookback_days: 0", doc.line_of(path),
        path)]
