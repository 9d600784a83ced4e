"""DFX901 unknown-pragma: a ``# dockerfix:`` comment that names a code or transform dockerfix does not have, or that
is not a pragma dockerfix understands, suppresses nothing; say so (like ruff's unused-noqa)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

import re

from dockerfix._lazyre import lazy
from dockerfix.model.pragmas import KINDS, MENTION, PRAGMA, spelled_codes
from dockerfix.syntax.nodes import Trivia
from dockerfix.transforms.base import Context, Diagnostic, Transform


_ANYWHERE = lazy(r"#\s*dockerfix\s*:", re.I)


def _known(key: str, transforms: list) -> bool:
    k = key.lower()
    if k == "all":
        return True
    for t in transforms:
        code = t.code.lower()
        if k == code or k == t.name.lower() or (k.startswith("dfx") and len(k) < len(code) and code.startswith(k)):
            return True
    return False


class UnknownPragma(Transform):
    code = "DFX901"
    name = "unknown-pragma"
    summary = "Report `# dockerfix:` comments that name unknown codes or are not pragmas dockerfix understands"
    safety = "display-only"
    effect = "correctness"
    docs = """\
## What it does
Reports a `# dockerfix:` comment that suppresses nothing because dockerfix cannot read it: a code or transform name
that does not exist (`ignore=DFX1O1`, `ignore=merge-run`), or a comment that is not one of the pragmas
`ignore=`, `ignore-stage=` and `ignore-file=`. The message keeps the spelling as written.

## Why
A typo in a suppression silently suppresses nothing, and the rewrite the author meant to stop happens anyway.
Ruff reports unknown and unused `# noqa` codes for the same reason.

## Example
```dockerfile
# dockerfix: ignore=merge-run
RUN apt-get update
```
reports `unknown code or transform 'merge-run' in a dockerfix pragma`.

## Fix safety
Display-only: there is nothing to rewrite. Correct the comment (`dockerfix --explain CODE` lists what a code is; `dockerfix --list` the transforms).
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        doc = ctx.document
        if _ANYWHERE.search(doc.text) is None:
            return []
        from dockerfix.transforms import registry

        everything = registry.all_transforms()
        out = []
        for node in doc.nodes:
            if not isinstance(node, Trivia) or node.kind != "comment":
                continue
            text = node.text
            if MENTION.match(text) is None:
                continue
            start = node.start + (len(text) - len(text.lstrip()))
            end = node.start + len(text)
            m = PRAGMA.match(text)
            if m is None:
                out.append(Diagnostic(
                    self.code, self.name,
                    f"not a dockerfix pragma: expected {', '.join(k + '=CODES' for k in KINDS)} "
                    f"(or one of them alone for all codes), got {text.strip()!r}",
                    start, end))
                continue
            for key in spelled_codes(m.group(2)):
                if not _known(key, everything):
                    out.append(Diagnostic(
                        self.code, self.name, f"unknown code or transform {key!r} in a dockerfix pragma", start, end))
        return out


TRANSFORMS = [UnknownPragma]
