"""An index of numbered entries by the absolute paths they concern, to ask "which entries may concern this path?"
without reading every entry (reading every earlier instruction for every question made a file of N repeated
COPY + ``chown -R`` pairs cost N² path checks; docs/performance.md, round 6).

An entry is filed with its number (its position in the order its owner reads them: instructions of a stage,
events of a replay) in one of three ways:

- :meth:`PathIndex.inside`: it concerns ``key`` and what is inside it; a question about ``path`` finds it when ``key``
  is ``path`` or inside it (a RUN naming ``/app/a/x`` for a question about ``/app/a``);
- :meth:`PathIndex.around`: also when ``path`` is inside ``key`` (a COPY to ``/app`` for a question about
  ``/app/a``);
- :meth:`PathIndex.always`: every question finds it (a destination that cannot be resolved).

The owner checks each candidate with its own exact test, in order, so the index changes how many entries are read,
never the answer. Keys are normalised absolute paths (``dockerfix.model.state.norm``). Entries may be filed
between questions (a replay that grows as it is asked), in increasing number order.

Cost: the entries at or below a path are merged once per path asked (an entry is merged for each directory above
its key that is asked about: the file's size times the path depth in all); the ``around`` entries above a path are
read from one list per directory above it, by bisect. :meth:`first` and :meth:`last` are therefore a few bisects,
whatever the number of entries.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from heapq import merge

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterator

__all__ = ["PathIndex"]

_END = 1 << 62


class PathIndex:
    """Entry numbers by path. File entries in increasing number order (each list stays sorted), then ask."""

    __slots__ = ("_inside", "_around", "_always", "_keys", "_below")

    def __init__(self) -> None:
        self._inside: dict[str, list[int]] = {}
        self._around: dict[str, list[int]] = {}
        self._always: list[int] = []
        self._keys: list[str] | None = None  # the sorted keys of both tables, made at the first question
        self._below: dict[str, list[int]] = {}  # per path asked: the merged entries at or below it

    # ------------------------------------------------------------------ filing
    def inside(self, key: str, n: int) -> None:
        """Entry ``n`` concerns ``key`` and what is below it."""
        self._file(self._inside, key, n)

    def around(self, key: str, n: int) -> None:
        """Entry ``n`` concerns ``key``, what is below it and the directories above it."""
        self._file(self._around, key, n)

    def always(self, n: int) -> None:
        """Entry ``n`` concerns every path."""
        if not self._always or self._always[-1] != n:
            self._always.append(n)

    def _file(self, table: dict[str, list[int]], key: str, n: int) -> None:
        got = table.get(key)
        if got is None:
            table[key] = [n]
            keys = self._keys
            if keys is not None and (table is self._inside and key not in self._around or
                                     table is self._around and key not in self._inside):
                insort(keys, key)
        elif got[-1] != n:
            got.append(n)
        below = self._below
        if below:
            # an entry filed after questions (numbers only grow): add it to the merged lists of the paths above it
            # that were asked, instead of merging them again
            p = key
            while True:
                merged = below.get(p)
                if merged is not None and (not merged or merged[-1] < n):
                    merged.append(n)
                elif merged is not None and merged[-1] > n:
                    below.clear()  # filed out of order: merge again when asked
                    break
                if p == "/":
                    break
                p = p.rsplit("/", 1)[0] or "/"

    # ------------------------------------------------------------------ questions
    def below(self, path: str, lo: int = 0, hi: int = _END) -> list[int]:
        """The numbers in ``[lo, hi)`` of the entries filed at ``path`` or below it (not the ``always`` ones)."""
        got = self._merged(path)
        return got[bisect_left(got, lo):bisect_left(got, hi)]

    def candidates(self, path: str, lo: int = 0, hi: int = _END) -> list[int]:
        """The numbers in ``[lo, hi)`` of every entry that may concern ``path``, sorted, each once."""
        parts = [self.below(path, lo, hi), _slice(self._always, lo, hi)]
        parts.extend(_slice(got, lo, hi) for got in self._above(path))
        parts = [p for p in parts if p]
        if len(parts) == 1:
            return parts[0]
        out: list[int] = []
        for n in merge(*parts):
            if not out or out[-1] != n:
                out.append(n)
        return out

    def first(self, path: str, lo: int = 0, hi: int = _END) -> int | None:
        """The smallest number in ``[lo, hi)`` of an entry that may concern ``path``."""
        best = hi
        for got in (self._merged(path), self._always, *self._above(path)):
            k = bisect_left(got, lo)
            if k < len(got) and got[k] < best:
                best = got[k]
        return best if best < hi else None

    def last(self, path: str, lo: int = 0, hi: int = _END) -> int | None:
        """The largest number in ``[lo, hi)`` of an entry that may concern ``path``."""
        best = lo - 1
        for got in (self._merged(path), self._always, *self._above(path)):
            k = bisect_left(got, hi) - 1
            if k >= 0 and got[k] > best:
                best = got[k]
        return best if best >= lo else None

    def forward(self, path: str, lo: int = 0, hi: int = _END) -> "Iterator[int]":
        """The numbers of :meth:`candidates`, in increasing order, found one at a time."""
        n = self.first(path, lo, hi)
        while n is not None:
            yield n
            n = self.first(path, n + 1, hi)

    def backward(self, path: str, lo: int = 0, hi: int = _END) -> "Iterator[int]":
        """The numbers of :meth:`candidates`, in decreasing order, found one at a time."""
        n = self.last(path, lo, hi)
        while n is not None:
            yield n
            n = self.last(path, lo, n)

    def _merged(self, path: str) -> list[int]:
        got = self._below.get(path)
        if got is not None:
            return got
        keys = self._keys
        if keys is None:
            keys = self._keys = sorted(self._inside.keys() | self._around.keys())
        parts = []
        # path itself, then the run of keys starting with path + "/" (a key like "/app-x" sorts between "/app" and
        # "/app/..." so the two are looked up apart; for "/" the run is every key)
        for table in (self._inside, self._around):
            got = table.get(path)
            if got is not None:
                parts.append(got)
        prefix = path if path.endswith("/") else path + "/"
        a = bisect_left(keys, prefix)
        b = bisect_left(keys, prefix[:-1] + "0")  # "0" follows "/": every key starting with prefix lies in [a, b)
        for key in keys[a:b]:
            for table in (self._inside, self._around):
                got = table.get(key)
                if got is not None:
                    parts.append(got)
        if not parts:
            merged: list[int] = []
        elif len(parts) == 1:
            merged = parts[0][:]  # a copy: later entries are added to it (_file)
        else:
            merged = []
            for n in merge(*parts):
                if not merged or merged[-1] != n:
                    merged.append(n)
        self._below[path] = merged
        return merged

    def _above(self, path: str) -> list[list[int]]:
        """The ``around`` lists of the directories above ``path``."""
        out = []
        around = self._around
        if around and path != "/":
            p = path
            while p != "/":
                p = p.rsplit("/", 1)[0] or "/"
                got = around.get(p)
                if got is not None:
                    out.append(got)
        return out


def _slice(numbers: list[int], lo: int, hi: int) -> list[int]:
    a = bisect_left(numbers, lo) if lo else 0
    return numbers[a:bisect_left(numbers, hi, a)]
