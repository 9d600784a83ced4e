#!/usr/bin/env python3
"""Throughput of two source trees of dockerfix side by side in one run (a change must not cost more than 10%).

    git worktree add /tmp/dfx-before <commit>
    python bench/bench_before_after.py --before /tmp/dfx-before [--repeat 5] [--corpus ../shared/corpus]

Each repeat runs bench_perf's throughput child (all default transforms, ``--unsafe``, one process over
``real-world/``, inside ``dockerfix.batch()``) once for the old tree and once for this one, interleaved so load
hits both alike; the best and the median of each are printed with the ratio.
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
    a = ap.parse_args()
    paths = real_world(Path(a.corpus))
    arg = json.dumps([str(p) for p in paths])
    for tree in (a.before, str(ROOT)):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tree) / "dockerfix")], check=False)
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


if __name__ == "__main__":
    main()
