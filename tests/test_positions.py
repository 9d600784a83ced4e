"""Positions in the input's coordinates, whichever engine pass reported them, and fixes as input replacements
(issue 18, item 8)."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

import dockerfix
from dockerfix.positions import History, _back_span, _forward, _PassSpans, apply, back_through, input_replacements
from dockerfix.transforms.base import Edit

# merge-runs joins the apt RUNs and the chown RUN to `RUN nginx -qt` in pass 0; apt-lists-cleanup appends a line
# to the merged RUN in pass 1 (the engine defers it a pass: a cleanup must not land inside a chain a merge is
# making); copy-chown folds the chown into the COPY in pass 1 and drops the now default --chown=root:root in pass 2,
# when the text above it is a line longer than the input.
CHOWN = """\
FROM debian:12
RUN apt-get update
RUN apt-get install -y nginx
COPY etc /etc/nginx
RUN chown -R root:root /etc/nginx
RUN nginx -qt

CMD ["nginx"]
"""


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_a_change_of_a_later_pass_is_reported_at_its_input_line():
    r = dockerfix.fix(CHOWN, unsafe=True)
    late = [c for c in r.changes if c.code == "DFX301" and c.pass_index == 2]
    assert len(late) == 1, r.changes
    c = late[0]
    # the COPY line of the input (the old engine said line 5, the `RUN chown` line: the COPY's line in pass 2's text)
    assert (c.line, c.column) == (_line_of(CHOWN, "COPY etc"), 5)
    assert CHOWN[c.start : c.start + 4] == " etc"  # the point after COPY where the --chown= went


def test_a_cleanup_on_a_run_that_merge_runs_made_points_at_the_input():
    src = "FROM debian:12\n\nRUN apt-get update\nRUN apt-get install -y curl\n\nCMD [\"bash\"]\n"
    r = dockerfix.fix(src)
    cleanup = [c for c in r.changes if c.code == "DFX103"]
    assert [c.pass_index for c in cleanup] == [1]
    assert cleanup[0].line == _line_of(src, "RUN apt-get install")
    assert src[cleanup[0].start :].startswith("apt-get install")


def test_findings_are_in_the_input_with_the_written_position_beside():
    # each block gets a cleanup line in pass 1: the second block's finding is on line 7 of the input, 8 of the output
    src = ("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n\n"
           "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y git\n")
    r = dockerfix.fix(src)
    f = [c for c in r.findings if c.code == "DFX113" and "git" in src[c.start : c.end + 40]]
    assert len(f) == 1, r.findings
    assert f[0].line == 7
    assert f[0].output_position is not None
    line = f[0].output_position[0]
    assert r.text.split("\n")[line - 1].strip().startswith("apt-get install -y git")


def test_every_change_keeps_its_edits_and_input_replacements_give_the_output():
    for src, unsafe in ((CHOWN, True), (CHOWN, False)):
        r = dockerfix.fix(src, unsafe=unsafe)
        assert all(c.edits for c in r.changes)
        reps = r.input_replacements()
        assert apply(src, [(s, e, t) for s, e, t, _ in reps]) == r.text
        held = [c for *_, cs in reps for c in cs]
        assert all(c in held for c in r.changes)
        for (s1, e1, *_), (s2, *_rest) in zip(reps, reps[1:]):
            assert e1 < s2  # disjoint and not touching


def test_a_first_pass_fix_is_its_own_edit_on_the_input():
    src = "FROM debian:12\nADD app.py /app/\nRUN apt-get update\nRUN apt-get install -y curl\n"
    r = dockerfix.fix(src, unsafe=True)
    add = [c for c in r.changes if c.code == "DFX001"]
    assert len(add) == 1 and add[0].pass_index == 0
    mine = [(s, e, t) for s, e, t, cs in r.input_replacements() if add[0] in cs]
    assert mine == [(e.start, e.end, e.text) for e in add[0].edits]


def test_sarif_fixes_apply_to_the_input_and_give_the_output(tmp_path):
    from dockerfix.cli_core import Task, process
    from dockerfix.outputs.sarif import sarif_log

    p = tmp_path / "Dockerfile"
    p.write_text(CHOWN)
    report = process(Task(str(p), "Dockerfile", False, None, None, True, None))
    log = sarif_log([report])
    seen: dict[str, tuple[int, int, str]] = {}
    for res in log["runs"][0]["results"]:
        for fix in res.get("fixes", []):
            for rep in fix["artifactChanges"][0]["replacements"]:
                r = rep["deletedRegion"]
                seen[json.dumps(rep, sort_keys=True)] = (r["charOffset"], r["charOffset"] + r["charLength"],
                                                         rep["insertedContent"]["text"])
    assert apply(CHOWN, sorted(seen.values())) == report.text
    late = [res for res in log["runs"][0]["results"] if res["ruleId"] == "DFX301" and res["properties"]["applied"]]
    assert {res["locations"][0]["physicalLocation"]["region"]["startLine"] for res in late} == {4, 5}
    assert all(res.get("fixes") for res in late)


def test_json_reports_input_lines(tmp_path):
    from dockerfix.cli_core import Task, process
    from dockerfix.outputs.json import report_dict

    p = tmp_path / "Dockerfile"
    p.write_text(CHOWN)
    report = process(Task(str(p), "Dockerfile", False, None, None, True, None))
    changes = report_dict([report], mode="report")["files"][0]["changes"]
    assert sorted(c["line"] for c in changes if c["code"] == "DFX301") == [4, 5]


# ------------------------------------------------------------------ the mapping itself
def test_back_through_maps_offsets_to_the_text_before_the_edits():
    old = "RUN a\nRUN b\nADD x /y\n"
    edits = [Edit(5, 10, " && \\\n    "), Edit(12, 15, "COPY")]
    new = "".join(apply(old, [(e.start, e.end, e.text) for e in edits]))
    assert back_through(old, edits, 0) == 0
    assert back_through(old, edits, new.index("b")) == old.index("b")
    assert back_through(old, edits, new.index("COPY")) == old.index("ADD")
    assert back_through(old, edits, new.index("x")) == old.index("x")


@st.composite
def _passes(draw):
    text = draw(st.text(alphabet="ab\n", min_size=0, max_size=30))
    history = History(text)
    for _ in range(draw(st.integers(0, 4))):
        n = len(text)
        points = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
        edits = []
        last = -1
        for a, b in zip(points[::2], points[1::2]):
            if a <= last:
                continue  # keep them disjoint, never two insertions at one point
            new = draw(st.text(alphabet="xy\n", max_size=5))
            edits.append(Edit(a, b, new))
            last = b if b > a else a
        text = apply(text, [(e.start, e.end, e.text) for e in edits])
        history.add(edits, text)
    return history


@settings(max_examples=300, deadline=None)
@given(_passes())
def test_replacements_of_any_passes_give_the_last_text(history):
    reps = history.replacements()
    assert apply(history.input, [(s, e, t) for s, e, t, _ in reps]) == history.texts[-1]
    for (s1, e1, *_), (s2, *_r) in zip(reps, reps[1:]):
        assert e1 < s2
    members = {m for *_, ms in reps for m in ms}
    assert members == {(k, i) for k, es in enumerate(history.edits) for i in range(len(es))}
    for k, text in enumerate(history.texts):
        for off in range(len(text) + 1):
            assert 0 <= history.to_input(off, k) <= len(history.input)


@st.composite
def _one_pass(draw):
    """A text and one pass of sorted, disjoint edits, several insertions at one point and an insertion next to a
    replacement at the same start included."""
    text = draw(st.text(alphabet="ab\n", min_size=0, max_size=24))
    edits = []
    pos = 0
    while pos <= len(text) and len(edits) < 8:
        pos = draw(st.integers(pos, len(text)))
        for _ in range(draw(st.integers(0, 2))):  # insertions at pos
            edits.append(Edit(pos, pos, draw(st.text(alphabet="xy\n", min_size=1, max_size=3))))
        if draw(st.booleans()) and pos < len(text):
            end = draw(st.integers(pos + 1, len(text)))
            edits.append(Edit(pos, end, draw(st.text(alphabet="xy\n", max_size=4))))
            pos = end
        pos += 1
    edits = sorted(edits)
    return text, edits


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(_one_pass())
def test_the_pass_index_answers_as_the_walks(case):
    # _PassSpans answers span_to_input and the output mapping by bisect; the walks are the definition
    text, edits = case
    h = History(text)
    h.add(edits, apply(text, [(e.start, e.end, e.text) for e in edits]))
    spans = h._pass_spans(0)
    assert isinstance(spans, _PassSpans)
    new_len = len(h.texts[1])
    for start in range(new_len + 1):
        for end in range(start, new_len + 1):
            assert spans.back_span(start, end) == _back_span(text, edits, start, end), (start, end)
    for offset in range(len(text) + 1):
        for after in (False, True):
            assert spans.forward(offset, after) == _forward(edits, offset, after), (offset, after)


def test_input_replacements_name_the_changes_holding_each_edit():
    h = History("abcdef")
    h.add([Edit(1, 2, "X"), Edit(4, 5, "Y")], "aXcdYf")

    class C:
        def __init__(self, *edits):
            self.pass_index = 0
            self.edits = edits

    one, both, other = C(Edit(1, 2, "X")), C(Edit(1, 2, "X"), Edit(4, 5, "Y")), C(Edit(4, 5, "Y"))
    reps = input_replacements(h, "abcdef", "aXcdYf", [one, both, other])
    assert reps == [(1, 2, "X", [one, both]), (4, 5, "Y", [both, other])]
    from dockerfix.positions import by_change

    assert by_change(reps) == {id(one): [(1, 2, "X")], id(both): [(1, 2, "X"), (4, 5, "Y")],
                               id(other): [(4, 5, "Y")]}


def test_input_replacements_fall_back_to_one_span_when_the_mapping_disagrees():
    h = History("abc")
    h.add([Edit(1, 2, "X")], "aXc")

    class C:
        pass_index = 0
        edits = (Edit(1, 2, "X"),)

    c = C()
    assert input_replacements(h, "abc", "aXc", [c]) == [(1, 2, "X", [c])]
    # a text the history does not lead to: one replacement of what differs, held by every change
    assert input_replacements(h, "abc", "aYYc", [c]) == [(1, 2, "YY", [c])]


def test_after_write_a_finding_is_where_the_written_file_has_it(tmp_path):
    from dockerfix.cli_core import Task, process
    from dockerfix.outputs import render

    src = ("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n\n"
           "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y git\n")
    p = tmp_path / "Dockerfile"
    p.write_text(src)
    written = p.read_text  # after process() it is the rewritten file
    report = process(Task(str(p), "Dockerfile", True, None, None, False, None))
    assert report.written
    line = written().split("\n").index("    apt-get install -y git && \\") + 1
    out = render("text", [report], mode="write")
    assert f"Dockerfile:{line}:5: DFX113" in out
    doc = json.loads(render("json", [report], mode="write"))
    assert line in [f["line"] for f in doc["files"][0]["findings"]]
    # without --write the same finding is on the input's line
    p.write_text(src)
    report = process(Task(str(p), "Dockerfile", False, None, None, False, None))
    assert "Dockerfile:7:5: DFX113" in render("text", [report], mode="report")
