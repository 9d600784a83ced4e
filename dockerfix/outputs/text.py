"""Human-readable report lines (``path:line:col: CODE [*] message``) and the one-line summary.

``[*]`` marks a finding whose fix is applied by ``--write`` (or ``-``); in report mode every fixable finding is shown,
after ``--write`` only what remains. Colour is ANSI around the fixed parts; the message text is never interpreted.
"""

from __future__ import annotations

from dockerfix.outputs import FileReport

_BOLD, _RED, _CYAN, _DIM, _RESET = "\x1b[1m", "\x1b[31m", "\x1b[36m", "\x1b[2m", "\x1b[0m"


def _s(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color else text


def _clean(message: str) -> str:
    # A report line is one line: a message never breaks it.
    return message.replace("\r", "\\r").replace("\n", "\\n")


def items(r: FileReport, mode: str):
    """What a file's report lists: everything in report mode, what remains after a rewrite otherwise."""
    return r.all() if mode == "report" else sorted(r.findings, key=lambda c: (c.line, c.column, c.code))


def render_text(reports: list[FileReport], *, mode: str = "report", color: bool = False, unsafe: bool = False) -> str:
    out: list[str] = []
    for r in reports:
        if r.error is not None:
            continue  # errors go to stderr (see the frontends)
        for c in items(r, mode):
            mark = " " + _s("[*]", _CYAN, color) if c.applied else ""
            hint = ""
            if not c.applied and c.fix_title is not None and not c.safe:
                hint = " " + _s("(unsafe fix: --unsafe)", _DIM, color)
            line, column, _ = r.position(c, mode)
            where = _s(f"{r.path}:{line}:{column}:", _BOLD, color)
            out.append(f"{where} {_s(c.code, _RED + _BOLD, color)}{mark} {_clean(c.message)}{hint}\n")
    return "".join(out)


def _n(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("x", "s")) else f"{n} {word}s"


def summary(reports: list[FileReport], *, mode: str, unsafe: bool = False) -> str:
    """One line (with its ``\\n``) for stderr. ``mode``: report, diff, check, write or stdin."""
    ok = [r for r in reports if r.error is None]
    failed = sum(1 for r in reports if r.failed)
    changed = [r for r in ok if r.changed]
    n_fixes = sum(len(r.changes) for r in ok)
    remaining = sum(len(r.findings) for r in ok)
    hidden = sum(1 for r in ok for c in r.findings if c.fix_title is not None and not c.safe and not c.applied)
    parts: list[str] = []
    if mode == "write":
        written = sum(1 for r in ok if r.written)
        parts.append(f"Rewrote {_n(written, 'file')} ({_n(n_fixes, 'fix')}), {len(ok) - written} left unchanged")
    elif mode == "stdin":
        parts.append(f"Applied {_n(n_fixes, 'fix')}")
    elif mode in ("diff", "check"):
        parts.append(f"Would rewrite {_n(len(changed), 'file')} ({_n(n_fixes, 'fix')}), {len(ok) - len(changed)} unchanged")
    else:
        total = n_fixes + remaining
        if total == 0:
            parts.append(f"Nothing to change in {_n(len(ok), 'file')}")
        else:
            parts.append(
                f"Found {_n(total, 'issue')} in {_n(sum(1 for r in ok if r.changes or r.findings), 'file')}"
                f" ({n_fixes} fixable with --write)"
            )
    if mode != "report" and remaining:
        parts.append(f"{_n(remaining, 'finding')} without an applied fix")
    if hidden and not unsafe:
        parts.append(f"{hidden} more fixable with --unsafe")
    if failed:
        parts.append(f"{_n(failed, 'file')} with errors")
    return "; ".join(parts) + ".\n"


def error_lines(reports: list[FileReport]) -> str:
    """``path[:line:col]: error: message`` for each failed file, for stderr."""
    out = []
    for r in reports:
        if r.error is not None:
            out.append(f"{r.error_location()}: error: {_clean(r.error.message)}\n")
        for e in r.internal_errors:
            out.append(f"{r.path}: internal error: {_clean(e)}\n")
    return "".join(out)
