"""JSON-Schema validation of config documents, reporting every error with file, line and field."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from airflow_provider_dativo.config.yaml_loader import YamlDocument, join_path
from airflow_provider_dativo.errors import ConfigIssue

# One schema file per config kind, relative to the schema folder.
SCHEMA_FILES: dict[str, str] = {
    "connector": "connector.schema.json",
    "registry": "registry.schema.json",
    "job": "job.schema.json",
    "asset": "odcs/dativo-odcs-3.0.2-extended.schema.json",
}


def schema_dir() -> Path:
    """The JSON Schemas: packaged inside the wheel, or the repository's ``schemas/`` folder."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_schemas"
    return packaged if packaged.is_dir() else here.parent / "schemas"


@cache
def load_schema(kind: str) -> dict[str, Any]:
    path = schema_dir() / SCHEMA_FILES[kind]
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _validator(kind: str) -> Draft202012Validator:
    # the schemas ship with the package and a test checks them against the metaschema;
    # checking again here would cost every process (each DAG parse, each task) most of a second
    return Draft202012Validator(load_schema(kind))


def _path_of(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path = join_path(path, part)
    return path


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf failures, the errors of the branch that came closest, not the summary."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(len(e.absolute_path) for e in error.context)
        best = [e for e in error.context if len(e.absolute_path) == deepest]
        # Type mismatches of other branches are noise when a branch went deeper.
        if deepest > len(error.absolute_path):
            return [leaf for e in best for leaf in _leaf_errors(e)]
    return [error]


# The project's own patterns in words: a user fixing a name needs what is allowed, not a regex.
PATTERN_WORDS = {
    "^[a-z0-9][a-z0-9_]*$": "lower-case letters, digits and underscores, starting with a letter "
                            "or digit",
    "^[a-z][a-z0-9_]*$": "lower-case letters, digits and underscores, starting with a letter",
    "^[A-Za-z_][A-Za-z0-9_]*$": "letters, digits and underscores, not starting with a digit",
    "^[A-Za-z0-9_.-]+$": "letters, digits, '_', '.' and '-'",
    "\\.(md|mdkv)$": "a file name ending in .md or .mdkv",
    "^\\s*\\d+\\s*[smhd]\\s*$": "a number followed by s, m, h or d (e.g. 30m)",
}


def _message(error: ValidationError) -> str:
    if error.validator == "pattern":
        words = PATTERN_WORDS.get(str(error.validator_value))
        if words is not None:
            return f"{error.message}: use {words}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {}))) or "none"
        return f"unknown field(s) {', '.join(map(repr, extra))}; allowed: {allowed}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def validate_document(kind: str, doc: YamlDocument) -> list[ConfigIssue]:
    """All schema errors of ``doc`` as issues, sorted by line."""
    return issues_of(_validator(kind), doc)


def issues_of(validator: Any, doc: YamlDocument) -> list[ConfigIssue]:
    """All errors ``validator`` finds in ``doc``, as issues with line and field, sorted by line."""
    issues: list[ConfigIssue] = []
    for top in validator.iter_errors(doc.data):
        for error in _leaf_errors(top):
            path = _path_of(error)
            line = doc.line_of(path)
            if error.validator == "additionalProperties":
                extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
                if extra:
                    path = join_path(path, extra[0])
                    line = doc.line_of(path)
            issues.append(ConfigIssue(doc.file, _message(error), line, path))
    unique = dict.fromkeys(issues)  # oneOf branches can repeat the same finding
    return sorted(unique, key=lambda i: (i.line or 0, i.path))
