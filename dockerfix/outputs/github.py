"""GitHub Actions workflow commands (``::warning file=...,line=...,col=...,title=...::message``).

Escaping follows the runner's rules (``actions/toolkit`` ``command.ts``): in the message ``%``, ``\\r`` and ``\\n``
become ``%25``, ``%0D`` and ``%0A``; in property values ``:`` and ``,`` also become ``%3A`` and ``%2C``.
"""

from __future__ import annotations

from dockerfix.outputs import FileReport
from dockerfix.outputs.text import items


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: object) -> str:
    p = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{kind} {p}::{escape_data(message)}\n" if p else f"::{kind}::{escape_data(message)}\n"


def render_github(reports: list[FileReport], *, mode: str = "report") -> str:
    out: list[str] = []
    for r in reports:
        if r.error is not None:
            out.append(command("error", r.error.message, file=r.path, line=r.error.line, col=r.error.column,
                               title=f"dockerfix: {r.error.kind} error"))
            continue
        for e in r.internal_errors:
            out.append(command("error", e, file=r.path, title="dockerfix: internal error"))
        for c in items(r, mode):
            msg = c.message
            if c.applied and c.fix_title:
                msg += f" (fix: {c.fix_title})"
            line, column, end_line = r.position(c, mode)
            out.append(command("warning", msg, file=r.path, line=line, col=column, endLine=end_line, title=c.code))
    return "".join(out)
