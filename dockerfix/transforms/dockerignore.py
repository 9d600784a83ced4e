"""DFX203 dockerignore: propose a ``.dockerignore`` that keeps VCS data, installed dependencies, caches, build
outputs and secrets out of the build context.

Analysis: only for a *real* build context (``is_real_context``): a folder with at least one file that is not a
Dockerfile or a document (README, LICENSE, ``*.md``, ``*.tsv``, BuildKit test ``result`` files). A folder of
Dockerfiles alone (the shared corpus) is not a project, and nothing is proposed there. Entries are proposed only
for what exists in the context or for the ecosystems whose manifests it holds, and only when the current ignore
file lets them in.

Fix: a ``FileChange`` for ``.dockerignore`` (new file, or the existing one with the entries appended).
"""

from __future__ import annotations

import posixpath
import re
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from dockerfix._lazyre import lazy
from dockerfix.model.manifests import DockerIgnore, ignore_file_name, listdir, read_text, walk
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
BUILD_WORDS = lazy(r"\b(npm run|yarn build|pnpm build|go build|cargo build|mvn|gradle|gradlew|dotnet (build|publish)|"
                         r"python -m build|tsc|make|webpack|vite build)\b")
INSTALL_WORDS = {
    "**/node_modules": lazy(r"\b(npm (ci|install|i)|yarn|pnpm (install|i))\b"),
    ".venv": lazy(r"\b(pip3? install|poetry install|uv sync|pipenv (install|sync)|python3? -m venv)\b"),
    "venv": lazy(r"\b(pip3? install|poetry install|uv sync|python3? -m venv)\b"),
    "env": lazy(r"\b(pip3? install|poetry install|uv sync|python3? -m venv)\b"),
}


def is_real_context(bc) -> bool:
    """A project folder: some file that is neither a Dockerfile nor a document, or a VCS folder."""
    for name in listdir(bc, "."):
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
corpus of examples) gets nothing.

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
The rules are checked against every COPY/ADD source of the Dockerfile (BuildKit's matching: `**`, `!` exceptions,
parent folders). The fix is unsafe when a COPY/ADD names a path a new rule would exclude, and when a folder COPY
(`COPY . .`) would stop shipping something the image may use: `.env` files or keys (the application may read them
at runtime), an installed `node_modules` or virtualenv the Dockerfile does not install itself, a build output the
Dockerfile does not build, or `.git` when a RUN uses `git`. Otherwise it is safe: the image loses only files its
build never needed.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        bc = ctx.build_context
        if bc is None or not ctx.document.instructions or not is_real_context(bc):
            return
        name = ignore_file_name(bc, ctx.path)
        before = read_text(bc, name) if bc.exists(name) else None
        ignore = DockerIgnore(before or "")
        entries = self._entries(bc, ignore)
        if not entries:
            return
        new = DockerIgnore((before or "") + "\n" + "\n".join(e for e, _ in entries))
        unsafe = self._unsafe(ctx, bc, ignore, new, entries)
        if before is None:
            # the file lists itself, so `COPY . .` does not start shipping it into the image
            after = HEADER + "\n.dockerignore\n" + "\n".join(e for e, _ in entries) + "\n"
        else:
            sep = "" if before.endswith("\n") or not before else "\n"
            after = before + sep + HEADER + "\n" + "\n".join(e for e, _ in entries) + "\n"
        listed = ", ".join(e for e, _ in entries[:6]) + (", ..." if len(entries) > 6 else "")
        title = (f"Create {name}" if before is None else f"Add to {name}") + f" ({listed})"
        fix = Fix((), Applicability.UNSAFE if unsafe else Applicability.SAFE, title,
                  files=(FileChange(name, before, after),))
        first = ctx.document.instructions[0]
        msg = (f"the build context has no {name}" if before is None else f"{name} lets in {listed}") + \
            ": .git, dependencies, caches or secrets are sent to the builder and may land in the image"
        yield self.diagnostic(first, msg, fix, reason="; ".join(unsafe) or None)

    # ------------------------------------------------------------------ analysis
    def _entries(self, bc, ignore: DockerIgnore) -> list[tuple[str, str]]:
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
        secrets = [p for p in walk(bc, ".", depth=3, limit=3000)
                   if SECRET_NAMES.match(posixpath.basename(p)) and not _EXAMPLE.search(p) and not bc.is_dir(p)]
        if secrets:
            for e in SECRET_ENTRIES:
                pat = DockerIgnore(e)
                if any(pat.excludes(s) for s in secrets) and not all(ignore.excludes(s) for s in secrets if pat.excludes(s)):
                    if not any(x == e for x, _ in out):
                        out.append((e, "secret"))
            examples = [p for p in walk(bc, ".", depth=1, limit=500) if posixpath.basename(p).startswith(".env.")
                        and _EXAMPLE.search(p)]
            if examples and any(e == ".env.*" for e, _ in out):
                out.extend((f"!{p}", "exception") for p in examples)
        return out

    def _unsafe(self, ctx: Context, bc, old: DockerIgnore, new: DockerIgnore, entries) -> list[str]:
        reasons: list[str] = []
        doc = ctx.document
        runs = " ".join(i.line + " " + " ".join(h.content for h in i.heredocs)
                        for i in doc.iter_instructions() if i.effective.keyword == "RUN")
        builds = bool(BUILD_WORDS.search(runs))
        for inst in doc.iter_instructions():
            inst = inst.effective
            if inst.keyword not in ("COPY", "ADD") or inst.flag("from") is not None or inst.heredocs:
                continue
            for src in inst.args[:-1]:
                if "://" in src or src.startswith("git@"):
                    continue
                s = posixpath.normpath(src.lstrip("/")) if src not in (".", "./", "/") else "."
                if s != "." and new.excludes(s.replace("*", "x")) and not old.excludes(s.replace("*", "x")):
                    reasons.append(f"line {inst.start_line} copies {src}, which the new rules exclude")
                    continue
                if s != "." and not bc.is_dir(s):
                    continue
                # a folder copy: what it would stop shipping
                present = [p for p in walk(bc, s, depth=2, limit=2000) if new.excludes(p) and not old.excludes(p)]
                for entry, kind in entries:
                    if kind not in ("secret", "installed", "output", "vcs") or not present:
                        continue
                    hit = [p for p in present if DockerIgnore(entry).excludes(p)]
                    if not hit:
                        continue
                    if kind == "secret":
                        reasons.append(f"line {inst.start_line} copies {hit[0]} into the image, which the "
                                       "application may read at runtime")
                    elif kind == "installed" and not INSTALL_WORDS.get(entry, re.compile("$^")).search(runs):
                        reasons.append(f"line {inst.start_line} ships {hit[0]}, which the Dockerfile does not "
                                       "install itself")
                    elif kind == "output" and not builds:
                        reasons.append(f"line {inst.start_line} ships {hit[0]}, which the Dockerfile does not build")
                    elif kind == "vcs" and re.search(r"\bgit\b", runs):
                        reasons.append(f"a RUN uses git, which may read {hit[0]}")
        return list(dict.fromkeys(reasons))


TRANSFORMS = (DockerIgnoreTransform,)
