"""DFX502 build-tools-in-final-stage: a multi-stage file whose final stage still installs build tools."""

from __future__ import annotations

import re
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix._lazyre import lazy
from dockerfix.model import ecosystems as eco
from dockerfix.transforms._run import RunShell
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

NODE_INSTALL_FLAGS = ("--omit", "--only", "--production", "--prod")


def _compiles_later(ctx: Context, stage, after: int) -> bool:
    """Does a command after offset ``after`` in the stage build anything (so the tools are still needed)?"""
    from dockerfix.model.pkgmgr import parse_package_call

    for inst in stage.instructions:
        if inst.keyword != "RUN":
            continue
        r = RunShell(ctx.document, inst)
        if not r.ok:
            if inst.end > after:
                return True
            continue
        for site in r.script.sites:
            c = site.command.effective
            if r.doc_span(c.span)[0] <= after:
                continue
            if c.basename in eco.COMPILE_COMMANDS or "setup.py" in (c.raw or ""):
                return True
            call = parse_package_call(c)
            if call is not None and call.manager in ("pip", "npm", "yarn", "pnpm", "gem", "composer") and \
                    call.is_install:
                return True
            if c.basename in ("sh", "bash") or (c.name_value or "").startswith("./"):
                return True
    return False


def _delete_word(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span to delete for a word at [start, end): the word and the blanks before it, on one line."""
    s = start
    while s > 0 and text[s - 1] in " \t":
        s -= 1
    if s < start and text[s - 1:s] not in ("\n", "\\", "`"):
        return s, end
    e = end
    while e < len(text) and text[e] in " \t":
        e += 1
    if e > end and text[e:e + 1] not in ("\r", "\n", "\\", "`", ""):
        return start, e
    # alone on a continuation line: take the whole line
    ls = text.rfind("\n", 0, start) + 1
    m = re.compile(r"[ \t]*[\\`][ \t]*\r?\n").match(text, end)
    if not text[ls:start].strip() and m:
        return ls, m.end()
    return None


class BuildToolsInFinalStage(Transform):
    code = "DFX502"
    name = "build-tools-in-final-stage"
    summary = "The final stage of a multi-stage build installs compilers, headers or dev dependencies"
    safety = "unsafe"
    docs = """\
## What it does
In a file that already has several stages, reports a final stage that installs build tools: compilers and
toolchains (`build-essential`, `gcc`, `g++`, `make`, `cmake`...), header packages (`-dev`, `-devel`), or Node
dev dependencies (`npm install`/`npm ci` without `--omit=dev`).

## Why
The point of a builder stage is to leave these behind; in the final stage they add size and attack surface.

## Example
```dockerfile
FROM golang:1.22 AS build
RUN go build -o /app .
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y gcc curl
COPY --from=build /app /app
```
The fix drops `gcc` from the install (the stage compiles nothing after it).

## Fix safety
Unsafe, and only where the pattern is clear: build packages are removed from an install command that keeps at least
one other package, when nothing later in the stage compiles (no pip/npm/gem install, make, compilers, scripts), and
`--omit=dev` is added to a bare `npm install`/`npm ci` when no build runs after it and `NODE_ENV` is not
`production`. Otherwise it is a finding: move the work into a builder stage (see DFX501).
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        from dockerfix.model.pkgmgr import parse_package_call

        doc = ctx.document
        stages = ctx.model.stages
        if len(stages) < 2 or doc.escape == "`":
            return
        stage = stages[-1]
        if stage.base.lower() == "scratch":
            return
        for inst in stage.instructions:
            if inst.keyword != "RUN":
                continue
            r = RunShell(doc, inst)
            if not r.ok:
                continue
            for site in r.script.sites:
                cmd = site.command.effective
                call = parse_package_call(cmd)
                if call is None or not call.is_install:
                    continue
                if call.manager in eco.SYSTEM_MANAGERS:
                    yield from self._system(ctx, stage, inst, r, call)
                elif call.manager == "npm":
                    yield from self._npm(ctx, stage, inst, r, call)

    def _system(self, ctx, stage, inst, r, call) -> Iterable[Diagnostic]:
        tools = [w for w in call.packages if w.value and eco.is_build_package(w.value)]
        if not tools:
            return
        names = ", ".join(w.value for w in tools)
        msg = f"the final stage installs build tools ({names}) that a builder stage should keep"
        span = (inst.keyword_span[0], inst.end)
        rest = [w for w in call.packages if w not in tools]
        after = r.doc_span(call.command.span)[1]
        if not rest:
            yield self.diagnostic(inst, msg, reason="every package of the install is a build tool: move the "
                                  "install (and what needs it) into a builder stage", span=span)
            return
        if _compiles_later(ctx, stage, after):
            yield self.diagnostic(inst, msg, reason="the stage compiles something after the install: move that "
                                  "work into a builder stage (DFX501)", span=span)
            return
        text = ctx.document.text
        edits = []
        for w in tools:
            s, e = r.doc_span(w.span)
            d = _delete_word(text, s, e)
            if d is None:
                yield self.diagnostic(inst, msg, reason="a build package stands alone on a continuation line",
                                      span=span)
                return
            edits.append(Edit.delete(*d))
        yield self.diagnostic(inst, msg, Fix.unsafe(f"Remove {names} from the final stage", *edits),
                              reason="removes packages from the image; check nothing runs them", span=span)

    def _npm(self, ctx, stage, inst, r, call) -> Iterable[Diagnostic]:
        if call.packages or any(o.name.startswith(NODE_INSTALL_FLAGS) for o in call.options):
            return
        if any(o.name in ("-g", "--global") for o in call.options):
            return
        scope = ctx.model.scope_at(inst)
        if (scope.get("NODE_ENV") or "") == "production" or "NODE_ENV=production" in call.command.raw:
            return
        if re.search(r"\bNODE_ENV\b", inst.line):
            return
        msg = f"`npm {call.action}` in the final stage installs dev dependencies"
        span = (inst.keyword_span[0], inst.end)
        after = r.doc_span(call.command.span)[1]
        later_build = False
        for i in stage.instructions:
            if i.keyword == "RUN" and i.end > after and re.search(r"\b(npm run|tsc|yarn build|npx)\b", i.line):
                later_build = True
        if later_build or not call.action_words:
            yield self.diagnostic(inst, msg, reason="the stage builds after the install; build in a builder stage "
                                  "and install with --omit=dev here", span=span)
            return
        s, e = r.doc_span(call.action_words[-1].span)
        yield self.diagnostic(inst, msg, Fix.unsafe("Install production dependencies only", Edit.insert(e, " --omit=dev")),
                              reason="dev dependencies are no longer in the image", span=span)


TRANSFORMS = (BuildToolsInFinalStage,)
