"""The engine pins a file's shell scripts for its passes (``model.shell.pin_scripts``): a file with more distinct RUN
scripts than the parse cache holds read its RUNs in the same order every pass, and a least-recently-used cache
evicted each one just before it was asked again (every script parsed again in every pass)."""

from __future__ import annotations

from functools import lru_cache

import dockerfix
from dockerfix.model import shell

# 40 distinct scripts no fix changes, then a merge: every pass, and the rest of the pass after the merge, asks for
# all 40 again, in the same order (a cache of 16 in the tests below)
TEXT = "FROM debian:12\n" + "".join(f"WORKDIR /w{k}\nRUN echo {k} > f{k}\n" for k in range(40)) + (
    "RUN apt-get update\nRUN apt-get install -y curl\n")


def _small_cache(monkeypatch):
    small = lru_cache(maxsize=16)(shell.parse_shell)
    monkeypatch.setattr(shell, "_parse_short", small)
    return small




def test_each_script_of_a_file_is_parsed_once_however_small_the_cache(monkeypatch):
    small = _small_cache(monkeypatch)
    r = dockerfix.fix(TEXT, unsafe=True)
    assert r.passes == 2 and {c.code for c in r.changes} >= {"DFX101", "DFX103"}
    # the scripts of the input, of the merged RUN and of the merged RUN with its cleanup: each parsed once
    assert small.cache_info().misses == 42 + 2, small.cache_info()
    assert shell._PINNED is None  # the pins end with the fix


def test_without_the_pins_the_small_cache_parses_again(monkeypatch):
    # the test above can fail: with the pins off, the same file misses the cache far more often
    small = _small_cache(monkeypatch)
    monkeypatch.setattr(shell, "pin_scripts", lambda: False)
    dockerfix.fix(TEXT, unsafe=True)
    assert small.cache_info().misses > 2 * 42, small.cache_info()


def test_pins_nest_and_end_with_the_outer_one():
    assert shell._PINNED is None
    outer = shell.pin_scripts()
    got = shell.parse_shell_cached("echo pinned")
    inner = shell.pin_scripts()
    assert outer and not inner
    shell.unpin_scripts(inner)
    assert shell._PINNED is not None and shell._PINNED["echo pinned"] is got  # the inner end leaves the outer pins
    shell.unpin_scripts(outer)
    assert shell._PINNED is None


def test_a_fix_inside_pins_leaves_them():
    outer = shell.pin_scripts()
    try:
        dockerfix.fix("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n")
        assert shell._PINNED is not None and "apt-get update && apt-get install -y curl" in shell._PINNED
    finally:
        shell.unpin_scripts(outer)
    assert shell._PINNED is None
