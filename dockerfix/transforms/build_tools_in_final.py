"""DFX502 build-tools-in-final-stage: a multi-stage file whose final stage still installs build tools."""

from __future__ import annotations

import re
from bisect import bisect_right
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix.model import ecosystems as eco
from dockerfix.transforms._run import run_shell
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

NODE_INSTALL_FLAGS = ("--omit", "--only", "--production", "--prod")


def _later_commands(ctx: Context, stage, after: int):
    """(command, line, None) for every command after offset ``after`` in the stage (the rest of the RUN, later RUNs,
    heredoc scripts included), read through the shell parser; (None, line, reason) for a RUN that cannot be read."""
    for inst in stage.instructions:
        if inst.keyword != "RUN" or inst.end <= after:
            continue
        r = run_shell(ctx, inst)
        if r.script is None:  # not r.ok
            yield None, inst.start_line, r.reason or "its shell cannot be read"
            continue
        for site in r.script.sites:
            if r.doc_span(site.command.span)[0] <= after:
                continue
            yield site.command, inst.start_line, None


def _compiles_later(ctx: Context, stage, after: int) -> str | None:
    """Why a command after offset ``after`` in the stage may build native code (so the tools are still needed)."""
    from dockerfix.model.tools import native_build

    env: dict[str, str | None] | None = None
    for cmd, line, unread in _later_commands(ctx, stage, after):
        if cmd is None:
            return f"line {line} cannot be read ({unread})"
        if env is None:
            env = {}
        why = native_build(cmd, env)
        if why is not None:
            return f"{why} (line {line})"
    return None


def _first_dev_step(ctx: Context, stage, after: int) -> str | None:
    """Why the first command after offset ``after`` in the stage that runs dev dependencies does (or the first RUN
    there that cannot be read), or None: the loop over :func:`_later_commands` that stops at the first such command,
    answered by a bisect in the stage's list of them, built once per stage and pass (the loop read the rest of the
    stage for every npm install: quadratic in a file of many)."""
    starts, whys = ctx.memo.get_or(_first_dev_step, stage.index, _dev_steps, ctx, stage)
    k = bisect_right(starts, after)
    return whys[k] if k < len(whys) else None


def _dev_steps(ctx: Context, stage) -> tuple[list[int], list[str]]:
    # each entry is found by _later_commands(after) exactly when after < its threshold: a command's start in the
    # document, an unreadable RUN's end; the thresholds grow in the stage's order
    starts: list[int] = []
    whys: list[str] = []
    for inst in stage.instructions:
        if inst.keyword != "RUN":
            continue
        r = run_shell(ctx, inst)
        if r.script is None:
            starts.append(inst.end)
            whys.append(f"line {inst.start_line} cannot be read ({r.reason or 'its shell cannot be read'})")
            continue
        for site in r.script.sites:
            eff = site.command.effective
            why = _dev_step([eff.name_value] + [w.value for w in eff.args])
            if why is not None:
                starts.append(r.doc_span(site.command.span)[0])
                whys.append(f"{why} (line {inst.start_line})")
    return starts, whys


_DEV_TOOLS = frozenset({
    "npx", "tsc", "jest", "mocha", "vitest", "eslint", "prettier", "webpack", "vite", "rollup", "esbuild", "babel",
    "ts-node", "tsx", "nodemon", "next", "nest", "ng", "gulp", "grunt", "karma", "cypress", "playwright", "nx",
    "turbo", "lerna",
})
_RUNS_SCRIPTS = frozenset({"run", "run-script", "rum", "urn", "test", "t", "tst", "exec", "x", "dlx"})


def _dev_step(words: list[str | None]) -> str | None:
    """Why a command (its words, the command name first) runs dev dependencies: tests, builds, linters, dev
    servers (``npm test``, ``npm run build``, ``npx``, ``jest``, ``node_modules/.bin/x``...), or None."""
    if not words or words[0] is None:
        return None
    name = words[0]
    base = name.rsplit("/", 1)[-1]
    if "node_modules/.bin/" in name or base in _DEV_TOOLS:
        return f"`{base}` is a dev tool"
    if base in ("npm", "yarn", "pnpm"):
        rest = [w for w in words[1:] if w is None or not w.startswith("-")]
        sub = rest[0] if rest else None
        if sub is None and base == "yarn" and len(words) == 1:
            return None
        if sub in _RUNS_SCRIPTS:
            script = rest[1] if len(rest) > 1 else None
            if sub in ("run", "run-script", "rum", "urn") and script == "start":
                return None
            return f"`{base} {' '.join(w or '$VAR' for w in rest[:2])}` runs a package script or dev tool"
        if base == "yarn" and sub not in (None, "install", "add", "start", "cache", "global", "config", "remove",
                                          "upgrade", "info", "list", "why", "bin", "workspace", "workspaces"):
            return f"`yarn {sub}` runs a package script"
    return None


def _entry_words(ctx: Context, stage) -> list[tuple[list[str | None], int]]:
    """The words of the stage's CMD/ENTRYPOINT (exec form as given, shell form through the shell parser); once per
    stage and pass (asked for every npm install, it read the whole stage each time)."""
    return ctx.memo.get_or(_entry_words, stage.index, _read_entry_words, stage)


def _read_entry_words(stage) -> list[tuple[list[str | None], int]]:
    from dockerfix.model.shell import parse_shell_cached

    out = []
    for inst in stage.instructions:
        if inst.keyword not in ("CMD", "ENTRYPOINT"):
            continue
        if inst.json:
            out.append((list(inst.args), inst.start_line))
            continue
        s = parse_shell_cached(inst.rest)
        if s.ok:
            for site in s.sites:
                eff = site.command.effective
                out.append(([eff.name_value] + [w.value for w in eff.args], inst.start_line))
    return out


def _package_json(ctx: Context) -> dict | None:
    bc = ctx.build_context
    if bc is None:
        return None
    try:
        if not bc.exists("package.json"):
            return None
        import json

        data = json.loads(bc.read_bytes("package.json", 1 << 20).decode("utf-8"))
    except Exception:
        return None
    return data if isinstance(data, dict) else None


def _dev_scripts(ctx: Context) -> str | None:
    """A script of the build context's package.json that runs at install or start and calls a dev dependency
    (``prepare: husky install``, ``start: ts-node src/index.ts``)."""
    data = _package_json(ctx)
    if data is None:
        return None
    dev = data.get("devDependencies") or {}
    scripts = data.get("scripts") or {}
    if not isinstance(dev, dict) or not isinstance(scripts, dict):
        return None
    for name in ("preinstall", "install", "postinstall", "prepare", "prestart", "start"):
        cmd = scripts.get(name)
        if isinstance(cmd, str):
            for part in re.split(r"&&|\|\||;", cmd):
                first = part.strip().split(" ", 1)[0] if part.strip() else ""
                if first in dev:
                    return f"package.json's `{name}` script runs `{first}`, a dev dependency"
    return None


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
    summary = "The final stage installs compilers, headers or dev dependencies"
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
one other package, when nothing later in the stage may compile (read through the shell parser, heredoc scripts
included: compilers and build systems, `pip`/`npm`/`yarn`/`pnpm`/`gem`/`bundle` installs that may build native
extensions, `cargo build`, `go build` unless `CGO_ENABLED=0`, `setup.py`, scripts dockerfix cannot read: the tool
table's `native_build`). `--omit=dev` is added to a bare `npm install`/`npm ci` when `NODE_ENV` is not
`production` and nothing after it needs dev dependencies: no later command runs tests, builds or dev tools (`npm
test`, `npm run build`, `npx`, `jest`, `tsc`, `eslint`, `node_modules/.bin/*`...), the CMD/ENTRYPOINT does not
(`npm start` is fine), and the build context's `package.json` has no install or start script that calls a dev
dependency (`prepare: husky install`). Otherwise it is a finding: move the work into a builder stage (see DFX501).

The `--omit=dev` fix also applies to a single-stage image (a runtime that installs and runs, building nothing);
there, a stage that builds or tests is left alone.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        from dockerfix.model.pkgmgr import parse_package_call

        doc = ctx.document
        stages = ctx.model.stages
        if not stages or doc.escape == "`":
            return
        single = len(stages) < 2
        stage = stages[-1]
        if stage.base.lower() == "scratch":
            return
        for inst in stage.instructions:
            if inst.keyword != "RUN":
                continue
            r = run_shell(ctx, inst)
            if r.script is None:  # not r.ok
                continue
            for site in r.script.sites:
                cmd = site.command.effective
                call = parse_package_call(cmd)
                if call is None or not call.is_install:
                    continue
                if call.manager in eco.SYSTEM_MANAGERS:
                    if not single:
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
        compiles = _compiles_later(ctx, stage, after)
        if compiles is not None:
            yield self.diagnostic(inst, msg, reason=f"the stage may compile after the install ({compiles}): move "
                                  "that work into a builder stage (DFX501)", span=span)
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
        single = len(ctx.model.stages) < 2
        where = "this single-stage image" if single else "the final stage"
        msg = f"`npm {call.action}` in {where} installs dev dependencies"
        span = (inst.keyword_span[0], inst.end)
        after = r.doc_span(call.command.span)[1]
        dev = _first_dev_step(ctx, stage, after)
        if dev is None:
            for words, line in _entry_words(ctx, stage):
                why = _dev_step(words)
                if why is not None:
                    dev = f"{why} (the CMD/ENTRYPOINT on line {line})"
                    break
        if dev is None:
            dev = _dev_scripts(ctx)
        if dev is not None or not call.action_words:
            if single:
                return  # a single-stage image that builds or tests needs its dev dependencies: nothing to say
            yield self.diagnostic(inst, msg, reason=f"a later step needs dev dependencies ({dev or 'unknown'}); "
                                  "build in a builder stage and install with --omit=dev here", span=span)
            return
        s, e = r.doc_span(call.action_words[-1].span)
        yield self.diagnostic(inst, msg, Fix.unsafe("Install production dependencies only", Edit.insert(e, " --omit=dev")),
                              reason="dev dependencies are no longer in the image", span=span)


TRANSFORMS = (BuildToolsInFinalStage,)
