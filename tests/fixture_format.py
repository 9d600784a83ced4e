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


def _line_key(line: str) -> str:
    return line.rstrip("\r\n")


def load(path: Path) -> Fixture:
    raw = path.read_bytes().decode("utf-8")
    lines = raw.splitlines(keepends=True)
    header: dict[str, str] = {}
    context: dict[str, str] = {}
    i = 0
    while i < len(lines) and _line_key(lines[i]) != "=== input":
        ln = _line_key(lines[i]).strip()
        i += 1
        if not ln or ln.startswith("//"):
            continue
        k, _, v = ln.partition(":")
        k, v = k.strip(), v.strip()
        if k == "context":
            name, _, content = v.partition("=")
            context[name.strip()] = content.strip().encode().decode("unicode_escape") if content else ""
        else:
            header[k] = v
    if i >= len(lines):
        raise ValueError(f"{path}: no '=== input' line")
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
        raise ValueError(f"{path}: expect must be safe|unsafe|finding|none, not {expect!r}")
    unsafe = header.get("unsafe", "true" if expect == "unsafe" else "false").lower() == "true"
    select = [s.strip() for s in header.get("select", code).split(",")]
    settings = json.loads(header["settings"]) if "settings" in header else {}
    keeps = header.get("keeps-comments", "true").lower() == "true"
    digests = json.loads(header["resolver"]) if "resolver" in header else {}
    return Fixture(path, code, "".join(inp), "".join(out) if out is not None else None, expect, unsafe, select,
                   settings, context, keeps, digests)


def all_fixtures() -> list[Fixture]:
    out = []
    for p in sorted(FIXTURES.glob("DFX*/*.dockerfile")):
        out.append(load(p))
    return out
