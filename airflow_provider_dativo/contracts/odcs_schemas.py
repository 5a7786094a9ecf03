"""The official ODCS JSON Schemas, one per ``apiVersion``, and validation against them.

The files under ``schemas/odcs/`` are copied unchanged from the ``open-data-contract-standard``
releases on PyPI (``schemas/odcs/README.md`` says which release each came from). A full-form
asset is checked against the schema of the version it declares, as any ODCS tool would check it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from airflow_provider_dativo.config.schema_validation import issues_of, schema_dir
from airflow_provider_dativo.config.yaml_loader import YamlDocument
from airflow_provider_dativo.errors import ConfigIssue

# apiVersion → schema file; v3.0.0 has no schema of its own, the v3.0.1 one accepts it.
SCHEMA_FILES: Final = {
    "v3.0.0": "odcs-v3.0.1.schema.json",
    "v3.0.1": "odcs-v3.0.1.schema.json",
    "v3.0.2": "odcs-v3.0.2.schema.json",
    "v3.1.0": "odcs-v3.1.0.schema.json",
}
API_VERSIONS: Final = tuple(SCHEMA_FILES)
# Editor hints that are not part of the contract.
_IGNORED_KEYS: Final = ("$schema",)


@cache
def official_schema(api_version: str) -> Mapping[str, Any]:
    """The official schema of ``api_version``; KeyError for a version dativo does not ship."""
    path = schema_dir() / "odcs" / SCHEMA_FILES[api_version]
    schema: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(api_version: str) -> Any:
    from jsonschema import Draft201909Validator

    return Draft201909Validator(official_schema(api_version))


def contract_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """The contract without the editor hints ODCS does not define."""
    return {k: v for k, v in data.items() if k not in _IGNORED_KEYS}


def official_issues(doc: YamlDocument) -> list[ConfigIssue]:
    """Errors of ``doc`` against the official schema of the ``apiVersion`` it declares."""
    version = doc.data.get("apiVersion")
    if version not in SCHEMA_FILES:
        return [ConfigIssue(doc.file, f"apiVersion {version!r} is not one dativo can check; "
                            f"use one of {', '.join(API_VERSIONS)}",
                            doc.line_of("apiVersion"), "apiVersion")]
    body = YamlDocument(doc.file, contract_body(doc.data), doc.lines)
    return issues_of(_validator(str(version)), body)


def validate_official(doc: Mapping[str, Any]) -> list[str]:
    """Errors of ``doc`` against the official schema of its ``apiVersion``, as ``path: message``."""
    version = doc.get("apiVersion")
    if version not in SCHEMA_FILES:
        return [f"$.apiVersion: {version!r} is not one of {', '.join(API_VERSIONS)}"]
    errors = sorted(_validator(str(version)).iter_errors(contract_body(doc)),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{error.json_path}: {error.message}" for error in errors]
