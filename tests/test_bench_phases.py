"""``bench/bench_fix_phases.py`` splits a fix into the engine's phases by wrapping engine functions in a child
process. Nothing times anything here (speed is only measured by the bench scripts): this checks that the wrapping
still matches the engine, so the bench does not rot when the engine's internals move. A renamed engine function
fails the child; a phase labelled wrongly (a confirming pass counted as pass 1, a tail reading as a pass of its own)
or a fix the wrappers lose fails the counts below."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_fix_phases import PHASES  # noqa: E402
from bench_perf import child  # noqa: E402
from bench_scaling import CASES  # noqa: E402


def test_phases_of_install_blocks(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text(CASES["install-blocks"](30), encoding="utf-8")  # 10 blocks: update / install / ADD
    r = child(PHASES, str(ROOT), str(f), "1")
    # pass 1: merge-runs and apt-update-alone each offer the join of every block (the head, on the input); the
    # cleanup and the flag come from the tail, on the joined text; pass 2 reads the result and offers nothing
    assert r["offered"] == {"pass 1, head": 20, "pass 1, tail": 20, "pass 2, head": 0, "pass 2, tail": 0}
    assert r["changes"] == 40 and r["passes"] == 2
    assert {"parse", "re-parse", "choice", "records"} <= set(r["phases"])
    assert sum(r["phases"].values()) <= r["total"]
    assert r["out_changes"] == 0  # the output is a fixed point: its fix is one reading


def test_phases_without_a_join(tmp_path: Path) -> None:
    # no RUN pair to join: each pass reads the head and the tail of the same text, and a tail after a head is the
    # same pass (two passes here: the flag, then the confirming one)
    f = tmp_path / "Dockerfile"
    f.write_text("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", encoding="utf-8")
    r = child(PHASES, str(ROOT), str(f), "1")
    assert set(r["offered"]) == {"pass 1, head", "pass 1, tail", "pass 2, head", "pass 2, tail"}
    assert r["offered"]["pass 1, head"] == 0 and r["offered"]["pass 1, tail"] == 2
    assert r["changes"] == 2 and r["passes"] == 2
