"""DFX112 delete-in-later-layer: a ``RUN rm`` of files an earlier RUN of the stage created moves into that RUN."""

from __future__ import annotations

import posixpath
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.transforms._run import RunShell, append_command, run_shell
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform


def _static_prefix(p: str) -> str | None:
    """``/var/lib/apt/lists/*`` -> ``/var/lib/apt/lists``; None when a glob sits before the last component."""
    head, _, last = p.rstrip("/").rpartition("/")
    if any(c in head for c in "*?[~"):
        return None
    if any(c in last for c in "*?["):
        return head or None
    return p


def _norm(p: str) -> str:
    return posixpath.normpath(p) if p.startswith("/") else p


def _related(word: str, path: str) -> bool:
    """Does a static shell word name ``path`` or something inside it?"""
    if not word.startswith("/"):
        return False
    w = _norm(word)
    return w == path or w.startswith(path.rstrip("/") + "/")


def _rm_only(run: RunShell) -> list[str] | None:
    """The paths of a RUN made only of ``rm`` commands joined by && or ;, or None."""
    s = run.script
    if s is None:
        return None
    paths = s.view(_rm_only_paths)  # once per script (Script.view): asked for every RUN in every pass
    return list(paths) if paths is not None else None


def _rm_only_paths(s) -> tuple[str, ...] | None:
    from dockerfix.model.pkgmgr import removed_paths

    if not s.items:
        return None
    if any(sep is not None and sep.text not in ("&&", ";") for sep in s.separators):
        return None
    paths: list[str] = []
    for site in s.sites:
        cmd = site.command
        if site.is_nested or not cmd.is_command("rm"):
            return None
        if any(w.value is None for w in cmd.args):
            return None
        ps = removed_paths(cmd)
        if not ps:
            return None
        paths.extend(ps)
    if len(s.sites) != len(s.items):
        return None
    return tuple(paths)


def _ends_deleted(run: RunShell, named: list, paths: list[str]) -> bool:
    """For each of ``paths``, the last word of ``run`` naming it (``named``, in source order) is an ``rm`` operand
    naming exactly that path: the RUN leaves none of them behind."""
    assert run.script is not None
    operands = {id(w) for site in run.script.sites if site.command.effective.is_command("rm")
                for w in site.command.effective.args}
    for p in paths:
        last = [w for w in named if _related(w.value, p)][-1:]
        if not last or id(last[0]) not in operands or _norm(last[0].value) != p:
            return False
    return True


def _cache_dirs(run: RunShell) -> list[str]:
    """Where the package managers the RUN calls (as root) may leave their caches: the RUN "touches" these paths."""
    from dockerfix.model.pkgmgr import find_package_calls
    from dockerfix.model.tools import root_cache_dirs

    if run.script is None:
        return []
    out: list[str] = []
    for call in find_package_calls(run.script):
        out.extend(root_cache_dirs(call.manager))
    return out


class _StageIndex:
    """The instructions of a stage that may stop or end the walk back from an rm, filed by the paths they name
    (:class:`~dockerfix.model.paths.PathIndex`), once per stage and pass: the walk asks only those (walking back
    over every earlier RUN for every rm was quadratic in a stage of rm RUNs no merge joins). Everything else the
    walk would pass over: instructions that are not COPY/ADD/SHELL/RUN, COPYs elsewhere, RUNs whose words are all
    static and name none of the paths (nor a cache directory around them)."""

    def __init__(self, ctx: Context, insts) -> None:
        from dockerfix.model.paths import PathIndex

        self.paths = index = PathIndex()
        for j, prev in enumerate(insts):
            if j == 0:
                continue
            if prev.keyword in ("COPY", "ADD"):
                dest = prev.args[-1] if prev.args else ""
                if dest.startswith("/"):
                    index.around(_norm(dest), j)
                else:
                    index.always(j)  # a relative destination may be anywhere
            elif prev.keyword == "SHELL":
                index.always(j)
            elif prev.keyword == "RUN":
                prun = run_shell(ctx, prev)
                words = _words(prun)
                if words is None or prev.json or any(w.value is None or w.has_glob for w in words):
                    index.always(j)
                    continue
                for w in words:
                    if w.value.startswith("/"):
                        index.inside(_norm(w.value), j)
                for d in _cache_dirs(prun):
                    if d.startswith("/"):  # (a relative one is never related to an absolute path)
                        index.around(_norm(d), j)

    def backward(self, paths: list[str], k: int):
        """The numbers of the instructions before ``k`` (and after the FROM) that may concern any of ``paths``,
        the nearest first."""
        hi = k
        while True:
            found = [n for n in (self.paths.last(p, 1, hi) for p in paths) if n is not None]
            if not found:
                return
            hi = max(found)
            yield hi


def _words(run: RunShell) -> list | None:
    """Every word of the RUN that may name a path: arguments and the targets of redirections (``sha256sum <
    /tmp/a.tgz`` reads the file as surely as ``sha256sum /tmp/a.tgz``; before, a RUN reading it only through ``<``
    was walked past, and the rm moved before it)."""
    if run.script is None:
        return None
    from dockerfix.model.shell import redirect_targets

    out: list = []
    for node in run.script.walk():
        out.extend(getattr(node, "words", ()) or ())
        out.extend(redirect_targets(node))
    return out


class DeleteInLaterLayer(Transform):
    code = "DFX112"
    name = "delete-in-later-layer"
    summary = "Delete files in the RUN that created them, not in a later layer"
    safety = "safe"
    after = ("merge-runs",)
    docs = """\
## What it does
Finds a RUN made only of `rm` commands that delete paths an earlier RUN of the same stage created or used
(downloaded archives, build folders, caches), and moves the `rm` into the last earlier RUN that touches those
paths. The separate RUN goes away.

## Why
A file deleted in a later layer still ships in the layer that created it: the delete only hides it. Deleting it in
the same RUN keeps the bytes out of the image (the guides' "clean up in the same layer" advice).

## Example
```dockerfile
RUN curl -fsSLo /tmp/app.tgz https://example.com/app.tgz && tar -xzf /tmp/app.tgz -C /opt
RUN rm -rf /tmp/app.tgz
```
becomes
```dockerfile
RUN curl -fsSLo /tmp/app.tgz https://example.com/app.tgz && tar -xzf /tmp/app.tgz -C /opt && rm -rf /tmp/app.tgz
```

## Fix safety
Safe: the final image has the same files; only the deleted bytes leave the lower layer. It only fires for absolute,
static paths (no variables, no globs), when an earlier RUN of the stage names the path (an argument or a
redirection), no RUN in between uses words it cannot read (variables, globs), no COPY/ADD in between writes there,
both RUNs run as the same user (an rm moved from root into a RUN of another user fails on root's files in `/tmp`),
and the stage uses a POSIX shell.
A later-layer delete of files no RUN of this stage created (they come from the base image) is a finding without a
fix: the bytes are in the base image and only a different base removes them. So is a delete of paths the nearest
earlier RUN naming them already deletes at its end (nothing is left to delete; moving the `rm` there would only
repeat it).
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        for stage in ctx.model.stages:
            insts = stage.instructions
            for k, inst in enumerate(insts):
                if inst.keyword != "RUN" or inst.json or inst.heredocs or inst.flags:
                    continue
                run = run_shell(ctx, inst)
                paths = _rm_only(run)
                if not paths:
                    continue
                if any(not p.startswith("/") or _static_prefix(p) is None for p in paths):
                    continue
                norm = [_norm(_static_prefix(p) or p) for p in paths]
                if any(p in ("/", "/*") for p in norm):
                    continue
                msg = "files deleted in a later layer still ship in the layer that created them"
                target = None
                reason = "no earlier RUN of this stage creates these paths (they come from the base image)"
                index = ctx.memo.get_or(_StageIndex, stage.index, _StageIndex, ctx, insts)
                for j in index.backward(norm, k):
                    prev = insts[j]
                    if prev.keyword in ("COPY", "ADD"):
                        dest = prev.args[-1] if prev.args else ""
                        if any(_related(dest, p) or _related(p, _norm(dest) if dest.startswith("/") else "/")
                               for p in norm):
                            reason = f"COPY/ADD on line {prev.start_line} writes there in between"
                            break
                        continue
                    if prev.keyword == "SHELL":
                        reason = "a SHELL instruction sits in between"
                        break
                    if prev.keyword != "RUN":
                        continue
                    prun = run_shell(ctx, prev)
                    words = _words(prun)
                    if words is None or prev.json:
                        reason = f"the RUN on line {prev.start_line} cannot be read"
                        break
                    named = [w for w in words if w.value and any(_related(w.value, p) for p in norm)]
                    dirs = _cache_dirs(prun)
                    if named or any(_related(d, p) or _related(p, d) for d in dirs for p in norm):
                        if named and not dirs and _ends_deleted(prun, named, norm):
                            # it ends by deleting them: nothing is left for the later rm to delete, and moving it
                            # there would only repeat the rm
                            reason = f"the RUN on line {prev.start_line} already deletes these paths"
                            break
                        target = prun
                        break
                    if any(w.value is None or w.has_glob for w in words):
                        reason = f"the RUN on line {prev.start_line} uses words that could name these paths"
                        break
                if target is not None:
                    # the rm runs as the user of its own RUN; moved, it runs as the target's (a root-owned file in
                    # the sticky /tmp cannot be deleted by another user: the build would fail)
                    state = ctx.model.state
                    if not state.same_user(target.inst, inst):
                        u_rm, u_target = state.user_at(inst), state.user_at(target.inst)
                        reason = (f"the RUN on line {target.inst.start_line} runs as "
                                  f"{u_target or 'a user dockerfix cannot tell'}, the rm as "
                                  f"{u_rm or 'a user dockerfix cannot tell'}")
                        target = None
                if target is None or not ctx.model.state.shell_at(inst).is_posix:
                    yield self.diagnostic(inst, msg, None, reason=reason)
                    continue
                rm_text = " && ".join(site.command.raw for site in run.script.sites)  # type: ignore[union-attr]
                app = append_command(ctx, target, rm_text)
                if app is None:
                    yield self.diagnostic(inst, msg, None,
                                          reason=f"the RUN on line {target.inst.start_line} ends in a way "
                                                 "a command cannot be appended to")
                    continue
                fix = Fix.safe(f"Delete in the RUN on line {target.inst.start_line}", app,
                               Edit.delete(inst.start, inst.end))
                yield self.diagnostic(inst, msg, fix)


TRANSFORMS = (DeleteInLaterLayer,)
