#!/usr/bin/env python3
"""Dump what dockerfix makes of every corpus file, to diff two trees' output (a performance change must not change it).

    python bench/dump_corpus_output.py [--tree DIR] [--corpus ../shared/corpus] [--context] > out.txt
    diff before.txt after.txt

For every corpus file (as ``tests/corpus.py`` reads them, the shell and negative cases left out), in safe and in
``--unsafe`` mode: the fixed text byte for byte, the findings left, the fixes applied (code and count, not their
order or lines: a pass loop that applies more per pass applies the same fixes in other passes) and any error.
``--context`` passes each file's own folder as its build context. ``--tree`` imports dockerfix from another source
tree (a git worktree of an older commit), so one script dumps both sides.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def corpus_paths(corpus: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, files in os.walk(corpus):
        dirnames.sort()
        if "shell" in dirpath or "negative" in dirpath:
            continue
        for f in sorted(files):
            if f.endswith((".tsv", ".md")) or f == "result":
                continue
            out.append(Path(dirpath) / f)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=str(ROOT))
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--context", action="store_true", help="each file's folder as its build context")
    ap.add_argument("--passes", action="store_true", help="also print the pass count of each file")
    a = ap.parse_args()
    sys.path.insert(0, a.tree)
    import dockerfix

    corpus = Path(a.corpus).resolve()
    out = sys.stdout
    with dockerfix.batch():
        for p in corpus_paths(corpus):
            rel = p.relative_to(corpus)
            try:
                text = p.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            for unsafe in (False, True):
                out.write(f"=== {rel} {'unsafe' if unsafe else 'safe'}\n")
                try:
                    r = dockerfix.fix(text, unsafe=unsafe, path=str(p),
                                      context=str(p.parent) if a.context else None)
                except Exception as exc:  # a syntax error or a guard: the message is the output
                    out.write(f"error {type(exc).__name__}: {exc}\n")
                    continue
                if r.text == text:
                    out.write("unchanged\n")
                else:
                    out.write(f"text sha1 {hashlib.sha1(r.text.encode()).hexdigest()}\n{r.text}\n--- end\n")
                applied = Counter(c.code for c in r.changes)
                out.write("applied " + " ".join(f"{k}x{v}" for k, v in sorted(applied.items())) + "\n")
                for f in sorted(r.findings, key=lambda c: (c.line, c.column, c.code, c.message)):
                    out.write(f"finding {f.line}:{f.column} {f.code} {'safe' if f.safe else 'unsafe'} "
                              f"{f.fix_title} {f.message}\n")
                for path, fc in sorted(r.files.items()):
                    out.write(f"file {path} {hashlib.sha1(fc.after.encode()).hexdigest()}\n")
                for e in r.errors:
                    out.write(f"engine-error {e}\n")
                if a.passes:
                    out.write(f"passes {r.passes}\n")


if __name__ == "__main__":
    main()
