"""References to Airflow connections and Variables inside connection settings.

``${conn:ID.FIELD}`` (FIELD: host, port, login, password, schema, conn_type, or extra.KEY) and
``${var:KEY}`` stay unresolved in the parsed job, like ``${VAR}``. An Iceberg ``catalog`` block
may name a whole connection with ``conn_id``; its properties come from that connection. A
connection's ``aws_conn_id`` names an Airflow AWS connection (see ``aws_refs``).

This module never imports Airflow: the operators install a resolver (``using``) around each
task, so resolution happens at run time only and any Airflow secrets backend supplies the
values. Outside Airflow there is no resolver and a reference is a clear error.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from airflow_provider_dativo import nested
from airflow_provider_dativo.config import aws_refs
from airflow_provider_dativo.config.yaml_loader import join_path
from airflow_provider_dativo.errors import ConfigError, ConfigIssue

_REF = re.compile(r"\$\{(conn|var):([^}]+)\}")
CONN_FIELDS = ("host", "port", "login", "password", "schema", "conn_type")


class Resolver(Protocol):
    """Looks values up in Airflow; every value it returns is already masked in logs."""

    def variable(self, key: str) -> str: ...

    def connection_field(self, conn_id: str, field: str) -> str: ...

    def catalog_properties(self, conn_id: str) -> dict[str, str]: ...

    def aws_credentials(self, conn_id: str) -> aws_refs.AwsCredentials: ...


_current: contextvars.ContextVar[Resolver | None] = contextvars.ContextVar(
    "dativo_airflow_resolver", default=None)


@contextlib.contextmanager
def using(resolver: Resolver) -> Iterator[None]:
    """Resolve Airflow references through ``resolver`` inside this block."""
    token = _current.set(resolver)
    try:
        yield
    finally:
        _current.reset(token)


def references(value: Any) -> set[str]:
    """``conn:ID.FIELD`` / ``var:KEY`` / ``conn:ID`` (catalog) references inside ``value``."""
    found: set[str] = set()
    for path, node in nested.nodes(value):
        if isinstance(node, str):
            found.update(f"{m.group(1)}:{m.group(2)}" for m in _REF.finditer(node))
        key = path[-1] if path else None  # a mapping's key (str), a list's position (int)
        if key == "catalog" and isinstance(node, Mapping) and node.get("conn_id"):
            found.add(f"conn:{node['conn_id']}")
        if key == aws_refs.KEY and node:
            found.add(f"conn:{node}")
    return found


def _split_conn_ref(ref: str) -> tuple[str, str]:
    conn_id, _, field = ref.partition(".")
    if not conn_id or not (field in CONN_FIELDS or field.startswith("extra.")):
        raise ValueError(f"${{conn:{ref}}} names no field; write ${{conn:ID.FIELD}} with FIELD "
                         f"one of {', '.join(CONN_FIELDS)} or extra.KEY")
    return conn_id, field


def resolve(value: Any, *, file: str = "<config>", path: str = "") -> Any:
    """A copy of ``value`` with Airflow references replaced; all failures reported together."""
    if not references(value):
        return value
    resolver = _current.get()
    issues: list[ConfigIssue] = []

    def fail(where: str, message: str) -> None:
        issues.append(ConfigIssue(file, message, None, where))

    def lookup(kind: str, ref: str, where: str) -> str | None:
        if resolver is None:
            fail(where, f"${{{kind}:{ref}}} is an Airflow reference and resolves only inside an "
                        "Airflow task; run the job from Airflow, or use ${ENV_VAR} instead")
            return None
        try:
            if kind == "var":
                return resolver.variable(ref)
            conn_id, field = _split_conn_ref(ref)
            return resolver.connection_field(conn_id, field)
        except (LookupError, ValueError) as exc:
            fail(where, str(exc))
            return None

    def where_of(steps: nested.Path) -> str:
        return functools.reduce(join_path, steps, path)

    def leaf(item: Any, steps: nested.Path) -> Any:
        if not isinstance(item, str):
            return item

        def sub(m: re.Match[str]) -> str:
            found = lookup(m.group(1), m.group(2), where_of(steps))
            return m.group(0) if found is None else found
        return _REF.sub(sub, item)

    def mapping(out: dict[Any, Any], steps: nested.Path) -> dict[Any, Any]:
        catalog = out.get("catalog")
        if isinstance(catalog, Mapping) and catalog.get("conn_id"):
            out["catalog"] = expand_catalog(catalog, join_path(where_of(steps), "catalog"))
        return out

    def expand_catalog(catalog: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The connection's properties, overridden by any property written beside conn_id."""
        rest = {k: v for k, v in catalog.items() if k != "conn_id"}
        conn_id = str(catalog["conn_id"])
        if resolver is None:
            fail(join_path(where, "conn_id"),
                 f"catalog connection '{conn_id}' is an Airflow connection and resolves only "
                 "inside an Airflow task; run the job from Airflow, or write the catalog "
                 "properties in the job")
            return rest
        try:
            props = resolver.catalog_properties(conn_id)
        except (LookupError, ValueError) as exc:
            fail(join_path(where, "conn_id"), str(exc))
            return rest
        return {"name": conn_id, **props, **rest}

    def expand_aws(connection: dict[str, Any]) -> dict[str, Any]:
        """A connection's ``aws_conn_id`` (see ``aws_refs``), written at its top level."""
        conn_id = str(connection[aws_refs.KEY])
        where = join_path(path, aws_refs.KEY)
        if resolver is None:
            fail(where, f"aws_conn_id '{conn_id}' names an Airflow AWS connection and resolves "
                        "only inside an Airflow task; run the job from Airflow, or write the "
                        "credentials in the connection (s3.access-key-id ..., from ${ENV_VAR})")
            return connection
        try:
            creds = resolver.aws_credentials(conn_id)
        except (LookupError, ValueError) as exc:
            fail(where, str(exc))
            return connection
        return aws_refs.expand(connection, creds)

    out = nested.rebuild(value, leaf, mapping)
    if isinstance(out, dict) and out.get(aws_refs.KEY):
        out = expand_aws(out)
    if issues:
        raise ConfigError(issues)
    return out
