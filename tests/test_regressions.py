"""Replay every input the fuzzer ever caught, forever.

``tests/regressions/<property>-<tag>.case`` holds the raw bytes of one input; ``<property>`` names a property of
``tests/test_properties.py`` (``parse``, ``fix``, ``fix-unsafe``, ``bytes``) and the check runs on it as the fuzzer
ran it. ``bench/fuzz.py`` writes these files (tag = first 12 hex digits of the SHA-256 of the bytes); hand-written
ones use a descriptive tag. A sibling ``<same name>.xfail`` file holding a reason marks a known, not yet fixed bug: the
case is then expected to fail (strictly: once it passes, delete the ``.xfail`` file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_properties import PROPERTIES

HERE = Path(__file__).parent / "regressions"
CASES = sorted(HERE.glob("*.case"))


def _property(case: Path) -> str:
    for name in sorted(PROPERTIES, key=len, reverse=True):
        if case.stem.startswith(name + "-"):
            return name
    raise AssertionError(f"{case.name}: the name must start with one of {sorted(PROPERTIES)} and a dash")


def test_every_case_names_a_property():
    for case in CASES:
        _property(case)
    for marker in HERE.glob("*.xfail"):
        assert marker.with_suffix(".case").exists(), f"{marker.name} marks no case"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_regression(case: Path):
    name = _property(case)
    check, _, _, from_bytes = PROPERTIES[name]
    marker = case.with_suffix(".xfail")
    if marker.exists():
        reason = marker.read_text(encoding="utf-8").strip()
        try:
            check(from_bytes(case.read_bytes()))
        except Exception:
            pytest.xfail(reason)
        pytest.fail(f"{case.name} passes now: delete {marker.name} ({reason})")
    check(from_bytes(case.read_bytes()))
