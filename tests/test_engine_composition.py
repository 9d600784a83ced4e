"""Fixes applied in one pass are checked against each other's text: a fix that joins instructions (a merge) is
applied alone on the instructions it touches, and another fix on them waits for the next pass, where it is checked
again on the merged text. The final text is what must be right, not each fix on its own snapshot."""

from __future__ import annotations

import dockerfix
from dockerfix.engine import _InstructionSpans, fix_document
from dockerfix.syntax import parse
from dockerfix.transforms.base import Applicability, Diagnostic, Edit, Fix, Transform


class _Merge(Transform):
    """Test only: the first two consecutive RUNs become one ``&&`` chain (one edit across the boundary)."""

    code, name, summary, docs, safety, default_enabled = "DFX991", "test-merge", "t", "t", "safe", False

    def check(self, ctx):
        insts = ctx.document.instructions
        pairs = [(a, b) for a, b in zip(insts, insts[1:]) if a.keyword == b.keyword == "RUN"]
        if not pairs:
            return
        a, b = pairs[0]
        end_a = a.end - 1  # before the line break
        yield Diagnostic(self.code, self.name, "merge", a.start, b.end,
                         Fix((Edit(end_a, b.start + 4, " && "),), Applicability.SAFE, "Merge"))


class _Cleanup(Transform):
    """Test only: append ``&& rm -rf /lists`` to a RUN that installs, unless the RUN already ends with it; never when
    an install follows in the same RUN after the append point (its premise)."""

    code, name, summary, docs, safety, default_enabled = "DFX992", "test-cleanup", "t", "t", "safe", False
    after = ("test-merge",)

    def check(self, ctx):
        for inst in ctx.document.instructions:
            body = ctx.document.text[inst.start:inst.end].rstrip("\n")
            if inst.keyword == "RUN" and "install" in body and not body.endswith("rm -rf /lists"):
                end = inst.start + len(body)
                yield Diagnostic(self.code, self.name, "cleanup", inst.start, end,
                                 Fix((Edit.insert(end, " && rm -rf /lists"),), Applicability.SAFE, "Clean"))


TEXT = "FROM debian\nRUN apt-get install -y a\nRUN apt-get install -y b\n"


def test_a_cleanup_never_lands_between_the_runs_a_merge_joins():
    r = fix_document(parse(TEXT), [_Merge(), _Cleanup()])
    assert r.text == "FROM debian\nRUN apt-get install -y a && apt-get install -y b && rm -rf /lists\n"
    assert [c.code for c in r.changes] == ["DFX991", "DFX992"]
    assert r.passes == 3  # merge; cleanup of the merged RUN; settled


def test_fixes_on_instructions_a_merge_does_not_touch_share_its_pass():
    text = "FROM debian\nRUN apt-get install -y a\nRUN apt-get install -y b\nCOPY x /\nRUN apt-get install -y c\n"
    r = fix_document(parse(text), [_Merge(), _Cleanup()])
    assert r.text.endswith("COPY x /\nRUN apt-get install -y c && rm -rf /lists\n")
    first = r.changes[:2]
    assert {c.code for c in first} == {"DFX991", "DFX992"} and first[1].line == 5  # both in pass 1


def test_spans_tell_joins_from_appends_and_inserts():
    doc = parse("FROM a\nRUN x\nRUN y\n")
    spans = _InstructionSpans(doc)
    assert spans.touched([Edit.insert(12, " && z")]) == ({1}, False)  # append before RUN x's line break
    assert spans.touched([Edit(12, 17, " && ")]) == ({1, 2}, True)  # "\nRUN " -> " && ": a join
    assert spans.touched([Edit.insert(13, "COPY a b\n")]) == ({2}, False)  # a new line before RUN y
    assert spans.touched([Edit.insert(0, "# syntax=docker/dockerfile:1\n")]) == ({0}, False)


def test_real_transforms_merge_then_clean_at_the_end_of_the_chain():
    # seen on buildkit's nginx test file: the lists cleanup was appended to the first RUN in the pass that merged
    # it with the next, so it landed in the middle of the chain
    text = ("FROM debian:12\nRUN apt-get update && apt-get install nginx-full -y\n"
            "RUN rm -rf /etc/nginx\n")
    r = dockerfix.fix(text, select=["DFX101", "DFX103"])
    assert r.text == ("FROM debian:12\nRUN apt-get update && apt-get install nginx-full -y && \\\n"
                      "    rm -rf /etc/nginx && \\\n    rm -rf /var/lib/apt/lists/*\n")
