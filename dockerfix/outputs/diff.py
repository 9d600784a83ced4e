"""Unified diffs that ``patch -p1`` applies from the repository root.

Lines are split on ``\\n`` only (never on ``\\r``, form feed or Unicode line separators, as ``str.splitlines``
would), so CRLF files diff as CRLF lines and the output is byte-exact once encoded as UTF-8. A last line without a
line break gets the ``\\ No newline at end of file`` marker, as GNU diff writes it.
"""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"

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


def unified_diff(before: str | None, after: str, path: str, *, context: int = 3) -> str:
    """The diff of one file as ``--- a/path`` / ``+++ b/path`` (``--- /dev/null`` for a new file); empty when equal."""
    if before == after:
        return ""
    p = path.lstrip("/")
    out: list[str] = []
    old_name = f"a/{p}" if before is not None else "/dev/null"
    for line in difflib.unified_diff(
        split_lines(before or ""), split_lines(after), old_name, f"b/{p}", n=context, lineterm="\n"
    ):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + NO_NEWLINE)
    return "".join(out)


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
            d = unified_diff(r.original, r.text, r.path) if r.text != r.original else ""
            for f in r.side_files:
                d += unified_diff(f.before, f.after, f.display)
            parts.append(colorize(d) if color else d)
    return "".join(parts)
