#!/usr/bin/env python3
"""Issue 20, target 1: where one fix of a generated file spends its time, and what the 0.5x target leaves per change.

    python bench/bench_fix_phases.py [--cases install-blocks,update-install] [--lines 1600] [--repeat 15]
                                     [--tree TREE] [--corpus ../shared/corpus]

``bench_scaling.py`` says whether a case is within 2x of the corpus's lines/s; this script says why a fix-dense case
is not. For each case, a fresh child fixes the generated file (all default transforms, ``--unsafe``, inside
``dockerfix.batch()``, every cache keyed by text emptied before each fix, as ``bench_scaling.py`` times a row) and
splits each fix into the engine's phases, median of ``--repeat`` fixes (``time.perf_counter`` around engine
functions, wrapped in the child only; the package is not changed):

- ``parse``: the input's parse; ``re-parse``: the parses after each set of applied edits (``reparse_after``);
- ``pass N, head`` / ``pass N, tail``: the transforms up to the last one that joins instructions, and the rest
  (the engine runs the tail on the joined text when the head joined instructions; :func:`dockerfix.engine
  ._fix_document`), with the fixes each reading offered;
- ``choice``: which fixes a pass applies (``_choose``, ``_ordered``); ``records``: each applied fix as a
  ``Change`` at its place in the input (``_change``); ``the rest``: the total minus all of the above.

Then the arithmetic of the target: the same child fixes the file's own output (the file as fixed: one reading,
nothing to apply), which is what reading this file costs; ``(fix - output's fix) / changes`` is what each applied
change costs beyond that one reading, and ``(allowed - output's fix) / changes`` is what a change may cost for the
row to reach 0.5x of the corpus's lines/s, measured in the same run by CPU time as ``bench_scaling.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_perf import child, load, real_world  # noqa: E402
from bench_scaling import CASES, CLEAR_CACHES, CORPUS  # noqa: E402

PY = sys.executable

# clear_caches() is bench_scaling.py's: each fix here is one of its rows
PHASES = CLEAR_CACHES + textwrap.dedent("""
    import json, statistics, sys, time
    sys.path.insert(0, sys.argv[1])
    import dockerfix
    from dockerfix import api, engine
    text = open(sys.argv[2], encoding="utf-8").read()
    repeat = int(sys.argv[3])
    clock = time.perf_counter
    acc = {}
    offered = {}
    state = {"pass": 0, "last_head": False}

    def add(key, dt):
        acc[key] = acc.get(key, 0.0) + dt

    def timed(mod, name, key):
        f = getattr(mod, name)  # (an AttributeError here: the engine changed, update this bench)

        def wrapper(*a, **k):
            t0 = clock()
            try:
                return f(*a, **k)
            finally:
                add(key, clock() - t0)

        setattr(mod, name, wrapper)

    reading = engine.run_transforms

    def run_transforms(ts, ctx):
        head = any(getattr(t, "joins", False) for t in ts)
        if head or not state["last_head"]:  # a tail reading continues the pass its head began
            state["pass"] += 1
        state["last_head"] = head
        key = f"pass {state['pass']}, {'head' if head else 'tail'}"
        t0 = clock()
        diags, errors = reading(ts, ctx)
        add(key, clock() - t0)
        offered[key] = offered.get(key, 0) + sum(1 for d in diags if d.fix is not None)
        return diags, errors

    engine.run_transforms = run_transforms
    timed(api, "parse", "parse")
    timed(engine, "reparse_after", "re-parse")
    timed(engine, "_choose", "choice")
    timed(engine, "_ordered", "choice")
    timed(engine, "_change", "records")

    def measure(t):
        totals, phases, counts = [], {}, {}
        result = None
        with dockerfix.batch():
            dockerfix.fix(t, unsafe=True)
            for _ in range(repeat):
                clear_caches()
                acc.clear(); offered.clear(); state.update({"pass": 0, "last_head": False})
                t0 = clock()
                result = dockerfix.fix(t, unsafe=True)
                totals.append(clock() - t0)
                for k, v in acc.items():
                    phases.setdefault(k, []).append(v)
                counts = dict(offered)
        total = statistics.median(totals)
        med = {k: statistics.median(v) for k, v in phases.items()}
        return total, med, counts, result

    dockerfix.fix("FROM scratch\\nRUN apt-get update\\n", unsafe=True)
    total, med, counts, r = measure(text)
    out_total, out_med, _, r2 = measure(r.text)
    print(json.dumps({"lines": text.count("\\n"), "total": total, "phases": med, "offered": counts,
                      "changes": len(r.changes), "passes": r.passes, "out_lines": r.text.count("\\n"),
                      "out_total": out_total, "out_changes": len(r2.changes)}))
""")

ORDER = ("parse", "re-parse", "choice", "records")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="install-blocks,update-install,stages,and-chain")
    ap.add_argument("--lines", type=int, default=1600)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--tree", default=str(ROOT), help="the source tree to measure (a worktree of another commit)")
    a = ap.parse_args()
    subprocess.run([PY, "-m", "compileall", "-q", str(Path(a.tree) / "dockerfix")], check=True)
    print(f"dockerfix fix phases: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load()}")
    rw = real_world(Path(a.corpus))
    runs = [child(CORPUS, a.tree, json.dumps([str(p) for p in rw])) for _ in range(3)]
    corpus_lines = sum(p.read_bytes().count(b"\n") for p in rw)
    corpus_lps = corpus_lines / min(r["loop_s"] for r in runs)
    print(f"corpus: {len(rw)} real-world files, {corpus_lps:,.0f} lines/s (CPU time, best of 3); "
          f"0.5x = {corpus_lps / 2:,.0f} lines/s")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"), f"dockerfix-phases-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        for case in a.cases.split(","):
            f = tmp / f"{case}.Dockerfile"
            f.write_text(CASES[case](a.lines), encoding="utf-8")
            r = child(PHASES, a.tree, str(f), str(a.repeat))
            f.unlink()
            report(case, r, corpus_lps)
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    print(f"load at the end: {load()}")


def report(case: str, r: dict, corpus_lps: float) -> None:
    total, phases, lines, changes = r["total"], r["phases"], r["lines"], r["changes"]
    print(f"\n{case}: {lines} lines, {r['passes']} passes, {changes} fixes applied; one fix {total * 1e3:.1f} ms "
          f"({lines / total:,.0f} lines/s, {lines / total / corpus_lps:.2f}x the corpus)")
    readings = sorted((k for k in phases if k.startswith("pass")), key=lambda k: (int(k.split()[1][:-1]), k))
    shown = 0.0
    for k in [*(p for p in ORDER[:1] if p in phases), *readings, *(p for p in ORDER[1:] if p in phases)]:
        v = phases[k]
        shown += v
        extra = f"   {r['offered'][k]} fixes offered" if k in r["offered"] else ""
        print(f"  {k:16s} {v * 1e3:8.2f} ms {100 * v / total:5.1f}%{extra}")
    print(f"  {'the rest':16s} {(total - shown) * 1e3:8.2f} ms {100 * (total - shown) / total:5.1f}%")
    allowed = lines / (corpus_lps / 2)
    out = r["out_total"]
    print(f"  its output ({r['out_lines']} lines, {r['out_changes']} fixes) fixed: {out * 1e3:.1f} ms: reading this "
          f"file once")
    if changes:
        print(f"  per applied change beyond that reading: {(total - out) / changes * 1e6:.1f} us now; 0.5x allows "
              f"{allowed * 1e3:.1f} ms in all, {max(allowed - out, 0) / changes * 1e6:.1f} us per change")


if __name__ == "__main__":
    main()
