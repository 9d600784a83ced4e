"""Positions across the engine's passes: where an offset in the text of a later pass came from in the input, and the
input-coordinate replacements that take the input to the output.

The engine applies fixes in passes (:mod:`dockerfix.engine`), each applying one set of edits, or two when it joins
instructions first: a step each. A fix of step ``k`` is computed on the text steps ``0..k-1`` left, so its offsets
are in that text ("pass ``k``" below means that step). :class:`History` keeps each step's text and the edits it
applied, and maps such an offset back to the input (:meth:`History.to_input`): through the edits of the earlier
steps, last to first. Inside an edit's new text, the characters the edit kept (a command a merge re-indented, an ADD
that became COPY) map to where they were, the rest to the start of the edit's old text. ``scripts/corpus_fixes.py``
uses the same mapping (:func:`back_through`) for the corpus records.

:meth:`History.replacements` is the other direction, for fixes shown as data (SARIF): every applied edit as a
replacement of an input span. An edit of a later pass that touches text an earlier pass wrote cannot be stated on the
input alone; edits whose input spans overlap or touch are composed into one replacement of the whole input span
they cover, with the output's text for it. So the replacements never overlap, and applying them all to the input
gives the output; each change's fix is the replacements that hold its edits (two changes composed into one
replacement share it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from functools import lru_cache

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Sequence

    from dockerfix.transforms.base import Edit

ALIGN_LIMIT = 20_000
"""Longest replaced text (old or new) aligned character by character; beyond it, an offset inside maps to the start."""


def back_through(text: str, edits: Sequence[Edit], offset: int) -> int:
    """The offset in ``text`` that ``offset`` in the text after applying ``edits`` (sorted, non-overlapping) to it
    came from. Inside an edit's new text, the characters the edit kept map to where they were, the rest to the start
    of the edit's old text."""
    delta = 0
    for e in edits:
        new_start = e.start + delta
        if offset < new_start:
            break
        if offset < new_start + len(e.text):
            return e.start + _within(text[e.start : e.end], e.text, offset - new_start)
        delta += len(e.text) - (e.end - e.start)
    return offset - delta


def _within(old: str, new: str, at: int) -> int:
    if not old or len(old) > ALIGN_LIMIT or len(new) > ALIGN_LIMIT:
        return 0
    for tag, i1, i2, j1, j2 in _alignment(old, new):
        if j1 <= at < j2:
            return i1 + (at - j1) if tag == "equal" else i1
    return 0


@lru_cache(maxsize=256)
def _alignment(old: str, new: str) -> tuple[tuple[str, int, int, int, int], ...]:
    """difflib's opcodes of ``old`` -> ``new``, once per pair: every diagnostic of a later pass maps its start and
    its end through the same edit, and a file of repeated blocks repeats the same edit (difflib was 20% of the CPU
    of 400 lines of install blocks, a fifth of its fixes' cost)."""
    import difflib

    return tuple(difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes())


def _back_span(text: str, edits: Sequence[Edit], start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that ``[start, end)`` of the text after ``edits`` came from, widened to the whole old
    text of every edit whose new text it reaches into."""
    delta = 0
    lo = hi = None
    for e in edits:
        ns = e.start + delta
        ne = ns + len(e.text)
        if lo is None:
            if start < ns:
                lo = start - delta
            elif start < ne or start == ns:
                lo = e.start
        if end <= ns:
            hi = end - delta
            break
        if end <= ne:
            hi = e.end
            break
        delta += len(e.text) - (e.end - e.start)
    if lo is None:
        lo = start - delta
    if hi is None:
        hi = end - delta
    return lo, max(lo, hi)


class Lines:
    """Line and column of offsets into one text: the line starts are found once, then each lookup bisects (counting
    newlines from the top for every change was quadratic in files with many findings)."""

    __slots__ = ("text", "_starts")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def line_col(self, offset: int) -> tuple[int, int]:
        starts = self._starts
        if starts is None:
            text = self.text
            starts = [0]
            k = text.find("\n")
            while k >= 0:
                starts.append(k + 1)
                k = text.find("\n", k + 1)
            self._starts = starts
        i = bisect_right(starts, offset) - 1
        return i + 1, offset - starts[i] + 1


class History:
    """The texts of the engine's passes and the edits each applied: ``texts[k]`` with ``edits[k]`` gives
    ``texts[k + 1]``."""

    __slots__ = ("texts", "edits", "_index", "_spans")

    def __init__(self, text: str) -> None:
        self.texts: list[str] = [text]
        self.edits: list[list[Edit]] = []
        self._index: list[tuple[list[int], list[int]]] = []
        self._spans: list[_PassSpans | None] = []

    def add(self, edits: Sequence[Edit], new_text: str) -> None:
        """Record one pass: ``edits`` (any order; each applied once) took the last text to ``new_text``."""
        ordered = sorted(edits)
        self.edits.append(ordered)
        self.texts.append(new_text)
        # where each edit's new text starts in the new text, and the length change up to and including it: one
        # bisect per offset in to_input (a walk over the pass's edits per offset was quadratic in the fixes)
        new_starts, deltas = [], []
        delta = 0
        for e in ordered:
            new_starts.append(e.start + delta)
            delta += len(e.text) - (e.end - e.start)
            deltas.append(delta)
        self._index.append((new_starts, deltas))
        self._spans.append(None)

    def _back(self, j: int, offset: int) -> int:
        """:func:`back_through` of pass ``j`` by bisect (the same answer: new starts never decrease, and of equal
        ones only the last can hold text)."""
        new_starts, deltas = self._index[j]
        i = bisect_right(new_starts, offset) - 1
        if i < 0:
            return offset
        e = self.edits[j][i]
        if offset < new_starts[i] + len(e.text):
            return e.start + _within(self.texts[j][e.start : e.end], e.text, offset - new_starts[i])
        return offset - deltas[i]

    @property
    def input(self) -> str:
        return self.texts[0]

    def to_input(self, offset: int, k: int) -> int:
        """``offset`` in ``texts[k]`` (the text pass ``k`` looked at), as an offset in the input."""
        for j in range(min(k, len(self.edits)) - 1, -1, -1):
            offset = self._back(j, offset)
        return offset

    def span_to_input(self, start: int, end: int, k: int) -> tuple[int, int]:
        """``[start, end)`` in ``texts[k]`` as the input span it came from, widened to the whole old text of every
        earlier edit it reaches into."""
        for j in range(min(k, len(self.edits)) - 1, -1, -1):
            start, end = self._pass_spans(j).back_span(start, end)
        return start, end

    def _pass_spans(self, j: int) -> "_PassSpans":
        got = self._spans[j]
        if got is None:
            got = self._spans[j] = _PassSpans(self.edits[j], *self._index[j])
        return got

    def _to_output(self, offset: int, *, after_inserts: bool) -> int:
        """An input offset that lies inside no edit's old text (it may touch one) in the last text: before the
        insertions at it, or after them with ``after_inserts`` (:func:`_forward`, by bisect in each pass)."""
        for j in range(len(self.edits)):
            offset = self._pass_spans(j).forward(offset, after_inserts)
        return offset

    def replacements(self) -> list[tuple[int, int, str, frozenset[tuple[int, int]]]]:
        """``(start, end, text, members)``: the input spans the passes replaced and the output's text for each,
        sorted and disjoint; ``members`` are the ``(pass, index in that pass's sorted edits)`` of the edits each one
        composes. Applied to the input they give the last text (:func:`apply` checks it; callers may rely on it)."""
        spans: list[tuple[int, int, tuple[int, int]]] = []
        for k, edits in enumerate(self.edits):
            for i, e in enumerate(edits):
                lo, hi = self.span_to_input(e.start, e.end, k)
                spans.append((lo, hi, (k, i)))
        spans.sort()
        groups: list[tuple[int, int, set[tuple[int, int]]]] = []
        for lo, hi, member in spans:
            if groups and lo <= groups[-1][1]:
                g_lo, g_hi, g_members = groups[-1]
                g_members.add(member)
                groups[-1] = (g_lo, max(g_hi, hi), g_members)
            else:
                groups.append((lo, hi, {member}))
        out = []
        last = self.texts[-1]
        for lo, hi, members in groups:
            a = self._to_output(lo, after_inserts=False)
            b = self._to_output(hi, after_inserts=True)
            out.append((lo, hi, last[a:b], frozenset(members)))
        return out


class _PassSpans:
    """One pass's edits, indexed for :func:`_back_span` and :func:`_forward` by bisect (a walk over the pass's edits
    per span made JSON and SARIF output quadratic in the fixes: 6,400 lines of install blocks took 100 s)."""

    __slots__ = ("edits", "new_starts", "deltas", "keys", "new_ends", "olds", "n")

    def __init__(self, edits: "Sequence[Edit]", new_starts: list[int], deltas: list[int]) -> None:
        self.edits = edits
        self.new_starts = new_starts
        self.deltas = deltas  # the length change up to and including each edit
        self.n = len(edits)
        self.new_ends = [ns + len(e.text) for ns, e in zip(new_starts, edits)]
        # a span starting before keys[i] begins at or before edit i's new text (empty new texts: at its start)
        self.keys = [max(ne, ns + 1) for ns, ne in zip(new_starts, self.new_ends)]
        self.olds = [(e.start, e.end) for e in edits]

    def _before(self, i: int) -> int:
        return self.deltas[i - 1] if i else 0

    def back_span(self, start: int, end: int) -> tuple[int, int]:
        """:func:`_back_span` of this pass."""
        n = self.n
        lo_at = bisect_right(self.keys, start)  # the first edit the start lies before or in
        hi_at = bisect_left(self.new_ends, end)  # the first edit whose new text the end lies before or in
        if hi_at < n:
            if lo_at > hi_at:
                lo = start - self._before(hi_at)
            elif start < self.new_starts[lo_at]:
                lo = start - self._before(lo_at)
            else:
                lo = self.edits[lo_at].start
            hi = end - self._before(hi_at) if end <= self.new_starts[hi_at] else self.edits[hi_at].end
        else:
            total = self.deltas[-1] if n else 0
            if lo_at < n:
                lo = start - self._before(lo_at) if start < self.new_starts[lo_at] else self.edits[lo_at].start
            else:
                lo = start - total
            hi = end - total
        return lo, max(lo, hi)

    def forward(self, offset: int, after_inserts: bool) -> int:
        """:func:`_forward` of this pass."""
        k = bisect_left(self.olds, (offset, -1))  # the edits before k start before the offset
        if k:
            e = self.edits[k - 1]
            if e.end > offset:  # inside an edit's old text: to the start (or end) of its new text
                shift = e.start + len(e.text) - offset if after_inserts else e.start - offset
                return offset + self._before(k - 1) + shift
        if after_inserts:
            k = bisect_right(self.olds, (offset, offset), k)  # and the insertions at the offset
        return offset + self._before(k)


def _forward(edits: "Sequence[Edit]", offset: int, after_inserts: bool) -> int:
    """An input offset that lies inside no edit's old text of one pass (``edits`` sorted), in the pass's new text:
    before the insertions at it, or after them with ``after_inserts``. (The walk :class:`_PassSpans` answers by
    bisect; kept as its definition and tested against it.)"""
    delta = 0
    for e in edits:
        if e.start > offset:
            break
        if e.start == offset:
            if e.end > offset or not after_inserts:
                break
        elif e.end > offset:  # inside an edit's old text: to the start (or end) of its new text
            if after_inserts:
                delta += e.start + len(e.text) - offset
            else:
                delta += e.start - offset
            break
        delta += len(e.text) - (e.end - e.start)
    return offset + delta


def input_replacements(history: History | None, original: str, text: str, changes: Sequence[Any]
                       ) -> list[tuple[int, int, str, list[Any]]]:
    """``(start, end, new text, changes)``: :meth:`History.replacements` with the applied changes (objects with
    ``pass_index`` and ``edits``, such as :class:`dockerfix.engine.Change`) whose edits each one holds. Applied to
    ``original`` they give ``text``; should the mapping ever fail that check, the one replacement of everything
    between the common start and end of the two texts is returned instead (held by every change)."""
    if history is None or not history.edits or original == text:
        return []
    reps = history.replacements()
    if apply(original, [(s, e, t) for s, e, t, _ in reps]) != text:
        lo, n = 0, min(len(original), len(text))
        while lo < n and original[lo] == text[lo]:
            lo += 1
        hi = 0
        while hi < n - lo and original[-1 - hi] == text[-1 - hi]:
            hi += 1
        every = frozenset((k, i) for k, es in enumerate(history.edits) for i in range(len(es)))
        reps = [(lo, len(original) - hi, text[lo : len(text) - hi], every)]
    index = {(k, e): i for k, es in enumerate(history.edits) for i, e in enumerate(es)}
    holders: dict[tuple[int, int | None], list[int]] = {}  # an edit (pass, index) -> the changes holding it
    for n, c in enumerate(changes):
        for x in c.edits:
            holders.setdefault((c.pass_index, index.get((c.pass_index, x))), []).append(n)
    out = []
    for s, e, t, members in reps:
        held = sorted({n for m in members for n in holders.get(m, ())})
        out.append((s, e, t, [changes[n] for n in held]))
    return out


def by_change(replacements: "Sequence[tuple[int, int, str, list[Any]]]") -> dict[int, list[tuple[int, int, str]]]:
    """The ``(start, end, text)`` of :func:`input_replacements` that hold each change, by ``id`` of the change (asking
    every replacement for every change was quadratic in the fixes)."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    for s, e, t, held in replacements:
        for c in held:
            out.setdefault(id(c), []).append((s, e, t))
    return out


def apply(text: str, replacements: Sequence[tuple[int, int, str]]) -> str:
    """``text`` with sorted, disjoint ``(start, end, new text)`` replacements applied."""
    out = []
    pos = 0
    for start, end, new in replacements:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)
