"""Type vocabulary shared by the contract model, the ODCS export and the Arrow mapping.

Dativo types are what a short-form asset writes in ``type``. ODCS describes the same thing with a
coarse ``logicalType`` refined by a free-text ``physicalType``; the tables here translate between
the two so that both asset forms load to the same :class:`~.model.FieldSpec`.
"""

from __future__ import annotations

import re
from typing import Final

# Canonical types after normalisation; ``long`` and ``number`` are accepted as input aliases only.
CANONICAL_TYPES: Final = (
    "string",
    "integer",
    "float",
    "double",
    "decimal",
    "boolean",
    "date",
    "timestamp",
    "timestamptz",
    "binary",
    "json",
    # Types only the full ODCS form reaches (physicalType, nested properties/items).
    "int32",
    "time",
    "uuid",
    "struct",
    "list",
)
TYPE_ALIASES: Final = {"long": "integer", "number": "double"}
DATIVO_TYPES: Final = (*CANONICAL_TYPES, *TYPE_ALIASES)

NUMERIC_TYPES: Final = frozenset({"integer", "int32", "float", "double", "decimal"})
INTEGER_TYPES: Final = frozenset({"integer", "int32"})
TEMPORAL_TYPES: Final = frozenset({"date", "timestamp", "timestamptz"})
NESTED_TYPES: Final = frozenset({"struct", "list"})
TIMESTAMP_TYPES: Final = frozenset({"timestamp", "timestamptz"})
# Types whose values can be listed in an ``enum``; JSON documents and raw bytes have no useful
# equality for that.
ENUM_TYPES: Final = frozenset(CANONICAL_TYPES) - {"json", "binary", "struct", "list"}
# Types whose values are text, so may carry NUL characters.
TEXT_TYPES: Final = frozenset({"string", "json"})
FORMAT_TYPES: Final = frozenset({"string", "uuid", "time"}) | TEMPORAL_TYPES

# The load date dativo writes into every row when a contract partitions by it.
INGEST_DATE: Final = "ingest_date"
RESERVED_PREFIX: Final = "_dativo_"

# decimal128 holds 38 digits; Iceberg's decimal has the same limit.
MAX_DECIMAL_PRECISION: Final = 38
DEFAULT_DECIMAL_PRECISION: Final = 38
DEFAULT_DECIMAL_SCALE: Final = 9

def canonical_type(name: str) -> str:
    """The canonical dativo type for ``name`` (aliases resolved); ValueError when unknown."""
    key = name.strip().lower()
    key = TYPE_ALIASES.get(key, key)
    if key not in CANONICAL_TYPES:
        raise ValueError(f"unknown field type {name!r}; expected one of {', '.join(DATIVO_TYPES)}")
    return key


# --- ODCS logicalType / physicalType ------------------------------------------------------------

# v3.1.0 adds timestamp and time to the v3.0.x list.
ODCS_LOGICAL_TYPES: Final = (
    "string", "date", "timestamp", "time", "number", "integer", "object", "array", "boolean"
)

# Which dativo types a logicalType may be refined into by physicalType.
_LOGICAL_FAMILIES: Final[dict[str, frozenset[str]]] = {
    "string": frozenset({"string", "binary", "json", "uuid"}),
    # v3.0.x has no time logicalType; a time column is logicalType date, physicalType time.
    "date": TEMPORAL_TYPES | {"time"},
    "timestamp": TIMESTAMP_TYPES,
    "time": frozenset({"time"}),
    "number": NUMERIC_TYPES,
    "integer": frozenset({"integer", "int32", "decimal"}),
    "boolean": frozenset({"boolean"}),
    "object": frozenset({"json", "struct"}),
    "array": frozenset({"json", "list"}),
}
_LOGICAL_DEFAULT: Final = {
    "string": "string",
    "date": "date",
    "timestamp": "timestamp",
    "time": "time",
    "number": "double",
    "integer": "integer",
    "boolean": "boolean",
    "object": "json",
    "array": "json",
}

# Physical type spellings seen in warehouses and lakes, lower-cased with parameters stripped.
_PHYSICAL: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("string", "varchar", "char", "text", "nvarchar", "nchar", "character varying",
         "character", "bpchar"),
        "string",
    ),
    "uuid": "uuid",
    **dict.fromkeys(("time", "time without time zone"), "time"),
    **dict.fromkeys(("binary", "bytes", "varbinary", "blob", "bytea"), "binary"),
    **dict.fromkeys(
        ("json", "jsonb", "variant", "struct", "map", "array", "list", "record", "object"),
        "json",
    ),
    # SQL's int is 32 bits wide; int8 is PostgreSQL's name for bigint.
    **dict.fromkeys(
        ("int", "integer", "int4", "int32", "smallint", "int2", "tinyint", "int16", "serial",
         "smallserial", "mediumint"),
        "int32",
    ),
    **dict.fromkeys(("bigint", "long", "int64", "int8", "bigserial"), "integer"),
    **dict.fromkeys(("float", "float32", "real", "float4"), "float"),
    **dict.fromkeys(("double", "float64", "double precision", "float8"), "double"),
    **dict.fromkeys(("decimal", "numeric"), "decimal"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    "date": "date",
    **dict.fromkeys(
        ("timestamp", "datetime", "timestamp_ntz", "timestamp without time zone"), "timestamp"
    ),
    **dict.fromkeys(
        ("timestamptz", "timestamp_tz", "timestamp_ltz", "timestamp with time zone"),
        "timestamptz",
    ),
}

_PARAMS = re.compile(r"^\s*([a-z][a-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


class OdcsTypeError(ValueError):
    """The logical/physical pair cannot describe a dativo type; ``key`` names the culprit."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def from_odcs_types(
    logical: str | None, physical: str | None, number_format: str | None = None
) -> tuple[str, int | None, int | None]:
    """Resolve an ODCS property's types to ``(dativo type, precision, scale)``.

    ``physicalType`` refines ``logicalType``; a physical spelling we do not know falls back to the
    logical type's default, since ODCS lets sources write anything there.
    """
    precision: int | None = None
    scale: int | None = None
    refined: str | None = None
    if physical is not None:
        match = _PARAMS.match(physical.lower())
        if match:
            refined = _PHYSICAL.get(match.group(1))
            if refined in ("decimal", "string"):
                # varchar(n) carries its length where decimal(p,s) carries precision and scale
                precision = int(match.group(2)) if match.group(2) else None
                scale = int(match.group(3)) if match.group(3) else None
    if logical is None:
        if physical is None:
            raise OdcsTypeError("name", "a property needs a logicalType or a physicalType")
        if refined is None:
            raise OdcsTypeError(
                "physicalType",
                f"cannot tell the type from physicalType {physical!r}; add a logicalType",
            )
        return refined, precision, scale
    if refined is None:
        if logical == "number" and number_format == "f32":
            return "float", None, None
        if logical == "integer" and number_format == "i32":
            return "int32", None, None
        return _LOGICAL_DEFAULT[logical], None, None
    if refined == "json" and logical in ("object", "array"):
        refined = _LOGICAL_DEFAULT[logical]
    if refined not in _LOGICAL_FAMILIES[logical]:
        raise OdcsTypeError(
            "physicalType",
            f"physicalType {physical!r} is a {refined}, which does not refine logicalType "
            f"{logical!r}",
        )
    return refined, precision, scale


def to_odcs_types(type_: str, precision: int | None, scale: int | None) -> tuple[str, str]:
    """``(logicalType, physicalType)`` that :func:`from_odcs_types` maps back to ``type_``."""
    if type_ == "decimal":
        if precision is None:
            physical = "decimal"
        elif scale is None:
            physical = f"decimal({precision})"
        else:
            physical = f"decimal({precision},{scale})"
        return "number", physical
    return _TO_ODCS[type_]


_TO_ODCS: Final = {
    "string": ("string", "string"),
    "binary": ("string", "binary"),
    "json": ("object", "json"),
    "integer": ("integer", "bigint"),
    "int32": ("integer", "int"),
    "time": ("date", "time"),
    "uuid": ("string", "uuid"),
    "struct": ("object", "struct"),
    "list": ("array", "array"),
    "float": ("number", "float"),
    "double": ("number", "double"),
    "boolean": ("boolean", "boolean"),
    "date": ("date", "date"),
    "timestamp": ("date", "timestamp"),
    "timestamptz": ("date", "timestamptz"),
}


# --- date formats --------------------------------------------------------------------------------

# ODCS writes date formats as JDK DateTimeFormatter patterns; Arrow parses with strptime.
_JDK_TOKENS: Final = {
    "yyyy": "%Y",
    "uuuu": "%Y",
    "yy": "%y",
    "MM": "%m",
    "MMM": "%b",
    "dd": "%d",
    "HH": "%H",
    "hh": "%I",
    "a": "%p",
    "mm": "%M",
    "ss": "%S",
    "SSS": "%f",
    "SSSSSS": "%f",
    "X": "%z",
    "XX": "%z",
    "XXX": "%z",
    "x": "%z",
    "xx": "%z",
    "xxx": "%z",
    "Z": "%z",
    "ZZ": "%z",
}


def strptime_format(fmt: str) -> str:
    """``fmt`` as a strptime pattern; patterns without ``%`` are read as JDK patterns.

    Raises ValueError naming the first JDK letter run that strptime cannot express.
    """
    if "%" in fmt:
        return fmt
    out: list[str] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "'":
            end = fmt.find("'", i + 1)
            if end == -1:
                raise ValueError(f"unterminated quote in date format {fmt!r}")
            out.append("'" if end == i + 1 else fmt[i + 1 : end])
            i = end + 1
        elif char.isalpha():
            j = i
            while j < len(fmt) and fmt[j] == char:
                j += 1
            token = fmt[i:j]
            if token not in _JDK_TOKENS:
                raise ValueError(f"date format token {token!r} in {fmt!r} is not supported")
            out.append(_JDK_TOKENS[token])
            i = j
        else:
            out.append(char)
            i += 1
    return "".join(out)


# Patterns the ISO 8601 reader already takes whole (fractions and offsets included); Arrow's
# strptime handles neither fractions nor ``Z``, so these are read as ISO rather than by pattern.
_ISO_LAYOUT: Final = re.compile(
    r"^%Y-%m-%d(?:(?:T|'T'| )%H(?::%M(?::%S(?:[.,]%f)?)?)?(?:%z|Z)?)?$"
)


def parse_format(fmt: str) -> str | None:
    """The strptime pattern to parse with, or None when the ISO reader does it.

    Raises ValueError naming the token when the pattern cannot be parsed by either.
    """
    pattern = strptime_format(fmt)
    if _ISO_LAYOUT.match(pattern):
        return None
    if "%f" in pattern:
        raise ValueError(
            f"fractional seconds in date format {fmt!r} can only be read in ISO 8601 layout "
            "(yyyy-MM-dd'T'HH:mm:ss.SSS)"
        )
    return pattern
