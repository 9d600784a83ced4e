#!/usr/bin/env python3
"""Parse throughput of dockerfix, dockerfile-parse and BuildKit's Go parser over the corpus, in one run; and the
wall time of `dockerfix - < Dockerfile` against `python -c pass`.

    python bench/bench_parse.py [--corpus ../shared/corpus] [--repeat 3] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def corpus_texts(corpus: Path) -> list[str]:
    out = []
    for dirpath, dirnames, files in os.walk(corpus):
        dirnames.sort()
        if "shell" in dirpath or "negative" in dirpath:
            continue
        for f in sorted(files):
            if f.endswith((".tsv", ".md")) or f == "result":
                continue
            out.append((Path(dirpath) / f).read_bytes().decode("utf-8"))
    return out


def rate(fn, texts: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            try:
                fn(t)
            except Exception:
                pass
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def wall(cmd: list[str], stdin: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    texts = corpus_texts(Path(a.corpus))
    import dockerfix

    rows = [("dockerfix.parse", rate(dockerfix.parse, texts, a.repeat))]
    try:
        import dockerfile

        rows.append(("BuildKit (dockerfile 3.4.0, Go)", rate(dockerfile.parse_string, texts, a.repeat)))
    except ImportError:
        rows.append(("BuildKit (dockerfile 3.4.0, Go)", float("nan")))
    try:
        from dockerfile_parse import DockerfileParser

        def dfp(t: str) -> None:
            p = DockerfileParser(fileobj=__import__("io").BytesIO(t.encode()))
            p.structure  # noqa: B018

        rows.append(("dockerfile-parse", rate(dfp, texts, a.repeat)))
    except ImportError:
        rows.append(("dockerfile-parse", float("nan")))
    print(f"parse throughput over {len(texts)} corpus files (best of {a.repeat}):")
    base = rows[1][1]
    for name, r in rows:
        print(f"  {name:34s} {r:9.0f} files/s   ratio vs BuildKit {r / base:5.2f}")

    sample = sorted(texts, key=lambda t: t.count("\n"))[len(texts) // 2].encode()
    nlines = sample.count(b"\n")
    py = sys.executable
    t_pass = wall([py, "-c", "pass"], b"", a.runs)
    t_fix = wall([py, "-m", "dockerfix", "-"], sample, a.runs)
    print(f"\nformat-on-save, median of {a.runs} (median corpus file, {nlines} lines):")
    print(f"  python -c pass                   {t_pass * 1000:7.1f} ms")
    print(f"  dockerfix - < Dockerfile         {t_fix * 1000:7.1f} ms   ({t_fix / t_pass:.1f}x)")


if __name__ == "__main__":
    main()
