"""DFX001 add-local-to-copy: ``ADD`` of local files or folders becomes ``COPY``."""

from __future__ import annotations

import posixpath

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform, keyword_like

from dockerfix.model.sources import (
    is_archive_bytes,
    is_remote,
    looks_like_archive_name,
)

COPY_FLAGS = frozenset(("chown", "chmod", "link", "exclude", "parents"))


class AddLocalToCopy(Transform):
    code = "DFX001"
    name = "add-local-to-copy"
    summary = "Use COPY instead of ADD for local files and folders"
    safety = "mixed"
    answers = ("DL3020",)
    effect = "cosmetic"
    """COPY of a local file builds the same layer as ADD: the fix only states the intent."""
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
`ADD` unpacks a local tar archive (plain or gzip/bzip2/xz/zstd compressed) that it finds by *content*, whatever
its name; `COPY` copies the file as it is. So the fix is safe only with evidence that no source is such an archive,
for each source:

- the context root (`.`, `./`, `/`, anything that cleans to the root): always a folder, and `ADD` of a folder never
  unpacks what is inside it;
- a folder of the build context;
- a file of the build context that is not an archive by content (every match of a glob, and at least one match);
- a heredoc (`ADD <<EOF`): inline text, never unpacked.

A trailing `/` is no evidence: BuildKit cleans the source path before copying, so `ADD bundle/ /opt/` unpacks a
file `bundle` that is an archive. Without that evidence (no build context, as with `dockerfix -` and no
`--stdin-filename`; a source missing from the context; `ONBUILD ADD`, which runs in a later build with another
context) the fix is unsafe. It never fires for URLs, git sources, `--checksum`/`--keep-git-dir`/`--unpack` (flags
only `ADD` has), or sources that are tar archives `ADD` would unpack (by name, and by content when the file is in the
build context). A source built from a variable gets a finding without a fix, since it could name a URL or an archive.
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
            onbuild = outer.keyword == "ONBUILD"
            verdict = "copy"
            reason = None
            unsafe = None
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
                if is_context_root(src):
                    continue  # a folder: ADD never unpacks what is inside one
                if onbuild:
                    unsafe = unsafe or (f"ONBUILD ADD runs in a later build with another context, where {src!r} "
                                        "could be a tar archive ADD would unpack")
                    continue
                if bc is None:
                    unsafe = unsafe or (f"there is no build context to show that {src!r} is not a tar archive "
                                        "ADD would unpack")
                    continue
                found = self._context_evidence(bc, src)
                if found == "archive":
                    verdict = "keep"
                    break
                if found is None:
                    unsafe = unsafe or (f"{src!r} is not in the build context, so nothing shows it is not a tar "
                                        "archive ADD would unpack")
            if verdict == "keep":
                continue
            msg = "ADD copies local files; COPY does the same without ADD's download and unpack behaviour"
            if verdict == "nofix":
                yield self.diagnostic(inst, msg, None, reason=reason)
                continue
            s, e = inst.keyword_span
            edit = Edit(s, e, keyword_like(inst.raw_keyword, "COPY"))
            if unsafe is not None:
                yield self.diagnostic(inst, msg, Fix.unsafe("Replace ADD with COPY", edit), reason=unsafe)
                continue
            yield self.diagnostic(inst, msg, Fix.safe("Replace ADD with COPY", edit))

    @staticmethod
    def _context_evidence(bc, src: str) -> str | None:
        """``"archive"`` when a match of ``src`` in the context is (or may be) an archive ADD would unpack,
        ``"plain"`` when every match is a folder or a file that is not an archive by content, None when the context
        holds no match (no evidence either way)."""
        rel = src.replace("\\", "/")
        try:
            matches = bc.glob(rel) if any(c in rel for c in "*?[") else ([rel] if bc.exists(rel) else [])
            if not matches:
                return None
            for m in matches:
                if bc.is_dir(m):
                    continue
                if looks_like_archive_name(m) or is_archive_bytes(bc.read_bytes(m, 512)):
                    return "archive"
        except OSError:
            return "archive"  # unreadable (a dangling link, no permission): keep ADD
        return "plain"


def is_context_root(src: str) -> bool:
    """Whether an ADD/COPY source names the context root: BuildKit joins every source to ``/`` and cleans it, so
    ``.``, ``./``, ``/`` and ``a/..`` are the root folder (a trailing slash alone is dropped, never a folder sign)."""
    p = src.replace("\\", "/")
    if len(p) >= 2 and p[1] == ":" and p[0].isalpha():
        p = p[2:]  # a Windows drive letter, which BuildKit strips
    return posixpath.normpath(posixpath.join("/", p)) in ("/", "//")


TRANSFORMS = (AddLocalToCopy,)
