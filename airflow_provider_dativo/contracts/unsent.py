"""Contract columns the source never sent during a run.

A column is sent when any batch of the run has it, under its contract name or its ODCS
physicalName. Checked over the whole run, not per batch: JSON sources leave a key out of a batch
whose records all lack it, which is sparse data rather than a missing column. Without this, a
misspelt or unmapped column lands as nulls and nobody notices.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from airflow_provider_dativo.contracts._types import INGEST_DATE
from airflow_provider_dativo.contracts.model import Contract
from airflow_provider_dativo.errors import ContractViolation

log = logging.getLogger(__name__)


class UnsentColumns:
    """Collects the column names of a run's batches; :meth:`report` names what never came."""

    def __init__(self, contract: Contract, asset_file: str | None = None):
        self.contract = contract
        self.asset_file = asset_file
        self._seen: set[str] = set()
        self._batches = 0

    def saw(self, names: Iterable[str]) -> None:
        self._seen.update(names)
        self._batches += 1

    @property
    def missing(self) -> tuple[str, ...]:
        """Contract columns no batch had; nothing before the first batch."""
        if not self._batches:
            return ()
        return tuple(
            spec.name for spec in self.contract.fields
            if spec.name != INGEST_DATE
            and spec.name not in self._seen and spec.source_name not in self._seen
        )

    def report(self, validation_mode: str) -> None:
        """Strict: refuse the run; warn: log a warning. Nothing when every column came."""
        missing = self.missing
        if not missing:
            return
        where = f" ({self.asset_file})" if self.asset_file else ""
        named = ", ".join(
            f"{name} (sent as {spec.physical_name})" if spec.physical_name else name
            for name in missing for spec in (self.contract.field(name),)
        )
        message = (f"contract '{self.contract.name}'{where} declares column(s) the source never "
                   f"sent: {named}")
        if validation_mode == "strict":
            raise ContractViolation(
                f"{message}. Give each the source's column name as its physicalName, remove it "
                "from the contract, or set validation.mode: warn to land it as nulls.")
        log.warning("%s; they land as nulls", message)
