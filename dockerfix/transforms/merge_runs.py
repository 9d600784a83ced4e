"""DFX101 merge-runs: consecutive RUN instructions of one stage become one ``&&`` chain."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from bisect import bisect_left
from operator import attrgetter

from dockerfix.syntax.nodes import Document, Instruction, Trivia
from dockerfix.transforms._run import RunShell, instruction_style
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

WINDOWS_HINTS = ("windows", "nanoserver", "servercore")
_start = attrgetter("start")


def is_windows_stage(doc: Document, ctx: Context, inst: Instruction) -> bool:
    if doc.escape == "`":
        return True
    stage = ctx.model.stage_of(inst)
    if stage is None:
        return False
    key = ("merge.windows", stage.index)
    if key not in ctx.memo:
        chain = stage
        seen = set()
        found = False
        while chain is not None and chain.index not in seen:
            seen.add(chain.index)
            if any(h in chain.base.lower() for h in WINDOWS_HINTS):
                found = True
                break
            chain = ctx.model.parent_stage(chain)
        ctx.memo[key] = found
    return ctx.memo[key]


def shell_is_posix(ctx: Context, inst: Instruction) -> bool:
    """No SHELL instruction before ``inst`` in its stage (or the stages it builds on) names a non-POSIX shell."""
    stage = ctx.model.stage_of(inst)
    if stage is None:
        return True
    key = ("merge.shells", stage.index)
    shells = ctx.memo.get(key)
    if shells is None:
        from dockerfix.model.shell import is_posix_shell

        shells = []  # (start offset, or -1 for a parent stage's SHELL; is POSIX)
        seen = set()
        s = stage
        while s is not None and s.index not in seen:
            seen.add(s.index)
            for i in s.instructions:
                if i.keyword == "SHELL":
                    ok = i.json and is_posix_shell(list(i.args))
                    shells.append((i.start if s is stage else -1, ok))
            s = ctx.model.parent_stage(s)
        ctx.memo[key] = shells
    return all(ok for start, ok in shells if start < inst.start)


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


class MergeRuns(Transform):
    code = "DFX101"
    name = "merge-runs"
    after = ("reorder-manifests",)
    summary = "Merge consecutive RUN instructions of a stage into one && chain"
    safety = "safe"
    docs = """\
## What it does
Joins a RUN with the RUNs right below it (comments between them allowed) into one `&&` chain, in the continuation
style of the first one (indent, `&&` at the start or the end of lines, escape character). A whole block of RUNs that
can merge one after the other is one fix; the first RUN that cannot join ends the block. Comments between them move
inside the continuation, where BuildKit ignores them.

## Why
Each RUN makes a layer. Files that one RUN creates and a later RUN deletes still ship in the first layer, and every
layer costs metadata, a pull round-trip and a cache lookup. hadolint reports this as DL3059.

## Example
```dockerfile
RUN apt-get update
RUN apt-get install -y curl
```
becomes
```dockerfile
RUN apt-get update && \\
    apt-get install -y curl
```

## Fix safety
Safe: the commands run in the same order, in the same stage, as the same user, with the same environment, and the
build still fails where it failed before. It refuses when that could change: RUNs with different flags or mounts,
heredoc or exec-form RUNs, a non-POSIX `SHELL` or a Windows image, a first RUN that changes shell state a later
command would inherit (`cd`, `export`, `set`, `umask`, `source`, ...), a first RUN ending in a comment or `&`, and a
second RUN that is not a plain `&&` chain (`a || b` or `a; b` after `&&` would run when the first part fails).
Never merges across any other instruction.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        doc = ctx.document
        insts = [n for n in doc.nodes if isinstance(n, Instruction)]
        i = 0
        while i + 1 < len(insts):
            first = insts[i]
            if first.keyword != "RUN" or insts[i + 1].keyword != "RUN" or is_windows_stage(doc, ctx, first) \
                    or not shell_is_posix(ctx, first):
                i += 1
                continue
            # The whole block of RUNs that merge one after the other is one fix: one edit, one pass, one entry in
            # the report (pair by pair, a block of k RUNs took about log2(k) passes and k-1 entries). Each join
            # is checked exactly as a pair would be; a RUN that cannot join ends the block.
            style = instruction_style(doc, first)
            runs = [RunShell(doc, first)]
            joins: list[tuple[int, str, int]] = []
            while i + len(runs) < len(insts) and insts[i + len(runs)].keyword == "RUN":
                nxt = RunShell(doc, insts[i + len(runs)])
                join, _ = _join(doc, runs[-1], nxt, style)
                if join is None:
                    break
                runs.append(nxt)
                joins.append(join)
            if not joins:
                i += 1
                continue  # no finding: separate RUNs we cannot merge are often deliberate
            last = runs[-1].inst
            text = doc.text
            # each join replaces the RUN above's tail and line break; the last RUN keeps its own
            parts = [lead + text[r.inst.rest_span[0]:nxt_at] for (_, lead, _), r, (nxt_at, _, _) in
                     zip(joins, runs[1:], joins[1:])]
            parts.append(joins[-1][1] + text[last.rest_span[0]:joins[-1][2]] + last.line_break)
            edit = Edit(joins[0][0], last.end, "".join(parts))
            if len(runs) == 2:
                msg = f"RUN on line {last.start_line} makes a separate layer from the RUN on line {first.start_line}"
            else:
                msg = (f"the {len(runs) - 1} RUNs on lines {runs[1].inst.start_line}-{last.start_line} each make "
                       f"their own layer after the RUN on line {first.start_line}")
            span = (first.keyword_span[0], last.end)
            yield self.diagnostic(first, msg, Fix.safe("Merge into a single RUN", edit), span=span)
            i += len(runs)


TRANSFORMS = (MergeRuns,)
