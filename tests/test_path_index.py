"""dockerfix.model.paths.PathIndex against brute force: every question answers what reading every entry answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockerfix.model.paths import PathIndex

_PATHS = ("/", "/app", "/app/a", "/app/a/b", "/app-x", "/app-x/y", "/app0", "/ap", "/usr", "/usr/local",
          "/usr/local/bin", "/usr/local/bin/x", "/opt/x", "/a/b/c/d")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _concerns(entry, path) -> bool:
    how, key = entry
    if how == "always":
        return True
    if how == "inside":
        return _under(key, path)
    return _under(key, path) or _under(path, key)


_entries = st.lists(st.tuples(st.sampled_from(("inside", "around", "always")), st.sampled_from(_PATHS)),
                    max_size=40)


def _file(index: PathIndex, n: int, entry) -> None:
    how, key = entry
    if how == "always":
        index.always(n)
    else:
        getattr(index, how)(key, n)


def _index(entries) -> PathIndex:
    index = PathIndex()
    for n, entry in enumerate(entries):
        _file(index, n, entry)
    return index


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(_entries, st.sampled_from(_PATHS), st.integers(0, 45), st.integers(0, 45))
def test_questions_answer_as_brute_force(entries, path, lo, hi):
    index = _index(entries)
    want = [n for n, e in enumerate(entries) if lo <= n < hi and _concerns(e, path)]
    assert index.candidates(path, lo, hi) == want
    assert list(index.forward(path, lo, hi)) == want
    assert list(index.backward(path, lo, hi)) == want[::-1]
    assert index.first(path, lo, hi) == (want[0] if want else None)
    assert index.last(path, lo, hi) == (want[-1] if want else None)
    below = [n for n, (how, key) in enumerate(entries) if lo <= n < hi and how != "always" and _under(key, path)]
    assert index.below(path, lo, hi) == below


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(_entries, st.lists(st.sampled_from(_PATHS), min_size=1, max_size=4), st.integers(1, 5))
def test_questions_between_filings_see_every_entry(entries, asked, every):
    # a replay files its events as it grows and is asked in between: the merged lists kept for the paths asked
    # take the new entries in
    index = PathIndex()
    for n, entry in enumerate(entries):
        _file(index, n, entry)
        if n % every == 0:
            for path in asked:
                want = [k for k, e in enumerate(entries[:n + 1]) if _concerns(e, path)]
                assert index.candidates(path) == want
                assert index.first(path, 1) == next((k for k in want if k >= 1), None)


def test_a_sibling_with_a_shared_prefix_is_not_inside():
    index = PathIndex()
    index.inside("/app-x/y", 0)
    index.inside("/app0", 1)
    index.inside("/app/z", 2)
    index.around("/ap", 3)
    assert index.candidates("/app") == [2]
    assert index.candidates("/") == [0, 1, 2, 3]
