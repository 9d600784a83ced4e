"""Pragmas mean what the author meant: ignoring a transform stops that rewrite whoever would make it, and a pragma
dockerfix cannot read is reported instead of silently suppressing nothing."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.engine import Suppressions, withhold_fixes
from dockerfix.syntax import parse

UPDATE_THEN_INSTALL = "FROM debian:12\n{pragma}RUN apt-get update\nRUN apt-get install -y curl\n"
MERGED = "RUN apt-get update && \\\n"


def _fix(text: str, **kw):
    return dockerfix.fix(text, select=kw.pop("select", ["DFX101", "DFX102"]), **kw)


def test_control_apt_update_alone_merges():
    r = _fix(UPDATE_THEN_INSTALL.format(pragma=""))
    assert MERGED in r.text
    assert {c.code for c in r.changes} <= {"DFX101", "DFX102"} and r.changes
    # apt-update-alone alone (merge-runs not selected, not ignored) merges too
    assert MERGED in dockerfix.fix(r.original, select=["DFX102"]).text


@pytest.mark.parametrize("pragma", [
    "# dockerfix: ignore=merge-runs\n",
    "# dockerfix: ignore=DFX101\n",
    "# hadolint ignore=DL3059\n",  # the rule merge-runs answers: the author's intent to keep the RUNs apart
])
def test_ignoring_merge_runs_stops_apt_update_alone_merging(pragma):
    text = UPDATE_THEN_INSTALL.format(pragma=pragma)
    r = _fix(text)
    assert r.text == text
    assert not r.changes
    assert [f.code for f in r.findings if f.code == "DFX102"] == ["DFX102"]


def test_prefix_pragma_suppresses_every_code_it_starts():
    text = UPDATE_THEN_INSTALL.format(pragma="# dockerfix: ignore=dfx10\n")
    r = dockerfix.fix(text, select=["DFX101", "DFX102"])
    assert r.text == text and not r.changes and not r.findings


@pytest.mark.parametrize("pragma", ["# dockerfix: ignore=merge-runs\n", "# hadolint ignore=DL3059\n"])
def test_withheld_fix_stays_a_finding_that_says_why(pragma):
    r = _fix(UPDATE_THEN_INSTALL.format(pragma=pragma))
    (d,) = [f for f in r.findings if f.code == "DFX102"]
    assert not d.fixable
    assert "merge" in d.reason and "DFX101 merge-runs" in d.reason


@pytest.mark.parametrize("ignore", [["merge-runs"], ["DFX101"], "merge-runs,DFX113"])
def test_ignore_option_stops_the_same_edit(ignore):
    text = UPDATE_THEN_INSTALL.format(pragma="")
    r = dockerfix.fix(text, ignore=ignore)
    assert MERGED not in r.text
    assert any(f.code == "DFX102" and not f.fixable for f in r.findings)


def test_ignoring_apt_update_alone_leaves_merge_runs_its_own_reason():
    text = UPDATE_THEN_INSTALL.format(pragma="# dockerfix: ignore=DFX102\n")
    r = _fix(text)
    assert MERGED in r.text  # merge-runs joins an update with its install for its own reason
    assert [c.code for c in r.changes] == ["DFX101"]
    assert not [f for f in r.all if f.code == "DFX102"]


def test_pragma_on_the_install_also_stops_the_merge():
    text = "FROM debian:12\nRUN apt-get update\n# dockerfix: ignore=merge-runs\nRUN apt-get install -y curl\n"
    assert _fix(text).text == text


def test_withhold_fixes_is_a_no_op_without_ignores():
    doc = parse(UPDATE_THEN_INSTALL.format(pragma=""))
    r = _fix(doc.text)
    assert r.changes  # control
    from dockerfix.engine import run_transforms, select_transforms
    from dockerfix.transforms.base import Context

    ts = select_transforms(["DFX101", "DFX102"])
    diags, _ = run_transforms(ts, Context(doc))
    assert withhold_fixes(diags, ts, Suppressions.of(doc)) is diags
    out = withhold_fixes(diags, ts, Suppressions.of(doc), ["merge-runs"])
    assert [d.fix for d in out if d.code == "DFX102"] == [None]


def test_lsp_offers_no_code_action_for_a_withheld_fix(tmp_path):
    from dockerfix import lsp

    path = tmp_path / "Dockerfile"
    text = UPDATE_THEN_INSTALL.format(pragma="# dockerfix: ignore=merge-runs\n")
    path.write_text(text)
    a = lsp.analyze(text, str(path))
    assert [f.fix for f in a.findings if f.code == "DFX102"] == [None]


# ------------------------------------------------------------------ DFX901 unknown-pragma
def _pragma_findings(text: str) -> list[str]:
    return [f.message for f in dockerfix.fix(text).findings if f.code == "DFX901"]


def test_unknown_codes_are_reported_with_their_spelling():
    msgs = _pragma_findings("FROM debian:12\n# dockerfix: ignore=Merge-Run, DFX1O1 ,DFX103\nRUN echo hi\n")
    assert msgs == [
        "unknown code or transform 'Merge-Run' in a dockerfix pragma",
        "unknown code or transform 'DFX1O1' in a dockerfix pragma",
    ]


@pytest.mark.parametrize("line", ["# dockerfix: ignor=DFX101", "# dockerfix: skip", "#dockerfix:ignore-all"])
def test_comment_that_is_no_pragma_is_reported(line):
    (msg,) = _pragma_findings(f"FROM debian:12\n{line}\nRUN echo hi\n")
    assert msg.startswith("not a dockerfix pragma") and line.strip() in msg


@pytest.mark.parametrize("line", [
    "# dockerfix: ignore", "# dockerfix: ignore=all", "# DockerFix: Ignore-Stage=DFX1", "# dockerfix: ignore-file=copy-chown",
    "# about dockerfix: a comment, not addressed to it", "# hadolint ignore=DL9999",
])
def test_valid_pragmas_and_other_comments_are_not_reported(line):
    assert _pragma_findings(f"FROM debian:12\n{line}\nRUN echo hi\n") == []


def test_pragma_findings_point_at_the_comment():
    r = dockerfix.fix("FROM debian:12\n\n  # dockerfix: ignore=nope\nRUN echo hi\n")
    (f,) = [f for f in r.findings if f.code == "DFX901"]
    assert (f.line, f.column) == (3, 3)


def test_unknown_pragma_can_itself_be_ignored_file_wide():
    assert _pragma_findings("# dockerfix: ignore-file=DFX901\nFROM debian:12\n# dockerfix: ignore=nope\nRUN x\n") == []
