"""DFX902 unknown-instruction: an instruction BuildKit does not know (``FOO bar``, ``RUNN make``) parses here, as it
does in BuildKit's parser, but the build stops at it; report it with its position, before a build does."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.transforms.base import Context, Diagnostic, Transform

KNOWN = frozenset((
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
))
"""The instructions BuildKit's Dockerfile frontend dispatches (``instructions.ParseInstruction``); anything else is
``unknown instruction`` at build time."""


class UnknownInstruction(Transform):
    code = "DFX902"
    name = "unknown-instruction"
    summary = "Report instructions BuildKit does not know (the build fails there)"
    safety = "display-only"
    effect = "correctness"
    docs = """\
## What it does
Reports an instruction whose keyword is none of BuildKit's (`FROM`, `RUN`, `COPY`, `ADD`, `ARG`, `ENV`, `LABEL`,
`EXPOSE`, `USER`, `WORKDIR`, `VOLUME`, `CMD`, `ENTRYPOINT`, `SHELL`, `HEALTHCHECK`, `STOPSIGNAL`, `ONBUILD`,
`MAINTAINER`), with its line and column, and the closest known keyword when there is one.

## Why
BuildKit's parser accepts any word at the start of a line as an instruction; only the build fails, with `unknown
instruction: FOO`, after the stages before it may already have run. An editor or a pre-commit hook can say it at
once.

## Example
```dockerfile
FROM alpine
RUNN apk add curl
```
reports `unknown instruction RUNN: BuildKit fails the build here (did you mean RUN?)`.

## Fix safety
Display-only: what the author meant is theirs to say. The instruction inside `ONBUILD` is not checked (it runs, and
fails, in the builds that use this image).
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        out = []
        for inst in ctx.document.instructions:
            if inst.keyword in KNOWN:
                continue
            hint = _closest(inst.keyword)
            out.append(self.diagnostic(
                inst, f"unknown instruction {inst.raw_keyword}: BuildKit fails the build here"
                      + (f" (did you mean {hint}?)" if hint else "")))
        return out


def _closest(keyword: str) -> str | None:
    import difflib

    got = difflib.get_close_matches(keyword.upper(), sorted(KNOWN), n=1, cutoff=0.75)
    return got[0] if got else None


TRANSFORMS = [UnknownInstruction]
