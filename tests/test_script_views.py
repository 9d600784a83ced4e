"""merge-runs' readings of a RUN that depend on its script's text alone are kept on the script (``Script.view``):
computed once per distinct script, for every RUN and pass with that text; what depends on the RUN's place (its
working directory) is still asked per RUN."""

from __future__ import annotations

from collections import Counter

import pytest

import dockerfix
from dockerfix.transforms import _merge, _run, merge_runs
from dockerfix.transforms._run import run_shell
from dockerfix.transforms.base import Context

# 30 RUN pairs no merge joins (each RUN installs and cleans up after itself: no reason to join), identical texts:
# merge-runs asks about every pair in both passes
SELF_CONTAINED = "FROM debian:12\n" + (
    "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n") * 30

VIEWS = [
    (_merge, "_control_flow"), (_merge, "_plain_and_chain"), (_run, "_tail_is_clean"),
    (merge_runs, "_bookkeeping"), (merge_runs, "_refreshes"), (merge_runs, "_cache_events"),
    (merge_runs, "_removed_operands"), (merge_runs, "_path_words"),
]


@pytest.mark.parametrize(("module", "name"), VIEWS, ids=[name for _, name in VIEWS])
def test_a_script_reading_runs_once_per_distinct_script(monkeypatch, module, name):
    from dockerfix.model import shell

    shell._cache_clear()  # a script another test parsed would hold the view already
    calls: Counter[str] = Counter()
    real = getattr(module, name)

    def counted(script):
        calls[script.source] += 1
        return real(script)

    monkeypatch.setattr(module, name, counted)
    r = dockerfix.fix(SELF_CONTAINED, unsafe=True)
    assert not r.errors and not r.changed
    # asked for 30 RUNs (or 29 pairs) in the pass; one script text, one reading
    assert calls and set(calls.values()) == {1}, calls


def test_the_same_rm_under_another_workdir_deletes_another_path():
    # two blocks with the same texts; only the WORKDIR differs, so `rm -r out/f` deletes /a/out/f, which the RUN
    # above wrote, in the first, and /b/out/f, which nothing wrote, in the second (a reading that kept the path the
    # first RUN resolved would give the second block the first one's reason)
    text = ("FROM debian:12\nWORKDIR /a\nRUN echo x > /a/out/f\nRUN rm -r out/f\n"
            "WORKDIR /b\nRUN echo x > /a/out/f\nRUN rm -r out/f\n")
    r = dockerfix.fix(text, unsafe=True)
    reasons = {c.line: c.message for c in r.changes if c.code == "DFX101"}
    assert "deletes files this one created (out/f)" in reasons[3]
    assert "deletes files" not in reasons[6] and "bookkeeping" in reasons[6]


def test_the_same_words_under_another_workdir_name_other_paths():
    doc = dockerfix.parse("FROM debian:12\nWORKDIR /a\nRUN echo x > out/f /tmp/g\n"
                          "WORKDIR /b\nRUN echo x > out/f /tmp/g\n")
    ctx = Context(doc)
    runs = [run_shell(ctx, i) for i in doc.instructions if i.keyword == "RUN"]
    assert runs[0].script is runs[1].script  # one text, one script (and one reading of its words)
    assert [sorted(merge_runs._named_paths(ctx, r)) for r in runs] == [["/a/out/f", "/tmp/g"], ["/b/out/f", "/tmp/g"]]
