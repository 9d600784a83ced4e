"""Joining RUN instructions into one ``&&`` chain: shared by merge-runs (DFX101) and apt-update-alone (DFX102)."""

from __future__ import annotations

from bisect import bisect_left
from operator import attrgetter

from dockerfix.syntax.nodes import Document, Trivia
from dockerfix.transforms._run import RunShell, instruction_style
from dockerfix.transforms.base import Edit

_start = attrgetter("start")


def merge_block(doc: Document, a: RunShell, b: RunShell) -> tuple[Edit | None, str | None]:
    """The edit merging RUN ``b`` into the RUN ``a`` right above it, or (None, reason)."""
    join, reason = _join(doc, a, b, instruction_style(doc, a.inst))
    if join is None:
        return None, reason
    at, lead, body_end = join
    ib = b.inst
    return Edit(at, ib.end, lead + doc.text[ib.rest_span[0]:body_end] + ib.line_break), None


def _join(doc: Document, a: RunShell, b: RunShell, style) -> tuple[tuple[int, str, int] | None, str | None]:
    """How RUN ``b`` joins the RUN ``a`` right above it: (where ``a``'s last command ends, the text that joins them
    up to ``b``'s command, where ``b``'s own text ends), or (None, reason). Joined, the RUN is the text up to that
    point, the joining text, then ``b``'s command text; ``a``'s tail (blanks, ``;``) and line break go."""
    ia, ib = a.inst, b.inst
    if not a.ok:
        return None, a.reason
    if not b.ok:
        return None, b.reason
    if ia.heredocs or ib.heredocs:
        return None, "heredoc RUNs are kept as they are"
    if sorted(f.raw for f in ia.flags) != sorted(f.raw for f in ib.flags):
        return None, "the RUNs have different flags (mounts, network, security)"
    assert a.script is not None and b.script is not None
    if a.script.has_leaking_state:
        kinds = sorted({c.kind for c in a.script.state_changes if c.leaks})
        return None, f"the first RUN changes shell state ({', '.join(kinds)}) that the second would inherit"
    if not a.tail_is_clean():
        return None, "the first RUN ends with a comment or a background job"
    if any(s is not None and s.text != "&&" for s in b.script.separators):
        return None, "the second RUN is not a plain && chain, so `&&` would change what runs when a command fails"
    if not b.script.items:
        return None, "the second RUN is empty"
    nodes = doc.nodes
    k = bisect_left(nodes, ia.end, key=_start)  # nodes are in order: no scan of the whole file per join
    between = []
    while k < len(nodes) and nodes[k].start < ib.start:
        between.append(nodes[k])
        k += 1
    if any(not isinstance(n, Trivia) for n in between):
        return None, "the RUNs are not adjacent"
    nl, ind, e = style.newline, style.indent, style.escape
    bs, be = ib.rest_span
    # comment lines the second RUN owns before its command (`RUN \` then `# note`) move along with the between ones
    inner = [ln.strip() for ln in doc.text[ib.start:bs].splitlines() if ln.strip().startswith("#")]
    comments = "".join(f"{ind}{c}{nl}" for c in [n.text.strip() for n in between if n.kind == "comment"] + inner)
    at = a.doc_span((0, a.last_end()))[1]
    if style.leading_ops:
        lead = f" {e}{nl}{comments}{ind}&& "
    else:
        lead = f" && {e}{nl}{comments}{ind}"
    return (at, lead, be), None
