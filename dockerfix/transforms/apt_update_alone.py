"""DFX102 apt-update-alone: ``apt-get update`` in a RUN with no install after it."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.model.pkgmgr import find_package_calls  # (a lazy registry entry: loaded with its first check)
from dockerfix.syntax.nodes import Instruction
from dockerfix.transforms._run import RunShell, run_shell
from dockerfix.transforms.base import Context, Diagnostic, Fix, Transform
from dockerfix.transforms._merge import merge_block

APT = ("apt-get", "apt")


def apt_actions(run: RunShell) -> list[str]:
    if run.script is None:
        return []
    return [c.action or "" for c in find_package_calls(run.script) if c.manager in APT]


class AptUpdateAlone(Transform):
    code = "DFX102"
    triggers = ("apt",)
    image_differences = ("var/lib/apt/lists/*",)
    name = "apt-update-alone"
    summary = "Run apt-get update in the same RUN as apt-get install"
    safety = "safe"
    after = ("merge-runs",)
    edits_like = ("merge-runs",)
    joins = True
    effect = "correctness"  # a cached `apt-get update` layer goes stale; the lists it leaves are the smaller part
    docs = """\
## What it does
Finds a RUN that refreshes the apt package index (`apt-get update`) but installs nothing. When the next
instruction is a RUN that installs packages and the two can be merged, it merges them (like `merge-runs`).

## Why
The index (tens of MB under `/var/lib/apt/lists`) ships in its own layer, and the cached layer goes stale: a later
change to the install line reuses yesterday's index and fails or installs old versions (the Docker best-practice
guide's "cache busting" advice; hadolint DL3009 is about the leftover lists).

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
Safe, under the same conditions as `merge-runs`. Otherwise a finding without a fix, with the reason.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        doc = ctx.document
        insts = [n for n in doc.nodes if isinstance(n, Instruction)]
        for k, inst in enumerate(insts):
            if inst.keyword != "RUN":
                continue
            run = run_shell(ctx, inst)
            acts = apt_actions(run)
            if "update" not in acts or any(a in ("install", "upgrade", "dist-upgrade") for a in acts):
                continue
            msg = "apt-get update runs without an install in the same RUN: the index ships in its own stale layer"
            nxt = insts[k + 1] if k + 1 < len(insts) else None
            reason: str | None = "the next instruction is not a RUN that installs packages"
            if nxt is not None and nxt.keyword == "RUN":
                nrun = run_shell(ctx, nxt)
                if any(a in ("install", "upgrade", "dist-upgrade") for a in apt_actions(nrun)):
                    if not ctx.model.state.shell_at(inst).is_posix:
                        reason = "the stage does not use a POSIX shell"
                    else:
                        edit, why = merge_block(ctx, run, nrun)
                        if edit is not None:
                            fix = Fix.safe("Merge the update into the RUN that installs", edit)
                            yield self.diagnostic(inst, msg, fix, span=(inst.keyword_span[0], nxt.end))
                            continue
                        reason = why
            yield self.diagnostic(inst, msg, None, reason=reason)


TRANSFORMS = (AptUpdateAlone,)
