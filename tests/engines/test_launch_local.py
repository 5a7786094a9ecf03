"""The local launcher: private files, stdout lines, stderr to the log, and clear errors."""

from __future__ import annotations

import stat
import sys
import threading
from pathlib import Path

import pytest

from airflow_provider_dativo.config.specs import EngineSpec
from airflow_provider_dativo.engines.base import RunStopped
from airflow_provider_dativo.engines.connector_venvs import resolve_command
from airflow_provider_dativo.engines.launchers import FileArg, LateFile, Masker, stop_running
from airflow_provider_dativo.engines.launchers.base import block_lines
from airflow_provider_dativo.engines.launchers.local import LocalLauncher
from airflow_provider_dativo.errors import EngineError
from airflow_provider_dativo.hooks.connectors import ConnectorHook, hook_for

PROBE = """
import os, stat, sys
path = sys.argv[1]
mode = lambda p: oct(stat.S_IMODE(os.stat(p).st_mode))
print(mode(path), mode(os.path.dirname(path)))
print(open(path).read())
print("said pw-123456 on stderr", file=sys.stderr)
"""


def test_files_are_private_and_removed_and_stderr_is_masked(
        caplog: pytest.LogCaptureFixture) -> None:
    launcher = LocalLauncher([sys.executable, "-c", PROBE])
    with caplog.at_level("INFO"), launcher.start(
            [FileArg("config.json")], {"config.json": b'{"k": 1}'},
            Masker(["pw-123456"])) as process:
        lines = [line for block in process.blocks() for line in block_lines(block)]
        assert process.wait() == 0
        tail = process.stderr_tail()
    assert lines[0].split() == [b"0o600", b"0o700"]
    assert lines[1] == b'{"k": 1}'
    assert tail == "said *** on stderr" and "pw-123456" not in caplog.text


def test_a_missing_executable_says_how_to_install_it(tmp_path: Path) -> None:
    engine = EngineSpec(type="airbyte", command=("source-nowhere",), pip="source-nowhere==1")
    with pytest.raises(EngineError, match="run `dativo connectors install nowhere`"):
        resolve_command(tmp_path, "nowhere", engine)
    script = tmp_path / "src.py"
    script.write_text("")
    python = resolve_command(tmp_path, "x", EngineSpec(type="airbyte",
                                                       command=("python", "src.py")))
    assert python[1] == str(script) and Path(python[0]).exists()
    assert not stat.S_ISDIR(Path(python[0]).stat().st_mode)


def test_stop_running_kills_a_connector_mid_stream() -> None:
    launcher = LocalLauncher([sys.executable, "-c", "import time\nprint('x', flush=True)\n"
                              "time.sleep(60)"])
    with launcher.start([], {}, Masker()) as process:
        assert next(iter(process.blocks())) == b"x\n"
        assert stop_running() == 1
        assert process.wait() != 0
    assert stop_running() == 0


def test_the_hook_checks_and_discovers_through_the_engine(config_root: Path) -> None:
    from tests.engines.test_airbyte_protocol import JOB, make_job

    make_job(config_root, "ok")
    hook = ConnectorHook(JOB, str(config_root))
    assert hook.test_connection() == (True, "connection succeeded")
    assert [s.name for s in hook.discover()] == ["users"]
    assert type(hook_for(hook.job(), JOB, str(config_root))) is ConnectorHook


READ_TWICE = """
import sys, time
print(open(sys.argv[1]).read())
time.sleep(0.1)
print(open(sys.argv[1]).read())
"""


def test_a_late_file_reaches_a_running_connector_once_known_and_reads_again() -> None:
    launcher = LocalLauncher([sys.executable, "-c", READ_TWICE])
    known = threading.Event()

    def state() -> bytes:
        known.wait(5)
        return b'[{"offset": 7}]'

    with launcher.start([FileArg("state.json")], {"state.json": LateFile(state)},
                        Masker()) as process:
        threading.Timer(0.3, known.set).start()  # the process is already running
        lines = [line for block in process.blocks() for line in block_lines(block)]
        assert process.wait() == 0
    assert lines == [b'[{"offset": 7}]', b'[{"offset": 7}]']


def test_a_late_file_that_never_comes_stops_the_connector_unread() -> None:
    launcher = LocalLauncher([sys.executable, "-c", READ_TWICE])

    def stopped() -> bytes:
        raise RunStopped("the run stopped")

    with launcher.start([FileArg("state.json")], {"state.json": LateFile(stopped)},
                        Masker()) as process:
        assert [line for block in process.blocks() for line in block_lines(block)] == []
        with pytest.raises(RunStopped):
            process.wait()


REC = b'{"type":"RECORD","record":{"stream":"s","data":{"id":%d}}}'


def _messages(script: str) -> tuple[list[tuple[int, bytes] | dict], int]:
    """What a Session hands on from ``script``'s stdout: each record line with its number,
    the other messages as parsed; and the most record lines it handed on at once."""
    from airflow_provider_dativo.engines.protocol import RecordLines, Session

    session = Session(LocalLauncher([sys.executable, "-c", script]), Masker(), "c", "read")
    seen: list[tuple[int, bytes] | dict] = []
    most = 0
    for message in session.messages([], {}, passthrough=b'{"type":"RECORD","record":'):
        if isinstance(message, RecordLines):
            most = max(most, len(message.lines))
            seen.extend(enumerate(message.lines, message.first))
        else:
            seen.append(message)
    return seen, most


MIXED = r"""
import sys
rec = '{"type":"RECORD","record":{"stream":"s","data":{"id":%d}}}'
out = [rec % 1, rec % 2, '{"type":"STATE","state":{"n":2}}', rec % 3, "", "a stray line",
       rec % 4]
sys.stdout.write("\n".join(out * 3000) + "\n")
"""


def test_record_lines_come_numbered_and_in_order_among_other_messages() -> None:
    seen, most = _messages(MIXED)
    # each round of seven lines: four records, a state, a blank and a stray line (logged)
    expected: list[tuple[int, bytes] | dict] = []
    for n in range(3000):
        base = 7 * n
        expected += [(base + 1, REC % 1), (base + 2, REC % 2),
                     {"type": "STATE", "state": {"n": 2}}, (base + 4, REC % 3), (base + 7, REC % 4)]
    assert seen == expected
    assert most == 3  # a round's last record and the next round's first two come together


RUNS = r"""
import sys
rec = '{"type":"RECORD","record":{"stream":"s","data":{"id":%d}}}'
for part in range(3):
    sys.stdout.write("".join(rec % (part * 5000 + n) + "\n" for n in range(5000)))
    sys.stdout.write('{"type":"STATE","state":{"part":%d}}\n' % part)
"""


def test_runs_of_records_come_together_and_keep_their_place_beside_states() -> None:
    seen, most = _messages(RUNS)
    expected: list[tuple[int, bytes] | dict] = []
    for part in range(3):
        expected += [(part * 5001 + n + 1, REC % (part * 5000 + n)) for n in range(5000)]
        expected.append({"type": "STATE", "state": {"part": part}})
    assert seen == expected
    assert most > 100  # records come many at a time, not a line at a time


CUT_ANYWHERE = r"""
import sys
rec = '{"type":"RECORD","record":{"stream":"s","data":{"id":%d,"address":{"n":%d}}}}'
out = ("".join(rec % (n, n) + "\r\n" for n in range(3000))
       + '{"type":"STATE","state":{"n":3000}}\r\n' + rec % (3000, 3000))  # no newline at the end
for start in range(0, len(out), 4093):  # written in pieces cut anywhere, lines included
    sys.stdout.write(out[start:start + 4093])
    sys.stdout.flush()
"""


def test_records_cut_anywhere_with_crlf_and_no_last_newline_all_land_once_in_order() -> None:
    import pyarrow as pa

    from airflow_provider_dativo.engines.base import RejectedRecords, StateUpdate
    from airflow_provider_dativo.engines.jsonrecords import ProtocolBatches
    from airflow_provider_dativo.engines.protocol import RecordLines, Session

    schema = {"properties": {"id": {"type": "integer"}, "address": {"type": "object"}}}
    out = ProtocolBatches(schema, 1000, "c", envelope=("record", "data"))
    session = Session(LocalLauncher([sys.executable, "-c", CUT_ANYWHERE]), Masker(), "c", "read")
    items = []
    for message in session.messages([], {}, passthrough=b'{"type":"RECORD","record":'):
        if isinstance(message, RecordLines):
            items += out.add_lines(message.first, message.lines)
        else:
            assert isinstance(message, dict) and message["type"] == "STATE"
            out.checkpoint(message["state"])
    items += out.flush()
    batches = [item for item in items if isinstance(item, pa.RecordBatch)]
    assert not [item for item in items if isinstance(item, RejectedRecords)]
    assert max(batch.num_rows for batch in batches) <= 1000
    ids = [i for batch in batches for i in batch.column("id").to_pylist()]
    assert ids == list(range(3001))
    addresses = [a for batch in batches for a in batch.column("address").to_pylist()]
    assert addresses == [f'{{"n":{n}}}' for n in range(3001)]
    assert items[-1] == StateUpdate({"n": 3000})
