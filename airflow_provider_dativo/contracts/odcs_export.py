"""Contract → full ODCS document, and validation against the official ODCS schema.

A full-form asset exports as written: it passed the official schema of its own ``apiVersion``
when it loaded, and every value of it (servers, SLAs, team, quality rules, nested properties)
is kept. A short-form asset exports as ODCS v3.0.2, with the ODCS sections the short form
carries as they are (servers, support, price, team, roles, SLAs, authoritative definitions,
custom properties).

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
from typing import Any

from airflow_provider_dativo.contracts._types import to_odcs_types
from airflow_provider_dativo.contracts.model import Contract, FieldSpec, is_full_form
from airflow_provider_dativo.contracts.odcs_schemas import contract_body, validate_official

__all__ = ["API_VERSION", "to_odcs", "validate_official"]

API_VERSION = "v3.0.2"


# ODCS sections a short-form asset may carry that dativo does not read: exported unchanged.
_PASSTHROUGH = (
    "tenant",
    "dataProduct",
    "servers",
    "support",
    "price",
    "roles",
    "slaDefaultElement",
    "slaProperties",
    "authoritativeDefinitions",
    "contractCreatedTs",
)


def to_odcs(contract: Contract) -> dict[str, Any]:
    """The full ODCS document for ``contract``; valid against the official schema."""
    original = json.loads(contract.document) if contract.document else None
    if original is not None and is_full_form(original):
        return contract_body(original)
    doc = _short_to_odcs(contract)
    if original is not None:
        _carry_short_form_sections(original, doc)
    return doc


def _carry_short_form_sections(original: Mapping[str, Any], doc: dict[str, Any]) -> None:
    for key in _PASSTHROUGH:
        if key in original:
            doc[key] = original[key]
    if isinstance(original.get("team"), list):
        doc["team"] = original["team"]
    if isinstance(original.get("description"), Mapping):
        doc["description"] = original["description"]
    if isinstance(original.get("customProperties"), list):
        ours = {item["property"] for item in doc.get("customProperties", [])}
        doc["customProperties"] = [
            *doc.get("customProperties", []),
            *(item for item in original["customProperties"]
              if isinstance(item, Mapping) and item.get("property") not in ours),
        ]
    # Keys only in the original (the short form keeps name, version and status as they are).
    schema_object = doc["schema"][0]
    if isinstance(original.get("schema"), list):
        for spec_doc, prop in zip(original["schema"], schema_object["properties"], strict=False):
            if isinstance(spec_doc, Mapping) and isinstance(spec_doc.get("examples"), list):
                prop["examples"] = spec_doc["examples"]


def _short_to_odcs(contract: Contract) -> dict[str, Any]:
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


def _number(value: float | str | None) -> float | int | str | None:
    # Integral bounds read better as integers and stay equal after the round trip; date, time
    # and timestamp bounds are ISO 8601 text and go out as they are.
    if isinstance(value, float) and value.is_integer():
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


def _partition(column: str, transform: str) -> dict[str, Any]:
    """The contract's own spelling: bucket[16] is written as transform bucket, buckets 16."""
    if transform.startswith("bucket["):
        return {"column": column, "transform": "bucket", "buckets": int(transform[7:-1])}
    return {"column": column, "transform": transform}
