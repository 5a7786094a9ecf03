"""Loading an asset, and binding a job's stream to one schema object of it.

A short-form asset is checked against dativo's extended schema. A full-form one is an ODCS
contract as the world writes it: it is checked against the official ODCS schema of the
``apiVersion`` it declares, and only the values of dativo's own ``customProperties`` against
dativo's schema, so every contract that passes the official schema loads as written.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

from airflow_provider_dativo.config.schema_validation import (
    issues_of,
    load_schema,
    validate_document,
)
from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path, load_yaml
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

log = logging.getLogger(__name__)

_TABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@cache
def _custom_property_validator() -> Any:
    from jsonschema import Draft202012Validator

    defs = load_schema("asset")["$defs"]
    return Draft202012Validator({"$ref": "#/$defs/contractCustomProperty", "$defs": defs})


def _dativo_custom_issues(doc: YamlDocument) -> list[ConfigIssue]:
    """Shape errors of dativo's own contract-level custom properties (target, governance...)."""
    issues: list[ConfigIssue] = []
    custom = doc.data.get("customProperties")
    for i, item in enumerate(custom if isinstance(custom, list) else []):
        base = join_path("customProperties", i)
        lines = {k[len(base):].lstrip("."): v for k, v in doc.lines.items() if k.startswith(base)}
        for issue in issues_of(_custom_property_validator(), YamlDocument(doc.file, item, lines)):
            path = join_path(base, issue.path) if not issue.path.startswith("[") else \
                base + issue.path
            issues.append(ConfigIssue(doc.file, issue.message, doc.line_of(path), path))
    return issues


def load_asset(path: Path, schema_object: str | None = None) -> Any:
    """The contract of the asset at ``path`` (for ``schema_object``, else its first object)."""
    from airflow_provider_dativo.contracts import contract_from_mapping
    from airflow_provider_dativo.contracts.model import is_full_form
    from airflow_provider_dativo.contracts.odcs_schemas import official_issues

    doc = load_yaml(path)
    if isinstance(doc.data, dict) and is_full_form(doc.data):
        issues = official_issues(doc) + _dativo_custom_issues(doc)
    else:
        issues = validate_document("asset", doc)
    if issues:
        raise ConfigError(issues)
    contract = contract_from_mapping(doc.data, file=doc.file, lines=doc.lines,
                                     schema_object=schema_object)
    for warning in contract.warnings:
        log.warning("warning: %s", warning)
    return contract


def binding_issues(doc: YamlDocument, key: str, item: dict[str, Any],
                   contract: Any) -> list[ConfigIssue]:
    """Whether a job's stream names its asset and, for a contract of several tables, one."""
    issues: list[ConfigIssue] = []
    if item["asset"] not in (contract.name, contract.id):
        path = join_path(key, "asset")
        derived = "" if contract.name_source == "name" else \
            f" (the contract has no name; dativo takes it from its {contract.name_source})"
        issues.append(ConfigIssue(
            doc.file, f"asset '{item['asset']}' does not match the contract name "
            f"'{contract.name}'{derived} in {item['asset_path']}", doc.line_of(path), path))
    if len(contract.schema_objects) > 1 and not item.get("schema_object"):
        path = join_path(key, "asset")
        issues.append(ConfigIssue(
            doc.file, f"the contract in {item['asset_path']} describes several tables ("
            f"{', '.join(contract.schema_objects)}); pick one with schema_object: NAME",
            doc.line_of(path), path))
    return issues


def default_table(contract: Any) -> str:
    """The table a stream lands in when the job names none: the schema object's physical name
    or name, else the asset name; never a human title (``Orders (EU)`` becomes ``orders_eu``)."""
    name = str(contract.table_name or contract.name)
    if _TABLE_NAME.match(name):
        return name
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "table"
