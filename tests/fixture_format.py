"""Fixture files: one case per file, a small header, an input section and an optional expected output.

    expect: safe            # safe | unsafe | finding | none
    unsafe: true            # run with --unsafe (default: true when expect is unsafe)
    select: DFX001          # default: the fixture folder's code
    settings: {"strategy": "cache-mount"}
    context: app.py = print("hi")\\n   (a file of the build context; repeatable; `dir/` makes a folder)
    === input
    FROM x
    ADD app.py /app/
    === output
    FROM x
    COPY app.py /app/

Header lines are ``key: value`` with the keys above, ``keeps-comments: false`` (a fix may drop a comment) and
``resolver: {"image:tag": "sha256:..."}``; blank lines and ``//`` comments are skipped. Anything else (an unknown or
misspelt key, a repeated key other than ``context``, a line that is not ``key: value``) is a :class:`FixtureError`
naming ``file:line``: a typo in ``expect:`` must not pass as the default.

No ``=== output`` section means the file must not change. Line breaks inside the sections are kept exactly (CRLF
fixtures are CRLF files). ``expect`` says which fix availability the case must show:
``safe`` a safe fix applied; ``unsafe`` a fix that needs ``--unsafe`` (and does nothing without it); ``finding`` a
finding without a fix; ``none`` no finding at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass
class Fixture:
    path: Path
    code: str
    input: str
    output: str | None
    expect: str
    unsafe: bool
    select: list[str]
    settings: dict = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    keeps_comments: bool = True
    digests: dict[str, str] = field(default_factory=dict)
    """``resolver: {"python:3.12": "sha256:..."}``: a fake registry answering these references."""

    @property
    def id(self) -> str:
        return f"{self.code}/{self.path.name}"


KEYS = frozenset({"expect", "unsafe", "select", "settings", "context", "keeps-comments", "resolver"})
"""The header keys a fixture may use (``context`` may repeat)."""


class FixtureError(ValueError):
    """A malformed fixture file; the message starts with ``path:line:``."""


def _line_key(line: str) -> str:
    return line.rstrip("\r\n")


def load(path: Path) -> Fixture:
    raw = path.read_bytes().decode("utf-8")
    lines = raw.splitlines(keepends=True)
    header: dict[str, str] = {}
    context: dict[str, str] = {}
    lineno: dict[str, int] = {}
    i = 0
    while i < len(lines) and _line_key(lines[i]) != "=== input":
        ln = _line_key(lines[i]).strip()
        i += 1
        if not ln or ln.startswith("//"):
            continue
        k, colon, v = ln.partition(":")
        k, v = k.strip(), v.strip()
        if not colon or k not in KEYS:
            what = f"unknown header key {k!r}" if colon else f"not a 'key: value' header line: {ln!r}"
            raise FixtureError(f"{path}:{i}: {what} (keys: {', '.join(sorted(KEYS))}; the header ends at '=== input')")
        if k == "context":
            name, _, content = v.partition("=")
            context[name.strip()] = content.strip().encode().decode("unicode_escape") if content else ""
        elif k in header:
            raise FixtureError(f"{path}:{i}: {k!r} is given twice")
        else:
            header[k] = v
            lineno[k] = i
    if i >= len(lines):
        raise FixtureError(f"{path}:{len(lines)}: no '=== input' line")
    i += 1
    inp: list[str] = []
    out: list[str] | None = None
    for ln in lines[i:]:
        if _line_key(ln) == "=== output" and out is None:
            out = []
            continue
        (inp if out is None else out).append(ln)
    code = path.parent.name
    expect = header.get("expect", "safe" if out is not None else "none")
    if expect not in ("safe", "unsafe", "finding", "none"):
        raise FixtureError(f"{path}:{lineno['expect']}: expect must be safe|unsafe|finding|none, not {expect!r}")
    for k in ("unsafe", "keeps-comments"):
        if header.get(k, "true").lower() not in ("true", "false"):
            raise FixtureError(f"{path}:{lineno[k]}: {k} must be true or false, not {header[k]!r}")
    unsafe = header.get("unsafe", "true" if expect == "unsafe" else "false").lower() == "true"
    select = [s.strip() for s in header.get("select", code).split(",")]
    settings = _json(path, lineno, header, "settings")
    keeps = header.get("keeps-comments", "true").lower() == "true"
    digests = _json(path, lineno, header, "resolver")
    return Fixture(path, code, "".join(inp), "".join(out) if out is not None else None, expect, unsafe, select,
                   settings, context, keeps, digests)


def _json(path: Path, lineno: dict[str, int], header: dict[str, str], key: str) -> dict:
    if key not in header:
        return {}
    try:
        value = json.loads(header[key])
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path}:{lineno[key]}: {key} is not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise FixtureError(f"{path}:{lineno[key]}: {key} must be a JSON object")
    return value


def all_fixtures() -> list[Fixture]:
    out = []
    for p in sorted(FIXTURES.glob("DFX*/*.dockerfile")):
        out.append(load(p))
    return out
