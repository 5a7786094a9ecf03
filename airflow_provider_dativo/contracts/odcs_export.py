"""Contract → full ODCS v3.0.2 document, and validation against the official ODCS schema.

The export is the full form :func:`~.model.contract_from_mapping` reads, so
``contract_from_mapping(to_odcs(c)) == c``. Where ODCS has a native place it is used (types,
``required``, ``logicalTypeOptions``, ``team`` for the owner, ``tags``); the rest sits in
``customProperties``: ``sourceType`` (camelCase, as ODCS asks of custom property names),
``object``, ``target`` and ``governance`` on the contract, ``enum`` and ``allowNul`` on a property;
the values keep the short form's shape.

Date and timestamp ``format`` values are written as strptime patterns; ODCS expects JDK patterns
there, but strptime patterns are unambiguous (they contain ``%``) and read back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from airflow_provider_dativo.contracts._types import to_odcs_types
from airflow_provider_dativo.contracts.model import Contract, FieldSpec
from airflow_provider_dativo.errors import DativoError

API_VERSION = "v3.0.2"


def to_odcs(contract: Contract) -> dict[str, Any]:
    """The full ODCS v3.0.2 document for ``contract``; valid against the official schema."""
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": contract.id,
        "name": contract.name,
        "version": contract.version,
        "status": contract.status,
    }
    if contract.description is not None:
        doc["description"] = {"purpose": contract.description}
    if contract.domain is not None:
        doc["domain"] = contract.domain
    if contract.tags:
        doc["tags"] = list(contract.tags)
    if contract.owner is not None:
        doc["team"] = [{"username": contract.owner, "role": "owner"}]
    doc["schema"] = [
        {
            "name": contract.name,
            "logicalType": "object",
            "physicalType": "table",
            "properties": [_property(spec) for spec in contract.fields],
        }
    ]
    custom = _contract_custom_properties(contract)
    if custom:
        doc["customProperties"] = custom
    return doc


def _property(spec: FieldSpec) -> dict[str, Any]:
    logical, physical = to_odcs_types(spec.type, spec.precision, spec.scale)
    prop: dict[str, Any] = {
        "name": spec.name,
        "logicalType": logical,
        "physicalType": physical,
        "required": spec.required,
    }
    if spec.unique:
        prop["unique"] = True
    if spec.primary_key:
        prop["primaryKey"] = True
    if spec.classification is not None:
        prop["classification"] = spec.classification
    if spec.description is not None:
        prop["description"] = spec.description
    if spec.tags:
        prop["tags"] = list(spec.tags)
    options = {
        key: value
        for key, value in (
            ("pattern", spec.pattern),
            ("minimum", _number(spec.minimum)),
            ("maximum", _number(spec.maximum)),
            ("minLength", spec.min_length),
            ("maxLength", spec.max_length),
            ("format", spec.format),
        )
        if value is not None
    }
    if options:
        prop["logicalTypeOptions"] = options
    custom: list[dict[str, Any]] = []
    if spec.enum is not None:
        custom.append({"property": "enum", "value": list(spec.enum)})
    if spec.allow_nul:
        custom.append({"property": "allowNul", "value": True})
    if custom:
        prop["customProperties"] = custom
    return prop


def _number(value: float | None) -> float | int | None:
    # Integral bounds read better as integers and stay equal after the round trip.
    if value is not None and value.is_integer():
        return int(value)
    return value


def _contract_custom_properties(contract: Contract) -> list[dict[str, Any]]:
    custom: list[dict[str, Any]] = []
    if contract.source_type is not None:
        custom.append({"property": "sourceType", "value": contract.source_type})
    if contract.object is not None:
        custom.append({"property": "object", "value": contract.object})
    target: dict[str, Any] = {}
    if contract.file_format is not None:
        target["file_format"] = contract.file_format
    if contract.partitioning:
        target["partitioning"] = [_partition(p.column, p.transform) for p in contract.partitioning]
    if target:
        custom.append({"property": "target", "value": target})
    governance: dict[str, Any] = {}
    if contract.classification:
        governance["classification"] = list(contract.classification)
    if contract.retention_days is not None:
        governance["retention_days"] = contract.retention_days
    if governance:
        custom.append({"property": "governance", "value": governance})
    return custom


@lru_cache(maxsize=1)
def _official_schema() -> Mapping[str, Any]:
    try:
        package = resources.files("open_data_contract_standard")
    except ModuleNotFoundError:
        raise DativoError(
            "validating against the official ODCS schema needs the open-data-contract-standard "
            "package: pip install open-data-contract-standard"
        ) from None
    schema: Mapping[str, Any] = json.loads((package / "schema.json").read_text(encoding="utf-8"))
    return schema


def validate_official(doc: Mapping[str, Any]) -> list[str]:
    """Errors of ``doc`` against the official ODCS JSON Schema, as ``path: message`` lines."""
    from jsonschema import Draft201909Validator

    validator = Draft201909Validator(_official_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{error.json_path}: {error.message}" for error in errors]


def _partition(column: str, transform: str) -> dict[str, Any]:
    """The contract's own spelling: bucket[16] is written as transform bucket, buckets 16."""
    if transform.startswith("bucket["):
        return {"column": column, "transform": "bucket", "buckets": int(transform[7:-1])}
    return {"column": column, "transform": transform}
