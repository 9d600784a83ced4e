"""``# dockerfix: ignore-stage=`` and ``# dockerfix: ignore-file=``: suppression at stage and file scope.

Each test runs a file where the transforms fire without the pragma (checked in the same test), then with it, and
compares what is left: a pragma that stopped working fails here.
"""

from __future__ import annotations

import pytest

import dockerfix

TWO_STAGES = """\
FROM alpine:3.19 AS build
RUN apk add curl
RUN pip install flask

FROM alpine:3.19
RUN apk add curl
"""

APT = "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"


def _codes(result, attr="changes"):
    return sorted((c.code, c.line) for c in getattr(result, attr))


def _with(pragma: str, at_line: int, text: str = TWO_STAGES) -> str:
    lines = text.splitlines(keepends=True)
    lines.insert(at_line - 1, pragma + "\n")
    return "".join(lines)


def test_without_pragmas_every_stage_is_fixed():
    r = dockerfix.fix(TWO_STAGES)
    assert _codes(r) == [("DFX104", 2), ("DFX104", 6), ("DFX107", 3)]


@pytest.mark.parametrize("key", ["DFX104", "apk-no-cache", "dfx104", "DFX104, DFX999-unused"])
def test_ignore_stage_keeps_that_stage_only(key):
    text = _with(f"# dockerfix: ignore-stage={key}", 1)
    r = dockerfix.fix(text)
    # the first stage keeps its `apk add` (pip is another transform: still fixed); the second stage is fixed
    assert _codes(r) == [("DFX104", 7), ("DFX107", 4)]
    assert r.text.splitlines()[2] == "RUN apk add curl"
    assert r.text.splitlines()[6] == "RUN apk add --no-cache curl"


def test_ignore_stage_above_the_second_stage():
    text = _with("# dockerfix: ignore-stage=DFX104", 5)  # on the blank line's place, right above the second FROM
    r = dockerfix.fix(text)
    assert _codes(r) == [("DFX104", 2), ("DFX107", 3)]
    assert r.text.endswith("FROM alpine:3.19\nRUN apk add curl\n")


def test_ignore_stage_across_blank_lines_and_comments_above_from():
    text = "# dockerfix: ignore-stage=apk-no-cache\n\n# the build stage\n" + TWO_STAGES
    r = dockerfix.fix(text)
    assert _codes(r) == [("DFX104", 9), ("DFX107", 6)]


def test_ignore_stage_without_codes_is_every_transform():
    r = dockerfix.fix(_with("# dockerfix: ignore-stage", 1))
    assert _codes(r) == [("DFX104", 7)]


def test_ignore_stage_above_a_run_is_no_stage_pragma():
    """Only a pragma above a FROM opens a stage scope (README: "above a FROM: the whole stage")."""
    r = dockerfix.fix(_with("# dockerfix: ignore-stage=DFX104", 2))
    assert _codes(r) == [("DFX104", 3), ("DFX104", 7), ("DFX107", 4)]


@pytest.mark.parametrize("line", [1, 4, 7])
def test_ignore_file_anywhere_covers_every_stage(line):
    text = _with("# dockerfix: ignore-file=DFX104", line) if line < 7 else TWO_STAGES + "# dockerfix: ignore-file=DFX104\n"
    r = dockerfix.fix(text)
    assert [c for c, _ in _codes(r)] == ["DFX107"]
    assert r.text.count("apk add curl") == 2 and "--no-cache-dir" in r.text


def test_ignore_file_by_name_and_several_codes():
    r = dockerfix.fix(TWO_STAGES + "# DOCKERFIX: IGNORE-FILE = apk-no-cache, pip-no-cache-dir\n")
    assert _codes(r) == [] and not r.changed


def test_ignore_file_all_leaves_the_file_and_reports_nothing():
    text = "# dockerfix: ignore-file=all\nFROM debian:12\n" + APT + "FROM alpine:3.19\nRUN apk add curl\n"
    plain = dockerfix.fix(text.split("\n", 1)[1])
    assert plain.changes and plain.findings  # without the pragma: fixes and findings
    r = dockerfix.fix(text)
    assert r.text == text and not r.changes and not r.findings


def test_ignore_file_suppresses_findings_too():
    text = "FROM debian:12\n" + APT
    assert "DFX113" in [c.code for c in dockerfix.fix(text).findings]  # an unsafe fix, reported as a finding
    r = dockerfix.fix("# dockerfix: ignore-file=apt-no-install-recommends\n" + text)
    assert "DFX113" not in [c.code for c in r.findings + r.changes]
    assert "DFX113" in [c.code for c in dockerfix.fix("# dockerfix: ignore-file=DFX104\n" + text).findings]


def test_ignore_stage_suppresses_findings_in_that_stage_only():
    text = "# dockerfix: ignore-stage=DFX113\nFROM debian:12 AS a\n" + APT + "FROM debian:12\n" + APT
    r = dockerfix.fix(text)
    assert [c.line for c in r.findings if c.code == "DFX113"] == [5]
