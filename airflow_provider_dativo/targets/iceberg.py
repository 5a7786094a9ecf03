"""Apache Iceberg target: register staged Parquet files with a table, atomically and idempotently.

Each load is one Iceberg snapshot whose summary carries the run id, the writer (job and stream)
and its incremental state, so data and state move together: either both are in the table or
neither is. Several jobs may share a table: each reads back only its own state. A retried load
recognizes its own earlier commit in the snapshot history, or, once snapshot expiry has removed
it, in the bounded record of run ids the writer keeps in a table property.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import pyarrow as pa

from airflow_provider_dativo.contracts.quality import results_in_summary, split_results
from airflow_provider_dativo.errors import ConfigIssue, DativoError, TargetError
from airflow_provider_dativo.targets import iceberg_history as history
from airflow_provider_dativo.targets import iceberg_schema as schemas
from airflow_provider_dativo.targets.base import (
    RUN_ID_RECORD,
    UNKNOWN_BASE,
    Base,
    CommitHead,
    CommitResult,
    Description,
    StagedFile,
    safe_run_id,
    writer_refused,
)
from airflow_provider_dativo.targets.binding import (
    TableShape,
    raise_issues,
    tenant_namespace,
    writer_of,
)
from airflow_provider_dativo.targets.iceberg_catalog import (
    iceberg_catalog_properties,
    open_catalog,
    retryable,
)
from airflow_provider_dativo.targets.iceberg_files import remove_run_orphans
from airflow_provider_dativo.targets.iceberg_history import (  # noqa: F401 - where they were
    PROPERTY_COMMITS,
    PROPERTY_LAST_RUN_ID,
    PROPERTY_LAST_STATE,
    SUMMARY_QUARANTINE,
    SUMMARY_ROWS,
    SUMMARY_RUN_ID,
    SUMMARY_STATE,
    SUMMARY_WRITER,
)
from airflow_provider_dativo.targets.iceberg_modes import check_write_mode, stage_load
from airflow_provider_dativo.targets.parquet_writer import StagedParquetWriter
from airflow_provider_dativo.targets.partitioning import (
    PartitionFieldLike,
    PartitionSpecField,
    resolve_partitioning,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.io import FileIO
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from airflow_provider_dativo.config.specs import JobSpec

log = logging.getLogger(__name__)


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

    def __init__(self, settings: IcebergSettings, schema: pa.Schema,
                 partitioning: Sequence[PartitionFieldLike] = (),
                 table_properties: Mapping[str, str] | None = None, write_mode: str = "append",
                 primary_key: Sequence[str] = (), writer: str | None = None) -> None:
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
        # Opened on first use, so building a target reaches no catalog: only what reads or
        # writes the table waits on it.
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

    def describe(self) -> Description:
        return history.describe(self.load_table())

    # -- catalog access ---------------------------------------------------------------------

    def catalog(self) -> Catalog:
        if self._catalog is None:
            try:
                self._catalog = open_catalog(self._settings.catalog_name,
                                             self._settings.catalog_properties)
            except Exception as exc:
                raise TargetError(f"cannot load Iceberg catalog {self._settings.catalog_name!r}: "
                                  f"{exc}; check the catalog properties of the connection"
                                  ) from exc
        return self._catalog

    def load_table(self) -> Table:
        """The table as the catalog has it now (fresh metadata on every call)."""
        from pyiceberg.exceptions import NoSuchTableError

        catalog = self.catalog()
        try:
            table = catalog.load_table(self.table_identifier)
        except NoSuchTableError as exc:
            raise TargetError(f"Iceberg table {self.table_identifier} does not exist: a run's "
                              "extract creates it, so run the job (dativo run JOB, or its DAG); "
                              "a load whose table was dropped after its extract needs that "
                              "extract again") from exc
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
                self._table = schemas.reconcile(table, self.table_identifier, self._schema,
                                                self._partitioning, self._table_properties)
                return
            except DativoError:
                raise
            except Exception as exc:
                if not retryable(exc):
                    raise TargetError(f"cannot prepare Iceberg table {self.table_identifier}: "
                                      f"{exc}") from exc
                last_error = exc
                if attempt + 1 < self.commit_attempts:
                    self._backoff(attempt)
        raise TargetError(f"cannot prepare Iceberg table {self.table_identifier}: other writers "
                          f"kept changing it ({last_error}); retry the task")

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
        return schemas.create_table(catalog, self.table_identifier, self._schema,
                                    self._partitioning, self._table_properties)

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
            raise TargetError(f"cannot create {path} for Iceberg table {self.table_identifier}: "
                              f"{exc}") from exc
        return cast(BinaryIO, stream)

    def staged_writer(self, run_id: str, **options: Any) -> StagedParquetWriter:
        """A writer for this run's data files, partitioned the way the table is."""
        return StagedParquetWriter(self.data_location(run_id), self._schema,
                                   partition_by=self._partitioning, open_output=self.open_output,
                                   **options)

    # -- state ------------------------------------------------------------------------------

    @property
    def writer(self) -> str | None:
        return self._writer

    def read_state(self) -> dict[str, Any] | None:
        return self.committed_head().state

    def file_io(self) -> FileIO:
        return self.load_table().io

    def committed_quality(self) -> list[dict[str, Any]]:
        return results_in_summary(history.snapshot_summary(self.load_table().current_snapshot()))

    def committed_head(self) -> CommitHead:
        return history.writer_head(self.load_table().metadata, self._writer, self.table_identifier)

    def is_committed(self, run_id: str) -> bool:
        return history.find_commit(self.load_table().metadata, run_id, self._writer)[0]

    # -- commit -----------------------------------------------------------------------------

    def commit(self, files: Sequence[StagedFile], state: Mapping[str, Any] | None, run_id: str,
               *, base: Base = UNKNOWN_BASE, quarantine: Mapping[str, Any] | None = None
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
            properties[SUMMARY_STATE] = history.encode_state(state)
        if quarantine is not None:
            properties[SUMMARY_QUARANTINE] = history.encode_state(quarantine)

        last_error: Exception | None = None
        for attempt in range(self.commit_attempts):
            table = self.load_table()
            found, previous = history.find_commit(table.metadata, run_id, self._writer)
            if found:
                log.info("run %s is already committed to %s", run_id, self.table_identifier)
                return CommitResult(
                    table=self.table_identifier,
                    rows=history.as_int(history.snapshot_summary(previous).get(SUMMARY_ROWS))
                    if previous else 0,
                    committed=False,
                    snapshot_id=previous.snapshot_id if previous else None,
                )
            head = history.writer_head(table.metadata, self._writer, self.table_identifier)
            if base is not UNKNOWN_BASE and head.run_id != base:
                raise writer_refused(self._writer, self.table_identifier, run_id, base,
                                     head.run_id)
            record = history.commit_record(table.metadata, self._writer, run_id, state, head,
                                           quarantine, keep=RUN_ID_RECORD)
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
                if not retryable(exc):
                    raise TargetError(
                        f"cannot commit run {run_id!r} to Iceberg table {self.table_identifier}, "
                        f"nothing was committed: {exc}"
                    ) from exc
                last_error = exc
                log.warning("commit of run %s to %s conflicted with another writer (attempt "
                            "%d/%d): %s", run_id, self.table_identifier, attempt + 1,
                            self.commit_attempts, exc)
                if attempt + 1 < self.commit_attempts:
                    self._backoff(attempt)
                continue
            added = history.as_int(history.snapshot_summary(snapshot).get("added-records"))
            if added != rows:
                log.warning("run %s: staged files declare %d rows but Iceberg counted %d",
                            run_id, rows, added)
            return CommitResult(table=self.table_identifier, rows=rows, committed=True,
                                snapshot_id=snapshot.snapshot_id)
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
        tx.set_properties({history.record_property(self._writer): record})
        committed = tx.commit_transaction()
        found, snapshot = history.find_commit(committed.metadata, properties[SUMMARY_RUN_ID],
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
        return remove_run_orphans(self.load_table(), older_than)

    def _backoff(self, attempt: int) -> None:
        delay = self.retry_backoff_seconds * (2**attempt)
        time.sleep(delay + random.uniform(0, delay / 2))


# -- from a job (see targets.registry) ---------------------------------------------------------
KEEPS_QUARANTINE_TABLE = True


def job_issues(job: JobSpec) -> list[ConfigIssue]:
    """The job's write mode against its contract: upsert and replace need a primary key."""
    try:
        check_write_mode(job.write_mode, job.contract.primary_key)
    except TargetError as exc:
        return [ConfigIssue(job.file, str(exc), None, "target.write_mode")]
    return []


def storage_properties(job: JobSpec, connection: Mapping[str, Any]) -> dict[str, str]:
    """The catalog's FileIO properties, which also reach an object-storage staging root."""
    return iceberg_catalog_properties(job.root, connection)[1]


def from_job(job: JobSpec, connection: Mapping[str, Any], shape: TableShape | None = None
             ) -> IcebergTarget:
    name, props = iceberg_catalog_properties(job.root, connection)
    if shape is None:
        raise_issues(job_issues(job))  # named with the job file, before the target refuses it
        shape = TableShape.of_job(job)
    settings = IcebergSettings(catalog_name=name, catalog_properties=props,
                               namespace=tenant_namespace(job, connection), table=shape.table)
    return IcebergTarget(settings, shape.schema, partitioning=shape.partitioning,
                         table_properties=shape.properties, write_mode=shape.write_mode,
                         primary_key=shape.primary_key, writer=writer_of(job))
