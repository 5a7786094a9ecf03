"""A pattern judged valid without pyarrow is one RE2 compiles, and a parse needs no pyarrow."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from airflow_provider_dativo.contracts.regex_syntax import plainly_valid

REPO = Path(__file__).resolve().parents[2]


def re2_compiles(pattern: str) -> bool:
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except pa.ArrowInvalid:
        return False
    return True


@pytest.mark.parametrize("pattern", [
    r"^[^@\s]+@[^@\s]+$", r"[a-z]+@[a-z]+\.com", "[0-9]{5}", "o.*?", "(?:ab|cd)+", r"\d{2,4}",
    "(a{500}){2}", "[^-a-z_]", r"\bword\b", "",
])
def test_common_patterns_need_no_pyarrow(pattern: str) -> None:
    assert plainly_valid(pattern)
    assert re2_compiles(pattern)


@pytest.mark.parametrize("pattern", [
    "(?<=a)b", "(?=a)", r"(a)\1", "a*+", "a{2}+", "(?P<x>a)", "(?i)a", "[[:alpha:]]",
    "(a{40}){30}", "a{1001}", r"\Z", "(unclosed", "a**", "é",
])
def test_other_patterns_are_left_to_re2(pattern: str) -> None:
    assert not plainly_valid(pattern)


def test_no_pattern_it_accepts_is_refused_by_re2() -> None:
    atoms = [*"ab.^$|()[]-*+?{},: 0\\", r"\d", r"\s", r"\b", r"\W", "(?:", "[^", r"\.", r"\]",
             "{2}", "{1,3}", "{0,}", "{3,1}", "{30}", "{500}", "{1000}", "{1001}", "&&", "--"]
    rnd = random.Random(5)
    accepted = 0
    for _ in range(20000):
        pattern = "".join(rnd.choice(atoms) for _ in range(rnd.randint(1, 12)))
        if plainly_valid(pattern):
            accepted += 1
            assert re2_compiles(pattern), pattern
    assert accepted > 2000  # the sample reaches the subset, not only its refusals


def test_loading_a_job_with_a_pattern_imports_no_pyarrow() -> None:
    # the orders asset's email field has a pattern; the DAG loader builds such jobs each parse
    code = ("import sys\n"
            "from airflow_provider_dativo.config.loader import ConfigRoot\n"
            "spec = ConfigRoot(sys.argv[1]).load_job('jobs/acme/orders.yaml')\n"
            "assert any(f.pattern for f in spec.contract.fields)\n"
            "print('pyarrow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "False", out.stderr
