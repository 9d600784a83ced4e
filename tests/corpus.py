"""Where the shared corpus is, and how tests read it (skip with a clear reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CORPUS = Path(os.environ.get("DOCKERFIX_CORPUS", Path(__file__).resolve().parents[1].parent / "shared" / "corpus"))
NEGATIVE = "testfiles-negative"


def corpus_files(*sections: str, include_negative: bool = False) -> list[Path]:
    """Every Dockerfile of the corpus sections (all when none named), sorted; [] when the corpus is absent."""
    if not CORPUS.is_dir():
        return []
    roots = [CORPUS / s for s in sections] if sections else [CORPUS]
    out = []
    for root in roots:
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            if "shell" in Path(dirpath).parts:
                continue
            if not include_negative and NEGATIVE in Path(dirpath).parts:
                continue
            for f in sorted(files):
                if f.endswith((".tsv", ".md")) or f == "result":
                    continue
                out.append(Path(dirpath) / f)
    return out


def require_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (clone the project with ../shared beside it)")


def read_text(p: Path) -> str:
    return p.read_bytes().decode("utf-8")


def corpus_id(p: Path) -> str:
    return str(p.relative_to(CORPUS))
