"""A corpus of malformed CSV and JSON Lines files through the real runner into Iceberg.

Warn mode lands every good row and quarantines each bad line with its file and line number;
strict mode fails naming the file and the line; the ``dativo`` command never shows a traceback.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.errors import ContractViolation
from tests.conftest import BIN, write

ASSET = """\
apiVersion: v3.0.2
kind: DataContract
name: bad_lines
version: "1.0"
source_type: file
object: rows
schema:
  - {name: id, type: long, required: true}
  - {name: name, type: string}
"""

JOB = """\
tenant_id: corpus
source_connector: file
source_connector_path: connectors/file.yaml
asset: bad_lines
asset_path: assets/corpus/v1.0/rows.yaml
target_connector: iceberg
target_connector_path: connectors/iceberg.yaml
source:
  connection:
    path: {path}
    format: {format}
    block_bytes: {block_bytes}
validation:
  mode: {mode}
"""

# small blocks, so that each corpus spans several and bad lines sit on their edges
CSV_BLOCK = 64 << 10
JSON_BLOCK = 256 << 10  # room for a line nested 100,000 deep
GOOD_ROWS = 20_000


class Corpus:
    """Lines of one file, with the number of every bad line and a word of its reason."""

    def __init__(self, header: bytes | None = None) -> None:
        self.lines: list[bytes] = [] if header is None else [header]
        self.bad: dict[int, str] = {}
        self.good = 0
        self.size = sum(len(line) + 1 for line in self.lines)  # bytes so far

    def add(self, line: bytes) -> None:
        self.lines.append(line)
        self.size += len(line) + 1

    def add_bad(self, line: bytes, reason: str) -> None:
        self.add(line)
        self.bad[len(self.lines)] = reason

    def add_good(self, line: bytes) -> None:
        self.add(line)
        self.good += 1

    def bytes(self, last_newline: bool = True) -> bytes:
        return b"\n".join(self.lines) + (b"\n" if last_newline else b"")


def fill(corpus: Corpus, block: int, row: bytes, bad: list[tuple[bytes, str]]) -> None:
    """GOOD_ROWS rows (ids from 100) with the ``bad`` lines spread out, each across the edge
    of a block the reader reads."""
    step = GOOD_ROWS // (len(bad) + 1)
    pending = list(bad)
    for i in range(GOOD_ROWS):
        if pending and i and i % step == 0:
            line, reason = pending.pop(0)
            edge = (corpus.size // block + 1) * block
            while corpus.size + min(len(line), block) // 2 < edge:
                corpus.add_good(row % (100 + len(corpus.lines), b"pad"))
            corpus.add_bad(line, reason)
        corpus.add_good(row % (100 + len(corpus.lines), b"n%d" % i))


def csv_corpus() -> tuple[Corpus, bytes]:
    corpus = Corpus(b"id,name")
    corpus.add_bad(b"1,caf\xe9", "not valid UTF-8")  # line 2, in the first 8 KiB
    fill(corpus, CSV_BLOCK, b"%d,%s", [
        (b"2,\xff\xfe" + b"x" * 60, "not valid UTF-8"),
        (b"3,too,many", "expected 2 columns, found 3"),
        (b"4," + b"y" * (CSV_BLOCK + 10), "longer than source.connection.block_bytes"),
        (b'5,"opened and never closed', "a quoted value is not closed"),
        (b"6,\xc3", "not valid UTF-8"),
    ])
    corpus.add(b"")  # an empty line is no row and no reject
    corpus.add_good(b'7,"a ""quoted"" value, with a comma"')
    corpus.add_good(b"8,nul \x00 inside")  # NUL bytes reach the contract check intact
    corpus.add_bad(b'9,"the last line leaves its quote open', "a quoted value is not closed")
    return corpus, corpus.bytes(last_newline=False)


def jsonl_corpus() -> tuple[Corpus, bytes]:
    corpus = Corpus()
    corpus.add_bad(b'{"id": 1, "name": "caf\xe9"}', "not valid UTF-8")  # line 1
    deep = b'{"id": 2, "name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    deeper = b'{"id": 3, "name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # crashed Arrow
    fill(corpus, JSON_BLOCK, b'{"id": %d, "name": "%s"}', [
        (deep, "nested deeper than 200 levels"),
        (deeper, "nested deeper than 200 levels"),
        (b'{"id": 4, "name": "\xff"}', "not valid UTF-8"),
        (b'{"id": 5, "name": ', "invalid JSON"),
        (b"[6, 7]", "a JSON Lines record must be an object"),
        (b'{"id": 8, "name": "' + b"z" * (JSON_BLOCK + 10) + b'"}', "longer than source.conn"),
        (b'{"id": 9, "name": "raw nul \x00"}', "invalid JSON"),
    ])
    corpus.add_good(b'{"id": 10, "name": "escaped nul \\u0000 inside"}')
    corpus.add_good(b'{"id": 11, "name": ' + b"[" * 150 + b"]" * 150 + b"}")  # deep enough
    corpus.add_bad(b'{"id": 12, "name": "no closing brace"', "invalid JSON")
    return corpus, corpus.bytes(last_newline=False)


def job_in(root: Path, data: str, mode: str, block_bytes: int = 8 << 20) -> Path:
    write(root / "assets/corpus/v1.0/rows.yaml", ASSET)
    return write(root / f"jobs/corpus/{mode}.yaml",
                 JOB.format(path=data, mode=mode, block_bytes=block_bytes,
                                format=Path(data).suffix.lstrip(".")))


def quarantine(manifest: dict) -> list[dict]:
    return [r for p in manifest["quarantine"] for r in pq.read_table(p).to_pylist()]


def quarantined(manifest: dict) -> dict[int, tuple[str, str]]:
    """Line number -> (reason, raw) of every unparsed line the run quarantined."""
    rows = [r for r in quarantine(manifest) if r.get("_dativo_raw") is not None]
    out = {}
    for r in rows:
        where = r["_dativo_reason"].split(": ", 1)[0]
        out[int(where.rsplit(":", 1)[1])] = (r["_dativo_reason"], r["_dativo_raw"])
    assert len(out) == len(rows)  # one row per line
    return out


def landed(job) -> list[dict]:
    return runner.open_job_target(job).load_table().scan().to_arrow().to_pylist()


@pytest.mark.parametrize("make, name, block", [(csv_corpus, "data/rows.csv", CSV_BLOCK),
                                               (jsonl_corpus, "data/rows.jsonl", JSON_BLOCK)])
def test_warn_mode_quarantines_each_bad_line_and_lands_the_rest(config_root: Path, make,
                                                                name: str, block: int) -> None:
    corpus, data = make()
    (config_root / "data").mkdir()
    (config_root / name).write_bytes(data)
    job = ConfigRoot(config_root).load_job(job_in(config_root, name, "warn", block))
    manifest, result = runner.run_job(job, "warn-1")
    assert result.committed
    rows = landed(job)
    # the row holding a NUL byte is the contract's to judge: it lands, or the contract refuses
    # it, with the byte intact either way
    nul_id = 8 if name.endswith(".csv") else 10
    refused = [r for r in quarantine(manifest) if r.get("_dativo_raw") is None]
    assert [int(r["id"]) for r in refused] in ([], [nul_id])
    assert "\x00" in next(r["name"] for r in rows + refused if int(r["id"]) == nul_id)
    assert len(rows) + len(refused) == corpus.good
    assert manifest["rows"] == len(rows)
    assert manifest["rule_counts"]["parse"] == len(corpus.bad)
    found = quarantined(manifest)
    assert sorted(found) == sorted(corpus.bad)
    for line, word in corpus.bad.items():
        reason, raw = found[line]
        assert reason.startswith(f"{name}:{line}: ") and word in reason, reason
        text = corpus.lines[line - 1].decode("utf-8", "backslashreplace")
        text = text if name.endswith(".csv") else text.strip()  # JSON: without the blanks
        # kept verbatim, bytes that are not UTF-8 escaped; an over-long line only in part
        assert raw == (text[: 64 << 10] if "longer" in word else text)
    long_line = next(k for k, v in corpus.bad.items() if "longer" in v)
    assert f"block_bytes ({block:,})" in found[long_line][0]
    if name.endswith(".csv"):
        assert {r["id"]: r["name"] for r in rows}[7] == 'a "quoted" value, with a comma'
        assert found[2][1] == "1,caf\\xe9"  # the bad byte escaped, the rest verbatim
    else:
        assert found[1][1] == '{"id": 1, "name": "caf\\xe9"}'


def test_strict_mode_fails_naming_the_file_and_line(config_root: Path) -> None:
    _, data = csv_corpus()
    write(config_root / "data/rows.csv", "")
    (config_root / "data/rows.csv").write_bytes(data)
    job = ConfigRoot(config_root).load_job(job_in(config_root, "data/rows.csv", "strict"))
    with pytest.raises(ContractViolation) as info:
        runner.run_job(job, "strict-1")
    assert "data/rows.csv:2: not valid UTF-8 (byte 0xe9" in str(info.value)
    assert not runner.open_job_target(job).is_committed("strict-1")


def dativo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "200", "PATH": str(BIN)}
    if os.environ.get("PYTHONPATH"):  # a checkout under test wins over the installed package
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([str(BIN / "dativo"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("name, data, mode, message", [
    ("bad.jsonl", b'{"id": 1}\n{"id": 2, "name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
     "strict", "data/bad.jsonl:2: nested deeper than 200 levels"),
    ("bad.csv", b"id,name\n1,a\n2,\xff\n", "strict", "data/bad.csv:3: not valid UTF-8"),
    ("bad.csv", b"id,na\xffme\n1,a\n", "warn", "data/bad.csv:1: the header is not valid UTF-8"),
    ("bad.csv", b"id,name\n1,\"open\n2,b\n", "strict",
     "data/bad.csv:2: a quoted value is not closed on this line"),
])
def test_the_command_names_file_and_line_without_a_traceback(config_root: Path, name: str,
                                                             data: bytes, mode: str,
                                                             message: str) -> None:
    write(config_root / f"data/{name}", "")
    (config_root / f"data/{name}").write_bytes(data)
    job_in(config_root, f"data/{name}", mode)
    result = dativo(config_root, "run", f"jobs/corpus/{mode}.yaml")
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    shown = result.stderr + result.stdout
    for leak in ("Traceback", "UnicodeDecodeError", "RecursionError", "ArrowInvalid"):
        assert leak not in shown


def test_a_line_longer_than_the_default_block_is_quarantined_alone(config_root: Path) -> None:
    """50 MB on one line with the default block size (8 MiB): read past, never held whole."""
    path = config_root / "data/huge.csv"
    path.parent.mkdir()
    with path.open("wb") as fh:
        fh.write(b"id,name\n1,a\n2," + b"h" * 50_000_000 + b"\n3,c\n")
    job_file = write(config_root / "jobs/corpus/huge.yaml", JOB.format(
        path="data/huge.csv", mode="warn", block_bytes=8 << 20, format="csv"))
    write(config_root / "assets/corpus/v1.0/rows.yaml", ASSET)
    job = ConfigRoot(config_root).load_job(job_file)
    manifest, _ = runner.run_job(job, "huge-1")
    assert sorted(r["id"] for r in landed(job)) == [1, 3]
    ((line, (reason, raw)),) = quarantined(manifest).items()
    assert line == 3
    assert ("data/huge.csv:3: the line is 50,000,002 bytes, longer than "
            "source.connection.block_bytes (8,388,608): raise that setting") in reason
    assert raw == "2," + "h" * ((64 << 10) - 2)
