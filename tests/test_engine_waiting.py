"""The engine's join hint (``Transform.joins``, ``Context.waiting``): the transforms after the last one that joins
instructions skip what a join chosen in the same pass covers. A performance hint: these tests check that the skip
happens, and that it never changes a result (every fixture, all transforms, with and without the hint)."""

from __future__ import annotations

import re

import pytest

import dockerfix
from dockerfix.transforms import registry
from dockerfix.transforms._hygiene import RunHygiene
from dockerfix.transforms.base import Applicability, Diagnostic, Edit, Fix, Transform
from tests.fixture_format import all_fixtures

BLOCKS = "FROM debian:12\n" + "RUN apt-get update\nRUN apt-get install -y curl\nADD app.tar /opt/\n" * 3


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


def test_transforms_after_a_join_skip_the_joined_instructions(monkeypatch):
    seen: list[tuple[int, bool]] = []  # (pass's waiting set size, whether the RUN it read was waiting)
    _spy_on_hygiene(monkeypatch, lambda ctx, site: seen.append((len(ctx.waiting), site.inst.start in ctx.waiting)))
    r = dockerfix.fix(BLOCKS, unsafe=True)
    assert r.text.count("apt-get update && \\\n    apt-get install --no-install-recommends -y curl && \\\n"
                        "    rm -rf /var/lib/apt/lists/*\n") == 3, r.text
    # the first pass joins all six RUNs into three: the hygiene transforms read no RUN there (the file has no
    # other), and read them in the passes after, which join nothing
    assert seen and all(n == 0 and not w for n, w in seen), seen
    assert {c.code for c in r.changes} == {"DFX101", "DFX102", "DFX103", "DFX113"}


def test_without_the_hint_the_same_runs_are_read_in_the_first_pass(monkeypatch):
    # the spy above can fail: with the hint off, the hygiene transforms read the RUNs the merge joins
    for t in registry.all_transforms():
        monkeypatch.setattr(t, "joins", False, raising=False)
    calls: list[int] = []
    _spy_on_hygiene(monkeypatch, lambda ctx, site: calls.append(site.inst.start))
    unhinted = dockerfix.fix(BLOCKS, unsafe=True)
    monkeypatch.undo()
    calls_hinted: list[int] = []
    _spy_on_hygiene(monkeypatch, lambda ctx, site: calls_hinted.append(site.inst.start))
    assert dockerfix.fix(BLOCKS, unsafe=True).text == unhinted.text
    assert calls_hinted and len(calls_hinted) < len(calls)


def _outcome(r):
    return (r.text, r.passes, [(c.code, c.line, c.column, c.applied, c.message, c.reason, c.fix_title)
                               for c in r.changes],
            [(c.code, c.line, c.column, c.message, c.reason, c.fix_title) for c in r.findings],
            sorted((f.path, f.after) for f in r.files.values()), r.errors)


FIXTURES = all_fixtures()


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_the_hint_never_changes_a_result(monkeypatch, unsafe):
    """Every fixture input with all default transforms, with and without the hint: the same text, changes,
    findings, companion files and pass count."""
    texts = sorted({fx.input for fx in FIXTURES})
    assert len(texts) > 300
    with_hint = [_outcome(dockerfix.fix(t, unsafe=unsafe)) for t in texts]
    for t in registry.all_transforms():
        monkeypatch.setattr(t, "joins", False, raising=False)
    without = [_outcome(dockerfix.fix(t, unsafe=unsafe)) for t in texts]
    differ = [t for t, a, b in zip(texts, with_hint, without) if a != b]
    assert not differ, differ[:3]
    assert sum(1 for t in texts if "RUN" in t) > 300


class _BreakingJoin(Transform):
    """Joins the first two RUNs into text that does not parse (an unterminated heredoc)."""

    code = "DFX100"
    name = "test-breaking-join"
    summary = "test only"
    docs = "test only"
    safety = "safe"
    default_enabled = False
    joins = True

    def check(self, ctx):
        m = re.search(r"^RUN apt-get update\nRUN apt-get install -y curl\n", ctx.document.text, re.M)
        if m:
            fix = Fix((Edit(m.start(), m.end(), "RUN <<EOF\napt-get update\n"),), Applicability.SAFE, "Break")
            yield Diagnostic(self.code, self.name, "test join", m.start(), m.end(), fix)


def test_a_reverted_join_keeps_the_findings_of_what_it_would_have_joined(monkeypatch):
    real = registry.all_transforms()
    monkeypatch.setattr(registry, "_cache", sorted(real + [_BreakingJoin()], key=lambda t: t.code))
    text = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n"
    r = dockerfix.fix(text, select=["DFX100", "DFX103"])
    assert r.text == text
    assert any("does not parse" in e for e in r.errors)
    # apt-lists-cleanup's diagnostic on the install RUN, which the breaking join covered in its pass
    assert [c.code for c in r.findings if c.code == "DFX103"], r.findings


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


def test_the_hint_never_changes_a_result_on_generated_files(monkeypatch):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    transforms = registry.all_transforms()
    real = {id(t): getattr(t, "joins", False) for t in transforms}

    def outcome(text, unsafe, hint):
        for t in transforms:
            monkeypatch.setattr(t, "joins", real[id(t)] if hint else False, raising=False)
        return _outcome(dockerfix.fix(text, unsafe=unsafe))

    @settings(max_examples=120, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.composite(_dense)(), st.booleans())
    def check(text, unsafe):
        assert outcome(text, unsafe, True) == outcome(text, unsafe, False), text

    check()
