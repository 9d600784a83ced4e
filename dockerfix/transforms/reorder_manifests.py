"""DFX201 reorder-manifests: copy the dependency manifests and install before the full source COPY.

Analysis ("where"): per stage, a COPY/ADD of a whole folder of the context (``COPY . .``, ``COPY app/ /app``),
followed (through instructions that neither read nor write files) by a RUN whose commands are dependency installs
(``pip install -r``, ``npm ci``, ``go mod download``, ...; see ``dockerfix.model.manifests``) and commands that do
not read the sources. The manifests are mapped from the directory the install runs in back to context paths
through the full COPY's destination.

Fix ("how"): the full COPY is replaced in place by COPYs of just the manifests (same keyword case, same
``--chown``/``--chmod``/``--link``), and the full COPY moves down to just after the install RUN. The install
therefore keeps its exact environment (every ENV/ARG/USER/WORKDIR between stays above it); only the order of the
source COPY and the install changes. For poetry and uv, the install gets ``--no-root``/``--no-install-project`` and
the original command runs again after the full COPY, so the project itself is still installed.
"""

from __future__ import annotations

import posixpath
from dockerfix._record import dataclass
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

    from dockerfix.syntax.nodes import Instruction

from dockerfix.model import tools
from dockerfix.model.manifests import (
    LOCKFILES,
    DepInstall,
    DockerIgnore,
    dependency_installs,
    load_ignore,
    manifest_reasons,
    node_manifests,
    pip_requirements_closure,
    prefetches,
    walk,
)
from dockerfix.transforms._run import RunShell, insert_after_word, run_shell
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform, keyword_like

CARRIED_FLAGS = ("chown", "chmod", "link")
TRANSPARENT = frozenset({"ENV", "ARG", "LABEL", "EXPOSE", "USER", "STOPSIGNAL", "HEALTHCHECK", "MAINTAINER", "SHELL",
                         "CMD", "ENTRYPOINT"})
FROZEN = tools.frozen_lockfile()
"""Ecosystem -> the options and actions that keep its lockfile as it is (the tool table's ``frozen``)."""
INSTALLED_IN_PROJECT = tools.project_dirs()
"""Ecosystem -> what its install writes inside the project (the tool table's ``project_dirs``)."""


def workdir_at(ctx: Context, inst) -> str | None:
    """The absolute working directory ``inst`` runs in (the model's answer; ``/@baseN`` stands for an unknown base
    image's); None when a WORKDIR reads an unknown variable."""
    return ctx.model.state.workdir_at(inst, symbolic=True)


def _under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when inside it."""
    if path == root:
        return "."
    if path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1:]
    return None


@dataclass
class FullCopy:
    inst: Instruction
    source: str
    """Context-relative folder ('.' for the whole context)."""
    dest_raw: str
    dest_abs: str


class ReorderManifests(Transform):
    code = "DFX201"
    name = "reorder-manifests"
    summary = "Copy dependency manifests and install before copying the whole source, so code edits keep the cache"
    safety = "mixed"
    effect = "cache"
    docs = """\
## What it does
When a dependency install follows a COPY of the whole source (`COPY . .`, `COPY app/ /app/`), it copies just the
dependency manifests in place of the full COPY and moves the full COPY to just after the install:

| ecosystem | install | manifests copied first |
|---|---|---|
| pip | `pip install -r` / `-c` (includes followed) | the requirement files |
| poetry | `poetry install` (gets `--no-root`, re-run after the COPY) | `pyproject.toml`, `poetry.lock`, `poetry.toml` |
| uv | `uv sync` (gets `--no-install-project`, re-run after the COPY) | `pyproject.toml`, `uv.lock`, `.python-version` |
| pipenv | `pipenv install`/`sync` | `Pipfile`, `Pipfile.lock` |
| npm | `npm ci`, `npm install` | `package.json`, `package-lock.json` or `npm-shrinkwrap.json`, `.npmrc` |
| yarn | `yarn`, `yarn install` | `package.json`, `yarn.lock`, `.yarnrc(.yml)`, `.yarn/releases`, `.yarn/plugins` |
| pnpm | `pnpm install` | `package.json`, `pnpm-lock.yaml`, `.npmrc` |
| Go | `go mod download` | `go.mod`, `go.sum` |
| Cargo | `cargo fetch` (a finding: see Fix safety) | `Cargo.toml`, `Cargo.lock` |
| Maven | `mvn dependency:go-offline` (`./mvnw`) | `pom.xml`, `.mvn/` (`mvnw`) |
| Gradle | `gradle dependencies` (`./gradlew`) | `build.gradle(.kts)`, `settings.gradle(.kts)`, `gradle.properties`, `gradle/` |
| Bundler | `bundle install` | `Gemfile`, `Gemfile.lock` |
| Composer | `composer install` | `composer.json`, `composer.lock` |
| .NET | `dotnet restore` | `*.csproj`/`*.fsproj`/`*.sln`, `nuget.config`, `Directory.*.props`, `global.json` |

With the build context at hand it names only manifests that exist and that `.dockerignore` lets in (BuildKit's
matching rules, `Dockerfile.dockerignore` first), and follows `-r`/`-c` includes of requirement files.

## Why
A layer is rebuilt when anything it copies changes, and so is every layer after it. With the whole source copied
before the install, every code edit re-downloads and re-installs every dependency. With the manifests first, the
install layer is reused until a manifest changes (the Docker guide's "cache-friendly" order).

## Example
```dockerfile
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
```
becomes
```dockerfile
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
```

## Fix safety
The full COPY moves down rather than the install up, so the install keeps every ENV, ARG, USER and WORKDIR it had;
only instructions that do not touch files may sit between (ENV, ARG, LABEL, USER, EXPOSE..., and RUNs that only use
the system package manager). Multi-stage files and WORKDIR-relative destinations are resolved per stage; the new
COPY copies the style (keyword case, indentation, `--chown`/`--chmod`/`--link`) of the full COPY.

It is safe when the context shows the install reads nothing but the manifests. A workspace is read from the
context: npm and yarn `workspaces` in package.json, pnpm's `pnpm-workspace.yaml` (copied too); every member's
`package.json` is copied with the root manifests, so the install sees the whole workspace.

It is never applied, not even with `--unsafe`, when the analysis shows the moved install would fail: it reports a
finding naming the reason. That is the case for requirement files with `-e`, local paths or `file:` URLs; a
lifecycle script (`preinstall`, `install`, `postinstall`, `prepare`, of the root or of a member) that names a file of
the sources (`node scripts/gen.js`) or runs a tool that reads them (`prisma generate`, `tsc`, `patch-package`...,
also through `npm run`); `file:`/`link:` dependencies outside the workspace; Go `replace` with local directories,
`cargo fetch` (cargo reads the package's targets, `src/main.rs` or `src/lib.rs`, with `Cargo.toml`: rust-lang/cargo
#5098), Maven multi-module builds, a Gemfile with `gemspec` or `path:`, poetry/uv path or editable dependencies and
uv workspaces.

It is unsafe without a build context (the manifest names are the ecosystem's usual ones), and when the install may
need more or write what the full COPY now overwrites: a lifecycle script running a command dockerfix does not know
(`npx only-allow`, `husky`, `echo` are known to read nothing), without `--ignore-scripts`; a member that links
executables from its sources; Gradle multi-project builds, Composer's autoloader and scripts; an install that may
rewrite its lock file (`npm install`, `yarn` without `--frozen-lockfile`...); an installed folder (`node_modules`,
`.venv`, `vendor`) present in the context and not ignored.

A stage that already fetches the dependencies from the lockfile alone before the full COPY (`pnpm fetch`) gains
nothing: the transform does not fire there.

When the install RUN goes on with commands that read the sources (`RUN go mod download && go build ...`, as
merge-runs leaves it), the RUN stays where it is and a copy of its leading install part is inserted with the
manifest COPY before the full COPY; the install runs again after the COPY and finds everything in place. This form
is used only right after the full COPY and for installs that are cheap to repeat (not `npm ci`, which deletes
`node_modules`, nor poetry/uv). Otherwise, when the RUN also runs something that may read the sources
(`npm ci && npm run build`, `pip install .`, `cd`), it reports a finding: split the RUN first.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        bc = ctx.build_context
        ignore = load_ignore(bc, ctx.path)
        for stage in ctx.model.stages:
            insts = stage.instructions
            for k, inst in enumerate(insts):
                full = self._full_copy(ctx, inst, bc)
                if full is None:
                    continue
                d = self._check_copy(ctx, stage, insts, k, full, bc, ignore)
                if d is not None:
                    yield d

    # ------------------------------------------------------------------ analysis
    def _full_copy(self, ctx: Context, inst, bc) -> FullCopy | None:
        if inst.keyword not in ("COPY", "ADD") or inst.heredocs or len(inst.args) != 2:
            return None
        if any(f.name not in CARRIED_FLAGS for f in inst.flags):
            return None
        src, dest = inst.args
        if "$" in src or "$" in dest or any(c in src for c in "*?[") or "://" in src:
            return None
        s = posixpath.normpath(src)
        if s.startswith("..") or s.startswith("/"):
            return None
        if s != ".":
            if bc is None:
                if not src.endswith("/"):
                    return None
            elif not bc.is_dir(s):
                return None
        cwd = workdir_at(ctx, inst)
        if cwd is None:
            return None
        dest_abs = posixpath.normpath(posixpath.join(cwd, dest))
        return FullCopy(inst, s, dest, dest_abs)

    def _check_copy(self, ctx, stage, insts, k, full: FullCopy, bc, ignore: DockerIgnore) -> Diagnostic | None:
        from dockerfix.transforms._hygiene import shell_reason

        dest_absolute = full.dest_raw.startswith("/")
        for j in range(k + 1, len(insts)):
            nxt = insts[j]
            if nxt.keyword in TRANSPARENT:
                continue
            if nxt.keyword == "WORKDIR" and dest_absolute:
                continue
            if nxt.keyword != "RUN" or nxt.flags and any(f.name == "mount" for f in nxt.flags) and not self._mounts_ok(nxt):
                return None
            if shell_reason(ctx, stage, nxt) is not None:
                return None
            run = run_shell(ctx, nxt)
            if run.script is None or run.heredoc is not None:  # not run.ok, or a heredoc
                return None
            installs, others = dependency_installs(run.script)
            if not installs:
                if all(kind == "benign" for _, kind in others):
                    continue  # e.g. apt-get install: it does not read the sources
                return None
            if self._already_cached(ctx, stage, insts[:k], installs):
                return None
            blockers = [c.raw for c, kind in others if kind != "benign"]
            if blockers and j == k + 1:
                prefix = self._install_prefix(run, installs, others)
                if prefix is not None:
                    return self._fix(ctx, stage, full, nxt, run, prefix[0], [], bc, ignore, split=prefix[1])
            if blockers:
                return self.diagnostic(
                    nxt, "the dependency install runs after the whole source is copied", None,
                    reason=f"the RUN also runs `{blockers[0][:60]}`, which may need the sources: split the RUN so the "
                           "install stands alone", span=run.doc_span(installs[0].command.span))
            if any(s.command.basename in ("cd", "pushd") for s in run.script.sites):
                return None
            return self._fix(ctx, stage, full, nxt, run, installs, others, bc, ignore)
        return None

    def _install_prefix(self, run: RunShell, installs: list[DepInstall], others):
        """When the RUN starts with a ``&&`` chain of installs (and benign commands) and goes on with commands that
        read the sources (``go mod download && go build``): (those installs, end offset in the script)."""
        assert run.script is not None  # the caller read it
        items, seps = run.script.items, run.script.separators
        by_span = {i.command.span: i for i in installs}
        kinds = {c.span: kind for c, kind in others}
        taken: list[DepInstall] = []
        end = None
        for n, item in enumerate(items):
            span = getattr(item, "span", None)
            if span in by_span:
                taken.append(by_span[span])
                end = span[1]
            elif kinds.get(span) != "benign":
                break
            sep = seps[n]
            if sep is None or sep.text != "&&":
                break
        if not taken or end is None or len(taken) != len(installs):
            return None
        if any(i.project_flag or (i.ecosystem == "npm" and i.action == "ci") for i in taken):
            return None  # re-running the install after the full COPY would not be cheap (npm ci: node_modules anew)
        return taken, end

    def _mounts_ok(self, inst) -> bool:
        from dockerfix.transforms._run import mounts

        return all(m.get("type") in ("cache", "secret", "ssh", "tmpfs") for m in mounts(inst))

    def _already_cached(self, ctx, stage, before, installs: list[DepInstall]) -> bool:
        ecos = {i.ecosystem for i in installs}
        for inst in before:
            if inst.keyword != "RUN":
                continue
            run = run_shell(ctx, inst)
            if run.script is None:  # not run.ok
                continue
            found, _ = dependency_installs(run.script)
            if ecos & ({i.ecosystem for i in found} | prefetches(run.script)):
                return True
        return False

    def _fix(self, ctx, stage, full: FullCopy, run_inst, run: RunShell, installs: list[DepInstall], others, bc,
             ignore: DockerIgnore, split: int | None = None) -> Diagnostic | None:
        cwd_run = workdir_at(ctx, run_inst)
        if cwd_run is None:
            return None
        unsafe: list[str] = []
        broken: list[str] = []  # the analysis says the moved install would fail: a finding, never a fix
        if bc is None:
            unsafe.append("there is no build context, so the manifest names are the ecosystem's usual ones")
        files: list[tuple[str, bool]] = []  # (context path, is_dir)

        def ctx_path(rel_to_run: str) -> str | None:
            a = posixpath.normpath(posixpath.join(cwd_run, rel_to_run))
            r = _under(a, full.dest_abs)
            if r is None:
                return None
            return posixpath.normpath(posixpath.join(full.source, r))

        def usable(p: str) -> bool:
            return bc is not None and bc.exists(p) and not ignore.excludes(p)

        flagged: list[DepInstall] = []
        for ins in installs:
            if ins.project_flag:
                flagged.append(ins)
            eco_files: list[str] = []
            if ins.ecosystem == "pip":
                reqs = [ctx_path(m.path) for m in ins.manifests]
                if any(r is None for r in reqs):
                    return None
                if bc is None:
                    eco_files = [r for r in reqs if r]
                else:
                    closure, reasons = pip_requirements_closure(bc, [r for r in reqs if r], ignore)
                    if any(r.kind == "missing" for r in reasons):
                        return None
                    for r in reasons:
                        (broken if r.breaks else unsafe).append(r.text)
                    eco_files = closure
                files.extend((f, False) for f in eco_files if (f, False) not in files)
                continue
            for m in ins.manifests:
                if "|" in m.path:  # dotnet: project files under the install's directory
                    if bc is None:
                        return None
                    root = ctx_path(".")
                    if root is None:
                        return None
                    exts = tuple(p.lstrip("*") for p in m.path.split("|"))
                    found = [p for p in walk(bc, root, depth=3) if p.endswith(exts) and not ignore.excludes(p)]
                    if not found:
                        return None
                    eco_files.extend(found)
                    continue
                p = ctx_path(m.path)
                if p is None:
                    if m.required:
                        return None
                    continue
                if bc is None:
                    if m.required:
                        eco_files.append(p)
                    elif posixpath.basename(m.path) == LOCKFILES.get(ins.ecosystem):
                        eco_files.append(p + "*")
                    continue
                if usable(p):
                    if m.is_dir != bc.is_dir(p):
                        continue
                    eco_files.append(p)
                elif m.required:
                    return None
            if ins.ecosystem in ("npm", "yarn", "pnpm") and bc is not None:
                proj = ctx_path(".")
                if proj is not None:
                    extra, why = node_manifests(ins.ecosystem, bc, proj, ignore)
                    eco_files.extend(f for f in extra if f not in eco_files)
                    unsafe.extend(r.text for r in why)
            if ins.ecosystem == "gradle" and bc is not None and not any(
                    posixpath.basename(f).startswith("build.gradle") for f in eco_files):
                return None
            for f in eco_files:
                entry = (f, bool(bc is not None and bc.is_dir(f.rstrip("*"))))
                if entry not in files:
                    files.append(entry)
            if bc is not None:
                for r in manifest_reasons(ins.ecosystem, bc, eco_files, ins):
                    (broken if r.breaks else unsafe).append(r.text)
                proj = ctx_path(".")
                for name in INSTALLED_IN_PROJECT.get(ins.ecosystem, ()):
                    p = posixpath.normpath(posixpath.join(proj, name)) if proj else None
                    if p and bc.exists(p) and not ignore.excludes(p):
                        unsafe.append(f"{p} is in the build context, so the full COPY would now overwrite what the "
                                      "install put there")
                lock = LOCKFILES.get(ins.ecosystem)
                frozen = FROZEN.get(ins.ecosystem, ())
                if lock and any(posixpath.basename(f) == lock for f in eco_files) and frozen and not (
                        set(frozen) & {*ins.options, ins.action}):
                    unsafe.append(f"{ins.command.effective.raw.split()[0]} may rewrite {lock}, which the full COPY "
                                  "now overwrites with the context's copy")
        if not files:
            return None
        if broken:
            return self.diagnostic(
                run_inst, "the dependency install runs after the whole source is copied", None,
                reason="; ".join(dict.fromkeys(broken)) + ": the install would fail before the full COPY, so it "
                       "stays after it", span=run.doc_span(installs[0].command.span))
        if flagged and (len(installs) != 1 or others):
            return self.diagnostic(
                run_inst, "the dependency install runs after the whole source is copied", None,
                reason="the install also installs the project itself, and the RUN does more than that install: "
                       f"split it so it can run with {flagged[0].project_flag}", span=run.doc_span(
                    installs[0].command.span))
        if any(any(c.isspace() for c in f) for f, _ in files):
            return None
        edits = self._edits(ctx, full, run_inst, run, files, flagged, split)
        names = ", ".join(f for f, _ in files)
        title = f"Copy {names} and install before the full COPY"
        msg = "the dependency install runs after the whole source is copied, so any source edit re-installs"
        fix = Fix.unsafe(title, *edits) if unsafe else Fix.safe(title, *edits)
        reason = "; ".join(dict.fromkeys(unsafe)) if unsafe else None
        return self.diagnostic(run_inst, msg, fix, reason=reason, span=run.doc_span(installs[0].command.span))

    # ------------------------------------------------------------------ edits
    def _edits(self, ctx, full: FullCopy, run_inst, run: RunShell, files, flagged, split=None) -> list[Edit]:
        doc = ctx.document
        copy = full.inst
        nl = copy.line_break or doc.newline
        indent = copy.source[: len(copy.source) - len(copy.source.lstrip(" \t"))]
        kw = keyword_like(copy.raw_keyword, "COPY") if copy.keyword == "ADD" else copy.raw_keyword
        flags = " ".join(ctx.text(f.start, f.end) for f in copy.flags if f.name in CARRIED_FLAGS)
        head = f"{indent}{kw} " + (flags + " " if flags else "")
        dest = full.dest_raw if full.dest_raw.endswith("/") else full.dest_raw + "/"
        groups: dict[str, list[str]] = {}
        lines = []
        for f, is_dir in files:
            rel = f if full.source == "." else posixpath.relpath(f.rstrip("*"), full.source) + ("*" if f.endswith("*") else "")
            if is_dir:
                lines.append(f"{head}{f} {dest}{rel}/")
                continue
            sub = posixpath.dirname(rel)
            groups.setdefault(sub, []).append(f)
        out = [f"{head}{' '.join(srcs)} {dest}{sub + '/' if sub else ''}" for sub, srcs in groups.items()] + lines
        new_copies = nl.join(out) + nl
        if split is not None:
            # the RUN also builds: run its install part before the full COPY, and leave the RUN as it is (the
            # install runs again there, finding everything in place)
            a, b = run.doc_span((0, split))
            rkw = run_inst.raw_keyword
            pre = f"{indent}{rkw} {ctx.text(a, b)}{nl}"
            return [Edit.insert(copy.start, new_copies + pre)]
        edits = [Edit(copy.start, copy.end, new_copies)]
        moved = copy.source if copy.source.endswith(("\n", "\r\n")) else copy.source + nl
        rerun = ""
        if flagged:
            rerun = run_inst.source if run_inst.line_break else run_inst.source + nl
            rerun = rerun if rerun.endswith(("\n", "\r\n")) else rerun + nl
            for ins in flagged:
                word = ins.action_word or ins.command.effective.args[0]
                edits.append(insert_after_word(run, word, ins.project_flag))
        tail = moved + rerun
        if not run_inst.line_break:
            tail = nl + tail.rstrip("\r\n")
        edits.append(Edit.insert(run_inst.end, tail))
        return edits


TRANSFORMS = (ReorderManifests,)
