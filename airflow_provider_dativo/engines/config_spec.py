"""The settings a connector takes, read from the JSON Schema it publishes (an Airbyte SPEC's
``connectionSpecification``, a Singer SDK tap's ``--about`` settings): one row per key, nested
objects as dotted keys, for ``dativo spec`` and for the recipes ``dativo new connector`` drafts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# whether a property (its name, its schema) holds a secret, by the engine's own convention
SecretRule = Callable[[str, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class ConfigKey:
    key: str  # dotted for nested objects: credentials.access_token
    type: str
    required: bool
    default: Any
    secret: bool
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "type": self.type, "required": self.required,
                "default": self.default, "secret": self.secret,
                "description": self.description}


def _type_text(prop: Mapping[str, Any]) -> str:
    for choice in ("oneOf", "anyOf"):
        if isinstance(prop.get(choice), list):
            titles = [str(o.get("title") or o.get("type") or "?") for o in prop[choice]
                      if isinstance(o, Mapping)]
            return "one of: " + " | ".join(titles)
    if isinstance(prop.get("enum"), list):
        return " | ".join(str(v) for v in prop["enum"])
    declared = prop.get("type", "any")
    kinds = [declared] if isinstance(declared, str) else [str(k) for k in declared]
    text = "|".join(k for k in kinds if k != "null") or "null"
    if text == "array" and isinstance(prop.get("items"), Mapping):
        text = f"array of {_type_text(prop['items'])}"
    fmt = prop.get("format")
    return f"{text} ({fmt})" if fmt else text


def config_keys(schema: Mapping[str, Any], secret: SecretRule) -> list[ConfigKey]:
    """Every key of ``schema`` in its own order; an object with properties of its own is
    listed by its keys (required when both it and they are)."""
    out: list[ConfigKey] = []

    def walk(node: Mapping[str, Any], prefix: str, required: bool) -> None:
        needed = set(node.get("required") or ())
        for name, prop in (node.get("properties") or {}).items():
            if not isinstance(prop, Mapping):
                continue
            key = f"{prefix}{name}"
            if isinstance(prop.get("properties"), Mapping) and prop["properties"]:
                walk(prop, f"{key}.", required and name in needed)
                continue
            description = " ".join(str(prop.get("description") or prop.get("title")
                                       or "").split())
            out.append(ConfigKey(key, _type_text(prop), required and name in needed,
                                 prop.get("default"), secret(name, prop), description))

    walk(schema, "", True)
    return out


def placeholder(key: str) -> str:
    """The env var a drafted recipe reads ``key`` from: ``credentials.api_key`` →
    ``CREDENTIALS_API_KEY`` (prefixed with the connector's name by the caller)."""
    return "".join(c if c.isalnum() else "_" for c in key).upper()
