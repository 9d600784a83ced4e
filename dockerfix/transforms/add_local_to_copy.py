"""DFX001 add-local-to-copy: ``ADD`` of local files or folders becomes ``COPY``."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform, keyword_like

from dockerfix.model.sources import (
    ARCHIVE_SUFFIXES,
    is_archive_bytes,
    is_remote,
    looks_like_archive_name,
)

COPY_FLAGS = frozenset(("chown", "chmod", "link", "exclude", "parents"))


class AddLocalToCopy(Transform):
    code = "DFX001"
    name = "add-local-to-copy"
    summary = "Use COPY instead of ADD for local files and folders"
    safety = "safe"
    docs = """\
## What it does
Replaces `ADD` with `COPY` when every source is a local file or folder of the build context.

## Why
`ADD` also downloads URLs, clones git repositories and unpacks local tar archives. For a plain local path it does
exactly what `COPY` does, but a reader (and a reviewer) must check each source to know which behaviour applies. The
Docker best-practice guide and hadolint (DL3020) ask for `COPY` here.

## Example
```dockerfile
ADD app.py requirements.txt /app/
```
becomes
```dockerfile
COPY app.py requirements.txt /app/
```

## Fix safety
Safe: for a local non-archive path `ADD` and `COPY` produce the same layer. It never fires for URLs, git sources,
`--checksum`/`--keep-git-dir`/`--unpack` (flags only `ADD` has), or sources that are tar archives `ADD` would unpack
(by name, and by content when the file is in the build context). A source built from a variable gets a finding
without a fix, since it could name a URL or an archive.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        bc = ctx.build_context
        for outer in ctx.document.iter_instructions():
            inst = outer.effective
            if inst.keyword != "ADD":
                continue
            if any(f.name not in COPY_FLAGS for f in inst.flags):
                continue
            sources = list(inst.args[:-1])
            if not sources:
                continue
            verdict = "copy"
            reason = None
            for src in sources:
                if inst.heredocs and (src.lstrip("0123456789").startswith("<<")):
                    continue
                if is_remote(src):
                    verdict = "keep"
                    break
                if "$" in src:
                    verdict = "nofix"
                    reason = f"the source {src!r} comes from a variable and could be a URL or an archive"
                    continue
                if looks_like_archive_name(src):
                    verdict = "keep"
                    break
                if bc is not None and self._is_archive_in_context(bc, src):
                    verdict = "keep"
                    break
            if verdict == "keep":
                continue
            msg = "ADD copies local files; COPY does the same without ADD's download and unpack behaviour"
            if verdict == "nofix":
                yield self.diagnostic(inst, msg, None, reason=reason)
                continue
            s, e = inst.keyword_span
            fix = Fix.safe("Replace ADD with COPY", Edit(s, e, keyword_like(inst.raw_keyword, "COPY")))
            yield self.diagnostic(inst, msg, fix)

    @staticmethod
    def _is_archive_in_context(bc, src: str) -> bool:
        try:
            matches = bc.glob(src) if any(c in src for c in "*?[") else ([src] if bc.exists(src) else [])
            for m in matches:
                if bc.is_dir(m):
                    continue
                if looks_like_archive_name(m) or is_archive_bytes(bc.read_bytes(m, 512)):
                    return True
        except OSError:
            return True
        return False


TRANSFORMS = (AddLocalToCopy,)
