"""Byte-identical corpus output unless a commit says why: the digest of what dockerfix makes of every corpus file
(safe and --unsafe, each with its folder as build context) equals ``tests/data/corpus_output.sha256``. A refactoring
must keep it; a behaviour change updates it (``python scripts/corpus_output.py --update``) in the commit that names
the change. See scripts/corpus_output.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.corpus import require_corpus

ROOT = Path(__file__).resolve().parents[1]


def _script():
    name = "_dockerfix_corpus_output"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "corpus_output.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


co = _script()


def test_snapshot_format_and_compare():
    assert co.compare({"a safe": "1"}, {"a safe": "1"}) == []
    assert co.compare({"a safe": "1", "b safe": "2"}, {"a safe": "3", "c safe": "4"}) == [
        "a safe: 1 -> 3", "b safe: 2 -> -", "c safe: - -> 4"]


def test_digest_sees_text_files_and_codes():
    import dockerfix

    r1 = dockerfix.fix("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n")
    r2 = dockerfix.fix("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", select=["DFX113"],
                       unsafe=True)
    assert co._digest(r1) != co._digest(r2)
    assert co._digest(r1) == co._digest(dockerfix.fix(r1.original))


def test_corpus_output_is_unchanged():
    require_corpus()
    if not co.SNAPSHOT.exists():
        pytest.fail("no snapshot: run python scripts/corpus_output.py --update", pytrace=False)
    diffs = co.compare(co.read(), co.digests())
    if diffs:
        pytest.fail(
            f"{len(diffs)} corpus output(s) changed. A refactoring must not change them; a deliberate behaviour "
            "change updates the snapshot (python scripts/corpus_output.py --update) in the commit that says why:\n"
            + "\n".join(diffs[:60]),
            pytrace=False,
        )
