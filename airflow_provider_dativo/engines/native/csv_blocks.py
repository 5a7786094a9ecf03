"""Parsing pieces of the file source: rejected lines of one file, Arrow's CSV parser on blocks of
whole lines, and values as text."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from airflow_provider_dativo.engines.base import RejectedRecords
from airflow_provider_dativo.engines.native.lines import is_utf8, raw_text, utf8_problem
from airflow_provider_dativo.errors import EngineError

if TYPE_CHECKING:
    from airflow_provider_dativo.engines.native.file_config import FileSourceConfig, FoundFile


class Rejects:
    """Lines of one file that could not be parsed, handed on as one ``RejectedRecords``."""

    def __init__(self, path: FoundFile) -> None:
        self.path = path

        self.lines: list[tuple[int, str, str]] = []  # (line or 0 when unknown, raw, problem)

    def add(self, line: int | None, raw: str, problem: str) -> None:
        self.lines.append((line or 0, raw, problem))

    def flush(self) -> Iterator[RejectedRecords]:
        if self.lines:
            lines = sorted(self.lines, key=lambda item: item[0])
            self.lines = []
            yield RejectedRecords(tuple(raw for _, raw, _ in lines), tuple(
                f"{self.path}:{line}: {problem}" if line else f"{self.path}: {problem}"
                for line, _, problem in lines))


UNCLOSED = ("a quoted value is not closed on this line (values with line breaks need "
            "source.connection.multiline: true)")


class CsvParser:
    """Arrow's CSV parser on blocks of whole lines, every column as text (conforming to the
    contract's types happens per value, not per file).

    A block is parsed in one go, with a last row of empty values after it: when every line
    came out as one row, no line left a quote open (one that does takes the lines after it,
    that last row included, into its value). Otherwise the block is taken line by line.
    """

    def __init__(self, header: list[str], delimiter: str, multiline: bool = False) -> None:
        self.header = header
        self.sentinel = delimiter.join(['""'] * len(header)).encode() + b"\n"
        self.invalid: list[tuple[str, str]] = []  # (row text, problem) of the last parse
        self.parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=multiline,
                                        invalid_row_handler=self._invalid_row)
        self.convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                            strings_can_be_null=True,
                                            quoted_strings_can_be_null=False)

    def _invalid_row(self, row: Any) -> str:
        self.invalid.append((row.text, f"expected {row.expected_columns} columns, found "
                                       f"{row.actual_columns}"))
        return "skip"

    def table(self, data: bytes, lines: int) -> tuple[pa.Table | None, str | None]:
        """``data``, ``lines`` whole lines, as a table; else None and why (None when a line
        took the next ones, or an empty line was skipped)."""
        self.invalid = []
        body = data + self.sentinel
        try:
            table = pacsv.read_csv(io.BytesIO(body), read_options=pacsv.ReadOptions(
                column_names=self.header, block_size=len(body) + 1),
                parse_options=self.parse, convert_options=self.convert)
        except pa.ArrowInvalid as exc:
            return None, str(exc)
        if table.num_rows + len(self.invalid) != lines + 1:
            return None, None
        return table.slice(0, table.num_rows - 1), None

    def block(self, data: bytes, lines: int, first_line: int,
              rejects: Rejects) -> list[pa.RecordBatch]:
        # Arrow refuses text that is not UTF-8 too, but it would first hand the row to the
        # invalid-row handler, whose decoding then fails inside Arrow
        table = self.table(data, lines)[0] if is_utf8(data) else None
        if table is not None:  # the fast path: Python never looks at a line
            if self.invalid:
                self._reject_invalid(data.split(b"\n"), range(first_line, first_line + lines),
                                     rejects)
            return table.to_batches()
        return self._line_by_line(data, first_line, rejects)

    def _line_by_line(self, data: bytes, first_line: int,
                      rejects: Rejects) -> list[pa.RecordBatch]:
        lines = data.split(b"\n")[:-1]
        kept: list[int] = []
        refused: dict[int, str] = {}
        for i, line in enumerate(lines):
            if line in (b"", b"\r"):
                continue  # Arrow skips empty lines
            problem = utf8_problem(line)
            if problem:
                refused[i] = problem
            else:
                kept.append(i)
        for j, problem in self._refused([lines[i] for i in kept]).items():
            refused[kept[j]] = problem
        for i in sorted(refused):
            rejects.add(first_line + i, raw_text(lines[i]), refused[i])
        good = [i for i in kept if i not in refused]
        if not good:
            return []
        table, problem = self.table(b"".join(lines[i] + b"\n" for i in good), len(good))
        if table is None:  # the lines Arrow took one group at a time, refused together
            raise EngineError(f"{rejects.path}:{first_line}-{first_line + len(lines) - 1}: "
                              f"cannot parse CSV: {problem or UNCLOSED}")
        if self.invalid:
            self._reject_invalid([lines[i] for i in good], [first_line + i for i in good],
                                 rejects)
        return table.to_batches()

    def _refused(self, lines: list[bytes]) -> dict[int, str]:
        """The lines Arrow refuses, or that leave a quote open, and why: halves of the lines
        are parsed until each group either parses or is one line."""
        refused: dict[int, str] = {}
        groups = [(0, len(lines))]
        while groups:
            lo, hi = groups.pop()
            if hi <= lo:
                continue
            table, problem = self.table(b"".join(line + b"\n" for line in lines[lo:hi]),
                                        hi - lo)
            if table is not None:
                continue
            if hi - lo == 1:
                refused[lo] = problem or UNCLOSED
                continue
            mid = (lo + hi) // 2
            groups += [(mid, hi), (lo, mid)]
        return refused

    def _reject_invalid(self, lines: Sequence[bytes], numbers: Sequence[int],
                        rejects: Rejects) -> None:
        """Rows with the wrong number of values, with their line: the parser does not say
        which line it skipped, so the lines of this block are searched for its text."""
        wanted: dict[str, list[int]] = {}
        for k, (text, _) in enumerate(self.invalid):
            wanted.setdefault(text.rstrip("\r"), []).append(k)
        found: list[int | None] = [None] * len(self.invalid)
        for line, number in zip(lines, numbers, strict=False):
            slots = wanted.get(raw_text(line))
            if slots:
                found[slots.pop(0)] = number
        for at, (text, problem) in zip(found, self.invalid, strict=True):
            rejects.add(at, text, problem)


def arrow_problem(exc: pa.ArrowInvalid, config: FileSourceConfig) -> str:
    """Arrow's message, with its own block size replaced by the job's setting."""
    text = str(exc)
    if "straddling" in text or "block size" in text:
        return (f"a row is longer than source.connection.block_bytes ({config.block_bytes:,}); "
                "raise that setting above the longest row")
    return text


def line_numbers(raw: IO[bytes], texts: list[str]) -> list[int | None]:
    """Line numbers of rejected rows; the parser does not report them, so look them up once.

    Only files that had bad rows pay for this scan.
    """
    wanted: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        wanted.setdefault(text, []).append(i)
    found: list[int | None] = [None] * len(texts)
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            slots = wanted.get(line.rstrip("\r\n"))
            if slots:
                found[slots.pop(0)] = number
    return found


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)
