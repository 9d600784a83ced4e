"""DFX101 merge-runs: consecutive RUN instructions of one stage become one ``&&`` chain."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from bisect import bisect_left
from operator import attrgetter

from dockerfix.syntax.nodes import Document, Instruction, Trivia
from dockerfix.transforms._merge import _join
from dockerfix.transforms._run import RunShell, instruction_style
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

_start = attrgetter("start")


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
            if first.keyword != "RUN" or insts[i + 1].keyword != "RUN" \
                    or not ctx.model.state.shell_at(first).is_posix:
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
