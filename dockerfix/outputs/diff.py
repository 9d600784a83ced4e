"""Unified diffs that ``patch -p1`` applies from the repository root.

Lines are split on ``\\n`` only (never on ``\\r``, form feed or Unicode line separators, as ``str.splitlines``
would), so CRLF files diff as CRLF lines and the output is byte-exact once encoded as UTF-8. A last line without a
line break gets the ``\\ No newline at end of file`` marker, as GNU diff writes it.
"""

from __future__ import annotations

import difflib

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Callable, Sequence

NO_NEWLINE = "\\ No newline at end of file\n"
WHOLE_DIFF_LINES = 4000
"""Up to this many lines (before and after together) a diff compares the whole files (see :func:`unified_diff`)."""

_RED, _GREEN, _CYAN, _BOLD, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[1m", "\x1b[0m"


def split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` (a ``\\r`` before it stays part of the line)."""
    if not text:
        return []
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def unified_diff(before: str | None, after: str, path: str, *, context: int = 3,
                 replaced: "Sequence[tuple[int, int, str]] | Callable[[], Sequence[tuple[int, int, str]]] | None"
                 = None) -> str:
    """The diff of one file as ``--- a/path`` / ``+++ b/path`` (``--- /dev/null`` for a new file); empty when equal.

    ``replaced``: the ``(start, end, new text)`` replacements of ``before`` that give ``after`` (sorted, disjoint:
    :meth:`FixResult.input_replacements`), or a function giving them (called only for a large file). For files of
    more than :data:`WHOLE_DIFF_LINES` lines (both sides) only the lines they touch are compared (difflib on each
    changed region, the lines between them equal): difflib over the whole files grows with the square of a file of
    many repeated lines (6,400 lines of stages: 1.1 s). Smaller files are compared whole: on the corpus the two agree
    on 839 of 853 diffs, and where they differ (a moved line matched on the other side of a tie) both are right, but
    the whole-file diff is the one users have seen."""
    if before == after:
        return ""
    p = path.lstrip("/")
    out: list[str] = []
    old_name = f"a/{p}" if before is not None else "/dev/null"
    a, b = split_lines(before or ""), split_lines(after)
    large = before is not None and len(a) + len(b) > WHOLE_DIFF_LINES
    if callable(replaced):
        replaced = replaced() if large else None
    if replaced and large:
        assert before is not None  # (large says so)
        lines = _unified(a, b, line_opcodes(before, a, b, replaced), old_name, f"b/{p}", context)
    else:
        lines = difflib.unified_diff(a, b, old_name, f"b/{p}", n=context, lineterm="\n")
    for line in lines:
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + NO_NEWLINE)
    return "".join(out)


def line_opcodes(before: str, a: list[str], b: list[str], replaced: "Sequence[tuple[int, int, str]]"
                 ) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes of ``a`` -> ``b``: the lines the replacements touch (from the line holding a
    replacement's start to the line holding its end, in both texts) compared by difflib, the lines between them
    equal (they hold no replaced character, so they are the same lines in the same order)."""
    from bisect import bisect_right

    def starts(lines: list[str]) -> list[int]:
        out, pos = [], 0
        for line in lines:
            out.append(pos)
            pos += len(line)
        return out

    sa, sb = starts(a), starts(b)

    def start_line(st: list[int], lines: list[str], off: int) -> int:
        """The line holding ``off``; past the last line break, the (empty) line after the last."""
        if not lines or (off >= st[-1] + len(lines[-1]) and lines[-1].endswith("\n")):
            return len(lines)
        return max(0, bisect_right(st, off) - 1)

    def end_line(st: list[int], lines: list[str], off: int) -> tuple[int, bool]:
        """The line holding ``off`` and whether ``off`` is where a line starts (the end of the text counts)."""
        if not lines or off >= st[-1] + len(lines[-1]):
            return len(lines), True
        k = bisect_right(st, off) - 1
        return k, st[k] == off

    regions: list[list[int]] = []  # [a0, a1, b0, b1], merged while they share or touch a line
    delta = 0
    for start, end, text in replaced:
        ns = start + delta
        delta += len(text) - (end - start)
        ne = ns + len(text)
        a0 = start_line(sa, a, start)
        b0 = start_line(sb, b, ns)
        ka, at_a = end_line(sa, a, end)
        kb, at_b = end_line(sb, b, ne)
        # the rest of the line holding the end is the same in both texts: when both ends are where lines start,
        # those lines are untouched; otherwise they hold replaced text
        a1, b1 = (ka, kb) if at_a and at_b else (min(len(a), ka + 1), min(len(b), kb + 1))
        if regions and a0 <= regions[-1][1]:
            r = regions[-1]
            r[1], r[3] = max(r[1], a1), max(r[3], b1)
        else:
            regions.append([a0, a1, b0, b1])
    ops: list[tuple[str, int, int, int, int]] = []

    def add(tag: str, i1: int, i2: int, j1: int, j2: int) -> None:
        if i1 == i2 and j1 == j2:
            return
        if tag == "equal" and ops and ops[-1][0] == "equal":
            _, p1, _, q1, _ = ops.pop()
            i1, j1 = p1, q1
        ops.append((tag, i1, i2, j1, j2))

    ia = ib = 0
    for a0, a1, b0, b1 in regions:
        add("equal", ia, a0, ib, b0)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a[a0:a1], b[b0:b1]).get_opcodes():
            add(tag, a0 + i1, a0 + i2, b0 + j1, b0 + j2)
        ia, ib = a1, b1
    add("equal", ia, len(a), ib, len(b))
    return ops or [("equal", 0, 0, 0, 0)]


class _Known(difflib.SequenceMatcher):
    """A matcher whose opcodes are given (:func:`line_opcodes`): difflib groups them into hunks as it groups its own."""

    def __init__(self, opcodes: list[tuple[str, int, int, int, int]]) -> None:
        super().__init__(None, [], [])
        self._known = opcodes

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:  # type: ignore[override]
        return list(self._known)


def _unified(a: list[str], b: list[str], opcodes: list[tuple[str, int, int, int, int]], old_name: str,
             new_name: str, n: int):
    """The lines of a unified diff with ``n`` lines of context, as :func:`difflib.unified_diff` writes them."""
    started = False
    for group in _Known(opcodes).get_grouped_opcodes(n):
        if not started:
            started = True
            yield f"--- {old_name}\n"
            yield f"+++ {new_name}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for line in a[i1:i2]:
                    yield " " + line
                continue
            if tag in ("replace", "delete"):
                for line in a[i1:i2]:
                    yield "-" + line
            if tag in ("replace", "insert"):
                for line in b[j1:j2]:
                    yield "+" + line


def _range(start: int, stop: int) -> str:
    """A hunk range in unified format: 1-based start and length, the length left out when it is 1, and the line
    before an empty range."""
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def colorize(diff: str) -> str:
    """ANSI colour around each line; line endings (``\\r\\n``) stay after the reset, text in between untouched."""
    out = []
    for line in split_lines(diff):
        body, end = _split_end(line)
        if body.startswith(("--- ", "+++ ")):
            style = _BOLD
        elif body.startswith("@@"):
            style = _CYAN
        elif body.startswith("+"):
            style = _GREEN
        elif body.startswith("-"):
            style = _RED
        else:
            out.append(line)
            continue
        out.append(f"{style}{body}{_RESET}{end}")
    return "".join(out)


def _split_end(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def render_diffs(reports, *, color: bool = False) -> str:
    parts = []
    for r in reports:
        if r.changed:
            d = ""
            if r.text != r.original:
                d = unified_diff(r.original, r.text, r.path, replaced=replacements_of(r) if r.changes else None)
            for f in r.side_files:
                d += unified_diff(f.before, f.after, f.display)
            parts.append(colorize(d) if color else d)
    return "".join(parts)


def replacements_of(r):
    """A function giving the input replacements of ``r`` (a report or a fix result) as ``(start, end, text)``:
    :func:`unified_diff` and the language server's line edits ask only for a large file (a small one is compared
    whole, and stating the fixes on the input would be work thrown away)."""
    return lambda: [(s, e, t) for s, e, t, _ in r.input_replacements()]
