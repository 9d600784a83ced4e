#!/usr/bin/env python3
"""Throughput of two source trees of dockerfix side by side in one run (a change must not cost more than 10%).

    git worktree add /tmp/dfx-before <commit>
    python bench/bench_before_after.py --before /tmp/dfx-before [--repeat 5] [--corpus ../shared/corpus]

Each repeat runs bench_perf's throughput child (all default transforms, ``--unsafe``, one process over
``real-world/``, inside ``dockerfix.batch()``) once for the old tree and once for this one, interleaved so load
hits both alike; the best and the median of each are printed with the ratio. On a loaded machine wall and CPU times
swing by 30%; ``--instructions`` counts instructions instead with ``valgrind --tool=callgrind`` (repeatable whatever
the load: the loop over the corpus minus the same script with no files, for each tree).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_perf import THROUGHPUT, child, load, real_world  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="a source tree (git worktree) of the older commit")
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--instructions", action="store_true", help="count instructions with callgrind instead")
    a = ap.parse_args()
    # both trees byte-compiled first, in both modes: a module first imported inside the measured loop (the lazy
    # transform modules, tree-sitter's route) would otherwise be compiled there, in one tree and not the other
    for tree in (a.before, str(ROOT)):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tree) / "dockerfix")], check=False)
    if a.instructions:
        instructions(a)
        return
    paths = real_world(Path(a.corpus))
    arg = json.dumps([str(p) for p in paths])
    print(f"load at start: {load()}; {len(paths)} files")
    rates: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(a.repeat):
        for label, tree in (("before", a.before), ("after", str(ROOT))):
            r = child(THROUGHPUT, tree, arg, "batch")
            rates[label].append(r["n"] / r["loop_s"])
    print(f"load at end: {load()}")
    print("| tree | best files/s | median files/s |")
    print("|---|---|---|")
    for label, xs in rates.items():
        print(f"| {label} | {max(xs):.0f} | {statistics.median(xs):.0f} |")
    print(f"after/before (best): {max(rates['after']) / max(rates['before']):.3f}; "
          f"(median): {statistics.median(rates['after']) / statistics.median(rates['before']):.3f}")


ICOUNT = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import dockerfix
paths = json.loads(sys.argv[2])[: int(sys.argv[3])]
texts = [open(p, "rb").read().decode("utf-8") for p in paths]
with dockerfix.batch():
    for t in texts:
        dockerfix.fix(t, unsafe=True)
"""


def instructions(a) -> None:
    import re
    import tempfile

    paths = real_world(Path(a.corpus))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "icount.py"
        script.write_text(ICOUNT)
        lst = Path(tmp) / "paths.json"
        lst.write_text(json.dumps([str(p) for p in paths]))
        counts = {}
        for label, tree in (("before", a.before), ("after", str(ROOT))):
            got = []
            for n in (0, len(paths)):
                r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                                    str(script), tree, lst.read_text(), str(n)], capture_output=True, text=True,
                                   cwd=tmp)
                m = re.search(r"Collected : (\d+)", r.stderr)
                if m is None:
                    raise SystemExit(r.stderr[-2000:])
                got.append(int(m.group(1)))
            counts[label] = got[1] - got[0]
    print(f"{len(paths)} files, instructions of the fix loop (callgrind)")
    print("| tree | instructions | per file |")
    print("|---|---|---|")
    for label, c in counts.items():
        print(f"| {label} | {c:,} | {c // len(paths):,} |")
    print(f"after/before: {counts['after'] / counts['before']:.4f}")


if __name__ == "__main__":
    main()
