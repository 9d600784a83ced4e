"""Incremental re-parse equals a full parse, field by field, for every engine pass of every corpus file and fixture."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dockerfix
from corpus import corpus_files, read_text
from dockerfix import engine, parse
from dockerfix.syntax import DockerfileSyntaxError
from dockerfix.syntax.incremental import reparse
from dockerfix.transforms.base import Edit
from fixture_format import all_fixtures


def same(a, b, where="doc") -> None:
    """Structural equality of two parse results (records compared field by field, recursively)."""
    assert type(a) is type(b), where
    fields = getattr(type(a), "__record_fields__", None)
    if fields is not None:
        for f in fields:
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


@pytest.fixture
def checked(monkeypatch):
    """Make the engine's re-parse also run the full parse and compare; count what the incremental path took."""
    stats = {"incremental": 0, "full": 0}

    def both(doc, new_text, edits):
        inc = reparse(doc, new_text, [(e.start, e.end, len(e.text)) for e in sorted(edits)])
        full = parse(new_text)
        if inc is None:
            stats["full"] += 1
        else:
            stats["incremental"] += 1
            same(inc, full)
        return full

    monkeypatch.setattr(engine, "reparse_after", both)
    return stats


def test_every_pass_of_the_corpus_and_fixtures(checked):
    texts = [fx.input for fx in all_fixtures()] + [read_text(p) for p in corpus_files()]
    for text in texts:
        try:
            dockerfix.fix(text, unsafe=True)
        except (DockerfileSyntaxError, ValueError):
            continue
    assert checked["incremental"] > 200, checked  # the fast path is the common one, not a corner


def _doc():
    return parse("# syntax=docker/dockerfile:1\nFROM alpine AS a\n# c\nRUN a \\\n  && b\n\nRUN <<EOF\nx\nEOF\n"
                 "ONBUILD RUN --mount=type=cache,target=/x y\nCOPY --chown=1 a b\nCMD [\"x\"]\n")


@pytest.mark.parametrize("anchor,old,new,fast", [
    ("# syntax", "", "# c\n", False),                    # before the first instruction: refused
    ("RUN <<EOF", "", "RUN z\n", True),                  # an insertion between nodes
    ("  && b\n", "  && b\n", "  && b \\\n", False),     # the RUN now swallows the next one: boundary moved
    ("x\nEOF", "x\n", "y\ny\n", True),                   # a heredoc body grows
    ("EOF\nONBUILD", "EOF\n", "", False),                # the terminator goes: unterminated heredoc
    ("ONBUILD RUN", "ONBUILD RUN", "ONBUILD  RUN", True),  # ONBUILD's inner instruction moves
    ("a b\nCMD", "a b", "a b \\", False),                 # the COPY now continues into the next node
])
def test_edits_that_move_boundaries_fall_back_or_agree(anchor, old, new, fast):
    doc = _doc()
    start = doc.text.index(anchor)
    end = start + len(old)
    assert doc.text[start:end] == old
    text = doc.text[:start] + new + doc.text[end:]
    inc = reparse(doc, text, [(start, end, len(new))])
    try:
        full = parse(text)
    except DockerfileSyntaxError:
        assert inc is None
        return
    assert (inc is not None) == fast
    if inc is not None:
        same(inc, full)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 6),
                          st.sampled_from(["", "x", "\n", " \\\n", "RUN a\n", "# c\n", "<<EOF\n", "EOF\n", "\\",
                                           "--mount=type=cache,target=/c ", "\r\n", "\ufeff", "ONBUILD "])),
                max_size=4))
def test_random_edits_agree_with_a_full_parse(raw):
    doc = _doc()
    n = len(doc.text)
    edits, taken = [], -1
    for s, length, new in sorted((min(s, n), length, new) for s, length, new in raw):
        e = min(s + length, n)
        if s <= taken:
            continue
        edits.append(Edit(s, e, new))
        taken = e if e > s else s
    text = engine.apply_edits(doc.text, edits)
    inc = reparse(doc, text, [(e.start, e.end, len(e.text)) for e in edits])
    try:
        full = parse(text)
    except DockerfileSyntaxError:
        assert inc is None
        return
    if inc is not None:
        same(inc, full)
