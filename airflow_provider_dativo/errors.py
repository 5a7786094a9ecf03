"""Exceptions shared by every layer.

Library code raises these instead of exiting; the CLI and the operators decide how to show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class DativoError(Exception):
    """Base class for errors the user can act on."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one config file, located as precisely as the file allows."""

    file: str
    message: str
    line: int | None = None
    path: str = ""  # field path such as ``schema[2].type``; empty for the whole document

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigError(DativoError):
    """One or more config issues, all reported together."""

    def __init__(self, issues: Iterable[ConfigIssue]):
        self.issues: Sequence[ConfigIssue] = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[ConfigIssue, ...]]]:
        # an exception pickles as its class called with ``args``, here the joined message,
        # which is not what __init__ takes: rebuilt from its issues instead, so a config error
        # raised in a worker process (dativo run --parallel) arrives whole
        return type(self), (tuple(self.issues),)


class ContractViolation(DativoError):
    """Rows broke the data contract while the job runs in strict mode."""


class EngineError(DativoError):
    """A source engine failed to check, discover or read."""


class TargetError(DativoError):
    """A target failed to prepare, read state or commit."""


class PartitionError(TargetError, ValueError):
    """A partition field names no transform dativo knows.

    A ``TargetError`` for the targets that stage and commit partitioned files, and a
    ``ValueError`` for code building contracts by hand, which is what it was for each of them.
    """
