"""Connector recipes: a schema-checked ``connectors/<type>.yaml`` as a typed ``ConnectorRecipe``."""

from __future__ import annotations

from typing import Any

from airflow_provider_dativo.config.specs import ConnectorRecipe, EngineSpec, ObjectSpec, freeze
from airflow_provider_dativo.config.yaml_loader import YamlDocument


def engine_spec(raw: dict[str, Any]) -> EngineSpec:
    command = raw.get("command") or ()
    return EngineSpec(
        type=raw["type"],
        image=raw.get("image"),
        command=(command,) if isinstance(command, str) else tuple(command),
        pip=raw.get("pip"),
        plugin=raw.get("plugin"),
        options=freeze(raw.get("options", {})),
    )


def read_recipe(doc: YamlDocument) -> ConnectorRecipe:
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
        default_engine=engine_spec(data["default_engine"]),
        engines=freeze({k: engine_spec({**v, "type": k})
                        for k, v in data.get("engines", {}).items()}),
        connection=freeze(data.get("connection", {})),
        objects=tuple(objects),
        secret_envs=secret_envs,
        name=data.get("name"),
        description=data.get("description"),
        lines=doc.lines,
        modes=tuple(data["modes"]) if "modes" in data else None,
        governance=freeze(data.get("governance", {})),
        asset_source_type=data.get("asset_source_type"),
    )
