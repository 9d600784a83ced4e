#!/usr/bin/env python
"""The corpus output snapshot: a digest of what dockerfix makes of every corpus file, so that a refactoring (the
architecture issue: "the corpus output is byte-identical before and after each step") is checked by a test, not by
hand, and a behaviour change is a reviewed update of the snapshot, not a surprise.

    python scripts/corpus_output.py --update     # rewrite tests/data/corpus_output.sha256 from this tree
    python scripts/corpus_output.py --check      # exit 1 and name the files whose output changed

One line per corpus file and mode (``safe``, ``unsafe``): the SHA-256 of the fixed text, the companion files it
writes (path and content), the codes of the applied fixes and of the findings left, and any error, each file with its
own folder as build context (as the corpus sweep runs it). ``tests/test_corpus_output.py`` compares. A commit that
changes the snapshot says why (a bug fix, a new rule); a refactoring never does.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "data" / "corpus_output.sha256"


def _digest(result) -> str:
    h = hashlib.sha256()
    h.update(result.text.encode("utf-8", "surrogatepass"))
    for rel, fc in sorted(result.files.items()):
        h.update(b"\0file\0" + rel.encode() + b"\0" + fc.after.encode("utf-8", "surrogatepass"))
    h.update(b"\0changes\0" + ",".join(sorted(c.code for c in result.changes)).encode())
    h.update(b"\0findings\0" + ",".join(sorted(c.code for c in result.findings)).encode())
    h.update(b"\0errors\0" + "\n".join(result.errors).encode())
    return h.hexdigest()[:32]


def digests() -> dict[str, str]:
    """``{"<corpus-relative path> <mode>": digest}`` for the importable dockerfix."""
    sys.path.insert(0, str(ROOT))
    import dockerfix
    from dockerfix.engine import EngineError
    from dockerfix.syntax import DockerfileSyntaxError
    from tests.corpus import CORPUS, corpus_files

    out: dict[str, str] = {}
    with dockerfix.batch():
        for p in corpus_files():
            rel = p.relative_to(CORPUS).as_posix()
            try:
                text = p.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            for mode in ("safe", "unsafe"):
                try:
                    r = dockerfix.fix(text, select=["all"], unsafe=mode == "unsafe", path=str(p),
                                      context=str(p.parent))
                    out[f"{rel} {mode}"] = _digest(r)
                except DockerfileSyntaxError as exc:
                    out[f"{rel} {mode}"] = "syntax-error:" + hashlib.sha256(str(exc).encode()).hexdigest()[:16]
                except EngineError as exc:
                    out[f"{rel} {mode}"] = "engine-error:" + hashlib.sha256(str(exc).encode()).hexdigest()[:16]
    return out


def read(path: Path = SNAPSHOT) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition("\t")
            out[key] = value
    return out


def write(d: dict[str, str], path: Path = SNAPSHOT) -> None:
    lines = ["# what dockerfix makes of each corpus file (scripts/corpus_output.py); update only with a reason"]
    lines += [f"{k}\t{v}" for k, v in sorted(d.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def compare(old: dict[str, str], new: dict[str, str]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k, '-')} -> {new.get(k, '-')}" for k in keys if old.get(k) != new.get(k)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--update", action="store_true")
    g.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    new = digests()
    if a.update:
        write(new)
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}: {len(new)} entries")
        return 0
    diffs = compare(read(), new)
    print("\n".join(diffs) or "identical")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
