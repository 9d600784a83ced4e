"""The engine's join step (``Transform.joins``): in a pass where the transforms up to the last one that joins
instructions choose joins, the engine applies those fixes before the rest of the pass runs, which then reads the
joined text. A fix on a RUN a merge covers is then found in the same pass (it took a pass of its own before: a file
whose every stage joins took three passes where two do). These tests check that the rest of the pass reads the
joined text, that the step changes no fixture's result (only the pass it lands in), and what happens when a step's
text does not parse."""

from __future__ import annotations

import re

import pytest

import dockerfix
from dockerfix.transforms import registry
from dockerfix.transforms._hygiene import RunHygiene
from dockerfix.transforms.base import Applicability, Diagnostic, Edit, Fix, Transform
from tests.fixture_format import all_fixtures

BLOCKS = "FROM debian:12\n" + "RUN apt-get update\nRUN apt-get install -y curl\nADD app.tar /opt/\n" * 3
JOINED = ("apt-get update && \\\n    apt-get install --no-install-recommends -y curl && \\\n"
          "    rm -rf /var/lib/apt/lists/*\n")


def _spy_on_hygiene(monkeypatch, record) -> None:
    """Call ``record(ctx, site)`` whenever a RUN-hygiene transform reads a RUN."""
    for t in registry.all_transforms():
        cls = type(t.load() if hasattr(t, "load") else t)
        if issubclass(cls, RunHygiene) and "check_run" not in getattr(cls, "_spied", ()):
            real = cls.check_run

            def spy(self, ctx, site, _real=real):
                record(ctx, site)
                return _real(self, ctx, site)

            monkeypatch.setattr(cls, "check_run", spy)
            monkeypatch.setattr(cls, "_spied", ("check_run",), raising=False)


def _no_join_step(monkeypatch) -> None:
    for t in registry.all_transforms():
        monkeypatch.setattr(t, "joins", False, raising=False)


def test_the_rest_of_a_joining_pass_reads_the_joined_text(monkeypatch):
    read: list[str] = []
    _spy_on_hygiene(monkeypatch, lambda ctx, site: read.append(site.inst.source))
    r = dockerfix.fix(BLOCKS, unsafe=True)
    assert r.text.count(JOINED) == 3, r.text
    # the hygiene transforms never read an install RUN on its own: the merge was applied before they ran
    assert read and all(s.startswith("RUN apt-get update && ") for s in read), read
    assert r.passes == 2  # joins and the fixes on the joined RUNs; then nothing left
    assert {c.code for c in r.changes} == {"DFX101", "DFX102", "DFX103", "DFX113"}
    # the merges apply to the input (step 0), the cleanups and flags to the joined text (step 1), in one pass
    assert {c.pass_index for c in r.changes if c.code in ("DFX101", "DFX102")} == {0}
    assert {c.pass_index for c in r.changes if c.code in ("DFX103", "DFX113")} == {1}


def test_without_the_step_the_first_pass_reads_the_unjoined_runs(monkeypatch):
    # the test above can fail: without the step, the hygiene transforms read the install RUNs a merge joins, and
    # their fixes there wait a pass
    _no_join_step(monkeypatch)
    read: list[str] = []
    _spy_on_hygiene(monkeypatch, lambda ctx, site: read.append(site.inst.source))
    r = dockerfix.fix(BLOCKS, unsafe=True)
    assert "RUN apt-get install -y curl\n" in read
    assert r.text.count(JOINED) == 3 and r.passes == 3


def _outcome(r):
    """Everything but the pass count and the order of the changes (the step applies some fixes a pass earlier)."""
    return (r.text, sorted((c.code, c.line, c.column, c.applied, c.message, c.reason or "", c.fix_title or "")
                           for c in r.changes),
            [(c.code, c.line, c.column, c.message, c.reason, c.fix_title) for c in r.findings],
            sorted((f.path, f.after) for f in r.files.values()), r.errors)


FIXTURES = all_fixtures()


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_the_step_changes_no_fixture_result(monkeypatch, unsafe):
    """Every fixture input with all default transforms, with and without the step: the same text, changes,
    findings, companion files and errors; never more passes, and fewer for the files that join."""
    texts = sorted({fx.input for fx in FIXTURES})
    assert len(texts) > 300
    stepped = [dockerfix.fix(t, unsafe=unsafe) for t in texts]
    _no_join_step(monkeypatch)
    plain = [dockerfix.fix(t, unsafe=unsafe) for t in texts]
    differ = [t for t, a, b in zip(texts, stepped, plain) if _outcome(a) != _outcome(b)]
    assert not differ, differ[:3]
    assert all(a.passes <= b.passes for a, b in zip(stepped, plain))
    assert sum(a.passes < b.passes for a, b in zip(stepped, plain)) >= 15
    assert sum(1 for t in texts if "RUN" in t) > 300


# ------------------------------------------------------------------ a step whose text does not parse
class _TestOnly(Transform):
    summary = docs = "test only"
    safety = "safe"
    default_enabled = False


class _BreakingJoin(_TestOnly):
    """Joins the first two RUNs into text that does not parse (an unterminated heredoc)."""

    code, name, joins = "DFX100", "test-breaking-join", True

    def check(self, ctx):
        m = re.search(r"^RUN apt-get update\nRUN apt-get install -y curl\n", ctx.document.text, re.M)
        if m:
            fix = Fix((Edit(m.start(), m.end(), "RUN <<EOF\napt-get update\n"),), Applicability.SAFE, "Break")
            yield Diagnostic(self.code, self.name, "test join", m.start(), m.end(), fix)


class _EveryRun(_TestOnly):
    """Before the joins: a finding (no fix) on every RUN."""

    code, name, safety = "DFX099", "test-every-run", "display-only"

    def check(self, ctx):
        for inst in ctx.document.instructions:
            if inst.keyword == "RUN":
                yield Diagnostic(self.code, self.name, "a RUN", inst.start, inst.end, None)


class _BreakingAfterJoin(_TestOnly):
    """After the joins: breaks a joined RUN (an unterminated heredoc)."""

    code, name = "DFX199", "test-breaking-after-join"

    def check(self, ctx):
        for inst in ctx.document.instructions:
            if inst.source.startswith("RUN apt-get update && "):
                fix = Fix((Edit(inst.start, inst.start + 4, "RUN <<EOF "),), Applicability.SAFE, "Break")
                yield Diagnostic(self.code, self.name, "test break", inst.start, inst.end, fix)


@pytest.fixture
def register(monkeypatch):
    def add(*extra: Transform) -> None:
        real = registry.all_transforms()
        monkeypatch.setattr(registry, "_cache", sorted(real + list(extra), key=lambda t: t.code))

    return add


def test_a_reverted_join_keeps_the_findings_of_what_it_would_have_joined(register):
    register(_BreakingJoin())
    text = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n"
    r = dockerfix.fix(text, select=["DFX100", "DFX103"])
    assert r.text == text
    assert any("does not parse" in e and "DFX100" in e for e in r.errors)
    # apt-lists-cleanup's diagnostic on the install RUN, which the breaking join covered in its pass
    assert [c.code for c in r.findings if c.code == "DFX103"], r.findings


def test_a_reverted_fix_after_a_join_keeps_the_findings_of_the_transforms_before_it(register):
    # the join applies; the fix after it breaks the file and is reverted; the findings are those of the joined
    # text with every transform, the ones before the join included (they read the text before it in that pass)
    register(_EveryRun(), _BreakingAfterJoin())
    text = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n"
    r = dockerfix.fix(text, select=["DFX099", "DFX101", "DFX199"])
    assert r.text == "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl\n", r.text
    assert any("does not parse" in e and "DFX199" in e for e in r.errors), r.errors
    assert [(c.code, c.line) for c in r.findings if c.code == "DFX099"] == [("DFX099", 2)], r.findings


# ------------------------------------------------------------------ generated files dense in joins
_LINES = (
    "RUN apt-get update", "RUN apt-get install -y curl", "RUN apt-get install -y --no-install-recommends git",
    "RUN rm -rf /var/lib/apt/lists/*", "RUN apt-get update && apt-get install -y wget", "RUN apk add curl",
    "RUN pip install flask", "RUN npm ci", "RUN echo hi > /tmp/x", "RUN rm -rf /tmp/x", "RUN set -e",
    "RUN apt-get update \\\n    && apt-get install -y make", "RUN --mount=type=cache,target=/root/.cache pip install a",
    "ADD app.tar /opt/", "ADD . /src", "COPY . /app", "USER app", "USER root", "WORKDIR /app", "ENV A=1",
    "SHELL [\"/bin/bash\", \"-c\"]", "# a comment", "", "# dockerfix: ignore=merge-runs", "# hadolint ignore=DL3009",
    "RUN chown -R app /app", "RUN curl -o /tmp/a.tgz https://example.com/a.tgz && tar xzf /tmp/a.tgz",
)
_BASES = ("FROM debian:12", "FROM ubuntu:22.04 AS build", "FROM alpine:3.19", "FROM python:3.12-slim")


def _dense(draw) -> str:
    from hypothesis import strategies as st

    out = []
    for _ in range(draw(st.integers(1, 3))):
        out.append(draw(st.sampled_from(_BASES)))
        out.extend(draw(st.lists(st.sampled_from(_LINES), min_size=1, max_size=12)))
    return "\n".join(out) + "\n"


def test_the_step_settles_generated_files(monkeypatch):
    """Files dense in joins: with the step, the result is a fixed point for the engine with and without it, and
    takes no more passes. (The result may differ from the one without the step where fixes compete: which of two
    fixes lands first can decide whether the other still applies; both results are fixed points.)"""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    transforms = registry.all_transforms()
    real = {id(t): getattr(t, "joins", False) for t in transforms}

    def run(text, unsafe, step):
        for t in transforms:
            monkeypatch.setattr(t, "joins", real[id(t)] if step else False, raising=False)
        return dockerfix.fix(text, unsafe=unsafe)

    @settings(max_examples=120, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.composite(_dense)(), st.booleans())
    def check(text, unsafe):
        stepped, plain = run(text, unsafe, True), run(text, unsafe, False)
        assert not stepped.errors, (stepped.errors, text)
        assert stepped.passes <= plain.passes, text
        for step in (True, False):
            again = run(stepped.text, unsafe, step)
            assert again.text == stepped.text and not again.changes, (step, text)

    check()
