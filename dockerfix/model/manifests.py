"""Cache-friendly builds: dependency manifests per ecosystem, ``.dockerignore`` matching, and the cache strategy.

``DockerIgnore``
    BuildKit's reading of a ``.dockerignore`` (moby/patternmatcher): one pattern a line, ``#`` comments, surrounding
    blanks trimmed, ``!`` re-includes, patterns cleaned (``./a/`` is ``a``, a leading ``/`` is dropped), ``*`` and
    ``?`` never cross ``/``, ``**`` matches any number of directories (``**/x`` also matches ``x``), ``[...]``
    classes, ``\\`` escapes. The last matching pattern wins, and a pattern that matches a directory excludes
    everything under it (unless a later ``!`` pattern re-includes the path).
``dependency_installs(script)``
    The dependency installs of a RUN (``pip install -r``, ``npm ci``, ``go mod download``, ...), each with the
    manifests it reads, relative to the directory it runs in. Which commands those are is the tool table's
    (``dependency_install``, ``dependency_goals``, ``manifest_options``... on each row); this module applies it.
``cache_needs(calls, extra, env, home, base_image, *, user=INFER)``
    The cache directories the package-manager calls of one RUN write (what a cache mount would hold), with a reason
    when their place is not known statically. Read from the tool table, ``dockerfix.model.tools``, like the
    ecosystems' manifests (``ECOSYSTEM_FILES``) and lockfiles (``LOCKFILES``).
``needs_buildkit(doc)`` / ``cache_strategy(ctx)``
    The default strategy decision shared by the cache-mount transform and the cleanup transforms: ``cache-mount``
    when configured, ``clean-layer`` when configured, otherwise cache mounts only in files that already need
    BuildKit (a ``# syntax=`` directive, ``RUN --mount``/``--network``/``--security``, heredocs,
    ``COPY``/``ADD`` ``--link``/``--parents``/``--exclude``/``--checksum``/``--keep-git-dir``; not ``--chmod``,
    which copy-chown adds).
"""

from __future__ import annotations

import posixpath
import re
from fnmatch import fnmatchcase
from dockerfix._lazyre import lazy
from dockerfix._record import dataclass, field
from dockerfix.model import tools
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Iterable

if TYPE_CHECKING:
    from dockerfix.model.shell import CommandSite, Script, SimpleCommand, Word
    from dockerfix.syntax.nodes import Document

# =====================================================================================================================
# strategy
# =====================================================================================================================

_BUILDKIT_COPY_FLAGS = frozenset({"link", "parents", "exclude", "checksum", "keep-git-dir"})
"""COPY/ADD flags only BuildKit reads. ``--chmod`` is BuildKit-only too but left out: copy-chown (DFX301) adds it, and
the strategy must not change because of a fix (running dockerfix twice equals running it once)."""
_BUILDKIT_RUN_FLAGS = frozenset({"mount", "network", "security"})


def needs_buildkit(doc: "Document") -> bool:
    """Whether the file already uses syntax only BuildKit (or a BuildKit-compatible builder) understands.

    Not memoised: the engine asks once per file, before the first pass, and puts the answer in the ``strategy``
    setting, so :func:`cache_strategy` does not ask again during the passes."""
    if doc.directive("syntax") is not None or doc.directive("check") is not None:
        return True
    for outer in doc.iter_instructions():
        inst = outer.effective
        if inst.heredocs:
            return True
        if not inst.flags:
            continue  # (most instructions: no set of names to build)
        names = {f.name for f in inst.flags}
        if inst.keyword == "RUN" and names & _BUILDKIT_RUN_FLAGS:
            return True
        if inst.keyword in ("COPY", "ADD") and names & _BUILDKIT_COPY_FLAGS:
            return True
    return False


def cache_strategy(settings: dict[str, Any], doc: "Document") -> str:
    """``cache-mount`` or ``clean-layer`` for this file: the ``strategy`` setting when it is one of those, else
    ``cache-mount`` exactly when the file already needs BuildKit."""
    s: str | None = settings.get("strategy")
    if s in ("cache-mount", "clean-layer"):
        return s
    return "cache-mount" if needs_buildkit(doc) else "clean-layer"


# =====================================================================================================================
# .dockerignore
# =====================================================================================================================


def _clean(p: str) -> str:
    c = posixpath.normpath(p) if p else "."
    if c.startswith("//"):
        c = "/" + c.lstrip("/")
    return c


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    out.append(".*")
                else:
                    out.append("(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i < n:
                out.append(re.escape(pattern[i]))
        elif ch == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:j]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.S)


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


class DockerIgnore:
    """A parsed ``.dockerignore``; ``excludes(path)`` answers for a context-relative path."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.patterns: list[IgnorePattern] = []
        for line in text.splitlines():
            p = line.strip()
            if not p or p.startswith("#"):
                continue
            excl = False
            if p.startswith("!"):
                excl, p = True, p[1:].strip()
                if not p:
                    continue
            p = _clean(p)
            if len(p) > 1 and p.startswith("/"):
                p = p[1:]
            self.patterns.append(IgnorePattern(p, excl, _pattern_regex(p)))

    def excludes(self, path: str) -> bool:
        path = _clean(path.lstrip("/")) or "."
        if path in (".", ""):
            return False
        parts = path.split("/")
        parents = ["/".join(parts[:k]) for k in range(1, len(parts))]
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue  # an exclusion only matters once excluded, a pattern only when not yet excluded
            hit = bool(pat.regex.match(path)) or any(pat.regex.match(p) for p in parents)
            if hit:
                matched = not pat.exclusion
        return matched

    def __bool__(self) -> bool:
        return bool(self.patterns)


def ignore_file_name(bc: Any, dockerfile_path: str | None) -> str:
    """The ignore file BuildKit reads: ``<Dockerfile name>.dockerignore`` when it sits in the context root, else
    ``.dockerignore``."""
    if dockerfile_path:
        own = posixpath.basename(dockerfile_path.replace("\\", "/")) + ".dockerignore"
        try:
            if bc.exists(own):
                return own
        except Exception:
            pass
    return ".dockerignore"


def read_text(bc: Any, rel: str, limit: int = 1 << 20) -> str | None:
    try:
        if not bc.exists(rel) or bc.is_dir(rel):
            return None
        text: str = bc.read_bytes(rel, limit).decode("utf-8", "replace")
        return text
    except (OSError, ValueError):
        return None


def load_ignore(bc: Any, dockerfile_path: str | None) -> DockerIgnore:
    if bc is None:
        return DockerIgnore()
    return DockerIgnore(read_text(bc, ignore_file_name(bc, dockerfile_path)) or "")


def listdir(bc: Any, rel: str = ".") -> list[str]:
    fn = getattr(bc, "listdir", None)
    if fn is None:
        return []
    try:
        return list(fn(rel))
    except OSError:
        return []


def walk(bc: Any, rel: str = ".", *, depth: int = 4, limit: int = 5000,
         skip: frozenset[str] = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", "target"})) -> list[str]:
    """Context-relative paths under ``rel`` (files and folders), breadth first, bounded."""
    out: list[str] = []
    queue = [(rel, 0)]
    while queue and len(out) < limit:
        d, k = queue.pop(0)
        for name in listdir(bc, d):
            p = name if d in (".", "") else f"{d}/{name}"
            out.append(p)
            if k < depth and name not in skip and bc.is_dir(p):
                queue.append((p, k + 1))
    return out


# =====================================================================================================================
# ecosystems
# =====================================================================================================================


@dataclass(frozen=True)
class Manifest:
    path: str
    """Relative to the directory the install runs in (may contain ``..``; never absolute)."""
    required: bool = True
    is_dir: bool = False


@dataclass
class DepInstall:
    """One dependency install inside a RUN."""

    ecosystem: str
    command: "SimpleCommand"
    site: "CommandSite | None"
    manifests: list[Manifest]
    project_flag: str | None = None
    """A flag that makes the install skip the project itself (poetry ``--no-root``, uv ``--no-install-project``),
    when the command lacks it; the project is then installed by re-running the original command after the source
    is copied."""
    action_word: "Word | None" = None
    action: str | None = None
    """The install's action as its row names it (npm's ``ci`` for ``clean-install`` and ``ic`` too; a row's
    ``dependency_install`` subcommand); None for yarn's bare ``yarn``."""
    ignore_scripts: bool = False
    options: tuple[str, ...] = ()


ECOSYSTEM_FILES: dict[str, tuple[tuple[str, bool, bool], ...]] = tools.ecosystem_files()
"""Ecosystem -> (path, required, is_dir) of the manifests its install reads; optional ones are named only when they
exist in the context. From ``dockerfix.model.tools``."""

LOCKFILES: dict[str, str] = tools.lockfiles()

_LOCAL_PATH = lazy(r"^(\.{1,2}(/|$)|/|file:|git\+file:)")
"""An operand that names a local path (``./pkg``, ``/src``, ``file:``, ``git+file:``): the project's sources."""


def _vals(cmd: "SimpleCommand") -> list[str | None]:
    return [w.value for w in cmd.effective.args]


def _wrapper_name(cmd: "SimpleCommand") -> str | None:
    eff = cmd.effective
    name = eff.name_value
    return name


def _is_wrapper_script(name: str | None, tool: str) -> bool:
    return name is not None and posixpath.basename(name) == tool and name.startswith(("./", "/"))


def dependency_installs(script: "Script") -> tuple[list[DepInstall], list[tuple["SimpleCommand", str]]]:
    """(dependency installs, other commands of the script with what they are: ``benign``, ``project`` (installs
    the source itself) or ``other``)."""
    from dockerfix.model.pkgmgr import find_cleanups, parse_package_call

    installs: list[DepInstall] = []
    others: list[tuple[SimpleCommand, str]] = []
    cleanup_spans = {c.command.span for c in find_cleanups(script)}
    for site in script.sites:
        cmd = site.command
        eff = cmd.effective
        base = eff.basename
        vals = _vals(cmd)
        if cmd.span in cleanup_spans:
            others.append((cmd, "benign"))
            continue
        call = parse_package_call(cmd, site)
        if call is not None:
            got = _call_install(tools.manager_tool(call.manager), call, site)
            if isinstance(got, DepInstall):
                installs.append(got)
            else:
                others.append((cmd, got))
            continue
        args = [v for v in vals]
        row = _INSTALLERS.get(base) if base is not None else None
        if row is not None and base in row.scripts and not _is_wrapper_script(eff.name_value, base):
            row = None  # `mvnw` found on PATH is not the project's wrapper
        dep = _row_install(row, cmd, site, args) if row is not None else None
        if isinstance(dep, DepInstall):
            installs.append(dep)
        elif dep is not None:
            others.append((cmd, dep))
        elif base in ("python", "python3") and "setup.py" in args:
            others.append((cmd, "project"))
        elif base in _BENIGN:
            others.append((cmd, "benign"))
        else:
            others.append((cmd, "other"))
    return installs, others


_INSTALLERS = tools.dependency_installers()


def _call_install(row: tools.Tool, call: Any, site: "CommandSite") -> "DepInstall | str":
    """The dependency install a package-manager call is, by its row's grammar (``dependency_install`` actions,
    ``manifest_options``, ``project_options``/``project_operands``, ``global_options``...); else what it is:
    ``benign`` (reads nothing of the sources: another action the row lists as such, a global install, any action
    of a system manager), ``project`` (installs the sources themselves: ``pip install -e .``) or ``other``."""
    action = call.action or ""
    glob = bool(row.global_options) and call.has_option(*row.global_options)
    if action in row.dependency_install and not glob:
        reqs = [o.value for o in call.options if o.name in row.manifest_options]
        if any(v is None for v in reqs):
            return "other"  # a requirement file named by a variable
        if row.project_options and call.has_option(*row.project_options) or row.project_operands is not None and any(
                v is None or _LOCAL_PATH.match(v) or v.endswith(row.project_operands) for v in call.package_names):
            return "project"
        if row.manifest_options and not reqs:
            return "benign"  # `pip install flask`: no manifest of the project
        if row.dependency_operands or not call.package_names:
            eco = row.ecosystem or ""
            manifests = [Manifest(v) for v in reqs if v] if row.manifest_options else _eco_manifests(eco)
            return DepInstall(eco, call.command, site, manifests,
                              action_word=call.action_words[-1] if call.action_words else None, action=call.action,
                              ignore_scripts=bool(row.no_scripts_options) and call.has_option(*row.no_scripts_options),
                              options=tuple(o.name for o in call.options))
    if glob or row.benign_actions is None or action in row.benign_actions:
        return "benign"
    return "other"


def _row_install(row: tools.Tool, cmd: "SimpleCommand", site: "CommandSite",
                 args: list[str | None]) -> "DepInstall | str | None":
    """The dependency install a command of a row ``pkgmgr`` does not parse runs, by the row: a
    ``dependency_install`` subcommand (``poetry install``, ``go mod download``, ``dotnet restore``) or only
    ``dependency_goals`` (``mvn dependency:go-offline``, ``./gradlew dependencies``); ``other`` when such an install
    names its manifest with a variable; None for another use of the tool.

    It carries its options (what keeps the lockfile as it is: ``pipenv install --deploy``, ``bundle install
    --frozen``) and, for a row with a ``project_flag``, that flag when the command has none of them. A wrapper
    script (``./mvnw``) is a manifest too."""
    eco = row.ecosystem or ""
    opts = tuple(a for a in args if a and a.startswith("-"))
    wrapper = [Manifest(cmd.effective.basename, True)] if cmd.effective.basename in row.scripts else []
    for sub in row.dependency_install:
        words = sub.split()
        if args[:len(words)] != words:
            continue
        operands = [a for a in args[len(words):] if a and not a.startswith("-")]
        if not row.dependency_operands and operands:
            return None
        manifests = _eco_manifests(eco)
        if row.operand_manifest is not None:
            if any(a is None for a in args):
                return "other"
            manifests.append(Manifest(operands[0] if operands else row.operand_manifest, True))
        flag = None if not row.project_flag or set(row.project_flag) & set(opts) else row.project_flag[0]
        return DepInstall(eco, cmd, site, manifests + wrapper, project_flag=flag,
                          action_word=cmd.effective.args[0], action=sub, options=opts)
    if row.dependency_goals and args and all(
            a is not None and (a.startswith("-") or any(fnmatchcase(a, g) for g in row.dependency_goals))
            for a in args) and any(a and not a.startswith("-") for a in args):
        return DepInstall(eco, cmd, site, _eco_manifests(eco) + wrapper, options=opts)
    return None


_BENIGN = frozenset({"set", "true", ":", "echo", "corepack", "gem", "conda", "mamba", "micromamba", "rustup",
                     "update-ca-certificates", "ldconfig"})


def _eco_manifests(eco: str) -> list[Manifest]:
    return [Manifest(p, req, d) for p, req, d in ECOSYSTEM_FILES.get(eco, ())]


@dataclass(frozen=True)
class Reason:
    """Why an install moved before the full COPY may need more than its manifests.

    ``kind``: ``may`` (it may read the sources or change what the image holds: the fix is unsafe), ``breaks`` (the
    analysis shows it needs files the manifest COPY does not bring: it would fail, so the fix is never applied, not
    even with ``--unsafe``; a finding names the reason) or ``missing`` (a manifest the install names is not in the
    build context: nothing to propose)."""

    text: str
    kind: str = "may"

    @property
    def breaks(self) -> bool:
        return self.kind == "breaks"


def pip_requirements_closure(bc: Any, start: list[str], ignore: DockerIgnore) -> tuple[list[str], list[Reason]]:
    """(requirement files reachable from ``start`` through ``-r``/``-c`` lines, reasons the install needs more than
    those files). Paths are context-relative; a missing file is a ``missing`` reason, an editable or local-path
    requirement (``-e .``, ``./pkg``, ``file:``) a ``breaks`` one: the path is not there before the full COPY."""
    seen: list[str] = []
    reasons: list[Reason] = []
    queue = list(start)
    while queue:
        rel = posixpath.normpath(queue.pop(0))
        if rel in seen:
            continue
        if rel.startswith("../"):
            reasons.append(Reason(f"{rel} is outside the build context", "missing"))
            continue
        text = read_text(bc, rel)
        if text is None or ignore.excludes(rel):
            reasons.append(Reason(f"{rel} is not in the build context", "missing"))
            continue
        seen.append(rel)
        base = posixpath.dirname(rel)
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)", line)
            if m:
                queue.append(posixpath.join(base, m.group(2)) if base else m.group(2))
                continue
            if re.match(r"^(-e|--editable)\b", line):
                reasons.append(Reason(f"{rel} installs an editable package ({line}), whose sources are copied only "
                                      "after the install", "breaks"))
                continue
            word = line.split(";", 1)[0].strip()
            if _LOCAL_PATH.match(word) or re.search(r"@\s*file:", line):
                reasons.append(Reason(f"{rel} installs from a local path ({line}), which is copied only after the "
                                      "install", "breaks"))
    return seen, reasons


# ---------------------------------------------------------------------------------------------------------------------
# npm, yarn and pnpm: workspaces and lifecycle scripts
# ---------------------------------------------------------------------------------------------------------------------

LIFECYCLE = ("preinstall", "install", "postinstall", "prepare", "prepublish")
"""package.json scripts ``npm install``/``npm ci`` (and yarn, pnpm) run for the project itself."""

SOURCE_READERS: dict[str, frozenset[str] | None] = {
    "prisma": frozenset({"generate"}), "patch-package": None, "tsc": None, "ngcc": None, "node-gyp": None,
    "lerna": None, "nx": None, "turbo": None, "vite": None, "webpack": None, "rollup": None, "esbuild": None,
    "tsup": None, "babel": None, "svelte-kit": frozenset({"sync"}), "nuxt": frozenset({"prepare"}),
    "nuxi": frozenset({"prepare"}), "ng": None, "electron-rebuild": None, "electron-builder": None,
    "ts-patch": None, "graphql-codegen": None, "protoc": None, "buf": None, "openapi-generator-cli": None,
}
"""Commands a lifecycle script runs that read the project's sources (code generators, compilers, patchers): the
value lists the subcommands that do (None: any). An install running one cannot move before the full COPY."""

HARMLESS = frozenset({"echo", "true", ":", "exit", "printf", "only-allow", "is-ci", "husky", "node-pre-gyp-check"})
"""Commands of lifecycle scripts that read nothing of the project (``npx only-allow pnpm``, ``husky install``, whose
hooks need .git, never part of an image)."""


def _json(raw: str) -> Any:
    import json  # only here: a module-level import costs every start-up ~3 ms

    return json.loads(raw)


def read_package_json(bc: Any, rel: str) -> dict[str, Any] | None:
    """The package.json at ``rel`` as a dict; None when missing or not a JSON object."""
    raw = read_text(bc, rel)
    if not raw:
        return None
    try:
        pkg = _json(raw)
    except ValueError:
        return None
    return pkg if isinstance(pkg, dict) else None


def _pnpm_workspace_packages(text: str) -> list[str]:
    """The ``packages:`` globs of a ``pnpm-workspace.yaml`` (block list or flow list), without a YAML library."""
    out: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^packages\s*:\s*(.*)$", line)
        if not m:
            continue
        rest = m.group(1).split(" #", 1)[0].strip()
        if rest.startswith("["):
            return [v.strip().strip("'\"") for v in rest.strip("[]").split(",") if v.strip()]
        for item in lines[i + 1:]:
            s = item.split(" #", 1)[0].strip()
            if not s or s.startswith("#"):
                continue
            if not s.startswith("-"):
                if not item[:1].isspace():
                    break
                continue
            out.append(s[1:].strip().strip("'\""))
        break
    return out


def workspace_globs(eco: str, bc: Any, project: str) -> tuple[list[str] | None, str | None]:
    """(member globs relative to ``project``, the workspace file that declares them) of an npm/yarn/pnpm project;
    (None, None) when it is not a workspace. pnpm reads ``pnpm-workspace.yaml``, npm and yarn ``workspaces`` in
    package.json (a list, or yarn's ``{"packages": [...]}``)."""
    if eco == "pnpm":
        ws: Any = posixpath.normpath(posixpath.join(project, "pnpm-workspace.yaml"))
        text = read_text(bc, ws)
        if text is not None:
            return _pnpm_workspace_packages(text), ws
        return None, None
    pkg = read_package_json(bc, posixpath.normpath(posixpath.join(project, "package.json"))) or {}
    ws = pkg.get("workspaces")
    if isinstance(ws, dict):
        ws = ws.get("packages")
    if not ws:
        return None, None
    if not isinstance(ws, list) or not all(isinstance(g, str) for g in ws):
        return [], "package.json"
    return list(ws), "package.json"


def workspace_members(bc: Any, project: str, globs: list[str], ignore: DockerIgnore) -> list[str] | None:
    """Context-relative folders of the workspace members (folders matching a glob, not a ``!`` one, that hold a
    package.json the ignore file lets in); None when the context cannot be listed."""
    if getattr(bc, "listdir", None) is None:
        return None
    pos = [DockerIgnore(g.strip().rstrip("/")) for g in globs if g.strip() and not g.strip().startswith("!")]
    neg = [DockerIgnore(g.strip()[1:].rstrip("/")) for g in globs if g.strip().startswith("!")]
    out: list[str] = []
    for p in walk(bc, project, depth=4):
        rel = p if project in (".", "") else p[len(project) + 1:]
        if not any(_exact(d, rel) for d in pos) or any(d.excludes(rel) for d in neg):
            continue
        manifest = f"{p}/package.json"
        if bc.is_dir(p) and bc.exists(manifest) and not ignore.excludes(manifest):
            out.append(p)
    return out


def _exact(pattern: DockerIgnore, rel: str) -> bool:
    """The glob matches ``rel`` itself (not only a folder above it): ``packages/*`` names ``packages/a``, not
    ``packages/a/src``."""
    return any(p.regex.match(rel) for p in pattern.patterns)


def node_manifests(eco: str, bc: Any, project: str, ignore: DockerIgnore) -> tuple[list[str], list[Reason]]:
    """The extra manifests an npm/yarn/pnpm workspace install needs before the full COPY (``pnpm-workspace.yaml``,
    every member's ``package.json``), and the reasons it may need more."""
    globs, declared_in = workspace_globs(eco, bc, project)
    if globs is None:
        return [], []
    files: list[str] = []
    if declared_in and declared_in != "package.json":
        files.append(declared_in)
    if not globs:
        return files, [Reason(f"{declared_in} declares workspaces dockerfix cannot read")]
    members = workspace_members(bc, project, globs, ignore)
    if members is None:
        return files, [Reason(f"{declared_in} declares workspaces, and the build context cannot be listed to find "
                              "their package.json files")]
    files.extend(f"{m}/package.json" for m in members)
    return files, []


def _script_reason(name: str, body: str, pkg_rel: str, bc: Any, copied: set[str],
                   scripts: dict[str, Any], depth: int = 0) -> Reason | None:
    """Why the lifecycle script ``name`` (``body``) of the package.json at ``pkg_rel`` cannot run with only the
    manifests: ``breaks`` when it names a file of the context the manifest COPY does not bring, or runs a command
    that reads the sources (:data:`SOURCE_READERS`); ``may`` for commands dockerfix does not know; None when it
    only runs commands that read nothing (:data:`HARMLESS`)."""
    from dockerfix.model.shell import parse_shell_cached

    where = posixpath.dirname(pkg_rel) or "."
    label = f"{pkg_rel} {name} runs `{body.strip()[:60]}`"
    script = parse_shell_cached(body)
    if not script.ok:
        return Reason(f"{label}, which may read the sources")
    unknown = False
    for site in script.sites:
        cmd = site.command.effective
        vals = [w.value for w in cmd.args]
        base = cmd.basename
        if base in ("npx", "pnpx") or (base in ("pnpm", "yarn", "npm") and vals[:1] in (["exec"], ["dlx"])):
            rest = vals[1:] if base in ("pnpm", "yarn", "npm") else vals
            rest = [v for v in rest if v is None or not v.startswith("-")]
            base, vals = (posixpath.basename(rest[0]) if rest and rest[0] else None), rest[1:]
        for v in vals:
            if not v or v.startswith("-") or "://" in v:
                continue
            p = posixpath.normpath(posixpath.join(where, v))
            if p.startswith("..") or p in copied or any(p.startswith(c.rstrip("/") + "/") for c in copied):
                continue
            try:
                if bc.exists(p):
                    return Reason(f"{label}, which needs {p} from the sources", "breaks")
            except OSError:
                continue
        if base is None:
            unknown = True
            continue
        if base in SOURCE_READERS:
            subs = SOURCE_READERS[base]
            first = next((v for v in vals if v and not v.startswith("-")), None)
            if subs is None or first in subs:
                return Reason(f"{label}, and {base} reads the project's sources", "breaks")
            continue
        if base in ("npm", "pnpm", "yarn") and depth < 4:
            words = [v for v in vals if v and not v.startswith("-")]
            target = words[1] if words[:1] in (["run"], ["run-script"]) and len(words) > 1 else (
                words[0] if base != "npm" and words and words[0] in scripts else None)
            if target is not None and isinstance(scripts.get(target), str):
                r = _script_reason(name, scripts[target], pkg_rel, bc, copied, scripts, depth + 1)
                if r is not None:
                    return r
                continue
            unknown = True
            continue
        if base not in HARMLESS:
            unknown = True
    return Reason(f"{label}, which may read the sources") if unknown else None


def _node_reasons(eco: str, bc: Any, files: list[str], install: DepInstall) -> list[Reason]:
    out: list[Reason] = []
    copied = set(files)
    pkgs = [f for f in files if posixpath.basename(f) == "package.json"]
    member_dirs = {posixpath.dirname(f) or "." for f in pkgs}
    is_workspace = len(pkgs) > 1 or any(posixpath.basename(f) == "pnpm-workspace.yaml" for f in files)
    for rel in pkgs:
        raw = read_text(bc, rel)
        if not raw:
            continue
        try:
            pkg = _json(raw)
        except ValueError:
            out.append(Reason(f"{rel} does not parse", "breaks"))
            continue
        if not isinstance(pkg, dict):
            continue
        scripts = pkg.get("scripts") or {}
        if not install.ignore_scripts and isinstance(scripts, dict):
            for s in LIFECYCLE:
                body = scripts.get(s)
                if isinstance(body, str) and body.strip():
                    r = _script_reason(s, body, rel, bc, copied, scripts)
                    if r is not None:
                        out.append(r)
        where = posixpath.dirname(rel) or "."
        for sec in ("dependencies", "devDependencies", "optionalDependencies"):
            deps = pkg.get(sec) or {}
            if not isinstance(deps, dict):
                continue
            for dep, v in deps.items():
                if not isinstance(v, str):
                    continue
                if v.startswith("workspace:"):
                    if not is_workspace:
                        out.append(Reason(f"{rel} {sec} uses the workspace protocol ({dep})"))
                    continue
                if not v.startswith(("file:", "link:", ".", "/")):
                    continue
                target = v.split(":", 1)[1] if v.startswith(("file:", "link:")) else v
                p = posixpath.normpath(posixpath.join(where, target))
                if p in member_dirs and not target.endswith((".tgz", ".tar.gz")):
                    continue  # another member: its package.json is copied with the manifests
                out.append(Reason(f"{rel} {sec} point at a local path ({dep}: {v}), which is copied only after "
                                  "the install", "breaks" if not p.startswith("..") else "may"))
                break
        if rel != pkgs[0] and pkg.get("bin"):
            out.append(Reason(f"{rel} links executables (bin) from the member's sources"))
    return out


def manifest_reasons(eco: str, bc: Any, files: list[str], install: DepInstall) -> list[Reason]:
    """Why an install of ``eco`` needs more than its manifests (lifecycle scripts, workspaces, local paths): a
    ``breaks`` reason when it cannot work without the sources, ``may`` when it might read or change more."""
    out: list[Reason] = []

    def text(name: str) -> str:
        for f in files:
            if posixpath.basename(f) == name:
                return read_text(bc, f) or ""
        return ""

    if eco in ("npm", "yarn", "pnpm"):
        out.extend(_node_reasons(eco, bc, files, install))
    elif eco == "go":
        mod = text("go.mod")
        if re.search(r"=>\s*\.{1,2}/", mod):
            out.append(Reason("go.mod replaces a module with a local directory, which is copied only after the "
                              "download", "breaks"))
    elif eco == "cargo":
        toml = text("Cargo.toml")
        # cargo reads the targets with the manifest: "no targets specified in the manifest, either src/lib.rs,
        # src/main.rs, a [lib] section, or [[bin]] section must be present" (rust-lang/cargo#5098)
        out.append(Reason("cargo fetch reads the package's targets (src/main.rs, src/lib.rs) with Cargo.toml, and "
                          "they are copied only after the fetch (rust-lang/cargo#5098)", "breaks"))
        if re.search(r"^\s*\[workspace\]", toml, re.M):
            out.append(Reason("Cargo.toml is a workspace, whose members' Cargo.toml files live with the sources",
                              "breaks"))
        if re.search(r"\bpath\s*=", toml):
            out.append(Reason("Cargo.toml has path dependencies, which are copied only after the fetch", "breaks"))
    elif eco == "maven":
        if "<modules>" in text("pom.xml"):
            out.append(Reason("pom.xml is a multi-module build, whose module poms live with the sources", "breaks"))
    elif eco == "gradle":
        settings = text("settings.gradle") + text("settings.gradle.kts")
        if re.search(r"^\s*include", settings, re.M):
            out.append(Reason("settings.gradle includes subprojects, whose build files live with the sources"))
    elif eco == "bundler":
        gem = text("Gemfile")
        if re.search(r"^\s*gemspec\b", gem, re.M) or re.search(r"\bpath:", gem):
            out.append(Reason("the Gemfile reads a gemspec or a local path, which is copied only after the install",
                              "breaks"))
    elif eco == "composer":
        opts = set(install.options)
        if "--no-autoloader" not in opts:
            out.append(Reason("composer install builds the autoloader from the sources (add --no-autoloader and run "
                              "`composer dump-autoload` after the full COPY)"))
        if not install.ignore_scripts:
            raw = text("composer.json")
            if '"scripts"' in raw:
                out.append(Reason("composer.json has scripts that run on install"))
    elif eco in ("poetry", "uv", "pipenv"):
        toml = text("pyproject.toml") + text("Pipfile")
        if re.search(r"\bpath\s*=", toml) or re.search(r"\beditable\s*=\s*true", toml):
            out.append(Reason("the project has path or editable dependencies, which are copied only after the "
                              "install", "breaks"))
        if eco == "uv" and "[tool.uv.workspace]" in toml:
            out.append(Reason("pyproject.toml declares a uv workspace, whose members live with the sources",
                              "breaks"))
    return out


def prefetches(script: "Script") -> set[str]:
    """Ecosystems whose dependencies the RUN fetches from the lockfile alone (``pnpm fetch``): an install after the
    full COPY then only links what is already in the layer above it."""
    from dockerfix.model.pkgmgr import parse_package_call

    out: set[str] = set()
    for site in script.sites:
        call = parse_package_call(site.command, site)
        if call is None:
            continue
        row = tools.manager_tool(call.manager)
        if row.ecosystem and (call.action or "") in row.lockfile_fetch:
            out.add(row.ecosystem)
    return out


# =====================================================================================================================
# caches of package managers (for cache mounts)
# =====================================================================================================================


@dataclass(frozen=True)
class CacheDir:
    target: str
    store: bool = False
    """The tool reads it later as installed data (Go modules, Cargo registry, Maven/Gradle/NuGet stores): every
    later use needs the mount too."""
    sharing: str | None = None
    key: str = ""
    """Its name within the tool (``Cache.key`` of ``dockerfix.model.tools``: ``cache``, ``registry``...)."""


@dataclass
class CacheNeed:
    tool: str
    command: "SimpleCommand"
    site: "CommandSite | None"
    caches: list[CacheDir] = field(default_factory=list)
    reason: str | None = None
    """Why no mount can be added for this call (the cache location is not known statically)."""
    use: Any = None
    """The tool and action (``dockerfix.model.tools.Use``) the need was read from."""


def home_of(user: str | None, env: dict[str, str | None]) -> str | None:
    if env.get("HOME"):
        return env["HOME"]
    if user in (None, "", "root", "0", "0:0"):
        return "/root"
    return None


def cache_needs(calls: Iterable[Any], extra: Iterable[tuple["SimpleCommand", "CommandSite | None"]],
                env: dict[str, str | None], home: str | None, base_image: str, *,
                user: Any = tools.INFER) -> list[CacheNeed]:
    """The cache directories the package-manager calls of one RUN write, from ``dockerfix.model.tools``.

    ``calls`` are ``PackageCall`` objects; ``extra`` are commands pkgmgr does not parse (go, cargo, mvn, gradle,
    bundle, dotnet, poetry, uv, pipenv). ``user`` is the RUN's user (None: the image's default, root); when it is
    not given, root is assumed exactly when ``home`` is ``/root``. A call whose tool writes no cache for its action
    (or whose cache a variable turns off, ``PIP_NO_CACHE_DIR``) gives no need; one whose cache location is not known
    statically gives a need with a ``reason`` (an unknown HOME or base release, a variable without a static value,
    ``--installroot``...)."""
    out: list[CacheNeed] = []
    items: list[tuple[Any, Any, Any]] = [(c, c.command, c.site) for c in calls]
    items += [(cmd, cmd, site) for cmd, site in extra]
    for obj, cmd, site in items:
        use = tools.identify(obj)
        if use is None:
            continue
        dirs = tools.cache_dirs(use, env, home, base_image, user=user)
        if not dirs:
            continue
        n = CacheNeed(use.label, cmd, site, use=use)
        for d in dirs:
            if d.path is None:
                n.reason = n.reason or f"the cache of {use.label} is not at a known place: {d.reason}"
                continue
            if not d.path.startswith("/"):
                n.reason = n.reason or f"{use.label} keeps its cache in {d.path}, relative to the working directory"
                continue
            n.caches.append(CacheDir(d.path, d.store, d.sharing, d.key))
        out.append(n)
    return out
