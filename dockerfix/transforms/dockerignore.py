"""DFX203 dockerignore: propose a ``.dockerignore`` that keeps VCS data, installed dependencies, caches, build
outputs and secrets out of the build context.

Analysis: only for a *real* build context (``is_real_context``): a folder with at least one file that is not a
Dockerfile or a document (README, LICENSE, ``*.md``, ``*.tsv``, BuildKit test ``result`` files). A folder of
Dockerfiles alone (the shared corpus) is not a project, and nothing is proposed there. Entries are proposed only
for what exists in the context or for the ecosystems whose manifests it holds, and only when the current ignore
file lets them in.

One walk of the context (``ContextTree``) serves both the proposal and the safety check, so every path a rule
excludes is a path the check has seen: the walk descends into every folder except those the current ignore file or
a proposed folder rule (``.git``, ``**/node_modules``, ``build``...) excludes as a whole, and a folder rule decides
the fate of everything under it. A build output folder is walked on its own to tell outputs from sources.

Safety: every path the build can read (COPY/ADD sources, ``RUN --mount=type=bind`` sources, the trees those copy or
mount) is checked against every newly excluded path; see the ``docs`` below.

Fix: a ``FileChange`` for the ignore file (new file, or the existing one with the entries appended); both list the
ignore file itself when the build reads the context root, so the image does not start or keep shipping it.
"""

from __future__ import annotations

import posixpath
import re
from fnmatch import fnmatchcase
from functools import lru_cache
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix._lazyre import lazy
from dockerfix._record import dataclass
from dockerfix.model.manifests import DockerIgnore, ignore_file_name, listdir, read_text
from dockerfix.model.pkgmgr import parse_package_call
from dockerfix.model.shell import SimpleCommand
from dockerfix.model.sources import is_remote
from dockerfix.transforms._hygiene import iter_run_sites
from dockerfix.transforms._run import mounts, parse_shell_cached
from dockerfix.transforms.base import Context, Diagnostic, FileChange, Fix, Applicability, Transform

HEADER = "# Keep the build context small and free of secrets (proposed by dockerfix DFX203)"
_DOCKERFILE = lazy(r"(^|[._-])(docker|container)file([._-]|$)", re.I)
_DOC_FILES = lazy(r"^(readme|license|licence|copying|notice|changelog|authors|result)([._-].*)?$|\.(md|tsv|txt|rst)$",
                        re.I)

# ecosystem -> (marker files in the context root, entries it makes)
ECOSYSTEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "node": (("package.json",), ("**/node_modules", "npm-debug.log*", "yarn-error.log*")),
    "python": (("requirements.txt", "pyproject.toml", "setup.py", "Pipfile", "setup.cfg", "uv.lock"),
               ("**/__pycache__", "**/*.py[cod]", ".venv")),
    "rust": (("Cargo.toml",), ("target",)),
    "maven": (("pom.xml",), ("target",)),
    "gradle": (("build.gradle", "build.gradle.kts"), (".gradle", "build")),
    "dotnet": ((), ("**/bin", "**/obj")),
}
# present in the context -> entry
EXISTING: tuple[tuple[str, str, str], ...] = (
    # (path that exists, entry, kind)
    (".git", ".git", "vcs"),
    (".hg", ".hg", "vcs"),
    (".svn", ".svn", "vcs"),
    ("node_modules", "**/node_modules", "installed"),
    (".venv", ".venv", "installed"),
    ("venv/pyvenv.cfg", "venv", "installed"),
    ("env/pyvenv.cfg", "env", "installed"),
    ("__pycache__", "**/__pycache__", "cache"),
    (".pytest_cache", ".pytest_cache", "cache"),
    (".mypy_cache", ".mypy_cache", "cache"),
    (".ruff_cache", ".ruff_cache", "cache"),
    (".tox", ".tox", "cache"),
    ("coverage", "coverage", "output"),
    (".coverage", ".coverage", "cache"),
    ("htmlcov", "htmlcov", "output"),
    ("dist", "dist", "output"),
    ("build", "build", "output"),
    ("target", "target", "output"),
    (".gradle", ".gradle", "cache"),
    (".next", ".next", "output"),
    (".DS_Store", ".DS_Store", "cache"),
    (".idea", ".idea", "cache"),
    (".vscode", ".vscode", "cache"),
)
SECRET_NAMES = lazy(r"^(\.env(\..+)?|id_rsa.*|id_dsa.*|id_ecdsa.*|id_ed25519.*|.*\.pem|.*\.key|.*\.p12|.*\.pfx)$")
SECRET_ENTRIES = (".env", ".env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/id_ed25519*", "**/*.p12", "**/*.pfx")
_EXAMPLE = lazy(r"\.(example|sample|template|dist)$")

# Files that make a folder named like a build output (`build`, `dist`, `bin`...) a folder of sources: such a folder
# is not proposed. Report folders (coverage, htmlcov) and Next.js output hold scripts and pages of their own.
SOURCE_SUFFIXES = frozenset((
    ".py", ".pyi", ".go", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".vue", ".svelte", ".java",
    ".kt", ".kts", ".scala", ".groovy", ".gradle", ".rs", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".m",
    ".mm", ".swift", ".rb", ".php", ".cs", ".fs", ".vb", ".csproj", ".fsproj", ".ex", ".exs", ".erl", ".hs", ".lua",
    ".pl", ".pm", ".r", ".jl", ".dart", ".zig", ".nim", ".sh", ".bash", ".zsh", ".ps1", ".bat", ".cmd", ".mk",
    ".cmake", ".proto", ".sql", ".tf", ".dockerfile", ".containerfile",
))
SOURCE_NAMES = frozenset(("makefile", "gnumakefile", "cmakelists.txt", "dockerfile", "containerfile", "package.json",
                          "go.mod", "cargo.toml", "pom.xml", "setup.py", "pyproject.toml", "requirements.txt",
                          "gemfile", "rakefile", "build.gradle", "build.gradle.kts", "justfile", "__init__.py"))
_REPORT_ASSETS = frozenset((".js", ".mjs", ".cjs", ".css", ".html", ".map"))
REPORT_OUTPUTS = frozenset(("coverage", "htmlcov", ".next"))

# kinds whose exclusion is the transform's stated goal (``image_differences``): dropping them from a COPY is safe
_GOAL_KINDS = frozenset(("cache", "self"))
# a proposed folder rule of these kinds decides everything under the folder: the walk does not descend into it
_WHOLE_FOLDER_KINDS = frozenset(("vcs", "installed", "cache", "output"))
WALK_LIMIT = 20000
OUTPUT_WALK_LIMIT = 3000

# Commands that produce build outputs (read with the shell model, wrappers looked through).
_BUILDERS = frozenset(("make", "gmake", "cmake", "ninja", "meson", "tsc", "webpack", "rollup", "esbuild", "parcel",
                       "gradle", "gradlew", "mvn", "mvnw", "ant", "sbt", "bazel", "bazelisk", "msbuild", "javac",
                       "gcc", "g++", "cc", "clang", "rustc", "npx", "hugo"))
_SUBCOMMAND_BUILDS = {
    "go": frozenset(("build", "install", "generate")), "cargo": frozenset(("build", "install")),
    "dotnet": frozenset(("build", "publish", "pack")), "vite": frozenset(("build",)),
    "next": frozenset(("build",)), "ng": frozenset(("build",)), "nuxt": frozenset(("build", "generate")),
    "npm": frozenset(("run", "run-script", "build")), "pnpm": frozenset(("run", "build", "exec")),
    "yarn": frozenset(("run", "build")), "bun": frozenset(("run", "build")), "jekyll": frozenset(("build",)),
    "poetry": frozenset(("build",)), "hatch": frozenset(("build",)), "uv": frozenset(("build",)),
}
# Python packaging helpers that read the version from .git while installing or building the project
_VCS_VERSIONING = ("setuptools_scm", "setuptools-scm", "hatch-vcs", "hatch_vcs", "vcs-versioning", "versioneer",
                   "dunamai", "dynamic-versioning", "setuptools-git-versioning", "pbr")


def is_real_context(bc) -> bool:
    """A project folder: some file that is neither a Dockerfile nor a document, or a VCS folder."""
    return _is_real_context(tuple(listdir(bc, ".")))


@lru_cache(maxsize=256)
def _is_real_context(names: tuple[str, ...]) -> bool:
    """Pure (a function of the folder's names), so cached by them: a folder of 719 Dockerfiles asked once per file
    and pass ran two regexes over every name each time (40% of the corpus's time with each file's folder as its
    context)."""
    for name in names:
        if name in (".git", ".hg", ".svn"):
            return True
        if name in (".dockerignore",) or name.endswith(".dockerignore"):
            continue
        if _DOCKERFILE.search(name) or name.lower() in ("dockerfile", "containerfile") or _DOC_FILES.search(name):
            continue
        return True
    return False


class DockerIgnoreTransform(Transform):
    code = "DFX203"
    image_differences = (
        "*.dockerignore", "*/.git", "*/.git/*", "*/.hg/*", "*/.svn/*", "*/__pycache__", "*/__pycache__/*", "*.pyc",
        "*/.pytest_cache/*", "*/.mypy_cache/*", "*/.ruff_cache/*", "*/.tox/*", "*/.coverage", "*/.DS_Store",
        "*/.idea/*", "*/.vscode/*", "*/.venv/*", "*/node_modules/*", "*/.env", "*/.env.*",
    )
    name = "dockerignore"
    summary = "Propose a .dockerignore that keeps .git, installed dependencies, caches, build outputs and secrets out"
    safety = "mixed"
    effect = "size"
    docs = """\
## What it does
When the build context has no `.dockerignore` (nor a `<Dockerfile>.dockerignore`), or has one that lets in `.git`,
`node_modules`, `__pycache__`, virtualenvs (`.venv`, `venv`), build outputs (`dist`, `build`, `target`...), caches,
`.env` files or keys (`*.pem`, `*.key`, `id_rsa`...), it proposes the file, or the missing lines appended to it.
Only entries relevant to this context are listed: what exists in it, and what the ecosystems whose manifests it
holds produce (`package.json`: `**/node_modules`; Python manifests: `**/__pycache__`, `.venv`...). With `--write`
the file is written in the build context (next to the Dockerfile when the context is its folder); `--diff` shows it
as a new-file diff.

It only looks at a *real* project: a context folder with at least one file that is not a Dockerfile or a document
(README, LICENSE, `*.md`, `*.txt`, `*.tsv`), or with a `.git` folder. A folder that holds only Dockerfiles (such as a
corpus of examples) gets nothing. A proposal that would keep out nothing present in the context (only rules for
what the ecosystem *could* produce, such as `**/node_modules` next to a `package.json` without one) is not made.

When a COPY/ADD source or a `RUN --mount=type=bind` source the Dockerfile names (not through a variable or a glob,
not in ONBUILD) is missing from the context, the Dockerfile's real build context is another folder (often the
repository root): it reports a finding saying so and writes nothing there.

## Why
The whole context is sent to the builder before the first instruction runs, and `COPY . .` copies all of it into
the image: a `.git` folder or a local `node_modules` can be hundreds of MB, a changed cache file invalidates the
COPY layer, and `.env` files or keys end up in the image for anyone who pulls it.

## Example
A context with `app.py`, `requirements.txt`, `.git/` and `.env` gets a new `.dockerignore`:
```
# Keep the build context small and free of secrets (proposed by dockerfix DFX203)
.git
**/__pycache__
**/*.py[cod]
.venv
...
.env
```

## Fix safety
A rule is safe only when nothing the build can read matches it, apart from what the transform exists to drop
(caches such as `__pycache__`, and the ignore file itself). The check and the proposal share one walk of the
context, so every path a rule would exclude (`**/*.pem` at any depth included) is checked against every source the
build reads, with BuildKit's matching (`**`, `!` exceptions, parent folders).

A rule whose exclusion breaks the build or the image is never proposed, not even as an unsafe fix: it is left out
and the rest of the proposal is judged without it (`.env.*` goes with its `!` exceptions). That is:

- a COPY/ADD source or a `RUN --mount=type=bind` source the rule excludes (named, inside an excluded folder, or a
  glob the rule would leave matching nothing): the COPY or the RUN fails;
- an installed `node_modules` or virtualenv the image ships (a folder copy) and the Dockerfile does not install
  itself: the application loses its dependencies;
- a build output folder the image ships and the Dockerfile does not build, or one that holds sources (`.py`, `.go`,
  `.js`, `.sh`, a `Makefile`...), so it may not be an output at all.

The proposal is unsafe (review it) when:

- a source is built from a variable without a known value (it may name any path);
- a folder the build copies (`COPY . .`, `COPY src/ ...`) holds `.env` files or keys (the application may read
  them at runtime), a build output folder the Dockerfile builds but a RUN, CMD or ENTRYPOINT names a file of, or
  `.git` when a RUN uses `git`, runs `go build` (which stamps VCS data) or installs a Python project that takes its
  version from git (`setuptools_scm`, `hatch-vcs`...);
- a folder a RUN bind-mounts (`--mount=type=bind` without `source` mounts the whole context): the RUN reads it
  directly, so any excluded path in it other than a cache makes the fix unsafe;
- the context is larger than the walk's bound (20,000 paths) and the build copies or mounts it as a tree: not
  every excluded path could be checked;
- a COPY names the existing ignore file the fix changes.

A new ignore file lists itself; when an existing one is completed and the build copies or mounts the context root,
the completion lists the ignore file too (unless it is already excluded), so `COPY . .` does not ship the changed
file. Otherwise the fix is safe: the image loses only files its build never reads.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        bc = ctx.build_context
        if bc is None or not ctx.document.instructions or not is_real_context(bc):
            return
        first = ctx.document.instructions[0]
        reads = build_reads(ctx)
        missing = missing_sources(reads, bc)
        if missing:
            # the Dockerfile's sources are not in this folder: its real build context is elsewhere, and an ignore
            # file written here would be read by no build (or by the wrong one)
            r, path = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            yield self.diagnostic(
                first, f"line {r.line} {r.verb} {path}, which is not in the build context{more}",
                reason="the build context is probably another folder (COPY sources are missing here): no ignore "
                       "file is proposed in this one; pass the real context (--context)")
            return
        name = ignore_file_name(bc, ctx.path)
        before = read_text(bc, name) if bc.exists(name) else None
        old = DockerIgnore(before or "")
        base = self._entries(bc, old)
        tree = ContextTree.walk(bc, old, DockerIgnore("\n".join(e for e, k in base if k in _WHOLE_FOLDER_KINDS)))
        entries = base + self._secret_entries(tree, old, base)
        if not entries:
            return
        unsafe: list[str] = []
        if before is None:
            entries.insert(0, (name, "self"))  # the new file lists itself: `COPY . .` must not start shipping it
        elif not old.excludes(name):
            named = [r for r in reads if r.names(name)]
            if named:
                r = named[0]
                unsafe.append(f"line {r.line} {r.verb} {r.raw}, the ignore file whose content the fix changes")
            elif any(r.covers(name, tree) for r in reads):
                entries.insert(0, (name, "self"))  # else the image would ship the changed file
        # A rule whose exclusion the analysis says breaks the build or the image (a COPY of a path it excludes, an
        # installed folder or a build output the image ships and the Dockerfile does not make) is never proposed,
        # not even as an unsafe fix: it is left out, and the rest is judged without it.
        while True:
            new = DockerIgnore((before or "") + "\n" + "\n".join(e for e, _ in entries))
            found = self._unsafe(ctx, tree, reads, old, new, entries)
            bad = {e for _, e, breaks in found if breaks}
            if not bad:
                break
            entries = [(e, k) for e, k in entries if e not in bad]
            if not any(e == ".env.*" for e, _ in entries):
                entries = [(e, k) for e, k in entries if k != "exception"]
        unsafe += [text for text, _, _ in found]
        shown = [e for e, k in entries if k not in ("self", "exception")]
        if not shown or not any(new.excludes(p) and not old.excludes(p) and p != name for p in tree.paths):
            return  # nothing present in the context would be kept out: no proposal
        shown = [e for e, k in entries if k != "self"]
        if before is None:
            after = HEADER + "\n" + "\n".join(e for e, _ in entries) + "\n"
        else:
            sep = "" if before.endswith("\n") or not before else "\n"
            after = before + sep + HEADER + "\n" + "\n".join(e for e, _ in entries) + "\n"
        listed = ", ".join(shown[:6]) + (", ..." if len(shown) > 6 else "")
        title = (f"Create {name}" if before is None else f"Add to {name}") + f" ({listed})"
        fix = Fix((), Applicability.UNSAFE if unsafe else Applicability.SAFE, title,
                  files=(FileChange(name, before, after),))
        msg = (f"the build context has no {name}" if before is None else f"{name} lets in {listed}") + \
            ": .git, dependencies, caches or secrets are sent to the builder and may land in the image"
        yield self.diagnostic(first, msg, fix, reason="; ".join(unsafe) or None)

    # ------------------------------------------------------------------ analysis
    def _entries(self, bc, ignore: DockerIgnore) -> list[tuple[str, str]]:
        """Rules for what exists in the context root and for the ecosystems its manifests name (no secrets)."""
        out: list[tuple[str, str]] = []

        def add(entry: str, kind: str, probe: str) -> None:
            if any(e == entry for e, _ in out):
                return
            if ignore.excludes(probe):
                return
            out.append((entry, kind))

        for path, entry, kind in EXISTING:
            if bc.exists(path):
                add(entry, kind, path if "/" not in path else posixpath.dirname(path))
        root = listdir(bc, ".")
        for eco, (markers, ents) in ECOSYSTEMS.items():
            hit = any(m in root for m in markers)
            if eco == "dotnet":
                hit = any(n.endswith((".csproj", ".fsproj", ".sln")) for n in root)
            if not hit:
                continue
            for e in ents:
                probe = e.replace("**/", "").replace("*", "x").replace("[cod]", "c")
                kind = "installed" if e in ("**/node_modules", ".venv") else (
                    "output" if e in ("target", "build", "dist", "**/bin", "**/obj") else "cache")
                if kind == "output" and not bc.exists(e.replace("**/", "")):
                    continue  # a build output folder is listed when it exists
                add(e, kind, probe)
        return out

    @staticmethod
    def _secret_entries(tree: "ContextTree", ignore: DockerIgnore,
                        taken: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        secrets = [p for p in tree.files if SECRET_NAMES.match(posixpath.basename(p)) and not _EXAMPLE.search(p)]
        if not secrets:
            return out
        for e in SECRET_ENTRIES:
            pat = DockerIgnore(e)
            hits = [s for s in secrets if pat.excludes(s)]
            if hits and not all(ignore.excludes(s) for s in hits) and not any(x == e for x, _ in taken + out):
                out.append((e, "secret"))
        # re-include templates the new `.env.*` would drop; never one the current file excludes (that would add it)
        examples = [p for p in tree.files if "/" not in p and p.startswith(".env.") and _EXAMPLE.search(p)
                    and not ignore.excludes(p)]
        if examples and any(e == ".env.*" for e, _ in out):
            out.extend((f"!{p}", "exception") for p in examples)
        return out

    def _unsafe(self, ctx: Context, tree: "ContextTree", reads: list["Read"], old: DockerIgnore, new: DockerIgnore,
                entries: list[tuple[str, str]]) -> list[tuple[str, str | None, bool]]:
        """Why the new rules may change the build or the image: (reason, the rule it is about or None, whether the
        exclusion breaks the build or the image for sure: a source the build names, an installed folder or a build
        output the image ships and the Dockerfile does not make)."""
        reasons: list[tuple[str, str | None, bool]] = []
        newly = [p for p in tree.paths if new.excludes(p) and not old.excludes(p)]
        if not newly:
            return reasons
        rules = [(e, k, DockerIgnore(e)) for e, k in entries if k != "exception"]

        def rule_of(p: str) -> tuple[str, str]:
            for e, k, pat in rules:
                if pat.excludes(p):
                    return e, k
            return "", "other"

        def rules_of(p: str) -> list[str]:
            return [e for e, k, pat in rules if k != "self" and pat.excludes(p)]

        facts = None
        seen: set[tuple[int, str]] = set()
        for r in reads:
            if r.src is None:
                reasons.append((f"line {r.line} {r.verb} {r.raw}, built from a variable, which may name a path the "
                                "new rules exclude", None, False))
                continue
            named = r.named_excluded(tree, old, new)
            if named is not None:
                probe = named.replace("*", "x").replace("?", "x")
                excluded = f"line {r.line} {r.verb} {named}, which the new rules exclude"
                culprits = rules_of(probe)
                reasons.extend((excluded, e, True) for e in culprits)
                if not culprits:
                    reasons.append((excluded, None, False))
                continue
            covered = r.covered(tree, newly)
            if not tree.complete and r.reads_tree(tree):
                reasons.append((f"line {r.line} {r.verb} {r.raw}, and the context holds more than {WALK_LIMIT:,} "
                                "paths: not every path the new rules exclude could be checked", None, False))
                continue
            for p in covered:
                entry, kind = rule_of(p)
                if kind in _GOAL_KINDS or (r.line, entry) in seen:
                    continue
                why: str | None = None
                breaks = False
                if r.via == "bind":
                    why = f"line {r.line} mounts {r.raw} into a RUN, which can read {p}"
                elif kind == "secret":
                    why = f"line {r.line} copies {p} into the image, which the application may read at runtime"
                else:
                    if facts is None:
                        facts = RunFacts.of(ctx)
                    if kind == "installed" and not facts.installs(entry):
                        why = f"line {r.line} ships {p}, which the Dockerfile does not install itself"
                        breaks = True
                    elif kind == "output" and tree.source_in(entry) is not None:
                        why = (f"line {r.line} ships {p}, a folder of sources ({tree.source_in(entry)}) rather than "
                               "a build output")
                        breaks = True
                    elif kind == "output" and not facts.builds:
                        why = f"line {r.line} ships {p}, which the Dockerfile does not build"
                        breaks = True
                    elif kind == "output" and facts.names_under(p, tree.bc) is not None:
                        hit = facts.names_under(p, tree.bc)
                        assert hit is not None  # the test above (names_under is memoised per folder)
                        line, f = hit
                        why = f"line {line} names {f}, which line {r.line} ships from the context"
                    elif kind == "vcs" and facts.reads_vcs:
                        why = f"{facts.reads_vcs}, which may read {p}"
                    elif kind == "other":
                        why = f"line {r.line} ships {p}, which the new rules exclude"
                if why is not None:
                    seen.add((r.line, entry))
                    reasons.append((why, entry or None, breaks and bool(entry)))
        out: dict[str, tuple[str, str | None, bool]] = {}
        for t in reasons:
            out.setdefault(t[0] + "\0" + str(t[1]), t)
        return list(out.values())


# ---------------------------------------------------------------------------------------------------------------------
# the context, walked once
# ---------------------------------------------------------------------------------------------------------------------


def is_source_file(path: str, allowed: frozenset[str] = frozenset()) -> bool:
    base = posixpath.basename(path).lower()
    if base in SOURCE_NAMES:
        return True
    ext = posixpath.splitext(base)[1]
    return ext in SOURCE_SUFFIXES and ext not in allowed


class ContextTree:
    """Context-relative paths (files and folders) of one breadth-first walk, bounded by ``limit``.

    The walk lists every folder it meets but does not descend into one that ``old`` excludes (BuildKit does not send
    it; unless ``old`` has ``!`` exceptions, which may re-include paths inside) or that ``whole`` excludes (a
    proposed folder rule decides everything under it): those are ``skipped``. ``complete`` is False when the bound
    cut the walk short."""

    def __init__(self, bc=None) -> None:
        self.bc = bc
        self.paths: list[str] = []
        self.files: list[str] = []
        self.dirs: set[str] = set()
        self.skipped: list[str] = []
        self.complete = True
        self._sources: dict[str, str | None] = {}

    @classmethod
    def walk(cls, bc, old: DockerIgnore, whole: DockerIgnore, *, start: str = ".",
             limit: int | None = None) -> "ContextTree":
        limit = WALK_LIMIT if limit is None else limit
        t = cls(bc)
        keep_old = any(p.exclusion for p in old.patterns)
        queue = [start]
        i = 0
        while i < len(queue):
            d = queue[i]
            i += 1
            for name in listdir(bc, d):
                if len(t.paths) >= limit:
                    t.complete = False
                    return t
                p = name if d in (".", "") else f"{d}/{name}"
                t.paths.append(p)
                try:
                    is_dir = bc.is_dir(p)
                except OSError:
                    is_dir = False
                if not is_dir:
                    t.files.append(p)
                    continue
                t.dirs.add(p)
                if (old.excludes(p) and not keep_old) or whole.excludes(p):
                    t.skipped.append(p)
                    continue
                queue.append(p)
        return t

    def source_in(self, entry: str) -> str | None:
        """A source file (``build/gen.py``) in the folders a build-output rule excludes, or None: such a folder is
        not an output. Each folder is walked on its own (bounded), since the main walk does not enter it."""
        if entry not in self._sources:
            pat = DockerIgnore(entry)
            allowed = _REPORT_ASSETS if entry in REPORT_OUTPUTS else frozenset()
            found = None
            for d in self.skipped:
                if not pat.excludes(d):
                    continue
                sub = ContextTree.walk(self.bc, DockerIgnore(), DockerIgnore(), start=d, limit=OUTPUT_WALK_LIMIT)
                found = next((p for p in sub.files if is_source_file(p, allowed)), None)
                if found is not None:
                    break
            self._sources[entry] = found
        return self._sources[entry]


# ---------------------------------------------------------------------------------------------------------------------
# what the build reads from the context
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A path of the context the build reads: a COPY/ADD source or a RUN bind-mount source."""

    line: int
    raw: str
    src: str | None
    """Context-relative and cleaned (``.`` the root); None when it comes from a variable without a known value."""
    via: str
    """``copy`` or ``bind``."""
    onbuild: bool = False
    """Read by a later build (ONBUILD), from that build's context."""

    @property
    def verb(self) -> str:
        return "copies" if self.via == "copy" else "mounts"

    @property
    def is_glob(self) -> bool:
        return self.src is not None and any(c in self.src for c in "*?[")

    @property
    def is_broad(self) -> bool:
        """A glob whose last part is wildcards only (``*``, ``.*``, ``src/*``): it copies whatever is there, like a
        folder copy, rather than naming files (``*.pem``, ``conf.*``)."""
        return self.src is not None and self.is_glob and not self.src.rsplit("/", 1)[-1].strip("*?.")

    def matches(self, tree: ContextTree) -> list[str]:
        """The paths the source names: itself, or every path its glob matches (``*`` never crosses ``/``)."""
        if self.src is None or self.src == ".":
            return []
        if not self.is_glob:
            return [self.src]
        parts = self.src.split("/")
        return [p for p in tree.paths if _glob_match(parts, p)]

    def names(self, path: str) -> bool:
        """Whether the source is ``path`` itself, spelled out (not a glob, a folder or the root)."""
        return self.src == path

    def covers(self, path: str, tree: ContextTree) -> bool:
        """Whether the build reads ``path`` through this source (named, or inside a folder it copies/mounts)."""
        if self.src is None or self.src == ".":
            return True
        return any(path == m or path.startswith(m + "/") for m in self.matches(tree))

    def named_excluded(self, tree: ContextTree, old: DockerIgnore, new: DockerIgnore) -> str | None:
        """A path this source names that the new rules exclude (and the old ones did not)."""
        if self.src is None or self.src == ".":
            return None
        if self.is_broad:
            # what it matches is checked as the content of a folder copy; its folder must not be excluded
            parent = posixpath.dirname(self.src)
            probe = parent.replace("*", "x").replace("?", "x")
            if parent and new.excludes(probe) and not old.excludes(probe):
                return parent
            return None
        for m in self.matches(tree):
            if new.excludes(m) and not old.excludes(m):
                return m
        if self.is_glob:
            probe = self.src.replace("*", "x").replace("?", "x")
            if new.excludes(probe) and not old.excludes(probe):
                return self.raw
        return None

    def reads_tree(self, tree: ContextTree) -> bool:
        """Whether the source is (or may be) a folder: the root, a variable, a glob, or a folder of the walk."""
        return self.src is None or self.src == "." or self.is_glob or self.src in tree.dirs

    def covered(self, tree: ContextTree, newly: list[str]) -> list[str]:
        if self.src is None:
            return newly
        if self.src == ".":
            return newly
        matched = self.matches(tree)
        roots = [m for m in matched if m in tree.dirs]
        hit = set(matched) if self.is_broad else set()
        return [p for p in newly if p in hit or any(p.startswith(m + "/") for m in roots)]


def _glob_match(parts: list[str], path: str) -> bool:
    segs = path.split("/")
    return len(segs) == len(parts) and all(fnmatchcase(s, g) for s, g in zip(segs, parts))


def _clean_source(src: str) -> str:
    p = posixpath.normpath(posixpath.join("/", src.replace("\\", "/")))
    return p.lstrip("/") or "."


def build_reads(ctx: Context) -> list[Read]:
    """Every context path the Dockerfile reads: COPY/ADD sources (not ``--from``, URLs, git or heredocs) and the
    sources of ``RUN --mount=type=bind`` without ``from`` (no ``source``: the whole context). ONBUILD instructions
    count too: a later build may use this context."""
    return ctx.memo.get_or(build_reads, None, _build_reads, ctx)


def _build_reads(ctx: Context) -> list[Read]:
    out: list[Read] = []
    model = ctx.model
    for outer in ctx.document.iter_instructions():
        inst = outer.effective
        if inst.keyword in ("COPY", "ADD"):
            if inst.flag("from") is not None:
                continue
            for src in inst.args[:-1]:
                if inst.heredocs and src.lstrip("0123456789").startswith("<<"):
                    continue
                if is_remote(src):
                    continue
                out.append(_read(model, outer, inst, src, "copy"))
        elif inst.keyword == "RUN":
            for m in mounts(inst):
                if m.get("type") != "bind" or m.get("from"):
                    continue
                src = m.get("source") or m.get("src") or "."
                out.append(_read(model, outer, inst, src, "bind"))
    return out


def _read(model, outer, inst, src: str, via: str) -> Read:
    value: str | None = src
    if "$" in src:
        try:
            value = model.expand_at(src, outer)
        except Exception:  # an instruction the model cannot place: unknown
            value = None
    return Read(inst.start_line, src, _clean_source(value) if value is not None else None, via,
                onbuild=outer.keyword == "ONBUILD")


def missing_sources(reads: list[Read], bc) -> list[tuple[Read, str]]:
    """(read, path) for each COPY/ADD or bind-mount source of this build (not ONBUILD) that names a path, without
    variables or globs, the build context does not hold: the sign that the real context is another folder."""
    out: list[tuple[Read, str]] = []
    for r in reads:
        if r.onbuild or r.src is None or r.src == "." or r.is_glob or "$" in r.raw:
            continue
        try:
            if not bc.exists(r.src):
                out.append((r, r.src))
        except OSError:
            continue
    return out


# ---------------------------------------------------------------------------------------------------------------------
# what the RUNs do, read with the shell model
# ---------------------------------------------------------------------------------------------------------------------


class RunFacts:
    """What the Dockerfile's RUNs do that decides whether an excluded folder mattered: build outputs, install
    dependencies, read VCS data. A RUN whose shell cannot be read builds and installs nothing (so outputs and
    installed folders stay unsafe to drop) and may read VCS data."""

    def __init__(self) -> None:
        self.builds = False
        self.node_install = False
        self.python_install = False
        self.venv = False
        self.reads_vcs: str | None = None
        self.words: dict[str, int] = {}
        """Path words of RUN, CMD and ENTRYPOINT (each ``/``-suffix), with the line that says them."""
        self._under: dict[str, list[tuple[int, str]]] = {}

    @classmethod
    def of(cls, ctx: Context) -> "RunFacts":
        f = cls()
        for site in iter_run_sites(ctx, onbuild=True):
            line = site.inst.start_line
            if site.run is None:
                f.reads_vcs = f.reads_vcs or f"line {line} runs a command dockerfix cannot read ({site.reason})"
                if site.inst.json:
                    f._words(line, site.inst.args)
                continue
            for s in site.script.sites:
                f._command(line, s.command)
        for inst in ctx.document.iter_instructions():
            inst = inst.effective
            if inst.keyword in ("CMD", "ENTRYPOINT"):
                if inst.json:
                    f._words(inst.start_line, inst.args)
                else:
                    script = parse_shell_cached(inst.rest)
                    for s in script.sites if script.ok else ():
                        f._words(inst.start_line, [w.value for w in s.command.words if w.value is not None])
        if f.python_install and f.reads_vcs is None and _uses_vcs_versioning(ctx.build_context):
            f.reads_vcs = ("the Python project takes its version from git (setuptools_scm or alike) and a RUN "
                           "installs it")
        return f

    def _command(self, line: int, cmd: SimpleCommand) -> None:
        eff = cmd.effective
        base = eff.basename
        vals = [w.value for w in eff.args]
        self._words(line, [v for v in vals if v is not None])
        first = vals[0] if vals else None
        if base is None:
            return
        if base in _BUILDERS or (base in _SUBCOMMAND_BUILDS and first in _SUBCOMMAND_BUILDS[base]):
            self.builds = True
        if base.startswith("python") and vals[:2] == ["-m", "build"]:
            self.builds = True
        if base == "git":
            self.reads_vcs = self.reads_vcs or f"line {line} runs git"
        if base == "go" and first in ("build", "install", "run", "test", "generate", "list", "version"):
            self.reads_vcs = self.reads_vcs or f"line {line} runs go {first}, which stamps VCS data from .git"
        call = parse_package_call(cmd)
        if call is not None:
            if call.manager in ("npm", "yarn", "pnpm") and (call.action in ("install", "ci", "add") or (
                    call.manager == "yarn" and call.action is None and not call.packages)):
                self.node_install = True
            if call.manager == "pip" and call.action == "install":
                self.python_install = True
        if (base == "poetry" and first == "install") or (base == "uv" and first in ("sync", "pip")) or (
                base == "pipenv" and first in ("install", "sync")) or (base == "pdm" and first in ("install", "sync")):
            self.python_install = True
        if base.startswith("python") and vals[:2] == ["-m", "venv"] or base in ("virtualenv",) or (
                base == "uv" and first == "venv"):
            self.venv = True
        if base.startswith("python") and "setup.py" in vals:
            self.python_install = True

    def _words(self, line: int, values) -> None:
        for v in values:
            if not v or "/" not in v.strip("/"):
                continue
            parts = [x for x in v.split("/") if x and x != "."]
            for k in range(len(parts)):
                self.words.setdefault("/".join(parts[k:]), line)

    def installs(self, entry: str) -> bool:
        if entry == "**/node_modules":
            return self.node_install
        if entry in (".venv", "venv", "env"):
            return self.python_install or self.venv
        return False

    def names_under(self, folder: str, bc) -> tuple[int, str] | None:
        """(line, path) of a RUN/CMD/ENTRYPOINT word that names a file of the context inside ``folder`` (as a
        relative path, or as the end of an absolute one: ``/app/build/server`` names ``build/server``), or None."""
        hits = self._under.get(folder)
        if hits is None:
            hits = self._under[folder] = []
            for w, line in self.words.items():
                if w.startswith(folder + "/"):
                    try:
                        if bc is not None and bc.exists(w) and not bc.is_dir(w):
                            hits.append((line, w))
                    except OSError:
                        continue
        return hits[0] if hits else None


def _uses_vcs_versioning(bc) -> bool:
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        text = read_text(bc, name) if bc is not None else None
        if text and any(k in text for k in _VCS_VERSIONING):
            return True
    return False


TRANSFORMS = (DockerIgnoreTransform,)
