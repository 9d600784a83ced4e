"""Renderers: unified diff, text, JSON, SARIF 2.1.0 (structural check), GitHub annotations."""

from __future__ import annotations

import json

import pytest

from dockerfix.engine import Change
from dockerfix.outputs import FileError, FileReport, render
from dockerfix.outputs.diff import NO_NEWLINE, colorize, split_lines, unified_diff
from dockerfix.outputs.github import escape_data, escape_property, render_github
from dockerfix.outputs.json import SCHEMA_VERSION, report_dict
from dockerfix.outputs.sarif import sarif_log
from dockerfix.outputs.text import render_text, summary

BEFORE = "FROM alpine\nADD app.py /app/\nRUN echo hi\n"
AFTER = "FROM alpine\nCOPY app.py /app/\nRUN echo hi\n"


def change(**kw) -> Change:
    base = dict(code="DFX001", name="add-local-to-copy", line=2, column=1, message="ADD copies local files",
                safe=True, applied=True, fix_title="Replace ADD with COPY", end_line=2)
    base.update(kw)
    return Change(**base)


def fixed_report(path="app/Dockerfile", before=BEFORE, after=AFTER) -> FileReport:
    from dockerfix.positions import History
    from dockerfix.transforms.base import Edit

    # the engine's record of the rewrite: SARIF states fixes from the edits (ADD -> COPY on line 2)
    edits = (Edit(before.index("ADD app.py /app/\n"), before.index("RUN"), "COPY app.py /app/\n"),)
    history = History(before)
    history.add(edits, after)
    return FileReport(path, original=before, text=after, changes=[change(edits=edits)], history=history)


# ------------------------------------------------------------------ diff
def _patch(before: str, diff: str) -> str:
    """Apply a unified diff of one file (the hunks in order, context and removed lines checked)."""
    import re

    old = split_lines(before)
    lines = split_lines(diff)
    out: list[str] = []
    pos = 0
    i = 2  # past the --- / +++ header
    while i < len(lines):
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", lines[i])
        assert m, lines[i]
        start = int(m.group(1)) - (0 if m.group(2) == "0" else 1)
        out.extend(old[pos:start])
        pos = start
        i += 1
        while i < len(lines) and not lines[i].startswith("@@"):
            line = lines[i]
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            body = line[1:]
            if nxt == NO_NEWLINE:
                body = body[:-1]
                i += 1
            if line[0] in " -":
                assert old[pos] == body, (old[pos], body)
                pos += 1
            if line[0] in " +":
                out.append(body)
            i += 1
    out.extend(old[pos:])
    return "".join(out)


def test_large_diffs_read_only_the_replaced_lines(monkeypatch):
    # above WHOLE_DIFF_LINES the diff compares only the lines the fixes replaced: on every fixture (forced) and on a
    # large generated file it applies, and on most fixtures it is what difflib over the whole files writes
    import dockerfix
    from dockerfix.outputs import diff as diff_module
    from tests.fixture_format import all_fixtures

    texts = sorted({fx.input for fx in all_fixtures()})
    texts.append("FROM debian:12\n" + "RUN apt-get update\nRUN apt-get install -y curl\nADD app.tar /opt/\n" * 700)
    cases = []
    for t in texts:
        r = dockerfix.fix(t, unsafe=True)
        if r.text != t:
            cases.append((t, r.text, [(s, e, x) for s, e, x, _ in r.input_replacements()]))
    whole = [unified_diff(t, x, "Dockerfile") for t, x, _ in cases]
    monkeypatch.setattr(diff_module, "WHOLE_DIFF_LINES", 0)
    region = [unified_diff(t, x, "Dockerfile", replaced=reps) for t, x, reps in cases]
    for (t, x, _), d in zip(cases, region):
        assert _patch(t, d) == x
    same = sum(1 for a, b in zip(whole, region) if a == b)
    assert len(cases) > 150 and same >= 0.9 * len(cases), (same, len(cases))
    # the large file: difflib over the whole file junks its repeated lines and removes and adds back every ADD;
    # the region diff keeps them as context
    assert len(region[-1]) < len(whole[-1])
    assert region[-1].count("-ADD app.tar") == 0 < whole[-1].count("-ADD app.tar")


def test_split_lines_only_on_newline():
    assert split_lines("a\r\nb\x0cc\u2028d\re\n") == ["a\r\n", "b\x0cc\u2028d\re\n"]
    assert split_lines("a\nb") == ["a\n", "b"]
    assert split_lines("") == []


def test_unified_diff_headers_and_body():
    d = unified_diff(BEFORE, AFTER, "app/Dockerfile")
    assert d == (
        "--- a/app/Dockerfile\n+++ b/app/Dockerfile\n@@ -1,3 +1,3 @@\n"
        " FROM alpine\n-ADD app.py /app/\n+COPY app.py /app/\n RUN echo hi\n"
    )
    assert unified_diff(BEFORE, BEFORE, "x") == ""


def test_unified_diff_no_newline_markers():
    d = unified_diff("FROM a\nADD x /y", "FROM a\nCOPY x /y", "Dockerfile")
    assert d.endswith("-ADD x /y\n" + NO_NEWLINE + "+COPY x /y\n" + NO_NEWLINE)
    # only the old side lacks the final newline
    d = unified_diff("ADD x /y", "COPY x /y\n", "Dockerfile")
    assert d.endswith("-ADD x /y\n" + NO_NEWLINE + "+COPY x /y\n")


def test_unified_diff_crlf_byte_exact():
    before, after = BEFORE.replace("\n", "\r\n"), AFTER.replace("\n", "\r\n")
    d = unified_diff(before, after, "Dockerfile")
    assert "-ADD app.py /app/\r\n+COPY app.py /app/\r\n" in d
    assert d.startswith("--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,3 +1,3 @@\n FROM alpine\r\n")


def test_diff_absolute_path_is_p1_relative():
    assert unified_diff(BEFORE, AFTER, "/abs/Dockerfile").startswith("--- a/abs/Dockerfile\n+++ b/abs/Dockerfile\n")


def test_colorize_keeps_text_and_line_endings():
    d = unified_diff(BEFORE.replace("\n", "\r\n"), AFTER.replace("\n", "\r\n"), "Dockerfile")
    c = colorize(d)
    assert "\x1b[31m-ADD app.py /app/\x1b[0m\r\n" in c
    assert "\x1b[32m+COPY app.py /app/\x1b[0m\r\n" in c
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", c) == d


# ------------------------------------------------------------------ text
def test_text_report_lines():
    r = fixed_report()
    r.findings = [change(code="DFX999", name="x", line=3, column=5, message="no fix here", safe=False,
                         applied=False, fix_title=None),
                  change(code="DFX998", name="y", line=1, column=1, message="unsafe\nfix", safe=False,
                         applied=False, fix_title="Do it")]
    out = render_text([r], mode="report")
    assert out.splitlines() == [
        "app/Dockerfile:1:1: DFX998 unsafe\\nfix (unsafe fix: --unsafe)",
        "app/Dockerfile:2:1: DFX001 [*] ADD copies local files",
        "app/Dockerfile:3:5: DFX999 no fix here",
    ]
    # after a rewrite only what remains is listed
    assert "DFX001" not in render_text([r], mode="write")
    assert "\x1b[" in render_text([r], mode="report", color=True)
    s = summary([r], mode="report")
    assert s.startswith("Found 3 issues in 1 file (1 fixable with --write)") and "1 more fixable with --unsafe" in s


def test_text_skips_error_files_and_does_not_interpret_markup():
    bad = FileReport("Dockerfile", error=FileError("syntax", "boom", 2, 5))
    r = fixed_report()
    r.changes = [change(message="[bold red]not markup[/] [a-z]*")]
    out = render_text([bad, r], mode="report")
    assert "[bold red]not markup[/] [a-z]*" in out and "boom" not in out
    assert summary([bad, r], mode="diff").endswith("; 1 file with errors.\n")


# ------------------------------------------------------------------ json
def test_json_schema():
    bad = FileReport("bad/Dockerfile", error=FileError("syntax", "unterminated heredoc", 2, 5))
    doc = json.loads(render("json", [fixed_report(), bad], mode="report"))
    assert list(doc) == ["version", "tool", "mode", "files", "summary"]
    assert doc["version"] == SCHEMA_VERSION == 1
    assert doc["tool"]["name"] == "dockerfix" and doc["mode"] == "report"
    f0, f1 = doc["files"]
    assert list(f0) == ["path", "changed", "written", "error", "internal_errors", "changes", "side_files", "findings"]
    assert f0["path"] == "app/Dockerfile" and f0["changed"] is True and f0["error"] is None
    c = f0["changes"][0]
    assert {k: c[k] for k in ("code", "name", "line", "column", "safe", "applied", "fix")} == {
        "code": "DFX001", "name": "add-local-to-copy", "line": 2, "column": 1, "safe": True, "applied": True,
        "fix": "Replace ADD with COPY",
    }
    assert set(c) >= {"message", "end_line", "reason"}
    assert f1["error"] == {"kind": "syntax", "message": "unterminated heredoc", "line": 2, "column": 5}
    assert doc["summary"] == {"files": 2, "changed": 1, "changes": 1, "findings": 0, "errors": 1}
    assert report_dict([], mode="write")["mode"] == "write"


# ------------------------------------------------------------------ sarif
def check_sarif_structure(log: dict) -> None:
    """A minimal structural check of the SARIF 2.1.0 shape (the official schema comes later)."""
    assert log["version"] == "2.1.0"
    assert isinstance(log["$schema"], str)
    assert isinstance(log["runs"], list) and log["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str)
        rule_ids = []
        for rule in driver.get("rules", []):
            assert isinstance(rule["id"], str)
            assert isinstance(rule["shortDescription"]["text"], str)
            assert isinstance(rule["help"]["text"], str)
            assert "helpUri" not in rule
            assert rule["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
            rule_ids.append(rule["id"])
        assert len(set(rule_ids)) == len(rule_ids)
        for res in run["results"]:
            assert isinstance(res["message"]["text"], str)
            assert res["level"] in ("none", "note", "warning", "error")
            assert res["ruleId"] in rule_ids
            if "ruleIndex" in res:
                assert rule_ids[res["ruleIndex"]] == res["ruleId"]
            for loc in res["locations"]:
                phys = loc["physicalLocation"]
                assert isinstance(phys["artifactLocation"]["uri"], str)
                region = phys["region"]
                assert isinstance(region["startLine"], int) and region["startLine"] >= 1
                assert isinstance(region["startColumn"], int) and region["startColumn"] >= 1
                assert region.get("endLine", region["startLine"]) >= region["startLine"]
            for fix in res.get("fixes", []):
                assert fix["artifactChanges"], "artifactChanges needs at least one item"
                for ac in fix["artifactChanges"]:
                    assert isinstance(ac["artifactLocation"]["uri"], str)
                    assert ac["replacements"]
                    for rep in ac["replacements"]:
                        dr = rep["deletedRegion"]
                        assert ("startLine" in dr) or ("charOffset" in dr)
                        assert isinstance(rep.get("insertedContent", {"text": ""})["text"], str)
        for inv in run.get("invocations", []):
            assert isinstance(inv["executionSuccessful"], bool)


def test_sarif_structure_and_fixes():
    bad = FileReport("bad/Dockerfile", error=FileError("syntax", "boom", 2, 5))
    r = fixed_report()
    r.findings = [change(line=3, applied=False, safe=False, fix_title=None, message="no fix")]
    log = sarif_log([r, bad])
    check_sarif_structure(log)
    run = log["runs"][0]
    codes = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert "DFX001" in codes
    fixed = [res for res in run["results"] if res["locations"][0]["physicalLocation"]["region"]["startLine"] == 2]
    (res,) = fixed
    (rep,) = res["fixes"][0]["artifactChanges"][0]["replacements"]
    off, length = rep["deletedRegion"]["charOffset"], rep["deletedRegion"]["charLength"]
    assert BEFORE[off : off + length] == "ADD app.py /app/\n"
    assert BEFORE[:off] + rep["insertedContent"]["text"] + BEFORE[off + length :] == AFTER
    nofix = [res for res in run["results"] if res["message"]["text"] == "no fix"]
    assert nofix and "fixes" not in nofix[0]
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert inv["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


# ------------------------------------------------------------------ github
@pytest.mark.parametrize(
    "raw, data, prop",
    [
        ("a%b", "a%25b", "a%25b"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("x:y,z", "x:y,z", "x%3Ay%2Cz"),
        ("100%: done, ok\n", "100%25: done, ok%0A", "100%25%3A done%2C ok%0A"),
    ],
)
def test_github_escaping(raw, data, prop):
    assert escape_data(raw) == data
    assert escape_property(raw) == prop


def test_github_annotations():
    r = fixed_report(path="dir,with:odd%name/Dockerfile")
    r.changes = [change(message="50% of\nlines")]
    bad = FileReport("bad/Dockerfile", error=FileError("syntax", "unterminated heredoc", 2, 5))
    out = render_github([r, bad], mode="report").splitlines()
    assert out[0] == (
        "::warning file=dir%2Cwith%3Aodd%25name/Dockerfile,line=2,col=1,endLine=2,title=DFX001"
        "::50%25 of%0Alines (fix: Replace ADD with COPY)"
    )
    assert out[1] == "::error file=bad/Dockerfile,line=2,col=5,title=dockerfix%3A syntax error::unterminated heredoc"
