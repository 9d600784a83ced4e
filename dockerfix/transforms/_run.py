"""Shared helpers for transforms that read or edit the shell inside RUN.

``RunShell`` ties a RUN instruction to its parsed shell script and maps script offsets back to document offsets.
``Style`` is the file's continuation style, learned from the file itself, so new text looks like the user's.
Edit builders (``append_command``, ``insert_after_word``) return :class:`Edit` objects; they refuse (return None)
when an edit could not be made safely (a trailing comment, a background job, an unparsed script).
"""

from __future__ import annotations

import re
from dockerfix._lazyre import lazy
from dockerfix._record import dataclass
from dockerfix.syntax.nodes import Document, Instruction
from dockerfix.transforms.base import Context, Edit

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Callable

    from dockerfix.model.shell import Script
    from dockerfix.syntax.nodes import Heredoc

MAX_ONE_LINE = 100


@dataclass(frozen=True)
class Style:
    escape: str
    newline: str
    indent: str
    leading_ops: bool
    """``&&`` at the start of continuation lines (True) or at the end of the previous line (False)."""


_LEAD = lazy(r"^([ \t]+)(&&|\|\|)")
_TRAIL = lazy(r"(&&|\|\|)[ \t]*[\\`][ \t]*$")
_INDENT = lazy(r"^([ \t]+)\S")


def file_style(ctx: Context) -> Style:
    """The continuation style of the pass's document, learned once per pass (``ctx.memo``)."""
    return ctx.memo.get_or(_file_style, None, _file_style, ctx.document)


def _file_style(doc: Document) -> Style:
    lead = trail = 0
    indents: dict[str, int] = {}
    for inst in doc.iter_instructions():
        if inst.keyword != "RUN" or inst.start_line == inst.end_line or inst.heredocs:
            continue
        lines = inst.source.splitlines()
        for ln in lines[1:]:
            m = _LEAD.match(ln)
            if m:
                lead += 1
            mi = _INDENT.match(ln)
            if mi and not ln.lstrip().startswith("#"):
                indents[mi.group(1)] = indents.get(mi.group(1), 0) + 1
        for ln in lines[:-1]:
            if _TRAIL.search(ln):
                trail += 1
    indent = max(indents, key=lambda k: (indents[k], -len(k))) if indents else "    "
    return Style(doc.escape, doc.newline, indent, lead > trail)


def instruction_style(ctx: Context, inst: Instruction) -> Style:
    """The file's style, refined by the instruction's own continuation lines when it has some; once per instruction
    and pass (``ctx.memo``: merge-runs, apt-update-alone and the appended cleanups ask about the same RUNs)."""
    return ctx.memo.get_or(_instruction_style, id(inst), _instruction_style, ctx, inst)


def _instruction_style(ctx: Context, inst: Instruction) -> Style:
    base = file_style(ctx)
    lines = inst.source.splitlines()
    if len(lines) < 2 or inst.heredocs:
        nl = inst.line_break or base.newline
        return Style(base.escape, nl, base.indent, base.leading_ops)
    lead = any(_LEAD.match(ln) for ln in lines[1:])
    trail = any(_TRAIL.search(ln) for ln in lines[:-1])
    indent = base.indent
    for ln in lines[1:]:
        mi = _INDENT.match(ln)
        if mi and not ln.lstrip().startswith("#"):
            indent = mi.group(1)
            break
    nl = "\r\n" if inst.source.endswith("\r\n") or "\r\n" in inst.source else "\n"
    return Style(base.escape, nl, indent, lead if (lead or trail) else base.leading_ops)


def parse_shell_cached(src: str) -> "Script":
    """The model's one cached parse per distinct command text (``dockerfix.model.shell.parse_shell_cached``), shared
    by the model and every transform and pass."""
    return (_PARSE[0] if _PARSE else _load_parse())(src)


_PARSE: "list[Callable[[str], Script]]" = []


def _load_parse() -> "Callable[[str], Script]":
    # the model's shell module, imported on first use and kept: an import statement per RUN and pass cost more
    # than the cache's lookup
    from dockerfix.model.shell import parse_shell_cached as parse

    _PARSE.append(parse)
    return parse


def run_shell(ctx: Context, inst: Instruction) -> "RunShell":
    """The :class:`RunShell` of ``inst`` in the pass's document, one per instruction and pass (``ctx.memo``), shared
    by every transform."""
    return ctx.memo.get_or(RunShell, id(inst), RunShell, ctx.document, inst)


class RunShell:
    """The shell of a shell-form RUN (``script`` is None for exec form or an unparsable/unsupported script).

    Read-only once built; :func:`run_shell` gives the pass's shared instance."""

    def __init__(self, doc: Document, inst: Instruction) -> None:
        parse_shell = parse_shell_cached
        self.doc = doc
        self.inst = inst
        self.heredoc: Heredoc | None = None
        self.script: Script | None = None
        self.reason: str | None = None
        if inst.json:
            self.reason = "exec-form RUN has no shell"
            return
        if inst.heredocs:
            # `RUN <<EOF` with the script in the body: read the body (only the simple, common shape).
            if inst.rest.strip() in ("<<" + inst.heredocs[0].name, "<<-" + inst.heredocs[0].name) or \
                    re.fullmatch(r"<<-?['\"]?\w+['\"]?", inst.rest.strip()):
                self.heredoc = inst.heredocs[0]
                src = self.heredoc.content
            else:
                self.reason = "RUN with heredocs feeding commands"
                return
        else:
            src = inst.rest
        s = parse_shell(src)
        if not s.ok:
            self.reason = f"the shell parser does not understand this command ({s.error})"
            return
        self.script = s

    @property
    def ok(self) -> bool:
        return self.script is not None

    def doc_span(self, span: tuple[int, int]) -> tuple[int, int]:
        a, b = span
        if self.heredoc is not None:
            return self.heredoc.body_start + a, self.heredoc.body_start + b
        inst = self.inst
        return inst.map.span(inst.rest_offset + a, inst.rest_offset + b)

    def tail_is_clean(self) -> bool:
        """Nothing after the last command but whitespace or ``;`` (no trailing comment, no ``&``)."""
        s = self.script
        return s is not None and s.view(_tail_is_clean)

    def last_end(self) -> int:
        assert self.script is not None
        return self.script.view(_last_end)


# What follows reads a script alone (its text: no document, no position in one), so each answer is kept on the script
# (``Script.view``) and serves every RUN and pass with that text.
def _tail_is_clean(s: "Script") -> bool:
    if not s.items:
        return False
    seps = s.separators
    if seps and seps[-1] is not None and getattr(seps[-1], "text", None) == "&":
        return False
    tail = s.source[_node_end(s.items[-1]):]
    return tail.strip(" \t\r\n;") == ""


def _last_end(s: "Script") -> int:
    return _node_end(s.items[-1])


def _node_end(node) -> int:
    span = getattr(node, "span", None)
    if span is not None:
        return span[1]
    raise AttributeError(f"node without span: {node!r}")


def append_command(ctx: Context, run: RunShell, command: str) -> Edit | None:
    """An edit that runs ``command`` after everything else in the RUN (``&& command``), in the file's style."""
    if not run.ok or not run.tail_is_clean():
        return None
    inst = run.inst
    style = instruction_style(ctx, inst)
    if run.heredoc is not None:
        h = run.heredoc
        body = h.content
        if body and not body.endswith("\n"):
            return None
        indent = ""
        last = body.rstrip("\n").rsplit("\n", 1)[-1] if body.strip() else ""
        m = re.match(r"[ \t]*", last)
        indent = m.group(0) if m else ""
        nl = "\r\n" if body.endswith("\r\n") else "\n"
        return Edit.insert(h.terminator_start, f"{indent}{command}{nl}")
    at = run.doc_span((0, run.last_end()))[1]
    one_line = inst.start_line == inst.end_line
    if one_line and len(inst.source.rstrip("\r\n")) + 4 + len(command) <= MAX_ONE_LINE:
        return Edit.insert(at, f" && {command}")
    e = style.escape
    if style.leading_ops:
        return Edit.insert(at, f" {e}{style.newline}{style.indent}&& {command}")
    return Edit.insert(at, f" && {e}{style.newline}{style.indent}{command}")


def insert_after_word(run: RunShell, word, text: str) -> Edit:
    """Insert `` text`` right after a shell word (e.g. a flag after ``install``)."""
    _, end = run.doc_span(word.span)
    return Edit.insert(end, f" {text}")


def stage_runs(doc: Document, model, stage) -> list[Instruction]:
    return [i for i in stage.instructions if i.keyword == "RUN"]


def mounts(inst: Instruction) -> list[dict[str, str]]:
    """Parsed ``--mount`` flags: [{"type": "cache", "target": "/root/.cache/pip", ...}]."""
    return [parse_mount(f.value) for f in inst.flags_named("mount")]


def parse_mount(value: str | None) -> dict[str, str]:
    """One ``--mount`` value: ``{"type": "cache", "target": "/root/.cache/pip", ...}`` (type defaults to bind)."""
    d: dict[str, str] = {}
    for part in (value or "").split(","):
        k, _, v = part.partition("=")
        d[k.strip().lower()] = v.strip()
    d.setdefault("type", "bind")
    if "dst" in d and "target" not in d:
        d["target"] = d["dst"]
    if "destination" in d and "target" not in d:
        d["target"] = d["destination"]
    return d


def cache_mount_targets(inst: Instruction) -> list[str]:
    return [m.get("target", "") for m in mounts(inst) if m.get("type") == "cache"]
