"""The engine's choice of fixes within one pass: non-overlapping edits, shared identical edits, fixed point."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

import dockerfix
from dockerfix.engine import _Taken, fix_document
from dockerfix.syntax import parse
from dockerfix.transforms.base import Applicability, Diagnostic, Edit, Fix, Transform


class _Tag(Transform):
    """Test only: for every line matching ``pattern``, append ``suffix`` to it and insert ``header`` at the top
    (unless the file already starts with it), as one fix per line."""

    summary = docs = "test only"
    safety = "safe"
    default_enabled = False

    def __init__(self, code: str, pattern: str, suffix: str, header: str) -> None:
        self.code, self.name = code, f"test-tag-{code.lower()}"
        self.pattern, self.suffix, self.header = pattern, suffix, header

    def check(self, ctx):
        text = ctx.document.text
        for m in re.finditer(self.pattern, text, re.M):
            if text[m.start():m.end()].endswith(self.suffix):
                continue
            edits = [Edit.insert(m.end(), self.suffix)]
            if not text.startswith(self.header):
                edits.append(Edit.insert(0, self.header))
            yield Diagnostic(self.code, self.name, "tag", m.start(), m.end(),
                             Fix(tuple(edits), Applicability.SAFE, "Tag"))


TEXT = "FROM alpine\nRUN a\nRUN b\nRUN c\n"


def test_fixes_sharing_an_identical_edit_apply_in_one_pass() -> None:
    t = _Tag("DFX991", r"^RUN \w$", " # tagged", "# syntax=x\n")
    r = fix_document(parse(TEXT), [t])
    assert r.text == "# syntax=x\nFROM alpine\nRUN a # tagged\nRUN b # tagged\nRUN c # tagged\n"
    assert r.text.count("# syntax=x") == 1
    assert r.passes == 2  # one pass applies all three, one finds nothing left
    assert [c.line for c in r.changes] == [2, 3, 4]


def test_different_insertions_at_one_point_still_conflict() -> None:
    # two transforms insert different headers at offset 0: their order would be arbitrary, so one waits a pass
    a = _Tag("DFX991", r"^RUN a$", " # a", "# one\n")
    b = _Tag("DFX992", r"^RUN b$", " # b", "# two\n")
    r = fix_document(parse(TEXT), [a, b])
    assert r.passes == 3
    assert r.text.startswith("# two\n# one\n") or r.text.startswith("# one\n# two\n")
    assert "RUN a # a\n" in r.text and "RUN b # b\n" in r.text


def test_cache_mounts_for_several_runs_land_in_one_pass() -> None:
    text = ("FROM python:3.12-slim\nRUN pip install flask\nRUN pip install requests\nRUN pip install rich\n"
            "CMD [\"python\"]\n")
    r = dockerfix.fix(text, select=["cache-mounts"], settings={"strategy": "cache-mount"})
    assert r.text.count("# syntax=") == 0  # BuildKit's built-in frontend reads RUN --mount: no frontend pull added
    assert r.text.count("--mount=type=cache,target=/root/.cache/pip") == 3
    assert r.passes == 2


def test_a_block_of_runs_merges_in_one_fix() -> None:
    runs = "".join(f"RUN mkdir -p /d{i}\n" for i in range(9))
    text = "FROM alpine\n" + runs + "RUN cd /x\nRUN after-cd\nCMD [\"sh\"]\n"
    r = dockerfix.fix(text, select=["merge-runs"])
    # one fix for the whole block, then a pass that finds nothing (pair by pair it took five passes)
    assert r.passes == 2, r.passes
    assert [c.message for c in r.changes] == [
        "the 9 RUNs on lines 3-11 each make their own layer after the RUN on line 2: bookkeeping commands need no "
        "layer of their own (lines 3-10); the bookkeeping commands above it need no layer of their own (line 11)"]
    # `cd` leaks into the RUN after it: the block ends with it and `after-cd` stays its own RUN
    chain = " && \\\n    ".join([f"mkdir -p /d{i}" for i in range(9)] + ["cd /x"])
    assert r.text == f"FROM alpine\nRUN {chain}\nRUN after-cd\nCMD [\"sh\"]\n"


def test_strategy_is_decided_once_from_the_input() -> None:
    # copy-chown adds COPY --chmod (BuildKit-only) in the first pass; the cleanup strategy must not flip to cache
    # mounts in the passes after it (the input needs no BuildKit, so it is clean-layer for the whole run)
    text = ("FROM python:3.12-slim\nCOPY run.sh /usr/local/bin/run.sh\nRUN chmod 0755 /usr/local/bin/run.sh\n"
            "RUN pip install flask\n")
    r = dockerfix.fix(text, unsafe=True, settings={})
    assert "--chmod=" in r.text  # the premise: a BuildKit-only flag was added
    assert "--mount=type=cache" not in r.text
    assert "--no-cache-dir" in r.text


def _overlaps_reference(a, taken) -> bool:
    """The engine's conflict rule, written out pair by pair (what ``_Taken.overlaps`` answers by bisect)."""
    for e in a:
        for s, t in taken:
            if e.start < t and s < e.end:
                return True
            if e.start == e.end == s == t or (e.start == e.end and s < e.start < t):
                return True
            if s == t and e.start < s < e.end:
                return True
    return False


_spans = st.tuples(st.integers(0, 40), st.integers(0, 12)).map(lambda p: (p[0], p[0] + p[1]))


@settings(max_examples=400, deadline=None)
@given(st.lists(_spans, max_size=12), st.lists(_spans, min_size=1, max_size=3))
def test_taken_spans_conflict_exactly_as_pair_by_pair(taken, new) -> None:
    t = _Taken()
    for s, e in taken:
        t.add(s, e)
    edits = [Edit(s, e, "x") for s, e in new]
    assert t.overlaps(edits) == _overlaps_reference(edits, taken)


def test_a_folder_listing_is_reused_until_the_folder_changes(tmp_path) -> None:
    import os
    import time

    from dockerfix.io import context as ctxmod

    (tmp_path / "a").write_text("x")
    old = time.time() - 60
    os.utime(tmp_path, (old, old))
    c1, c2 = ctxmod.DirectoryContext(str(tmp_path)), ctxmod.DirectoryContext(str(tmp_path))
    assert c1.listdir() == ["a"]
    first = ctxmod._LISTINGS[str(tmp_path)]
    assert c2.listdir() == ["a"] and ctxmod._LISTINGS[str(tmp_path)] is first  # shared, not listed again
    (tmp_path / "b").write_text("y")  # the folder's mtime moves: listed afresh
    assert c2.listdir() == ["a", "b"]
    (tmp_path / "c").write_text("z")  # changed within the racy window: never served from the cache
    assert c1.listdir() == ["a", "b", "c"]


@settings(max_examples=300, deadline=None)
@given(st.text("ab\n", max_size=30), st.data())
def test_history_maps_offsets_back_as_back_through_does(text, data) -> None:
    """History.to_input bisects each pass's edits; back_through walks them: the same offset for every position."""
    from dockerfix.engine import apply_edits
    from dockerfix.positions import History, back_through

    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    edits = [Edit(a, b, data.draw(st.text("abX", max_size=4))) for a, b in zip(cuts[::2], cuts[1::2])]
    new = apply_edits(text, edits)
    h = History(text)
    h.add(edits, new)
    for off in range(len(new) + 1):
        assert h.to_input(off, 1) == back_through(text, sorted(edits), off)


def test_a_pass_forgets_the_scripts_its_edits_replaced() -> None:
    """After a pass, the shell cache no longer holds a long script an edit replaced, unless another instruction of the
    new document still has that text (it is asked again next pass); short scripts stay for the next file."""
    from dockerfix.engine import _forget_replaced
    from dockerfix.model.shell import parse_shell_cached

    pad = " " + "x" * 4096  # the cache keeps scripts under 4 KiB whatever happens
    text = (f"FROM debian:12\nRUN apt-get install -y curl{pad}\nRUN echo same{pad}\nRUN echo same{pad}\n"
            f"ONBUILD RUN echo onbuild{pad}\nRUN <<EOF\necho body{pad}\nEOF\nRUN echo short\n")
    doc = parse(text)
    sources = (f"apt-get install -y curl{pad}", f"echo same{pad}", f"echo onbuild{pad}", f"echo body{pad}\n",
               "echo short")
    before = {src: parse_shell_cached(src) for src in sources}
    assert all(parse_shell_cached(src) is before[src] for src in sources)  # cached
    # edit the install, the second `echo same`, the ONBUILD RUN, the heredoc body and the short one
    edits = []
    for old, new, nth in (("curl", "curl wget", 0), ("echo same", "echo other", 1), ("onbuild", "later", 0),
                          ("body", "text", 0), ("short", "brief", 0)):
        at = -1
        for _ in range(nth + 1):
            at = text.index(old, at + 1)
        edits.append(Edit(at, at + len(old), new))
    edits.sort()
    new_text = text
    for e in reversed(edits):
        new_text = new_text[:e.start] + e.text + new_text[e.end:]
    _forget_replaced(doc, parse(new_text), edits)
    kept = {src for src in sources if parse_shell_cached(src) is before[src]}
    # the first `RUN echo same` still has its text; the short one is kept for the next file that has it
    assert kept == {f"echo same{pad}", "echo short"}


def test_a_fix_leaves_its_result_scripts_cached_and_the_replaced_ones_out() -> None:
    from dockerfix.model.shell import _LONG

    chain = " && ".join(f"apt-get install -y pkg{i}" for i in range(200))  # over 4 KiB
    r = dockerfix.fix(f"FROM debian:12\nRUN apt-get update && {chain}\n", unsafe=True)
    assert r.changes and r.text != r.original
    assert f"apt-get update && {chain}" not in _LONG
    final = parse(r.text).instructions[1].rest
    assert final in _LONG
