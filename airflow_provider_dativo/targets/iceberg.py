"""Apache Iceberg target: register staged Parquet files with a table, atomically and idempotently.

Each load is one Iceberg snapshot whose summary carries the run id, the writer (job and stream)
and its incremental state, so data and state move together: either both are in the table or
neither is. Several jobs may share a table: each reads back only its own state. A retried load
recognizes its own earlier commit in the snapshot history, or, once snapshot expiry has removed
it, in the bounded record of run ids the writer keeps in a table property.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import pyarrow as pa

from airflow_provider_dativo.config.governance import COLUMN_PREFIX
from airflow_provider_dativo.contracts.quality import split_results
from airflow_provider_dativo.errors import DativoError, TargetError
from airflow_provider_dativo.targets.base import (
    RUN_ID_RECORD,
    UNKNOWN_BASE,
    Base,
    CommitHead,
    CommitResult,
    StagedFile,
    safe_run_id,
    writer_refused,
)
from airflow_provider_dativo.targets.iceberg_catalog import open_catalog
from airflow_provider_dativo.targets.iceberg_modes import check_write_mode, stage_load
from airflow_provider_dativo.targets.staging import (
    PartitionFieldLike,
    PartitionSpecField,
    StagedParquetWriter,
    parquet_file_schema,
    resolve_partitioning,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot
    from pyiceberg.types import IcebergType, NestedField

log = logging.getLogger(__name__)

SUMMARY_RUN_ID = "dativo.run-id"
SUMMARY_STATE = "dativo.state"
SUMMARY_ROWS = "dativo.rows"
# The job (DAG id, and "/<stream>" for a stream of a multi-stream job) that made the commit.
# Snapshots from before it was recorded have none and count as every writer's.
SUMMARY_WRITER = "dativo.writer"
SUMMARY_QUARANTINE = "dativo.quarantine"

# One table property per writer, "dativo.commits.<writer>", written in the same metadata commit
# as each of its snapshots: JSON with its last RUN_ID_RECORD run ids (oldest first), its newest
# state and quarantine entry. The run ids are always consulted, so a retry is recognized after
# snapshot expiry; state is only taken from it once expiry has cut the history short, because the
# snapshot summaries follow rollbacks and branches and a property does not.
PROPERTY_COMMITS = "dativo.commits"
# What versions before the per-writer record kept: the newest commit of any writer.
PROPERTY_LAST_RUN_ID = "dativo.last-run-id"
PROPERTY_LAST_STATE = "dativo.last-state"

# Table properties that pyiceberg manages itself and must not be compared or set as governance.
_RESERVED_PROPERTIES = frozenset({"format-version"})

@dataclass(frozen=True)
class IcebergSettings:
    catalog_name: str
    # Handed as-is to ``pyiceberg.catalog.load_catalog(name, **props)``.
    catalog_properties: Mapping[str, str]
    namespace: str  # the tenant
    table: str

    @property
    def identifier(self) -> str:
        return f"{self.namespace}.{self.table}"


class IcebergTarget:
    """Lands staged Parquet files in one Iceberg table; implements ``targets.base.Target``."""

    commit_attempts = 5
    retry_backoff_seconds = 0.1

    def __init__(
        self,
        settings: IcebergSettings,
        schema: pa.Schema,
        partitioning: Sequence[PartitionFieldLike] = (),
        table_properties: Mapping[str, str] | None = None,
        write_mode: str = "append",
        primary_key: Sequence[str] = (),
        writer: str | None = None,
    ) -> None:
        """``writer`` names the job (and stream) whose commits and state this target reads and
        writes; None reads and writes commits that name no writer, as earlier versions did."""
        if not settings.namespace or not settings.table:
            raise TargetError("Iceberg target needs both a namespace and a table name")
        check_write_mode(write_mode, primary_key)
        self._write_mode = write_mode
        self._primary_key = tuple(primary_key)
        self._settings = settings
        self._writer = writer
        self._schema = schema
        self._partitioning = resolve_partitioning(schema, partitioning)
        self._table_properties = {str(k): str(v) for k, v in (table_properties or {}).items()}
        # Built on first use: DAG files construct targets at parse time and must not reach the
        # catalog there.
        self._catalog: Catalog | None = None
        self._table: Table | None = None

    @property
    def table_identifier(self) -> str:
        return self._settings.identifier

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def partitioning(self) -> tuple[PartitionSpecField, ...]:
        return self._partitioning

    # -- catalog access ---------------------------------------------------------------------

    def catalog(self) -> Catalog:
        if self._catalog is None:
            try:
                self._catalog = open_catalog(
                    self._settings.catalog_name, self._settings.catalog_properties
                )
            except Exception as exc:
                raise TargetError(
                    f"cannot load Iceberg catalog {self._settings.catalog_name!r}: {exc}; "
                    "check the catalog properties of the connection"
                ) from exc
        return self._catalog

    def load_table(self) -> Table:
        """The table as the catalog has it now (fresh metadata on every call)."""
        from pyiceberg.exceptions import NoSuchTableError

        catalog = self.catalog()
        try:
            table = catalog.load_table(self.table_identifier)
        except NoSuchTableError as exc:
            raise TargetError(
                f"Iceberg table {self.table_identifier} does not exist; run prepare() "
                "(the job's validate task) before extracting or loading"
            ) from exc
        except Exception as exc:
            raise TargetError(f"cannot load Iceberg table {self.table_identifier}: {exc}") from exc
        self._table = table
        return table

    def _known_table(self) -> Table:
        # Location and FileIO do not change between commits, so any loaded copy will do.
        return self._table if self._table is not None else self.load_table()

    # -- prepare ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the namespace and table if missing, or bring an existing table up to date."""
        from pyiceberg.exceptions import NoSuchTableError

        catalog = self.catalog()
        last_error: Exception | None = None
        for attempt in range(self.commit_attempts):
            try:
                self._ensure_namespace(catalog)
                try:
                    table = catalog.load_table(self.table_identifier)
                except NoSuchTableError:
                    created = self._create_table(catalog)
                    if created is not None:
                        self._table = created
                        return
                    table = catalog.load_table(self.table_identifier)
                self._table = self._reconcile(table)
                return
            except DativoError:
                raise
            except Exception as exc:
                if not _retryable(exc):
                    raise TargetError(
                        f"cannot prepare Iceberg table {self.table_identifier}: {exc}"
                    ) from exc
                last_error = exc
                if attempt + 1 < self.commit_attempts:
                    self._backoff(attempt)
        raise TargetError(
            f"cannot prepare Iceberg table {self.table_identifier}: other writers kept changing it "
            f"({last_error}); retry the task"
        )

    def check(self) -> str:
        """The catalog answers and the namespace exists, created when missing; no table is
        created or changed."""
        catalog = self.catalog()
        namespace = self._settings.namespace
        try:
            existed = catalog.namespace_exists(namespace)
            if not existed:
                self._ensure_namespace(catalog)
        except Exception as exc:
            raise TargetError(
                f"Iceberg catalog {self._settings.catalog_name!r} cannot check or create "
                f"namespace {namespace!r}: {type(exc).__name__}: {exc}; check the catalog's "
                "address and permissions"
            ) from exc
        return (f"Iceberg catalog {self._settings.catalog_name!r} reachable; namespace "
                f"{namespace!r} {'exists' if existed else 'created'}")

    def _ensure_namespace(self, catalog: Catalog) -> None:
        from pyiceberg.exceptions import NamespaceAlreadyExistsError

        if catalog.namespace_exists(self._settings.namespace):
            return
        # Another worker may create it between the check and the create. The SQL catalog
        # reports that race as a unique-constraint error rather than NamespaceAlreadyExistsError.
        try:
            catalog.create_namespace(self._settings.namespace)
        except NamespaceAlreadyExistsError:
            return
        except Exception:
            if not catalog.namespace_exists(self._settings.namespace):
                raise

    def _create_table(self, catalog: Catalog) -> Table | None:
        """Create the table in one transaction; None when someone else created it first."""
        from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError
        from pyiceberg.schema import assign_fresh_schema_ids
        from pyiceberg.table import TableProperties

        schema = _with_docs(assign_fresh_schema_ids(_to_iceberg_schema(self._schema)),
                            _column_docs(self._schema))
        spec = _partition_spec(schema, self._partitioning)
        try:
            tx = catalog.create_table_transaction(
                self.table_identifier,
                schema=schema,
                partition_spec=spec,
                properties=self._table_properties,
            )
            # Stored up front so add_files never needs to add it as a side effect of a load.
            name_mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
            tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: name_mapping})
            table = tx.commit_transaction()
        except TableAlreadyExistsError:
            return None
        except CommitFailedException:
            # Some catalogs report a lost create race as a failed assert-create requirement.
            if catalog.table_exists(self.table_identifier):
                return None
            raise
        log.info("created Iceberg table %s at %s", self.table_identifier, table.location())
        return table

    def _reconcile(self, table: Table) -> Table:
        self._check_partitioning(table)
        problems, changes = _schema_diff(table.schema(), _to_iceberg_schema(self._schema))
        if problems:
            raise TargetError(
                f"the schema no longer fits Iceberg table {self.table_identifier}:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nrevert the contract change, or migrate the table by hand "
                "(Iceberg only evolves by adding optional columns, widening types and relaxing "
                "required columns)"
            )
        properties = {
            k: v
            for k, v in self._table_properties.items()
            if k not in _RESERVED_PROPERTIES and table.properties.get(k) != v
        }
        # Column governance follows the contract: a column's property the contract no longer
        # gives (classification dropped, column removed) goes, rather than misleading readers.
        stale = sorted(k for k in table.properties
                       if k.startswith(COLUMN_PREFIX) and k not in self._table_properties)
        docs = _column_docs(self._schema)
        if not changes and not properties and not stale and not _doc_changes(table.schema(),
                                                                              docs):
            return table
        # One transaction: a concurrent writer sees either the old table or all of the changes.
        tx = table.transaction()
        if changes:
            with tx.update_schema() as update:
                update.union_by_name(_catalog_arrow_schema(self._schema))
        # after the union, so columns it added get their docs too
        doc_changes = _doc_changes(tx.table_metadata.schema(), docs)
        if doc_changes:
            with tx.update_schema() as update:
                for path, doc in doc_changes.items():
                    update.update_column(path, doc=doc)
        if properties:
            tx.set_properties(properties)
        if stale:
            tx.remove_properties(*stale)
        updated = tx.commit_transaction()
        for change in changes:
            log.info("evolved Iceberg table %s: %s", self.table_identifier, change)
        if properties or stale:
            log.info(
                "updated properties of Iceberg table %s: %s",
                self.table_identifier,
                ", ".join(sorted([*properties, *(f"-{k}" for k in stale)])),
            )
        if doc_changes:
            log.info("updated column docs of Iceberg table %s: %s", self.table_identifier,
                     ", ".join(doc_changes))
        return updated

    def _check_partitioning(self, table: Table) -> None:
        schema = table.schema()
        existing = [
            (schema.find_column_name(f.source_id), str(f.transform)) for f in table.spec().fields
        ]
        wanted = [(p.column, p.transform) for p in self._partitioning]
        if existing != wanted:
            raise TargetError(
                f"Iceberg table {self.table_identifier} is partitioned by "
                f"{_describe_partitioning(existing)} but the job asks for "
                f"{_describe_partitioning(wanted)}; align the job's partitioning with the table "
                "(partition evolution is not automatic)"
            )

    # -- staging ----------------------------------------------------------------------------

    def data_location(self, run_id: str) -> str:
        table = self._known_table()
        # Honour write.data.path like every Iceberg writer does; default is <location>/data.
        root = table.properties.get("write.data.path") or f"{table.location().rstrip('/')}/data"
        return f"{root.rstrip('/')}/_dativo_run={safe_run_id(run_id)}"

    def open_output(self, path: str) -> BinaryIO:
        """A new file opened via the table's FileIO, so object storage gets catalog credentials."""
        try:
            stream = self._known_table().io.new_output(path).create(overwrite=False)
        except DativoError:
            raise
        except Exception as exc:
            raise TargetError(
                f"cannot create {path} for Iceberg table {self.table_identifier}: {exc}"
            ) from exc
        return cast(BinaryIO, stream)

    def staged_writer(self, run_id: str, **options: Any) -> StagedParquetWriter:
        """A writer for this run's data files, partitioned the way the table is."""
        return StagedParquetWriter(
            self.data_location(run_id),
            self._schema,
            partition_by=self._partitioning,
            open_output=self.open_output,
            **options,
        )

    # -- state ------------------------------------------------------------------------------

    @property
    def writer(self) -> str | None:
        return self._writer

    def read_state(self) -> dict[str, Any] | None:
        return self.committed_head().state

    def committed_head(self) -> CommitHead:
        return _head(self.load_table().metadata, self._writer, self.table_identifier)

    def is_committed(self, run_id: str) -> bool:
        return _find_commit(self.load_table().metadata, run_id, self._writer)[0]

    # -- commit -----------------------------------------------------------------------------

    def commit(
        self,
        files: Sequence[StagedFile],
        state: Mapping[str, Any] | None,
        run_id: str,
        *,
        base: Base = UNKNOWN_BASE,
        quarantine: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Add staged files and state to the table as one snapshot; a known run id is a no-op.

        Zero files still produce a snapshot (pyiceberg's fast append writes an empty ``append``
        snapshot), so the state and the run id are recorded even when a run found nothing new.
        Every attempt re-reads the table: a retry after a conflict with another writer commits
        only when this writer's newest commit is still ``base`` (see ``targets.base.Target``).
        """

        if not run_id:
            raise TargetError("run id must not be empty")
        paths = [f.path for f in files]
        if len(set(paths)) != len(paths):
            raise TargetError(
                f"the staged file list for run {run_id!r} names a file twice; "
                "re-run extract to rebuild it"
            )
        rows = sum(f.rows for f in files)
        state, quality = split_results(state)  # the run's quality results: dativo.quality.*
        properties = {SUMMARY_RUN_ID: run_id, SUMMARY_ROWS: str(rows), **quality}
        if self._writer is not None:
            properties[SUMMARY_WRITER] = self._writer
        if state is not None:
            properties[SUMMARY_STATE] = _encode_state(state)
        if quarantine is not None:
            properties[SUMMARY_QUARANTINE] = _encode_state(quarantine)

        last_error: Exception | None = None
        for attempt in range(self.commit_attempts):
            table = self.load_table()
            found, previous = _find_commit(table.metadata, run_id, self._writer)
            if found:
                log.info("run %s is already committed to %s", run_id, self.table_identifier)
                return CommitResult(
                    table=self.table_identifier,
                    rows=_int(_summary(previous).get(SUMMARY_ROWS)) if previous else 0,
                    committed=False,
                    snapshot_id=previous.snapshot_id if previous else None,
                )
            head = _head(table.metadata, self._writer, self.table_identifier)
            if base is not UNKNOWN_BASE and head.run_id != base:
                raise writer_refused(self._writer, self.table_identifier, run_id, base,
                                     head.run_id)
            record = _commit_record(table.metadata, self._writer, run_id, state, head, quarantine)
            try:
                snapshot = self._commit_once(table, files, properties, record)
            except DativoError:
                raise
            except FileNotFoundError as exc:
                raise TargetError(
                    f"a staged file of run {run_id!r} is missing, so nothing was committed to "
                    f"{self.table_identifier}: {exc}; re-run extract, then load"
                ) from exc
            except Exception as exc:
                if not _retryable(exc):
                    raise TargetError(
                        f"cannot commit run {run_id!r} to Iceberg table {self.table_identifier}, "
                        f"nothing was committed: {exc}"
                    ) from exc
                last_error = exc
                log.warning(
                    "commit of run %s to %s conflicted with another writer (attempt %d/%d): %s",
                    run_id,
                    self.table_identifier,
                    attempt + 1,
                    self.commit_attempts,
                    exc,
                )
                if attempt + 1 < self.commit_attempts:
                    self._backoff(attempt)
                continue
            added = _int(_summary(snapshot).get("added-records"))
            if added != rows:
                log.warning(
                    "run %s: staged files declare %d rows but Iceberg counted %d",
                    run_id,
                    rows,
                    added,
                )
            return CommitResult(
                table=self.table_identifier,
                rows=rows,
                committed=True,
                snapshot_id=snapshot.snapshot_id,
            )
        raise TargetError(
            f"cannot commit run {run_id!r} to Iceberg table {self.table_identifier}: other writers "
            f"committed first {self.commit_attempts} times ({last_error}); retry the load task, "
            "it is safe to repeat"
        )

    def _commit_once(
        self, table: Table, files: Sequence[StagedFile], properties: dict[str, str],
        record: str,
    ) -> Snapshot:
        from pyiceberg.table import Table, TableProperties, Transaction

        # pyiceberg retries conflicting appends on its own, but it would not re-check the run id,
        # so a duplicate load racing this one could land twice. Retries are ours alone: this
        # in-memory copy of the table turns pyiceberg's off, and the setting is never written
        # because catalogs apply the staged updates to their own current metadata.
        no_retry = {**table.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
        view = Table(
            table.name(),
            table.metadata.model_copy(update={"properties": no_retry}),
            table.metadata_location,
            table.io,
            table.catalog,
        )
        tx = Transaction(view)
        stage_load(tx, self._write_mode, files, properties, self._primary_key)
        # The catalog applies this to its current metadata, but only after the snapshot's
        # requirement (the branch is still at the snapshot this attempt read) held, so the record
        # was computed from the metadata it replaces.
        tx.set_properties({_record_property(self._writer): record})
        committed = tx.commit_transaction()
        found, snapshot = _find_commit(committed.metadata, properties[SUMMARY_RUN_ID],
                                       self._writer)
        if not found or snapshot is None:
            raise TargetError(
                f"commit to {self.table_identifier} returned without the new snapshot; "
                "check the table history before retrying"
            )
        self._table = committed
        return snapshot

    # -- orphans ----------------------------------------------------------------------------

    def remove_orphans(self, older_than: dt.timedelta) -> list[str]:
        """Delete staged files of runs that never committed, once older than ``older_than``.

        Only files in dativo's run folders are candidates, and a file any snapshot still
        references is kept (expiring snapshots is the table's own maintenance).
        """
        from airflow_provider_dativo.targets.storage import Storage

        table = self.load_table()
        root = table.properties.get("write.data.path") or f"{table.location().rstrip('/')}/data"
        referenced = set(table.inspect.all_files().column("file_path").to_pylist())
        cutoff = dt.datetime.now(dt.UTC) - older_than
        storage = Storage(io=table.io)
        removed = []
        for f in storage.list_files(root):
            if "/_dativo_run=" not in f.path or f.path in referenced:
                continue
            if f.modified is not None and f.modified > cutoff:
                continue  # may belong to a run still extracting
            storage.delete(f.path)
            removed.append(f.path)
        return removed

    def _backoff(self, attempt: int) -> None:
        delay = self.retry_backoff_seconds * (2**attempt)
        time.sleep(delay + random.uniform(0, delay / 2))


def _retryable(exc: BaseException) -> bool:
    """Another writer got in first: a commit conflict, an unknown commit outcome (the next
    attempt finds the run id if it did land) or a catalog database locked by that writer
    (SQLite). Worth another attempt on fresh metadata."""
    from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException

    if isinstance(exc, CommitFailedException | CommitStateUnknownException):
        return True
    text = str(exc).lower()
    return type(exc).__name__ == "OperationalError" and ("locked" in text or "busy" in text)


# -- snapshot history ---------------------------------------------------------------------------


def _ancestry(metadata: TableMetadata) -> Iterator[Snapshot]:
    """The current snapshot and its ancestors, newest first."""
    snapshot = metadata.current_snapshot()
    while snapshot is not None:
        yield snapshot
        if snapshot.parent_snapshot_id is None:
            return
        snapshot = metadata.snapshot_by_id(snapshot.parent_snapshot_id)


def _history_truncated(metadata: TableMetadata) -> bool:
    """Whether snapshot expiry removed older parts of the current ancestry."""
    oldest = None
    for snapshot in _ancestry(metadata):
        oldest = snapshot
    if oldest is None:
        return False
    # Java's expiry leaves a dangling parent id behind; pyiceberg's clears it, but the oldest
    # survivor's sequence number still shows that commits came before it (v2 tables number
    # commits from 1).
    return oldest.parent_snapshot_id is not None or (oldest.sequence_number or 0) > 1


def _mine(summary: Mapping[str, str], writer: str | None) -> bool:
    """Whether a dativo commit belongs to ``writer``; one that names no writer is everyone's."""
    return SUMMARY_RUN_ID in summary and summary.get(SUMMARY_WRITER) in (None, writer)


def _find_commit(
    metadata: TableMetadata, run_id: str, writer: str | None
) -> tuple[bool, Snapshot | None]:
    """Whether ``writer`` committed ``run_id``, and its snapshot when the history still has it."""
    for snapshot in _ancestry(metadata):
        summary = _summary(snapshot)
        if summary.get(SUMMARY_RUN_ID) == run_id and _mine(summary, writer):
            return True, snapshot
    if run_id in _record(metadata, writer).get("run_ids", ()):
        return True, None
    if _history_truncated(metadata) and metadata.properties.get(PROPERTY_LAST_RUN_ID) == run_id:
        return True, None
    return False, None


def _head(metadata: TableMetadata, writer: str | None, table: str) -> CommitHead:
    """``writer``'s newest commit in the current ancestry; its record fills in what snapshot
    expiry removed."""
    newest: Mapping[str, str] | None = None
    for snapshot in _ancestry(metadata):
        summary = _summary(snapshot)
        if not _mine(summary, writer):
            continue
        newest = newest or summary
        if SUMMARY_STATE in summary:
            return CommitHead(newest[SUMMARY_RUN_ID], _decode_state(summary[SUMMARY_STATE], table),
                              _decode_optional(newest.get(SUMMARY_QUARANTINE), table))
    quarantine = None if newest is None else newest.get(SUMMARY_QUARANTINE)
    run_id = None if newest is None else newest[SUMMARY_RUN_ID]
    if not _history_truncated(metadata):
        return CommitHead(run_id, None, _decode_optional(quarantine, table))
    record = _record(metadata, writer)
    if record:
        run_ids = record.get("run_ids") or [None]
        if newest is None:
            return CommitHead(run_ids[-1], record.get("state"), record.get("quarantine"))
        return CommitHead(run_id, record.get("state"), _decode_optional(quarantine, table))
    legacy = metadata.properties.get(PROPERTY_LAST_STATE)
    return CommitHead(run_id or metadata.properties.get(PROPERTY_LAST_RUN_ID),
                      _decode_optional(legacy, table), _decode_optional(quarantine, table))


def _record_property(writer: str | None) -> str:
    return PROPERTY_COMMITS if writer is None else f"{PROPERTY_COMMITS}.{writer}"


def _record(metadata: TableMetadata, writer: str | None) -> dict[str, Any]:
    raw = metadata.properties.get(_record_property(writer))
    if not raw:
        return {}
    try:
        record = json.loads(raw)
    except ValueError:
        return {}  # damaged by hand: the snapshot history still answers
    return record if isinstance(record, dict) else {}


def _commit_record(
    metadata: TableMetadata,
    writer: str | None,
    run_id: str,
    state: Mapping[str, Any] | None,
    head: CommitHead,
    quarantine: Mapping[str, Any] | None,
) -> str:
    """The writer's record after this commit: bounded, so table metadata stays small."""
    run_ids = [r for r in _record(metadata, writer).get("run_ids", []) if r != run_id]
    record: dict[str, Any] = {
        "run_ids": [*run_ids, run_id][-RUN_ID_RECORD:],
        "state": dict(state) if state is not None else head.state,
    }
    if quarantine is not None:
        record["quarantine"] = dict(quarantine)
    return _encode_state(record)


def _summary(snapshot: Snapshot | None) -> dict[str, str]:
    if snapshot is None or snapshot.summary is None:
        return {}
    return snapshot.summary.additional_properties


def _encode_state(state: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(state), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TargetError(
            f"incremental state must be plain JSON (strings, numbers, booleans, lists, objects): "
            f"{exc}"
        ) from exc


def _decode_optional(raw: str | None, table: str) -> dict[str, Any] | None:
    return None if raw is None else _decode_state(raw, table)


def _decode_state(raw: str, table: str) -> dict[str, Any]:
    try:
        state = json.loads(raw)
    except ValueError as exc:
        raise TargetError(f"the state recorded in {table} is not valid JSON: {exc}") from exc
    if not isinstance(state, dict):
        raise TargetError(f"the state recorded in {table} is not a JSON object")
    return state


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


# -- schema and partitioning ----------------------------------------------------------------------


def _catalog_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """The staged-file schema, with column descriptions kept so they become Iceberg column docs."""
    fields = []
    for source, target in zip(schema, parquet_file_schema(schema), strict=True):
        meta = source.metadata or {}
        doc = meta.get(b"doc") or meta.get(b"description")
        fields.append(target.with_metadata({b"doc": doc}) if doc else target)
    return pa.schema(fields)


def _to_iceberg_schema(schema: pa.Schema) -> Schema:
    # pyiceberg's own create_table path uses this converter; its public counterpart needs field
    # ids or a name mapping, which a contract's schema does not have.
    from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids

    try:
        return _pyarrow_to_schema_without_ids(
            _catalog_arrow_schema(schema), downcast_ns_timestamp_to_us=True
        )
    except Exception as exc:
        raise TargetError(f"the schema cannot be stored in Iceberg: {exc}") from exc


def _column_docs(schema: pa.Schema) -> dict[str, str]:
    """Column path (``a.b`` for nested, ``a.element.b`` inside a list) → the contract's
    description of it, which is the Iceberg column's doc."""
    docs: dict[str, str] = {}

    def visit(field: pa.Field, path: str) -> None:
        meta = field.metadata or {}
        doc = meta.get(b"doc") or meta.get(b"description")
        if doc:
            docs[path] = doc.decode()
        kind = field.type
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                child = kind.field(i)
                visit(child, f"{path}.{child.name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            visit(kind.value_field, f"{path}.element")

    for field in schema:
        visit(field, field.name)
    return docs


def _with_docs(schema: Schema, docs: Mapping[str, str]) -> Schema:
    """``schema`` with each column's doc set from ``docs`` (a post-processing step, so the
    type conversion stays free of governance)."""
    from pyiceberg.schema import Schema as IcebergSchema
    from pyiceberg.types import ListType, StructType

    def fields(items: Sequence[NestedField], prefix: str) -> list[NestedField]:
        out = []
        for f in items:
            path = f"{prefix}{f.name}"
            kind = f.field_type
            if isinstance(kind, StructType):
                kind = StructType(*fields(kind.fields, f"{path}."))
            elif isinstance(kind, ListType) and isinstance(kind.element_type, StructType):
                kind = ListType(kind.element_id,
                                StructType(*fields(kind.element_type.fields, f"{path}.element.")),
                                kind.element_required)
            out.append(f.model_copy(update={"field_type": kind, "doc": docs.get(path, f.doc)}))
        return out

    return IcebergSchema(*fields(schema.fields, ""), schema_id=schema.schema_id,
                         identifier_field_ids=schema.identifier_field_ids)


def _doc_changes(current: Schema, docs: Mapping[str, str]) -> dict[str, str]:
    """The docs that differ from the table's, for columns the table has."""
    changes = {}
    for path, doc in docs.items():
        try:
            field = current.find_field(path)
        except ValueError:
            continue  # not in the table (yet)
        if field.doc != doc:
            changes[path] = doc
    return changes


def _partition_spec(schema: Schema, partitioning: Sequence[PartitionSpecField]) -> PartitionSpec:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import (
        BucketTransform,
        DayTransform,
        HourTransform,
        IdentityTransform,
        MonthTransform,
        YearTransform,
    )

    transforms: dict[str, Any] = {
        "identity": IdentityTransform,
        "year": YearTransform,
        "month": MonthTransform,
        "day": DayTransform,
        "hour": HourTransform,
    }
    # Field ids 1000+ follow the Iceberg convention for partition fields.
    fields = [
        PartitionField(
            source_id=schema.find_field(p.column).field_id,
            field_id=1000 + i,
            transform=(
                BucketTransform(p.buckets) if p.buckets is not None else transforms[p.transform]()
            ),
            name=p.name,
        )
        for i, p in enumerate(partitioning)
    ]
    return PartitionSpec(*fields)


def _describe_partitioning(fields: Sequence[tuple[str | None, str]]) -> str:
    if not fields:
        return "nothing (unpartitioned)"
    return ", ".join(f"{t}({c})" for c, t in fields)


def _schema_diff(current: Schema, wanted: Schema) -> tuple[list[str], list[str]]:
    """Problems that refuse the new schema, and the compatible changes it brings."""
    problems: list[str] = []
    changes: list[str] = []
    _diff_fields(list(current.fields), list(wanted.fields), "", problems, changes)
    return problems, changes


def _diff_fields(
    current: list[NestedField],
    wanted: list[NestedField],
    prefix: str,
    problems: list[str],
    changes: list[str],
) -> None:
    by_name = {f.name: f for f in wanted}
    for old in current:
        path = f"{prefix}{old.name}"
        new = by_name.pop(old.name, None)
        if new is None:
            if old.required:
                problems.append(
                    f"required column {path!r} is missing; files without it cannot be added"
                )
            continue
        _diff_field(old, new, path, problems, changes)
    for new in by_name.values():
        path = f"{prefix}{new.name}"
        if new.required:
            problems.append(
                f"new column {path!r} is required; Iceberg can only add optional columns to an "
                "existing table, so make it nullable"
            )
        else:
            changes.append(f"add optional column {path!r} ({new.field_type})")


def _diff_field(
    old: NestedField, new: NestedField, path: str, problems: list[str], changes: list[str]
) -> None:
    if old.optional and new.required:
        problems.append(
            f"column {path!r} is optional in the table but required now; Iceberg cannot make an "
            "existing column required"
        )
    elif old.required and new.optional:
        changes.append(f"column {path!r} becomes optional")
    _diff_type(old.field_type, new.field_type, path, problems, changes)


def _diff_type(
    old: IcebergType, new: IcebergType, path: str, problems: list[str], changes: list[str]
) -> None:
    from pyiceberg.types import ListType, MapType, StructType

    if isinstance(old, StructType) and isinstance(new, StructType):
        _diff_fields(list(old.fields), list(new.fields), f"{path}.", problems, changes)
    elif isinstance(old, ListType) and isinstance(new, ListType):
        _diff_field(old.element_field, new.element_field, f"{path}.element", problems, changes)
    elif isinstance(old, MapType) and isinstance(new, MapType):
        _diff_field(old.key_field, new.key_field, f"{path}.key", problems, changes)
        _diff_field(old.value_field, new.value_field, f"{path}.value", problems, changes)
    elif old == new or _widens(new, old):
        return  # a narrower type is read back as the table's wider one
    elif _widens(old, new):
        changes.append(f"widen column {path!r} from {old} to {new}")
    else:
        problems.append(f"column {path!r} changed type from {old} to {new}")


def _widens(narrow: IcebergType, wide: IcebergType) -> bool:
    """Whether Iceberg's type promotion rules allow ``narrow`` to be read as ``wide``."""
    from pyiceberg.types import DecimalType, DoubleType, FloatType, IntegerType, LongType

    if isinstance(narrow, IntegerType) and isinstance(wide, LongType):
        return True
    if isinstance(narrow, FloatType) and isinstance(wide, DoubleType):
        return True
    return (
        isinstance(narrow, DecimalType)
        and isinstance(wide, DecimalType)
        and narrow.scale == wide.scale
        and narrow.precision < wide.precision
    )
