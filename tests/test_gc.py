"""dockerfix leaves no reference cycles behind, and ``dockerfix.batch`` tunes and restores the cyclic collector.

Why it matters: the throughput of a batch run (the CLI over a tree, the bot) depends on reference counting
freeing each file's trees as soon as the file is done. A cycle (a memo entry pointing back at its context, a
recursive closure) keeps the whole document alive until the cyclic collector walks it.
"""

from __future__ import annotations

import gc
from collections import Counter

import pytest

import dockerfix
from dockerfix.api import batch
from tests.corpus import corpus_files, read_text
from tests.fixture_format import all_fixtures


def _cyclic_garbage(texts: list[str]) -> Counter:
    """Types of the objects only the cyclic collector could free after fixing ``texts`` (all transforms, unsafe)."""
    dockerfix.fix("FROM scratch\nRUN true\n", unsafe=True)  # imports and first-use caches are not garbage
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for text in texts:
            try:
                dockerfix.fix(text, unsafe=True, select=["all"])
            except Exception:
                pass
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found = Counter(type(o).__module__ + "." + type(o).__qualname__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    finally:
        if was_enabled:
            gc.enable()
    return found


def test_fixing_the_fixtures_leaves_no_cycles() -> None:
    texts = [f.input for f in all_fixtures()]
    assert len(texts) > 150
    found = _cyclic_garbage(texts)
    ours = {k: v for k, v in found.items() if k.startswith("dockerfix.")}
    assert not ours, f"reference cycles through dockerfix objects: {ours}"
    # functions and cells in cycles are recursive closures; a handful may come from the interpreter itself
    assert found["builtins.cell"] < 5, found.most_common(10)


def test_fixing_real_world_files_leaves_no_cycles() -> None:
    files = corpus_files("real-world")
    if not files:
        pytest.skip("corpus not found (clone the project with ../shared beside it)")
    found = _cyclic_garbage([read_text(p) for p in files[::7]])
    ours = {k: v for k, v in found.items() if k.startswith("dockerfix.")}
    assert not ours, f"reference cycles through dockerfix objects: {ours}"


def test_batch_tunes_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with dockerfix.batch() as b:
        assert gc.get_threshold()[0] == b.GEN0 != before[0]
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > frozen_before
        result = dockerfix.fix("FROM debian\nRUN apt-get update\nRUN apt-get install -y curl\n")
        assert result.changed
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_batch_freezes_what_each_file_leaves_and_nothing_outside() -> None:
    """In a batch, what outlives a file (the caches' parses) is frozen after it, so a young collection does not walk
    it again; outside a batch, fixing a file freezes nothing; on exit the block unfreezes all it froze."""
    dockerfix.fix("FROM scratch\nRUN true\n")
    frozen_before = gc.get_freeze_count()
    dockerfix.fix("FROM debian\nRUN apt-get update && apt-get install -y curl wget git\n", unsafe=True)
    assert gc.get_freeze_count() == frozen_before  # not in a batch: the caller's collector is untouched
    with dockerfix.batch():
        entered = gc.get_freeze_count()
        script = "RUN apt-get update && apt-get install -y " + " ".join(f"pkg{i}" for i in range(300)) + "\n"
        dockerfix.fix("FROM debian\n" + script, unsafe=True)
        # the cached parse of that script (hundreds of words) is alive and frozen; the young generation is empty
        assert gc.get_freeze_count() > entered + 300
        assert gc.get_count()[0] < 50
        assert batch.freezing == 1
    assert batch.freezing == 0
    assert gc.get_freeze_count() == frozen_before


def test_batch_restores_the_collector_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(dockerfix.DockerfileSyntaxError):
        with dockerfix.batch():
            dockerfix.fix("FROM debian\nRUN apt-get update\n", unsafe=True)
            dockerfix.fix("FROM x\nRUN <<EOF\necho\n")  # heredoc without its terminator
    assert gc.get_threshold() == before


def test_nested_batches_and_an_outer_freeze_are_kept() -> None:
    before = gc.get_threshold()
    gc.freeze()  # the program's own freeze (e.g. a server before it forks workers)
    try:
        outer_frozen = gc.get_freeze_count()
        with dockerfix.batch():
            with dockerfix.batch():
                dockerfix.fix("FROM debian\nRUN apt-get update\n")
                assert batch.freezing == 0  # neither block froze first: no per-file freeze either
            assert gc.get_threshold()[0] == batch.GEN0  # the inner block restored the outer's setting
        assert gc.get_threshold() == before
        # not unfrozen behind the program's back (an unfreeze empties the permanent generation; a few frozen
        # objects may still be freed by reference counting meanwhile, so the count is not exact)
        assert outer_frozen > 1000 and gc.get_freeze_count() > outer_frozen // 2
    finally:
        gc.unfreeze()


def _collector_during_fix(monkeypatch, text: str) -> bool:
    """Whether the cyclic collector was enabled while the engine ran on ``text``."""
    from dockerfix import api

    seen: list[bool] = []
    real = api.fix_document

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "fix_document", spy)
    dockerfix.fix(text, unsafe=True)
    assert len(seen) == 1
    return seen[0]


def test_fix_pauses_the_collector_on_large_files_only(monkeypatch) -> None:
    from dockerfix.api import PAUSE_COLLECTOR_AT

    big = "FROM debian:12\n" + "RUN apt-get update && apt-get install -y curl\n" * (PAUSE_COLLECTOR_AT // 40)
    assert len(big) >= PAUSE_COLLECTOR_AT
    assert gc.isenabled()
    assert _collector_during_fix(monkeypatch, big) is False
    assert gc.isenabled()  # restored
    assert _collector_during_fix(monkeypatch, "FROM debian:12\nRUN apt-get update\n") is True
    gc.disable()  # a caller's own choice is kept
    try:
        assert _collector_during_fix(monkeypatch, big) is False
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_fix_restores_the_collector_after_an_error() -> None:
    from dockerfix.api import PAUSE_COLLECTOR_AT

    bad = "# " + "x" * PAUSE_COLLECTOR_AT + "\n"  # no instruction: a syntax error
    with pytest.raises(dockerfix.DockerfileSyntaxError):
        dockerfix.fix(bad)
    assert gc.isenabled()
