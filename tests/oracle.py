"""BuildKit's own Go parser (the `dockerfile` PyPI package) as the oracle, and our view in the same shape."""

from __future__ import annotations

import pytest

from dockerfix.syntax import DockerfileSyntaxError, parse

try:
    import dockerfile as _bk
except ImportError:  # pragma: no cover - dev extra missing
    _bk = None


def require_oracle():
    if _bk is None:
        pytest.skip("BuildKit's parser (`pip install dockerfile==3.4.0`, in the dev extra) is not installed")
    return _bk


def _nul(s: str) -> str:
    # The Go wrapper hands strings to Python as C strings: everything after a NUL is lost. BuildKit keeps it.
    return s.split("\x00", 1)[0]


def buildkit_view(text: str):
    """[(cmd, sub_cmd, json, start, end, flags, args, heredocs)] or ('error', message)."""
    bk = require_oracle()
    try:
        cmds = bk.parse_string(text)
    except bk.GoParseError as e:
        return ("error", str(e))
    return [
        (
            (c.cmd or "").lower(), (c.sub_cmd or "").lower() or None, c.json, c.start_line, c.end_line, tuple(c.flags),
            tuple(_nul(v) for v in c.value), tuple((h.name, h.content) for h in c.heredocs),
        )
        for c in cmds
    ]


def our_view(text: str):
    try:
        doc = parse(text)
    except DockerfileSyntaxError as e:
        return ("error", str(e))
    out = []
    for i in doc.instructions:
        e = i.effective
        out.append(
            (
                i.raw_keyword.lower(), e.raw_keyword.lower() if i.sub else None, e.json, i.start_line, i.end_line,
                tuple(f.raw for f in i.flags), tuple(_nul(v) for v in e.args),
                tuple((h.name, h.content) for h in e.heredocs),
            )
        )
    return out


def agree(text: str) -> tuple[bool, object, object]:
    theirs, ours = buildkit_view(text), our_view(text)
    if isinstance(theirs, tuple) or isinstance(ours, tuple):
        return isinstance(theirs, tuple) and isinstance(ours, tuple), theirs, ours
    return theirs == ours, theirs, ours
