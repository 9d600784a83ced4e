"""All transforms (with --unsafe, no network) over the whole corpus: no crash, no internal error, idempotent, and the
output parses with our parser and BuildKit's."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.syntax import parse
from tests.corpus import corpus_files, corpus_id, read_text
from tests.oracle import buildkit_view

FILES = corpus_files()


@pytest.mark.parametrize("path", FILES, ids=[corpus_id(p) for p in FILES])
def test_sweep(path):
    text = read_text(path)
    result = dockerfix.fix(text, unsafe=True, select=["all"], context=str(path.parent))
    assert not result.errors, result.errors
    if result.changed:
        assert parse(result.text).to_text() == result.text
        assert buildkit_view(result.text)[0] != "error", "BuildKit rejects the output"
    again = dockerfix.fix(result.text, unsafe=True, select=["all"], context=str(path.parent))
    assert again.text == result.text, "not idempotent"
