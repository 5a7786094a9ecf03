"""``source.partitions``: how one stream's read splits into parts, and which sources can split.

A part is an independent bounded read: a range of one column for a database source, a share of
the matched files (or a line-aligned byte range of one large file) for a file source. Sources
that hand over a stream as one process's output (Airbyte, Singer, HTTP, plugins) cannot be
split by dativo, so a job that asks for parts there is refused at validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_dativo.config.yaml_loader import YamlDocument
from airflow_provider_dativo.errors import ConfigIssue

PATH = "source.partitions"
_INTERVAL = re.compile(r"^([1-9][0-9]*)([mhdw])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class ConnectorRecipe(Protocol):
    """What the rule reads of a connector recipe (``config.specs.ConnectorRecipe``, whose job
    spec holds a ``PartitionSpec``, so it is described here rather than imported)."""

    @property
    def type(self) -> str: ...

    def engine(self, name: str) -> Any: ...


@dataclass(frozen=True)
class PartitionSpec:
    """What the job asks for; the plan step turns it into part descriptors."""

    kind: str  # "database" or "files"
    column: str | None = None
    count: int | None = None
    ranges: tuple[tuple[Any, Any], ...] | None = None
    interval: str | None = None
    parallelism: int | None = None

    @property
    def interval_seconds(self) -> int | None:
        match = _INTERVAL.match(self.interval or "")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def extractor_of(recipe: ConnectorRecipe, engine: str) -> str | None:
    """The native extractor a job runs on, or None for a non-native engine."""
    if engine != "native":
        return None
    # the native engine's table says which extractor runs; it loads no extractor (nor driver)
    from airflow_provider_dativo.engines.native import extractor_name

    return extractor_name(recipe)


def partition_spec(doc: YamlDocument, raw: Mapping[str, Any] | None, recipe: ConnectorRecipe,
                   engine: str) -> tuple[PartitionSpec | None, list[ConfigIssue]]:
    """The job's partitions, or the issues that refuse them (the schema checked the types)."""
    if not raw:
        return None, []
    from airflow_provider_dativo.engines.native import SPLITS

    line = doc.line_of(PATH)
    extractor = extractor_of(recipe, engine)
    kind = SPLITS.get(extractor or "")

    def issue(message: str, path: str = PATH) -> tuple[None, list[ConfigIssue]]:
        return None, [ConfigIssue(doc.file, message, doc.line_of(path) or line, path)]

    if kind == "files":
        extra = sorted(set(raw) & {"column", "ranges", "interval"})
        if extra:
            return issue(f"a file source splits by count only; remove {', '.join(extra)} "
                         "(parts spread the matched files, or byte ranges of one large file)",
                         f"{PATH}.{extra[0]}")
        if "count" not in raw:
            return issue("a file source needs source.partitions.count (how many parts)")
        return PartitionSpec("files", count=int(raw["count"]),
                             parallelism=raw.get("parallelism")), []
    if kind != "database":
        what = f"the {engine} engine" if extractor is None else f"the native {extractor} source"
        *most, last = SPLITS
        return issue(f"{what} of connector '{recipe.type}' cannot split its read into parts: "
                     f"only the {', '.join(most)} and {last} sources can; remove "
                     "source.partitions")
    ways = [k for k in ("count", "ranges", "interval") if k in raw]
    if "column" not in raw:
        return issue("a database source needs source.partitions.column (the column the parts "
                     "are ranges of)")
    if len(ways) != 1:
        return issue("give exactly one of source.partitions.count, ranges or interval"
                     + (f" (found {', '.join(ways)})" if ways else ""))
    ranges = None
    if "ranges" in raw:
        ranges = tuple((lo, hi) for lo, hi in raw["ranges"])
        for i, (lo, hi) in enumerate(ranges):
            if isinstance(lo, str) != isinstance(hi, str) or not lo < hi:
                return issue(f"range {i + 1} [{lo!r}, {hi!r}] must have lo < hi, both "
                             "numbers or both dates/timestamps", f"{PATH}.ranges")
            if i and ranges[i - 1][1] != lo:
                return issue(f"range {i + 1} starts at {lo!r} but range {i} ends at "
                             f"{ranges[i - 1][1]!r}: ranges must be sorted and contiguous, so "
                             "no row falls between two parts", f"{PATH}.ranges")
    return PartitionSpec("database", column=str(raw["column"]), count=raw.get("count"),
                         ranges=ranges, interval=raw.get("interval"),
                         parallelism=raw.get("parallelism")), []
