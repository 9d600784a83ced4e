"""Same input, same options: byte-identical output and reports, whatever the file order, ``--jobs``, locale or hash seed.

The CLI runs in a subprocess over a copy of every real-world corpus file (each in its own folder, as ``Dockerfile``),
with ``--format json`` and with ``--diff``, every default transform plus ``--unsafe``; each variant changes one thing
against the baseline (``--jobs 1``, ``LC_ALL=C.UTF-8``, ``PYTHONHASHSEED=0``, the tree created in sorted order and
given as ``.``) and must print exactly the same bytes on stdout and stderr, with the same exit code.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import corpus_files, require_corpus

ROOT = Path(__file__).resolve().parents[1]
FILES = int(os.environ.get("DOCKERFIX_DETERMINISM_FILES", "100000"))
"""All real-world corpus files by default; set the variable to a smaller number for a quick local run."""


def _tree(base: Path, order: str) -> list[str]:
    sources = corpus_files("real-world")
    step = max(1, len(sources) // FILES)
    chosen = sources[::step][:FILES]
    rels = [f"{i:03d}-{p.name[:60]}/Dockerfile" for i, p in enumerate(chosen)]
    pairs = list(zip(rels, chosen))
    if order == "reverse":
        pairs.reverse()
    elif order == "random":
        random.Random(7).shuffle(pairs)
    for rel, src in pairs:  # creation order decides the order a folder lists its entries in
        (base / rel).parent.mkdir(parents=True)
        shutil.copyfile(src, base / rel)
        if rel.startswith("000"):  # one non-ASCII folder name, for the locale variants
            (base / "ünïcode-☃").mkdir()
            shutil.copyfile(src, base / "ünïcode-☃" / "Dockerfile")
            rels.append("ünïcode-☃/Dockerfile")
    return sorted(rels)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    require_corpus()
    out = {}
    for order in ("sorted", "reverse"):
        base = tmp_path_factory.mktemp(f"tree-{order}")
        out[order] = (base, _tree(base, order))
    return out


def _run(cwd: Path, args: list[str], *, jobs: int = 1, lc_all: str = "C.UTF-8", hashseed: str = "0"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHON"))}
    env.update(LC_ALL=lc_all, PYTHONHASHSEED=hashseed, NO_COLOR="1", PYTHONPATH=str(ROOT))
    env.pop("XDG_CACHE_HOME", None)
    r = subprocess.run(
        [sys.executable, "-m", "dockerfix", "--unsafe", "--jobs", str(jobs), *args], cwd=cwd, env=env,
        capture_output=True, timeout=600,
    )
    return r.returncode, r.stdout, r.stderr


VARIANTS = {
    "jobs-2": dict(jobs=2),
    "lc-all-c": dict(lc_all="C"),
    "hashseed-1": dict(hashseed="1"),
    "created-in-reverse": dict(tree="reverse"),
    "files-given-shuffled": dict(shuffle=True),
}
FORMATS = {"json": ["--format", "json"], "diff": ["--diff"]}
_baseline: dict[str, tuple] = {}


def _variant_run(trees, fmt: str, variant: dict):
    base, rels = trees[variant.get("tree", "sorted")]
    paths = ["."]
    if variant.get("shuffle"):
        paths = list(rels)
        random.Random(3).shuffle(paths)
    return _run(base, FORMATS[fmt] + paths, jobs=variant.get("jobs", 1), lc_all=variant.get("lc_all", "C.UTF-8"),
                hashseed=variant.get("hashseed", "0"))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_baseline_is_stable(trees, fmt):
    first = _variant_run(trees, fmt, {})
    code, out, err = first
    assert code in (0, 1), err.decode()[-2000:]
    assert out  # something to compare: the corpus has files to fix
    _baseline[fmt] = first


@pytest.mark.parametrize("variant", list(VARIANTS.values()),
                         ids=list(VARIANTS))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_variant_gives_identical_bytes(trees, fmt, variant):
    if fmt not in _baseline:
        _baseline[fmt] = _variant_run(trees, fmt, {})
    want = _baseline[fmt]
    got = _variant_run(trees, fmt, variant)
    assert got[0] == want[0], f"exit {got[0]} != {want[0]}"
    if got[1] != want[1]:
        a, b = want[1].splitlines(), got[1].splitlines()
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        pytest.fail(f"stdout differs from line {first + 1}:\n"
                    f"baseline: {a[first:first + 3]!r}\nvariant:  {b[first:first + 3]!r}")
    assert got[2] == want[2], "stderr differs"
