"""The facets of the load task's OpenLineage output dataset.

What the table is (``schema`` with nested fields, ``documentation``, ``ownership``, ``tags`` for
tags and classification, table and column level), where each column came from
(``columnLineage``, source column to table column), what this load wrote (``outputStatistics``:
rows, bytes, files) and what the contract's quality rules found (``dataQualityAssertions``, and
``dataQualityMetrics`` with the run's row count and each column's null count). Governance the
spec has no facet for (retention, free keys such as cost_centre, business names, custom
properties) goes in the custom ``dativo_governance`` facet, whose JSON schema ships beside this
module. Everything is built from the job as written and from what the load returned: no secret
is resolved here and no facet holds one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.facet_v2 import column_lineage_dataset as cl
from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
from openlineage.client.facet_v2 import data_quality_metrics_dataset as dq
from openlineage.client.facet_v2 import (
    documentation_dataset,
    ownership_dataset,
    schema_dataset,
    tags_dataset,
)
from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
from openlineage.client.generated.base import DatasetFacet

from airflow_provider_dativo.contracts.model import INGEST_DATE

if TYPE_CHECKING:
    from airflow_provider_dativo.config.specs import JobSpec
    from airflow_provider_dativo.contracts.model import FieldSpec

log = logging.getLogger(__name__)

# The custom facet's schema: shipped in the package, named by a URN (there is no hosted copy).
GOVERNANCE_FACET = "dativo_governance"
GOVERNANCE_SCHEMA_FILE = Path(__file__).with_name("DativoGovernanceDatasetFacet.json")
GOVERNANCE_SCHEMA_URL = ("urn:dativo:openlineage:1-0-0:DativoGovernanceDatasetFacet.json"
                         "#/$defs/DativoGovernanceDatasetFacet")


@attr.define
class DativoGovernanceDatasetFacet(DatasetFacet):
    """The custom facet: its JSON schema is ``GOVERNANCE_SCHEMA_FILE``."""

    table: dict[str, Any] = attr.field(factory=dict)
    columns: dict[str, Any] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return GOVERNANCE_SCHEMA_URL


def dataset_facets(job: JobSpec, source: tuple[str, str],
                   quality: Sequence[Mapping[str, Any]] = (),
                   metrics: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The output dataset's facets: ``source`` is the (namespace, name) its columns come from,
    ``quality`` the run's rule results (``quality_gate.RuleResult.record``) and ``metrics``
    what the load measured (``run_metrics``)."""

    facets: dict[str, Any] = {"schema": schema_dataset.SchemaDatasetFacet(
        fields=[_schema_field(spec, i + 1) for i, spec in enumerate(job.contract.fields)])}
    description = job.contract.description
    if description:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
            description=description, contentType="text/plain")
    owner = job.governance.value("owner")
    if owner:
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=str(o)) for o in _listed(owner)])
    tags = _tags(job)
    if tags is not None:
        facets["tags"] = tags
    facets["columnLineage"] = _column_lineage(job, source)
    custom = _governance_facet(job)
    if custom is not None:
        facets[GOVERNANCE_FACET] = custom
    assertions = _assertions(job, quality)
    if assertions is not None:
        facets["dataQualityAssertions"] = assertions
    if metrics:
        facets["dataQualityMetrics"] = dq.DataQualityMetricsDatasetFacet(
            rowCount=metrics["rows"], bytes=metrics["bytes"], fileCount=metrics["files"],
            columnMetrics={name: dq.ColumnMetrics(nullCount=count)
                           for name, count in metrics["null_counts"].items()})
    return facets


def output_facets(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """``outputStatistics`` of what this attempt committed (none for a no-op retry)."""
    if not metrics:
        return {}

    return {"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(
        rowCount=metrics["rows"], size=metrics["bytes"], fileCount=metrics["files"])}


def _listed(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else [value]


def _schema_field(spec: FieldSpec, position: int | None = None) -> Any:
    """One column with its nested fields: a struct's fields, a list's ``element``."""

    children = [_schema_field(f) for f in spec.fields]
    if spec.items is not None:
        children.append(_schema_field(spec.items))
    return schema_dataset.SchemaDatasetFacetFields(
        name=spec.name, type=spec.type, description=spec.description,
        ordinal_position=position, fields=children)


def _tags(job: JobSpec) -> Any:
    """Tags and classification, of the table and of each column, with where each came from."""

    found: list[Any] = []
    governance = job.governance
    for key in ("tags", "classification"):
        item = governance.table.get(key)
        if item is None or item.value in (None, "", [], ()):
            continue
        for value in _listed(item.value):
            found.append(tags_dataset.TagsDatasetFacetFields(
                key=str(value) if key == "tags" else "classification",
                value="true" if key == "tags" else str(value), source=item.origin))
    for column in governance.columns:
        if column.classification is not None:
            found.append(tags_dataset.TagsDatasetFacetFields(
                key="classification", value=str(column.classification.value),
                source=column.classification.origin, field=column.path))
        found += [tags_dataset.TagsDatasetFacetFields(key=tag, value="true", source="contract",
                                                      field=column.path)
                  for tag in column.tags]
    return tags_dataset.TagsDatasetFacet(tags=found) if found else None


def _column_lineage(job: JobSpec, source: tuple[str, str]) -> Any:
    """Each table column from its source column (the contract's ``physicalName``, else its
    name), copied as it is read: an identity transformation. ``ingest_date`` is dativo's."""

    namespace, name = source
    fields = {}
    for spec in job.contract.fields:
        if spec.name == INGEST_DATE and spec.physical_name is None:
            continue
        fields[spec.name] = cl.Fields(inputFields=[cl.InputField(
            namespace=namespace, name=name, field=spec.source_name,
            transformations=[cl.Transformation(type="DIRECT", subtype="IDENTITY",
                                               masking=False)])])
    return cl.ColumnLineageDatasetFacet(fields=fields)


def _governance_facet(job: JobSpec) -> Any:
    """What the spec's facets cannot say: retention, free keys and, per column, the business
    name and custom properties; each table value with the file level it came from."""

    table = {key: {"value": item.value, "origin": item.origin}
             for key, item in job.governance.table.items()
             if key not in ("owner", "tags", "classification")
             and item.value not in (None, "", [], ())}
    columns = {}
    for column in job.governance.columns:
        entry: dict[str, Any] = {}
        if column.business_name:
            entry["businessName"] = column.business_name
        if column.custom:
            entry["customProperties"] = json.loads(json.dumps(dict(column.custom), default=str))
        if entry:
            columns[column.path] = entry
    if not table and not columns:
        return None
    return DativoGovernanceDatasetFacet(table=json.loads(json.dumps(table, default=str)),
                                        columns=columns)


def _assertions(job: JobSpec, quality: Sequence[Mapping[str, Any]]) -> Any:
    """One assertion per rule that ran: ``success`` is false when it found issues, rows a warn
    run quarantined included; a rule the job skipped ran on nothing and is left out."""

    rules = {r.name: r for r in job.contract.quality}
    found = []
    for record in quality:
        if record.get("status") == "skipped":
            continue
        rule = rules.get(str(record["name"]))
        kind = record.get("type") or (rule.type if rule else "library")
        params = {k: record[k] for k in ("status", "dimension") if record.get(k) is not None}
        if rule is not None and rule.unit != "rows":
            params["unit"] = rule.unit
        found.append(dqa.Assertion(
            assertion=(rule.metric if rule is not None and rule.metric else str(kind)),
            success=record.get("status") == "pass", column=record.get("column"),
            severity=record.get("severity"), name=str(record["name"]),
            description=rule.description if rule is not None else None,
            expected=str(record.get("bound")), actual=_actual(record.get("measured")),
            content=rule.query if rule is not None and rule.query else None,
            contentType="sql" if rule is not None and rule.query else None, params=params))
    return dqa.DataQualityAssertionsDatasetFacet(assertions=found) if found else None


def _actual(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def run_metrics(job: JobSpec, manifest: Mapping[str, Any], rows: int) -> dict[str, Any]:
    """What a load committed: rows, bytes and files from the manifest, and each top-level
    column's null count from the staged Parquet footers (no data page is read)."""
    files = list(manifest.get("files") or ())
    try:
        null_counts = _null_counts(job, files)
    except Exception as exc:  # lineage is a report: a footer it cannot read never fails a load
        log.warning("no null counts for the lineage of %s: %s", job.dag_id, exc)
        null_counts = {}
    return {"rows": int(rows), "bytes": sum(int(f.get("bytes") or 0) for f in files),
            "files": len(files), "null_counts": null_counts}


def _null_counts(job: JobSpec, files: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    import pyarrow.parquet as pq

    from airflow_provider_dativo import runner

    wanted = {spec.name for spec in job.contract.fields if not spec.fields and spec.items is None}
    if not files:
        return {}
    io = runner.open_job_target(job).file_io()
    counts: dict[str, int] = {}
    for entry in files:
        with io.new_input(str(entry["path"])).open() as stream:
            metadata = pq.ParquetFile(stream).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for i in range(row_group.num_columns):
                column = row_group.column(i)
                stats = column.statistics
                if column.path_in_schema in wanted and stats is not None and \
                        stats.has_null_count:
                    counts[column.path_in_schema] = (counts.get(column.path_in_schema, 0)
                                                     + stats.null_count)
    return counts

