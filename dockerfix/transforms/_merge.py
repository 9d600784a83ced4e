"""Joining RUN instructions into one ``&&`` chain: shared by merge-runs (DFX101) and apt-update-alone (DFX102).

What makes a join *safe* lives here, so both transforms merge under the same conditions: the commands run in the
same order and the build fails where it failed before (shell state, control flow, separators, flags), the comments
between the RUNs stay where a reader expects them, and the joined RUN uses one continuation indent. *Why* a join is
worth making (the reason a reviewer accepts) is each transform's own business.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import attrgetter

from dockerfix._record import dataclass
from dockerfix.syntax.nodes import Document, Trivia
from dockerfix.transforms._run import RunShell, instruction_style, parse_shell_cached
from dockerfix.transforms.base import Context, Edit

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable

    from dockerfix.transforms._run import Style

_start = attrgetter("start")

KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
"""Dockerfile instruction keywords: a comment whose first word is one of them (any case) is a commented-out
instruction, which never moves into a chain."""

CONTROL_FLOW = frozenset({"exit", "return", "exec"})
"""Commands that end the shell (or the function) early: after a join they would skip the commands of the other RUN."""

_OPAQUE = frozenset({"for", "select", "c-for", "case", "test", "arith"})
"""Compound kinds whose own text (outside their command lists) holds words, patterns or expressions: whitespace
there may be inside quotes, so a line starting there is re-indented only when no quote or expansion precedes it."""


@dataclass(frozen=True, slots=True)
class Join:
    """How RUN ``b`` joins the RUN ``a`` right above it. Joined, the RUN is ``a``'s text up to ``at``, then
    :meth:`text`; ``a``'s tail (blanks, ``;``) and line break and everything up to ``b``'s command go."""

    at: int
    """Document offset where ``a``'s last command ends."""
    lead: str
    """The text joining them up to ``b``'s command (`` && \\``, line break, moved comments, indent)."""
    start: int
    """Document offset of ``b``'s command text."""
    end: int
    """Document offset where ``b``'s own text ends (before its line break)."""
    reindent: tuple[tuple[int, int, str], ...] = ()
    """(start, end, new) document spans of leading whitespace of ``b``'s lines that take the first RUN's indent."""

    def text(self, doc: Document, upto: int | None = None) -> str:
        """The joining text and ``b``'s text up to ``upto`` (default: its end), re-indented."""
        end = self.end if upto is None else upto
        out = [self.lead]
        pos = self.start
        for s, e, new in self.reindent:
            if s >= end:
                break
            out.append(doc.text[pos:s])
            out.append(new)
            pos = e
        out.append(doc.text[pos:end])
        return "".join(out)


def merge_block(ctx: Context, a: RunShell, b: RunShell) -> tuple[Edit | None, str | None]:
    """The edit merging RUN ``b`` into the RUN ``a`` right above it in the pass's document, or (None, reason)."""
    doc = ctx.document
    join, reason = join_runs(doc, a, b, lambda: instruction_style(ctx, a.inst))
    if join is None:
        return None, reason
    return Edit(join.at, b.inst.end, join.text(doc) + b.inst.line_break), None


def control_flow(run: RunShell) -> str | None:
    """What in the RUN changes how a chain continues or fails (``exit``, ``return``, ``exec``, ``set -e``/``+e``/
    ``-o errexit``, a background job), or None. Such a RUN keeps its own shell."""
    s = run.script
    return None if s is None else s.view(_control_flow)


def _control_flow(s) -> str | None:
    """:func:`control_flow` of a script (its text alone: kept on the script, ``Script.view``)."""
    for site in s.sites:
        words = site.command.words
        k = 0
        while k < len(words) - 1 and words[k].value in ("command", "builtin"):
            k += 1
        name = words[k].value if k < len(words) else None
        if name in CONTROL_FLOW:
            return f"`{name}`"
        if name == "set" and _sets_errexit(words[k + 1:]):
            return "a change of `set -e`"
        if site.background:
            return "a background job (`&`)"
    return None


def _plain_and_chain(s) -> bool:
    """Whether a script's top-level commands are joined by ``&&`` only (kept on the script: its text alone decides)."""
    return not any(sep is not None and sep.text != "&&" for sep in s.separators)


def _sets_errexit(args) -> bool:
    prev_o = False
    for w in args:
        v = w.value
        if v is None:
            return True  # `set $FLAGS`: it could be
        if prev_o and v == "errexit":
            return True
        prev_o = v in ("-o", "+o")
        if v == "--" or v == "-":
            return False
        if v[:1] in ("-", "+") and not v.startswith("--") and "e" in v[1:]:
            return True
    return False


def comment_refusal(between: list, ib) -> str | None:
    """Why the comment lines between two RUNs cannot move into the chain, or None."""
    for n in between:
        if n.kind == "comment":
            word = n.text.strip().lstrip("#").strip().split(None, 1)
            if word and word[0].upper() in KEYWORDS:
                return f"line {n.line} is a commented-out instruction ({word[0]}), which must stay outside a RUN"
    if between and between[-1].kind in ("comment", "directive"):
        return f"the comment on line {between[-1].line} introduces the RUN on line {ib.start_line}"
    return None


def nodes_between(doc: Document, ia, ib) -> list:
    """The nodes between two instructions (``ia`` None: from the top), in order, found by bisection (nodes are in
    order: no scan of the whole file per join)."""
    nodes = doc.nodes
    k = bisect_left(nodes, ia.end, key=_start) if ia is not None else 0
    out = []
    while k < len(nodes) and nodes[k].start < ib.start:
        out.append(nodes[k])
        k += 1
    return out


def join_refusal(doc: Document, a: RunShell, b: RunShell) -> str | None:
    """Why RUN ``b`` cannot join the RUN ``a`` right above it, or None: :func:`join_runs`'s checks, without building
    the joined text (most RUN pairs fail a check or have no reason to join; the text needs the file's style and the
    second RUN's re-indent). Kept on ``a`` like :func:`join_runs`'s join: merge-runs and apt-update-alone ask about
    the same pairs."""
    kept = a.__dict__.get("_refusal")
    if kept is not None and kept[0] is b:
        return kept[1]
    why = _refusal(doc, a, b)
    a._refusal = (b, why)  # type: ignore[attr-defined]
    return why


def _refusal(doc: Document, a: RunShell, b: RunShell) -> str | None:
    ia, ib = a.inst, b.inst
    if not a.ok:
        return a.reason or "the first RUN's shell cannot be read"
    if not b.ok:
        return b.reason or "the second RUN's shell cannot be read"
    if ia.heredocs or ib.heredocs:
        return "heredoc RUNs are kept as they are"
    if (ia.flags or ib.flags) and sorted(f.raw for f in ia.flags) != sorted(f.raw for f in ib.flags):
        return "the RUNs have different flags (mounts, network, security)"
    assert a.script is not None and b.script is not None
    if a.script.has_leaking_state:
        kinds = sorted({c.kind for c in a.script.state_changes if c.leaks})
        return f"the first RUN changes shell state ({', '.join(kinds)}) that the second would inherit"
    if not a.tail_is_clean():
        return "the first RUN ends with a comment or a background job"
    for run, which in ((a, "first"), (b, "second")):
        cf = control_flow(run)
        if cf is not None:
            return f"the {which} RUN has {cf}: joined, it would change what runs or where the build fails"
    # `a || b`, `a; b` in the first RUN are fine: `&&` and `||` bind left to right and tighter than `;`, so
    # `a || b && c` is `(a || b) && c`, which is what two RUNs do. In the second RUN they are not.
    if not b.script.view(_plain_and_chain):
        return "the second RUN is not a plain && chain, so `&&` would change what runs when a command fails"
    if not b.script.items:
        return "the second RUN is empty"
    between = nodes_between(doc, ia, ib)
    if any(not isinstance(n, Trivia) for n in between):
        return "the RUNs are not adjacent"
    return comment_refusal(between, ib)


def join_runs(doc: Document, a: RunShell, b: RunShell, style: Callable[[], Style], *,
              check: bool = True) -> tuple[Join | None, str | None]:
    """How RUN ``b`` joins the RUN ``a`` right above it, or (None, reason). ``style``: gives the continuation style
    of the joined text, asked only once every check passed (most RUN pairs do not join, and learning the file's
    style reads every RUN of it). ``check=False``: the caller has just had None from :func:`join_refusal` for the
    pair."""
    why = join_refusal(doc, a, b) if check else None
    if why is not None:
        return None, why
    st = style()
    # merge-runs and apt-update-alone join the same pairs (the same style, when the block is the pair): the join is
    # kept on ``a`` (a RunShell is one per instruction and pass, and its document is ``doc``)
    kept = a.__dict__.get("_join")
    if kept is not None and kept[0] is b and kept[1] == st:
        return kept[2]
    out = _join(doc, a, b, st)
    a._join = (b, st, out)  # type: ignore[attr-defined]
    return out


def _join(doc: Document, a: RunShell, b: RunShell, st: Style) -> tuple[Join | None, str | None]:
    ia, ib = a.inst, b.inst
    between = nodes_between(doc, ia, ib)
    nl, ind, e = st.newline, st.indent, st.escape
    bs, be = ib.rest_span
    # comment lines the second RUN owns before its command (`RUN \` then `# note`) move along with the between ones
    inner = [ln.strip() for ln in doc.text[ib.start:bs].splitlines() if ln.strip().startswith("#")]
    comments = "".join(f"{ind}{c}{nl}" for c in [n.text.strip() for n in between if n.kind == "comment"] + inner)
    at = a.doc_span((0, a.last_end()))[1]
    if st.leading_ops:
        lead = f" {e}{nl}{comments}{ind}&& "
    else:
        lead = f" && {e}{nl}{comments}{ind}"
    spans, why = reindent(doc, b, ind, bs, be)
    if spans is None:
        return None, why
    return Join(at, lead, bs, be, spans), None


# ------------------------------------------------------------------ indentation
def _indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def reindent(doc: Document, b: RunShell, target: str, start: int, end: int
             ) -> tuple[tuple[tuple[int, int, str], ...] | None, str | None]:
    """The whitespace edits that give the continuation lines of ``b``'s text ``[start, end)`` the indent ``target``
    (deeper lines keep their depth in units of ``target``), or (None, reason) when that is not byte-safe: a line
    starting inside a word or quotes, or an indent that is no whole number of the RUN's own indent unit."""
    text = doc.text
    lines: list[tuple[int, str, bool]] = []  # (offset, leading whitespace, is a command line)
    k = text.find("\n", start, end)
    while k != -1 and k + 1 < end:
        ls = k + 1
        nxt = text.find("\n", ls, end)
        line = text[ls:nxt if nxt != -1 else end].rstrip("\r")
        body = line.lstrip(" \t")
        if body:  # blank lines inside a continuation stay as they are
            lines.append((ls, _indent_of(line), not body.startswith("#")))
        k = nxt
    cmd_indents = [w for _, w, cmd in lines if cmd]
    if not cmd_indents:
        return (), None  # nothing but comment lines: BuildKit drops them, they keep their look
    # the RUN's own base indent: its shallowest command line; deeper lines keep their depth in units of it
    base = min(cmd_indents, key=len)
    out: list[tuple[int, int, str]] = []
    for ls, w, cmd in lines:
        new = _map_indent(w, base, target)
        if new is None:
            if not cmd:
                continue  # a comment line BuildKit drops: it may keep an indent we cannot map
            return None, (f"line {doc_line(doc, ls)} is indented in a way that cannot take the first RUN's "
                          f"indent ({w!r} against {target!r})")
        if new == w:
            continue
        if cmd and not _gap_is_free(b, ls, w):
            return None, (f"line {doc_line(doc, ls)} continues a word or quoted text, so its indent cannot change "
                          "to the first RUN's")
        out.append((ls, ls + len(w), new))
    if out and not _same_words(b, out):
        return None, "re-indenting the second RUN would change its words"
    return tuple(out), None


def doc_line(doc: Document, offset: int) -> int:
    return doc.text.count("\n", 0, offset) + 1


def _map_indent(w: str, base: str, target: str) -> str | None:
    """``w`` is ``base`` plus some extra depth: ``target`` plus the same depth (in units of ``target`` when the extra
    is whole units of ``base``, else kept when it uses ``target``'s character); None when there is no such mapping."""
    if not w.startswith(base):
        return None
    extra = w[len(base):]
    if not extra:
        return target
    if base and extra == base * (len(extra) // len(base)):
        return target * (1 + len(extra) // len(base))
    if len(set(target)) == 1 and set(extra) == set(target):
        return target + extra
    return None


def _script_offset(b: RunShell, ls: int) -> int | None:
    """The offset in ``b``'s script of the document line starting at ``ls`` (None when BuildKit drops the line)."""
    m = b.inst.map
    i = bisect_left(m.source, ls)
    if i >= len(m.source) or m.source[i] != ls:
        return None
    k = m.logical[i] - b.inst.rest_offset
    return k if k >= 0 else None


def _gap_is_free(b: RunShell, ls: int, w: str) -> bool:
    """Is the whitespace at the start of this line only a gap between shell tokens (not inside a word, quotes,
    an assignment, a redirect, or the words of ``for``/``case``/``[[ ]]``/``(( ))``)?"""
    s = b.script
    p = _script_offset(b, ls)
    if s is None or p is None:
        return False
    if not w and p > 0 and s.source[p - 1] not in " \t;&|()":
        return False
    node: Any  # the node classes share no base: their fields are read by name below
    for node in s.walk():
        for x in getattr(node, "words", ()) or ():
            if x.span[0] < p < x.span[1] or (not w and x.span[0] < p <= x.span[1]):
                return False
        for x in (getattr(node, "assignments", ()) or ()) + (getattr(node, "redirects", ()) or ()):
            if x.span[0] < p < x.span[1]:
                return False
        kind = getattr(node, "kind", None)
        if kind in _OPAQUE and node.span[0] < p < node.span[1]:
            if any(part.span[0] <= p < part.span[1] for part in node.parts):
                continue
            # the compound's own text (for-list, case word and patterns, test expression) from the last command
            # list before p: any quoting or expansion there and p may sit inside quotes
            since = max([node.span[0]] + [part.span[1] for part in node.parts if part.span[1] <= p])
            if any(c in s.source[since:p] for c in "'\"`$\\"):
                return False
    return True


def _words(script) -> list[str]:
    out: list[str] = []
    for node in script.walk():
        out.append(type(node).__name__)
        out.extend(x.raw for x in getattr(node, "words", ()) or ())
        out.extend(x.raw for x in getattr(node, "assignments", ()) or ())
        out.extend(x.raw for x in getattr(node, "redirects", ()) or ())
    return out


def _same_words(b: RunShell, edits: list[tuple[int, int, str]]) -> bool:
    """Belt and braces: the re-indented script parses to the same commands, words, assignments and redirects."""
    s = b.script
    assert s is not None
    src = s.source
    for ls, le, new in reversed(edits):
        p = _script_offset(b, ls)
        if p is None:
            continue  # a comment line inside the continuation: not part of the script
        src = src[:p] + new + src[p + (le - ls):]
    got = parse_shell_cached(src)
    return got.ok and _words(got) == _words(s)
