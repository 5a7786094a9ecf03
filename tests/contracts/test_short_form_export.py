"""Short-form assets export to ODCS v3.0.2 without losing anything the short form says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_provider_dativo.config.assets import load_asset
from airflow_provider_dativo.contracts import contract_from_mapping, to_odcs, validate_official
from airflow_provider_dativo.contracts.model import is_full_form

REPO = Path(__file__).resolve().parents[2]
SHORT = sorted(p for p in REPO.glob("assets/*/v*/*.yaml")
               if not is_full_form(yaml.safe_load(p.read_text())))


def values(doc: Any, path: str = "$") -> set[tuple[str, str]]:
    """Every (path, value) of a document; lists addressed by position."""
    if isinstance(doc, dict):
        return {leaf for k, v in doc.items() for leaf in values(v, f"{path}.{k}")}
    if isinstance(doc, list):
        return {leaf for i, v in enumerate(doc) for leaf in values(v, f"{path}[{i}]")}
    return {(path, _show(doc))}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _plain(values_: set[tuple[str, str]]) -> set[str]:
    return {v for _, v in values_}


# Types are spelt the ODCS way in the export (type: long, precision: 12 and scale: 2 become
# logicalType integer or number with physicalType bigint or decimal(12,2)); the read-back
# equality shows they mean the same. $schema names the short form's own JSON schema.
_TRANSLATED = (".type", ".precision", ".scale")


def _unexported(original: dict[str, Any], exported: dict[str, Any]) -> list[str]:
    there = _plain(values(exported))
    return sorted(p for p, v in values(original)
                  if v not in there and not p.startswith("$.$schema")
                  and not (p.startswith("$.schema[") and p.endswith(_TRANSLATED)))


def test_there_are_short_form_assets_to_check() -> None:
    assert len(SHORT) >= 5


@pytest.mark.parametrize("path", SHORT, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_a_short_form_asset_exports_everything_it_says(path: Path) -> None:
    original = yaml.safe_load(path.read_text())
    contract = load_asset(path)
    exported = to_odcs(contract)
    assert exported["apiVersion"] == "v3.0.2"
    assert validate_official(exported) == []
    # the export reads back to the same contract: every rule, type and description
    assert contract_from_mapping(exported) == contract
    # and each other value the short form holds is somewhere in the export
    assert _unexported(original, exported) == []


def test_the_rich_short_form_exports_everything_it_says(rich_short: dict[str, Any]) -> None:
    exported = to_odcs(contract_from_mapping(rich_short))
    assert validate_official(exported) == []
    assert contract_from_mapping(exported) == contract_from_mapping(rich_short)
    assert _unexported(rich_short, exported) == []
