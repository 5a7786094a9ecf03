"""Validating OpenLineage events against the spec as the installed packages ship it.

openlineage-python ships the spec as the classes it generates from the spec's JSON schemas
(``openlineage.client.generated``): one attrs class per schema definition, each naming its
schema by ``_get_schema()``, with the field names, types and required fields of that schema.
The JSON schema files themselves are not shipped (only the Airflow provider's own facets are,
as JSON files, and dativo's custom facet). So:

* the core event (run, job, datasets) and every facet whose ``_schemaURL`` names a generated
  class are validated with ``jsonschema`` against a JSON schema derived from those classes:
  required fields, types, nested records; on nested records (a schema field, an assertion, an
  owner) no key the class does not have, which is stricter than the spec, so a misspelt key fails;
* facets whose ``_schemaURL`` names one of the Airflow provider's JSON files, or dativo's, are
  validated against that file, its ``$ref`` to the core spec resolved to the derived schema (a
  facet is held to the schema its ``_schemaURL`` names: Airflow's own ``airflow`` run facet names
  the base ``RunFacet``, and does not meet the provider's AirflowRunFacet.json, which wants
  ``taskInstance.pool`` and a boolean ``retry_exponential_backoff``);
* a facet whose ``_schemaURL`` names no schema known here is an error.
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import types
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import attr
import jsonschema
import referencing

CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
FACET_BASES = ("BaseFacet", "RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet",
               "OutputDatasetFacet")


@cache
def _classes() -> dict[str, type]:
    """Every generated class by the schema URL it names."""
    import openlineage.client.generated as generated

    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(generated.__path__):
        module = importlib.import_module(f"{generated.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and attr.has(value) and "_get_schema" in vars(value):
                found[value._get_schema()] = value
    return found


def _is_facet(cls: type) -> bool:
    return any(base.__name__ == "BaseFacet" for base in cls.__mro__)


def _type_schema(hint: Any, defs: dict[str, Any], ns: dict[str, Any]) -> dict[str, Any]:
    if isinstance(hint, typing.ForwardRef):
        hint = eval(hint.__forward_arg__, ns)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        # the client leaves out None values, and the spec allows no null
        return _type_schema(options[0], defs, ns) if len(options) == 1 else {
            "anyOf": [_type_schema(a, defs, ns) for a in options]}
    if origin is list:
        return {"type": "array", "items": _type_schema(typing.get_args(hint)[0], defs, ns)}
    if origin is dict:
        return {"type": "object",
                "additionalProperties": _type_schema(typing.get_args(hint)[1], defs, ns)}
    if hint is Any:
        return {}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if isinstance(hint, type) and attr.has(hint):
        if _is_facet(hint):
            # a facet inside an event: checked against its own schema by _schemaURL
            return {"$ref": f"#/$defs/{_definition(hint, defs, facet_base=True)}"}
        return {"$ref": f"#/$defs/{_definition(hint, defs)}"}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    return {"type": simple[hint]}


def _field_types(cls: type) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each attrs field's type, its annotation evaluated where the class declaring it lives
    (``typing.get_type_hints`` would evaluate a base's ``ClassVar`` in the wrong module)."""
    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    for klass in reversed(cls.__mro__):
        module = vars(importlib.import_module(klass.__module__))
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if isinstance(annotation, str) and "ClassVar" not in annotation:
                found[name] = (eval(annotation, module), module)  # the package's own
    return found


def _definition(cls: type, defs: dict[str, Any], facet_base: bool = False) -> str:
    """The name of ``cls``'s schema in ``defs``, adding it (and what it uses) first."""
    if facet_base:
        cls = next(c for c in cls.__mro__ if c.__name__ in FACET_BASES)
    name = f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"
    if name in defs:
        return name
    defs[name] = {}
    hints = _field_types(cls)
    properties: dict[str, Any] = {}
    required = []
    for field in attr.fields(cls):
        hint, ns = hints[field.name]
        properties[field.name] = _type_schema(hint, defs, ns)
        always = field.name in ("producer", "schemaURL", "_producer", "_schemaURL")
        if field.default is attr.NOTHING or always:
            required.append(field.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": required}
    if "eventTime" in properties:
        properties["eventTime"]["format"] = "date-time"
    if not _is_facet(cls):
        schema["additionalProperties"] = False
    defs[name] = schema
    return name


@cache
def derived_schema(url: str) -> dict[str, Any]:
    """The JSON schema of the generated class that names ``url``."""
    defs: dict[str, Any] = {}
    root = _definition(_classes()[url], defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs,
            "$ref": f"#/$defs/{root}"}


def _shipped_files() -> list[Path]:
    from airflow.providers.openlineage import facets

    from airflow_provider_dativo.operators.lineage_facets import GOVERNANCE_SCHEMA_FILE

    return [*sorted(Path(facets.__file__).parent.glob("*.json")), GOVERNANCE_SCHEMA_FILE]


@cache
def _registry() -> tuple[referencing.Registry, dict[str, tuple[str, str]]]:
    """The shipped facet files and the core spec's bases (derived), and which file and
    definition each shipped facet name is: ``{name: (file uri, key)}``."""
    defs: dict[str, Any] = {}
    bases = {cls.__name__: _definition(cls, defs) for cls in _classes().values()
             if cls.__module__.endswith(".base") and cls.__name__ in FACET_BASES}
    core = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {**defs, **{name: {"$ref": f"#/$defs/{d}"} for name, d in bases.items()}}}
    resources = [(CORE, referencing.Resource.from_contents(core))]
    shipped: dict[str, tuple[str, str]] = {}
    for path in _shipped_files():
        contents = json.loads(path.read_text())
        uri = contents.get("$id") or path.as_uri()
        resources.append((uri, referencing.Resource.from_contents(contents)))
        for key, ref in contents.get("properties", {}).items():
            shipped[ref["$ref"].rsplit("/", 1)[-1]] = (uri, key)
    return referencing.Registry().with_resources(resources), shipped


def _facets(event: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(where, key, facet)`` for every facet of the event."""
    for part in ("run", "job"):
        for key, facet in (event.get(part, {}).get("facets") or {}).items():
            yield f"{part}.facets", key, facet
    for side in ("inputs", "outputs"):
        for i, dataset in enumerate(event.get(side) or ()):
            for kind in ("facets", "inputFacets", "outputFacets"):
                for key, facet in (dataset.get(kind) or {}).items():
                    yield f"{side}[{i}].{kind}", key, facet


def errors(event: Mapping[str, Any]) -> list[str]:
    """Every way ``event`` breaks the spec: the event, then each facet by its ``_schemaURL``."""
    found = []
    kind = "RunEvent" if "run" in event else "DatasetEvent" if "dataset" in event else "JobEvent"
    event_url = f"{CORE}#/$defs/{kind}"
    if event.get("schemaURL") != event_url:
        found.append(f"event: schemaURL {event.get('schemaURL')!r} is not {event_url!r}")
    found += [f"event: {e.message} at {list(e.absolute_path)}" for e in
              _validator(derived_schema(event_url)).iter_errors(event)]
    registry, shipped = _registry()
    for where, key, facet in _facets(event):
        url = str(facet.get("_schemaURL", ""))
        definition = url.rsplit("/", 1)[-1]
        if url in _classes():
            schema = derived_schema(url)
        elif definition in shipped:
            uri, shipped_key = shipped[definition]
            if key != shipped_key:
                found.append(f"{where}.{key}: {definition} goes under key {shipped_key!r}")
            schema = {"$ref": f"{uri}#/$defs/{definition}"}
        else:
            found.append(f"{where}.{key}: no schema known for _schemaURL {url!r}")
            continue
        found += [f"{where}.{key}: {e.message} at {list(e.absolute_path)}"
                  for e in _validator(schema, registry).iter_errors(facet)]
    return found


def _validator(schema: Mapping[str, Any],
               registry: referencing.Registry | None = None) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema, registry=registry if registry is not None else _registry()[0],
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
