"""The JSON report states every change on the input: its span as offsets, its fix as edits (issue 18, item 8).

Each fixture's input is run through the CLI as a user would (all transforms, ``--unsafe``, the fixture's build
context): the JSON report's edits, taken once each, must turn the input into exactly what ``--write`` leaves on disk,
and every reported span must lie on the lines the report names.
"""

from __future__ import annotations

import io
import json
import os

import pytest

from dockerfix import cli_core, cli_fast
from dockerfix.transforms.base import Failure
from fixture_format import all_fixtures

FIXTURES = [f for f in all_fixtures() if f.expect != "none"]


def _run(cwd, *argv: str) -> tuple[int, bytes]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        out = io.BytesIO()
        code = cli_core.run(cli_fast.parse(list(argv)), stdin=io.BytesIO(b""), stdout=out, stderr=io.BytesIO())
        return code, out.getvalue()
    finally:
        os.chdir(old)


def _project(tmp_path, fx) -> None:
    for rel, content in fx.context.items():
        target = tmp_path / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (tmp_path / "Dockerfile").write_bytes(fx.input.encode())


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@pytest.mark.parametrize("fx", FIXTURES, ids=[f"{f.code}/{f.path.stem}" for f in FIXTURES])
def test_json_edits_rebuild_the_written_file_and_spans_sit_on_their_lines(tmp_path, fx):
    _project(tmp_path, fx)
    code, out = _run(tmp_path, "--format", "json", "--unsafe", "Dockerfile")
    if code == 2:
        pytest.skip("the fixture's input is refused as a whole (an error fixture)")
    doc = json.loads(out)
    (f,) = doc["files"]
    source = fx.input

    for c in f["changes"] + f["findings"]:
        assert set(c) >= {"kind", "start", "end", "edits", "files"}
        assert 0 <= c["start"] <= c["end"] <= len(source)
        assert c["kind"] is None or c["kind"] in {k.value for k in Failure}
        # report mode: line/column are the input's, and the offsets are the same place
        assert _line_of(source, c["start"]) == c["line"], c
        assert c["column"] == c["start"] - (source.rfind("\n", 0, c["start"]) + 1) + 1, c
        assert _line_of(source, max(c["start"], c["end"] - 1)) == c["end_line"], c
    for c in f["findings"]:
        assert c["edits"] == []

    edits = sorted({(e["start"], e["end"], e["text"]) for c in f["changes"] for e in c["edits"]})
    for c in f["changes"]:
        assert c["edits"] or c["files"], c  # a fix changes this file, or another file of the context
    for c in f["findings"]:
        assert c["files"] == []
    for (s1, e1, _), (s2, _, _) in zip(edits, edits[1:]):
        assert e1 <= s2, "edits overlap"
    rebuilt, pos = [], 0
    for s, e, t in edits:
        rebuilt += [source[pos:s], t]
        pos = e
    rebuilt.append(source[pos:])

    _run(tmp_path, "--write", "--unsafe", "Dockerfile")
    assert "".join(rebuilt) == (tmp_path / "Dockerfile").read_bytes().decode()


def test_a_finding_states_why_it_has_no_fix_as_data(tmp_path, monkeypatch):
    # pin-digests offline with an empty digest cache: the resolver answers with an error, as data
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\nRUN echo hi\n")
    code, out = _run(tmp_path, "--format", "json", "--offline", "--select", "DFX401", "Dockerfile")
    (c,) = json.loads(out)["files"][0]["findings"]
    assert (c["code"], c["kind"], c["start"], c["end"], c["edits"], c["files"]) == (
        "DFX401", "service-error", 0, 4, [], [])  # the FROM keyword, line 1 column 1
