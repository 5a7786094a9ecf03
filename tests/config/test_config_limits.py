"""The bounds of a config file: alias bombs, recursive aliases, deep nesting and huge files
are refused at once, naming the file and the line of the first alias."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.config.yaml_loader import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    load_yaml,
    parse_yaml,
)
from airflow_provider_dativo.errors import ConfigError
from tests.conftest import BIN, bounded, write

NAMES = "abcdefghi"


def alias_bomb(depth: int = 9, indent: str = "") -> str:
    """``depth`` lists of nine, each made of nine aliases of the one before: 9**depth strings
    once expanded, from a few hundred bytes."""
    lols = ",".join(['"lol"'] * 9)
    lines = [f"{indent}{NAMES[0]}: &{NAMES[0]} [{lols}]"]
    for prev, name in itertools.pairwise(NAMES[:depth]):
        lines.append(f"{indent}{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def merge_bomb(depth: int = 9) -> str:
    """The same through merge keys: each mapping merges nine copies of the one before."""
    lines = ["a: &a {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7, k7: 8, k8: 9}"]
    for prev, name in itertools.pairwise(NAMES[:depth]):
        lines.append(f"{name}: &{name} {{<<: [{','.join([f'*{prev}'] * 9)}]}}")
    return "\n".join(lines) + "\n"


def job_with(extra: str, connection_extra: str = "") -> str:
    return ("tenant_id: demo\nname: bomb\nsource_connector: faker\n"
            "source_connector_path: connectors/faker.yaml\nasset: faker_users\n"
            "asset_path: assets/faker/v1.0/users.yaml\ntarget_connector: iceberg\n"
            "target_connector_path: connectors/iceberg.yaml\n"
            f"source:\n  connection:\n    count: 10\n{connection_extra}target:\n"
            f"  table: faker_bomb\n{extra}")


BOMBS = {
    # unknown top-level keys: the schema refuses them, the line indexer used to expand them
    "top-level": job_with(alias_bomb()),
    # a free-form block the schema never looks into: freezing the spec used to expand it
    "in a connection": job_with("", alias_bomb(indent="    ")),
    "merge keys": job_with(merge_bomb()),
}


def first_alias_line(text: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if "*" in line)


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_validate_refuses_an_alias_bomb_at_once(config_root: Path, kind: str) -> None:
    text = BOMBS[kind]
    assert len(text.encode()) < 1500
    write(config_root / "jobs/examples/bomb.yaml", text)
    result = bounded([str(BIN / "dativo"), "--root", str(config_root), "validate"],
                     {**os.environ, "COLUMNS": "400"})
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.stdout
    assert errors[0].endswith(
        f"jobs/examples/bomb.yaml:{first_alias_line(text)}: with its aliases expanded, "
        f"the document has more than {MAX_NODES:,} nodes (the limit of a config file); the "
        f"first alias, *a, is on this line: write the values out instead of nesting aliases")
    # every other job was still validated, and only the bomb is invalid
    jobs = ConfigRoot(config_root).job_files()
    assert f"jobs        {len(jobs):>4} file(s)    1 invalid" in result.stdout


def test_aliases_within_the_limits_load_with_their_lines(tmp_path: Path) -> None:
    text = ("defaults: &defaults\n  retries: 3\n  tags: [a, b]\nfirst: *defaults\n"
            "second:\n  <<: *defaults\n  retries: 4\n")
    doc = parse_yaml(text, "f.yaml")
    assert doc.data["first"] == {"retries": 3, "tags": ["a", "b"]}
    assert doc.data["second"] == {"retries": 4, "tags": ["a", "b"]}
    assert doc.line_of("defaults.tags[1]") == 3
    assert doc.line_of("first.tags[1]") == 4  # below an alias: the alias's line
    # five levels expand to 74,738 nodes: under the limit, so they load
    under = alias_bomb(depth=5)
    assert parse_yaml(under, "g.yaml").data["e"][8][8][8][8][8] == "lol"


def test_a_duplicate_key_in_an_aliased_block_is_reported_once() -> None:
    text = "a: &a {x: 1, x: 2}\nb: [*a, *a, *a]\n"
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "f.yaml")
    assert [str(i) for i in info.value.issues] == ["f.yaml:1: a.x: duplicate key 'x'"]


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("tenant_id: demo\nloop: &loop [1, *loop]\n", "f.yaml")
    assert str(info.value) == ("f.yaml:2: an alias refers to a block that contains it, which "
                               "never ends; write the values out")


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    # libyaml stops at 1000 levels written out; aliases can chain further, one line a level
    chain = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, MAX_DEPTH + 1)]
    with pytest.raises(ConfigError) as info:
        parse_yaml("\n".join(chain), "f.yaml")
    assert f"nests more than {MAX_DEPTH} levels deep" in str(info.value)
    assert str(info.value).startswith("f.yaml:2:")  # the first alias
    written = "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(ConfigError) as info:
        parse_yaml(written, "g.yaml")
    assert str(info.value).startswith(f"g.yaml:1: with its aliases expanded, the document "
                                      f"nests more than {MAX_DEPTH} levels deep")
    assert parse_yaml("x: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2), "h.yaml").data


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    line = "# " + "x" * 1021 + "\n"  # 1 KiB of comment per line
    big.write_text("a: 1\n" + line * 1024)
    assert big.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(ConfigError) as info:
        load_yaml(big)
    assert str(info.value) == (f"{big}: the file is larger than {MAX_FILE_BYTES:,} bytes, the "
                               "limit of a config file; split it into several files")
    big.write_text("a: 1\n" + line * 1023)
    assert load_yaml(big).data == {"a": 1}


def test_the_readme_states_the_limits_the_code_enforces() -> None:
    from tests.conftest import REPO

    readme = " ".join((REPO / "README.md").read_text().split())
    assert (f"at most {MAX_FILE_BYTES / 2**20:g} MiB, and at most {MAX_NODES:,} nodes and "
            f"{MAX_DEPTH} levels of nesting") in readme
