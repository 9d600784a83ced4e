"""DFX501 multi-stage: a final stage that builds and ships its toolchain becomes a builder and a lean runtime stage.

Analysis ("where") reads the final stage: which ecosystem builds what (Go, Node, Python native wheels, Java, Rust,
.NET), what the image promises at runtime (ENV, ARG, WORKDIR, USER, EXPOSE, VOLUME, LABEL, HEALTHCHECK, STOPSIGNAL,
ENTRYPOINT/CMD, files the entrypoint reads), and whether the runtime needs a shell. The rewrite ("how") is one edit
replacing the stage's span: the original stage, renamed ``builder`` (with small edits: ``CGO_ENABLED=0``, a Python
virtualenv), then a runtime stage rendered from ``dockerfix/templates/<ecosystem>.j2``. Always unsafe, for review.

The plan is one typed record (:class:`Plan`): :func:`_plan` runs the steps every ecosystem shares (stage names,
setup commands, runtime packages, what the runtime repeats, the moved configuration), and one planner per ecosystem
(:data:`PLANNERS`, each next to the name of its template) decides the runtime base and what is copied.
"""

from __future__ import annotations

import posixpath
import re
from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Callable, Iterable

    from dockerfix.model.shell import Script, SimpleCommand

from dockerfix.model import ecosystems as eco
from dockerfix.model.stages import Stage
from dockerfix.syntax.nodes import Instruction, Trivia
from dockerfix.transforms._run import RunShell, run_shell
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

USER_SETUP = frozenset({"useradd", "adduser", "groupadd", "addgroup", "usermod"})
FS_SETUP = frozenset({"mkdir", "chown", "chmod", "ln", "touch"})
NOOP = frozenset({"true", ":"})
MOVED = frozenset({"CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "LABEL", "ONBUILD", "MAINTAINER"})
MOVED_IF_LAST = frozenset({"USER", "VOLUME"})
RUNTIME_ASSETS = ("config", "configs", "conf", "static", "public", "templates", "views", "migrations", "assets",
                  "locales", "i18n", "www", "web", "resources", "data")
ASSET_EXT = (".yaml", ".yml", ".toml", ".ini", ".conf", ".cfg", ".properties", ".json", ".html", ".sql", ".pem",
             ".crt")
NOT_ASSETS = frozenset({"package.json", "package-lock.json", "tsconfig.json", "go.mod", "go.sum", "Cargo.toml",
                        "Cargo.lock", "pom.xml", "composer.json", "npm-shrinkwrap.json", ".eslintrc.json",
                        "tsconfig.build.json", "jsconfig.json", "nest-cli.json", "angular.json"})
SOURCE_NAMES = frozenset({"src", "cmd", "internal", "pkg", "test", "tests", "Dockerfile", ".dockerignore", "Makefile",
                          "gradle", "gradlew", "mvnw", ".mvn", "build.gradle", "settings.gradle"})
SYSTEM_PREFIXES = ("/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/", "/proc", "/dev", "/sys", "/tmp", "/run",
                   "/var/run", "/usr/lib/jvm", "/opt/java", "/usr/local/bin/node", "/usr/local/bin/python",
                   "/usr/local/bin/docker-entrypoint.sh", "/usr/share/dotnet", "/etc/ssl")
FILE_EXT = r"\.(js|mjs|cjs|py|sh|jar|dll|rb|php|pl|conf|ini|ya?ml|json|toml)$"
DEFAULT_WORKDIR = {"go": "/go"}
GO_DISTROLESS = "gcr.io/distroless/static-debian12"
RUST_DISTROLESS = "gcr.io/distroless/cc-debian12"
VENV = "/opt/venv"

class NoFix(Exception):
    """The stage builds something, but the analysis cannot write a runtime stage it trusts (the reason)."""


@dataclass(frozen=True)
class Jar:
    """A Java archive (or ``installDist`` folder) the runtime stage copies: ``COPY --from=builder SRC DEST``."""
    src: str
    dest: str


@dataclass
class Plan:
    """What the split writes, filled once by the shared steps (:func:`_plan`), then by the ecosystem's planner
    (:data:`PLANNERS`), then by the runtime configuration (:func:`_runtime_config`). The template fields are the
    variables of ``dockerfix/templates/_runtime.j2`` and the ecosystem's template (:meth:`template_values`)."""

    ecosystem: str
    build: Instruction
    """The RUN that builds (the first one)."""
    cwd: str | None
    """The working directory of the build command (None: a `cd` the analysis cannot follow)."""
    builder: str
    """The name of the builder stage (the original stage, renamed)."""
    runtime_name: str | None
    """The final stage's name as written, which moves to the runtime stage; None when it had none."""
    platform: str | None
    settings_base: str | None
    """The ``runtime-base`` setting: the runtime base image the user asked for."""
    users: list[str]
    """User-creation commands of the stage (anywhere)."""
    setup_before: list[SetupCommand]
    """Filesystem setup commands (mkdir, chown...) of RUNs before the build."""
    setup_after: list[SetupCommand]
    """Filesystem setup commands of RUNs after the build."""
    manager: str | None
    """The system package manager whose packages the runtime installs again (apt-get or apk), None when none."""
    packages: list[str]
    """The runtime packages: installed packages minus build tools, headers replaced by their runtime libraries."""
    dropped: list[str]
    """The build packages that stay in the builder."""
    # ---- the planner's answers
    runtime_base: str = ""
    artefacts: list[str] = field(default_factory=list)
    """What the ecosystem's template copies from the builder (the message lists them before ``copies``)."""
    copies: list[str] = field(default_factory=list)
    """Other paths copied from the builder to the same place (entrypoint files, runtime assets)."""
    user: str | None = None
    ca_certificates: bool = False
    binaries: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    jars: list[Jar] = field(default_factory=list)
    app_dir: str | None = None
    lockfile: str | None = None
    lockfile_install: bool = False
    venv: str = VENV
    # ---- the runtime configuration
    pre_run: list[str] = field(default_factory=list)
    """Commands of the runtime stage's RUN before WORKDIR and the copies (packages, users)."""
    post_run: list[str] = field(default_factory=list)
    """Commands of the runtime stage's RUN after the copies (file setup)."""
    moved: list[Instruction] = field(default_factory=list)
    """Instructions that move from the builder to the runtime stage (with their comments)."""
    moved_blocks: list[str] = field(default_factory=list)
    envs: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    workdir: str | None = None
    # ---- the builder's edits and the message
    builder_inserts: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    """Instruction start -> [(document offset, text)] edits inside the builder's instructions."""
    before: dict[int, str] = field(default_factory=dict)
    """Instruction start -> text to put before it (and its comments) in the builder."""
    notes: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)

    @property
    def template(self) -> str:
        return PLANNERS[self.ecosystem].template

    @property
    def copied(self) -> list[str]:
        """Everything the runtime stage copies from the builder."""
        return self.artefacts + self.copies

    def template_values(self) -> dict:
        return {"builder": self.builder, "runtime_name": self.runtime_name, "platform": self.platform,
                "runtime_base": self.runtime_base, "user": self.user, "workdir": self.workdir,
                "copies": self.copies, "pre_run": self.pre_run, "post_run": self.post_run,
                "moved": self.moved_blocks, "args": self.args, "envs": self.envs,
                "ca_certificates": self.ca_certificates, "binaries": self.binaries, "outputs": self.outputs,
                "jars": self.jars, "app_dir": self.app_dir, "lockfile": self.lockfile,
                "lockfile_install": self.lockfile_install, "venv": self.venv}


class _ScriptFacts:
    """What the analysis reads from one RUN script, once per script (``Script.view``: scripts are shared by every
    pass and file with the same text): its commands (wrappers looked through), the first command of each build
    :func:`detect` knows, and the package calls. Before, each question walked every command of the stage again
    (``Analysis.first`` once per ecosystem, ``package_installs`` reading each command as a package call)."""

    __slots__ = ("commands", "builds", "calls", "tools_install", "pip_install")

    def __init__(self, script: Script) -> None:
        from dockerfix.model.pkgmgr import find_package_calls

        sites = script.sites
        cmds = tuple(s.command.effective for s in sites)
        self.commands = cmds
        builds: dict[str, int] = {}
        for i, c in enumerate(cmds):
            hit = _BUILD_BY_NAME.get(c.basename or "")
            if hit is not None and hit[0] not in builds and hit[1](c):
                builds[hit[0]] = i
        self.builds = builds
        """Ecosystem -> index of the first command that builds with it."""
        # the script's package calls, which the other transforms read too (a view of the script); a call's manager,
        # action, options and packages are those of the command with its wrappers looked through, so each is what
        # `parse_package_call` gives for the command in ``commands``
        by_site = {id(call.site): call for call in find_package_calls(script)}
        self.calls = calls = tuple(by_site.get(id(s)) for s in sites)
        """Each command read as a package call (None when it is none)."""
        self.tools_install = any(
            call is not None and call.manager in eco.SYSTEM_MANAGERS and call.is_install
            and any(w.value and eco.is_build_package(w.value) for w in call.packages) for call in calls)
        """A system package install names a build package (before the stage's removals: a superset)."""
        self.pip_install = any(call is not None and call.manager == "pip" and call.is_install for call in calls)


def _facts(ctx: Context, inst: Instruction) -> tuple[RunShell, _ScriptFacts | None]:
    """The pass's shell of a RUN (shared with the other transforms) and its script's facts (None: no script)."""
    r = run_shell(ctx, inst)
    if r.script is None:  # not r.ok
        return r, None
    return r, r.script.view(_ScriptFacts)


def _may_build(ctx: Context, stage: Stage) -> bool:
    """False when :func:`detect` cannot find a build in the stage: no RUN has a build command, and none installs
    build packages or no RUN runs ``pip install``. Read from the scripts' facts before the stage is analysed (most
    files stop here)."""
    tools = pip = False
    for inst in stage.instructions[1:]:
        if inst.keyword != "RUN":
            continue
        f = _facts(ctx, inst)[1]
        if f is None:
            continue
        if f.builds:
            return True
        tools = tools or f.tools_install
        pip = pip or f.pip_install
    return tools and pip


def _command_cwds(r: RunShell, cwd: str) -> list[str | None]:
    """The working directory of each command of a RUN (in site order): the RUN's WORKDIR until a ``cd``; after a
    ``cd`` to a static directory in the main shell, that directory; None (unknown) after a ``cd`` to a variable, in
    a compound command, or, for the commands of a subshell or pipeline, after a ``cd`` inside one."""
    out: list[str | None] = []
    main: str | None = cwd
    sub_cd = False
    for site in r.script.sites if r.script is not None else ():
        c = site.command.effective
        child = site.in_subshell or site.in_pipeline or site.in_substitution
        out.append(None if child and sub_cd else main)
        if c.basename not in ("cd", "pushd", "popd"):
            continue
        if child:
            sub_cd = True
            continue
        args = [w.value for w in c.args]
        if c.basename == "popd" or site.compound is not None or site.in_group or site.conditional or \
                site.background or len(args) != 1 or args[0] is None or args[0] in ("-", "~") or main is None:
            main = None
        else:
            main = posixpath.normpath(posixpath.join(main, args[0]))
    return out


def _arg_refs(text: str) -> set[str]:
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _dedupe(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in sorted({p.rstrip("/") or "/" for p in paths}, key=lambda p: (p.count("/"), p)):
        if p != "/" and not _under(p, out):
            out.append(p)
    return out


def _at(cwd: str | None, path: str, what: str) -> str:
    """``path`` resolved against a command's working directory; NoFix when it is relative and a ``cd`` made the
    directory unknown."""
    if path.startswith("/"):
        return posixpath.normpath(path)
    if cwd is None:
        raise NoFix(f"{what} runs after a `cd` the analysis cannot follow, so where it writes is unknown")
    return posixpath.normpath(posixpath.join(cwd, path))


class Analysis:
    """Facts about one stage, recorded in one walk."""

    def __init__(self, ctx: Context, stage: Stage) -> None:
        self.ctx = ctx
        self.doc = ctx.document
        self.stage = stage
        m = ctx.model
        base = stage.base
        self.base_raw = base
        self.base = m.expand(base, m.meta_values) or base
        self.eco_base = eco.ecosystem_of_base(self.base)
        self.cwd_unknown = False
        cwd = DEFAULT_WORKDIR.get(self.eco_base or "", "/")
        self.copy_dests: list[str] = []
        self.copy_sources: list[tuple[list[str], str, bool]] = []  # (sources, dest, from_context)
        self.runs: list[tuple[Instruction, str, RunShell, tuple]] = []  # (inst, cwd at the RUN, shell, commands)
        self.cwds: list[list[str | None]] = []  # per RUN: each command's working directory (_command_cwds)
        self.facts: list[_ScriptFacts | None] = []  # per RUN: its script's facts (None: no script)
        self.workdirs: list[Instruction] = []
        self.envs: list[Instruction] = []
        self.args: list[Instruction] = []
        self.users: list[Instruction] = []
        self.shells: list[Instruction] = []
        self.volumes: list[Instruction] = []
        self.entry: Instruction | None = None
        self.cmd: Instruction | None = None
        self.healthcheck: Instruction | None = None
        for inst in stage.instructions[1:]:
            k = inst.keyword
            if k == "WORKDIR":
                self.workdirs.append(inst)
                w = m.expand_at(inst.args[0], inst) if inst.args else None
                if w is None:
                    self.cwd_unknown = True
                else:
                    cwd = posixpath.normpath(posixpath.join(cwd, w))
            elif k in ("COPY", "ADD") and inst.args and not inst.heredocs:
                scope = m.scope_at(inst)
                vals = [inst.args[i] for i in range(len(inst.args))]
                if inst.json:
                    vals = list(inst.args)
                dest = m.expand(vals[-1], scope) if vals else None
                if dest is None:
                    self.cwd_unknown = True
                    continue
                full = posixpath.normpath(posixpath.join(cwd, dest)) if not dest.startswith("/") else \
                    posixpath.normpath(dest)
                self.copy_dests.append(full)
                self.copy_sources.append((vals[:-1], full + ("/" if dest.endswith("/") or dest in (".", "./")
                                                             or len(vals) > 2 else ""),
                                          inst.flag("from") is None))
            elif k == "RUN":
                r, facts = _facts(ctx, inst)
                self.runs.append((inst, cwd, r, facts.commands if facts is not None else ()))
                self.facts.append(facts)
                self.cwds.append(_command_cwds(r, cwd))
            elif k == "ENV":
                self.envs.append(inst)
            elif k == "ARG":
                self.args.append(inst)
            elif k == "USER":
                self.users.append(inst)
            elif k == "SHELL":
                self.shells.append(inst)
            elif k == "VOLUME":
                self.volumes.append(inst)
            elif k == "ENTRYPOINT":
                self.entry = inst
            elif k == "CMD":
                self.cmd = inst
            elif k == "HEALTHCHECK":
                self.healthcheck = inst
        self.cwd = cwd

    # ------------------------------------------------------------ derived views
    def commands(self):
        """(RUN, the command's working directory or None when a ``cd`` makes it unknown, command)."""
        for (inst, _cwd, _r, cmds), cwds in zip(self.runs, self.cwds):
            for c, cwd in zip(cmds, cwds):
                yield inst, cwd, c

    def first(self, pred) -> tuple[Instruction, str, object] | None:
        for inst, cwd, c in self.commands():
            if pred(c):
                return inst, cwd, c
        return None

    def package_installs(self):
        """(instruction, manager, [package names]) for every system package install of the stage that stays
        installed (``apk del .build-deps`` / ``apt-get purge gcc`` later in the stage take packages out)."""
        installs = []
        removed: set[str] = set()
        for (inst, _cwd, _r, _cmds), facts in zip(self.runs, self.facts):
            for call in facts.calls if facts is not None else ():
                if call is None or call.manager not in eco.SYSTEM_MANAGERS:
                    continue
                if call.action in ("remove", "purge", "del"):
                    removed.update(w.value for w in call.packages if w.value)
                elif call.is_install:
                    virtual = call.option_values("--virtual", "-t")
                    installs.append((inst, call.manager, [w.value for w in call.packages], virtual))
        for inst, mgr, pkgs, virtual in installs:
            if any(v in removed for v in virtual if v):
                continue
            yield inst, mgr, [p for p in pkgs if p is None or eco.package_base(p) not in removed]

    def argv(self) -> list[str] | None:
        """The exec-form command line of the image (ENTRYPOINT + CMD), or None when shell form."""
        out: list[str] = []
        for i in (self.entry, self.cmd):
            if i is None:
                continue
            if not i.json:
                return None
            out.extend(i.args)
            if i is self.entry and self.cmd is not None and self.cmd.start < self.entry.start:
                break
        return out

    def needs_shell(self) -> list[str]:
        why = []
        for i in (self.entry, self.cmd):
            if i is not None and not i.json and i.args:
                why.append(f"{i.keyword} on line {i.start_line} is in shell form")
        argv = self.argv() or []
        if argv and posixpath.basename(argv[0]) in ("sh", "bash", "ash", "dash"):
            why.append("the entrypoint runs a shell")
        if self.healthcheck is not None and (self.healthcheck.args[:1] != ("NONE",)):
            why.append(f"HEALTHCHECK on line {self.healthcheck.start_line} runs a command")
        return why

    def final_user(self) -> str | None:
        if not self.users:
            return None
        a = self.users[-1].args
        return a[0] if a else None

    def context_files(self, pattern: str) -> list[str]:
        bc = self.ctx.build_context
        if bc is None:
            return []
        try:
            return bc.glob(pattern)
        except Exception:
            return []

    @property
    def has_context(self) -> bool:
        return self.ctx.build_context is not None

    def read_context(self, rel: str, limit: int = 200_000) -> str | None:
        bc = self.ctx.build_context
        if bc is None:
            return None
        try:
            if not bc.exists(rel) or bc.is_dir(rel):
                return None
            return bc.read_bytes(rel, limit).decode("utf-8", "replace")
        except Exception:
            return None


# ------------------------------------------------------------------ detection
def detect(a: Analysis) -> tuple[str, Instruction, str | None, object] | None:
    """(ecosystem, RUN, cwd, command) of the stage's build step, or None when it builds nothing we know."""
    # the first build of the first ecosystem in this order (the scripts' facts hold each script's first build)
    for name in BUILD_ORDER:
        for (inst, _cwd, _r, cmds), facts, cwds in zip(a.runs, a.facts, a.cwds):
            i = facts.builds.get(name) if facts is not None else None
            if i is not None:
                return name, inst, cwds[i], cmds[i]
    # Python: build tools or headers installed, then pip install (native wheels compiled in the image).
    if not any(f is not None and f.tools_install for f in a.facts):
        return None
    tools_at = None
    for inst, _mgr, pkgs in a.package_installs():
        if any(p and eco.is_build_package(p) for p in pkgs):
            tools_at = inst
            break
    if tools_at is not None:
        for (inst, _cwd, _r, cmds), facts, cwds in zip(a.runs, a.facts, a.cwds):
            if inst.start < tools_at.start or facts is None or not facts.pip_install:
                continue
            for c, cwd, call in zip(cmds, cwds, facts.calls):
                if call is not None and call.manager == "pip" and call.is_install:
                    return "python", inst, cwd, c
    return None


BUILD_ORDER = ("go", "rust", "java", "dotnet", "node")
"""The ecosystems :func:`detect` looks for, in the order it prefers them."""
_BUILD_BY_NAME = {"go": ("go", eco.is_go_build), "cargo": ("rust", eco.is_rust_build),
                  **{b: ("java", eco.is_java_build) for b in ("mvn", "mvnw", "gradle", "gradlew")},
                  "dotnet": ("dotnet", eco.is_dotnet_publish),
                  **{b: ("node", eco.is_node_build) for b in ("npm", "yarn", "pnpm", "tsc", "npx")}}
"""Command name -> (ecosystem, build predicate): each predicate is false for any other command name."""


@dataclass(frozen=True)
class SetupCommand:
    """A filesystem setup command (mkdir, chown, chmod, ln, touch) the runtime stage may repeat."""
    raw: str
    command: SimpleCommand
    cwd: str | None
    """Its working directory in the original stage (None: unknown)."""


def _setup_commands(a: Analysis, after: int) -> tuple[list[str], list[SetupCommand], list[SetupCommand]]:
    """User-creation commands (anywhere), filesystem setup after the build, and those setups before it."""
    users: list[str] = []
    post: list[SetupCommand] = []
    pre: list[SetupCommand] = []
    for (inst, _cwd, r, cmds), cwds in zip(a.runs, a.cwds):
        if not cmds:
            continue
        names = [c.basename for c in cmds]
        for c in cmds:
            if c.basename in USER_SETUP:
                users.append(c.raw)
        if all(n in FS_SETUP or n in USER_SETUP or n in NOOP for n in names):
            fs = [SetupCommand(c.raw, c, cwd) for c, cwd in zip(cmds, cwds) if c.basename in FS_SETUP]
            (post if inst.start > after else pre).extend(fs)
    return users, post, pre


_SETUP_VALUE_FLAGS = {"mkdir": ("-m", "--mode", "--context"), "touch": ("-d", "-t", "-r", "--date", "--reference"),
                      "chown": ("--from",), "chmod": (), "ln": ("-S", "--suffix", "-t", "--target-directory")}


def _setup_operands(c) -> tuple[set[str], list[str | None]]:
    """(options, path operands) of a setup command: every operand of mkdir/touch/ln, the operands after the
    owner/mode of chown/chmod."""
    opts: set[str] = set()
    ops: list[str | None] = []
    words = [w.value for w in c.args]
    value_flags = _SETUP_VALUE_FLAGS.get(c.basename or "", ())
    i = 0
    while i < len(words):
        w = words[i]
        if w is not None and w.startswith("-") and w != "-" and not ops:
            if w.startswith("--"):
                opts.add(w.split("=", 1)[0])
                if w in value_flags:
                    i += 1
            else:
                opts.update("-" + ch for ch in w[1:])
                if w in value_flags:
                    i += 1
        else:
            ops.append(w)
        i += 1
    if c.basename in ("chown", "chmod") and not any(o.startswith("--reference") for o in opts):
        ops = ops[1:]
    return opts, ops


def _repeatable_setup(a: Analysis, plan: Plan, setups: list[SetupCommand]) -> list[str]:
    """The setup commands the runtime stage runs after its copies: each in the working directory it had (or NoFix),
    without the ``mkdir``/``ln`` whose targets the copies already bring (they would fail: "File exists")."""
    out: list[str] = []
    copied = [p.rsplit("/*", 1)[0] for p in plan.copied]
    for s in setups:
        c = s.command
        opts, ops = _setup_operands(c)
        paths: list[str] = []
        for w in ops:
            if w is None or "$" in w:
                continue
            if not w.startswith("/") and s.cwd != a.cwd:
                raise NoFix(f"`{s.raw}` ran in {s.cwd or 'a directory the analysis cannot follow'}; the runtime "
                            f"stage would run it in {a.cwd}")
            paths.append(posixpath.normpath(posixpath.join(a.cwd, w)))
        made = [p for p in paths if _under(p, copied)]
        if c.basename == "mkdir" and made and not opts & {"-p", "--parents"}:
            if len(made) < len(ops):
                raise NoFix(f"`{s.raw}` makes directories the copies already bring, and others: without -p it "
                            "would fail in the runtime stage")
            plan.notes.append(f"`{s.raw}` is not repeated: the copies bring {', '.join(made)}")
            continue
        if c.basename == "ln" and paths and _under(paths[-1], copied) and not opts & {"-f", "--force"}:
            plan.notes.append(f"`{s.raw}` is not repeated: the copies bring the link")
            continue
        out.append(s.raw)
    return out


def _runtime_packages(a: Analysis, plan_notes: list[str]) -> tuple[str | None, list[str], list[str], list[str]]:
    """(manager, runtime packages, dropped build packages, unknown headers kept)."""
    manager = None
    keep: list[str] = []
    dropped: list[str] = []
    unknown: list[str] = []
    for _inst, mgr, pkgs in a.package_installs():
        if mgr not in ("apt-get", "apt", "apk"):
            plan_notes.append(f"packages installed with {mgr} are not installed in the runtime stage")
            continue
        manager = "apk" if mgr == "apk" else "apt-get"
        for p in pkgs:
            if p is None:
                plan_notes.append("a package name with a variable is not installed in the runtime stage")
                continue
            base = eco.package_base(p)
            if base in eco.BUILD_TOOLS:
                dropped.append(p)
            elif eco.is_header_package(base):
                lib = eco.runtime_library(base, manager)
                if lib is not None:
                    keep.append(lib)
                    dropped.append(p)
                else:
                    keep.append(p)
                    unknown.append(p)
            elif eco.is_build_package(base):
                dropped.append(p)
            else:
                keep.append(p)
    return manager, list(dict.fromkeys(keep)), dropped, unknown


def _install_line(manager: str, pkgs: list[str]) -> str:
    if manager == "apk":
        return "apk add --no-cache " + " ".join(pkgs)
    return ("apt-get update && apt-get install -y --no-install-recommends " + " ".join(pkgs)
            + " && rm -rf /var/lib/apt/lists/*")


def _entry_paths(a: Analysis) -> list[str]:
    """Paths the exec-form entrypoint names (``/app.jar``, ``./server``), resolved against WORKDIR."""
    out = []
    ws: list[str] = list(a.argv() or [])
    for i in (a.entry, a.cmd, a.healthcheck):
        if i is not None and not i.json:
            ws.extend(w for arg in i.args for w in arg.split())
        elif i is a.healthcheck and i is not None:
            ws.extend(i.args[1:])
    for w in dict.fromkeys(ws):
        w = w.strip("'\"")
        if "=" in w or w.startswith("-") or "$" in w or not w:
            continue
        if w.startswith("/"):
            p = posixpath.normpath(w)
        elif w.startswith("./") or w.startswith("../") or "/" in w or re.search(FILE_EXT, w):
            p = posixpath.normpath(posixpath.join(a.cwd, w))
            rel = posixpath.normpath(w)
            if a.ctx.build_context is None or rel.startswith("..") or not a.ctx.build_context.exists(rel):
                if not (w.startswith("./") or "/" in w) or a.has_context:
                    continue
        else:
            continue
        if p.startswith(SYSTEM_PREFIXES) or _under(p, [v for i in a.volumes for v in i.args]):
            continue
        out.append(p)
    return out


def _assets(a: Analysis, source_ext: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Runtime files the app may read: (paths to copy from the builder, notes)."""
    out: list[str] = []
    notes: list[str] = []
    for sources, dest, from_ctx in a.copy_sources:
        if not from_ctx:
            out.append(dest.rstrip("/"))
            continue
        for src in sources:
            s = src.rstrip("/")
            if src.startswith(("http://", "https://", "git@")) or "$" in src:
                continue
            if s in (".", "./", ""):
                folder = ""
            elif a.ctx.build_context is not None and a.ctx.build_context.is_dir(s.lstrip("./") or "."):
                folder = s.lstrip("./")
            else:
                name = posixpath.basename(s)
                if name in NOT_ASSETS or name.endswith(source_ext) or name in SOURCE_NAMES:
                    continue
                if not any(ch in name for ch in "*?["):
                    target = dest + name if dest.endswith("/") else dest
                    out.append(target)
                continue
            target_dir = dest if dest.endswith("/") or len(sources) > 1 or s in (".", "") else dest + "/"
            if a.ctx.build_context is None:  # not a.has_context
                out.append(target_dir.rstrip("/") or "/")
                notes.append(f"the build context is not visible, so all of {target_dir.rstrip('/') or '/'} is "
                             "copied: narrow it to the files the program reads")
                continue
            prefix = (folder + "/") if folder else ""
            for rel in a.context_files(prefix + "*"):
                name = posixpath.basename(rel)
                if name.startswith(".") or name in NOT_ASSETS:
                    continue
                is_dir = a.ctx.build_context.is_dir(rel)
                if (is_dir and name in RUNTIME_ASSETS) or (not is_dir and name.endswith(ASSET_EXT)):
                    out.append(posixpath.join(target_dir, name))
    return _dedupe(p for p in out if p and p != "/"), notes



def _follow_moves(a: Analysis, outs: list[str]) -> list[str]:
    """Build outputs after ``mv``/``cp`` commands of later RUNs (``mv app /usr/local/bin/``)."""
    outs = list(outs)
    for _inst, cwd, c in a.commands():
        if c.basename not in ("mv", "cp", "install"):
            continue
        vals = [x for x in eco.words(c)[1:] if x is not None and not x.startswith("-")]
        if len(vals) != 2 or "$" in "".join(vals):
            continue
        if cwd is None and not (vals[0].startswith("/") and vals[1].startswith("/")):
            if c.basename == "mv":
                raise NoFix("a `mv` after a `cd` the analysis cannot follow may move the build output")
            continue
        src = _at(cwd, vals[0], "`mv`")
        dst = _at(cwd, vals[1], "`mv`")
        if src in outs:
            if vals[1].endswith("/") or dst in ("/usr/local/bin", "/usr/bin", "/bin", "/app", "/usr/local/sbin"):
                dst = posixpath.join(dst, posixpath.basename(src))
            outs.append(dst)
            if c.basename == "mv":
                outs.remove(src)
    return outs



class MultiStage(Transform):
    code = "DFX501"
    name = "multi-stage"
    summary = "Split a stage that builds and ships its toolchain into a builder and a lean runtime stage"
    safety = "unsafe"
    declares = frozenset({"stages", "final-config"})
    # it reports only a final stage that runs a build it knows: these are the words of those commands (`go build`,
    # `npm run build`, `yarn build`, `tsc`, `mvn package`, `gradle build`, `cargo build`, `dotnet publish`, a pip
    # install after build packages)
    triggers = ("go", "npm", "yarn", "pnpm", "tsc", "npx", "mvn", "gradle", "cargo", "dotnet", "pip")
    after = ()
    docs = """\
## What it does
Finds a final stage that compiles or bundles something (Go `go build`, Node `npm run build`/`tsc`, Python
`pip install` after `build-essential`/`gcc`/`-dev` headers, Java Maven/Gradle, Rust `cargo build --release`,
.NET `dotnet publish`) and so ships compilers, headers, sources and caches. It keeps that stage as `builder` and
adds a runtime stage rendered from a per-ecosystem template:

| ecosystem | runtime base | what is copied |
|---|---|---|
| Go | `gcr.io/distroless/static-debian12` (`go-runtime = "scratch"`), `CGO_ENABLED=0`, non-root; the original base when cgo or a shell is needed | the binary, CA certificates |
| Node | the same Node image, `-slim` | `package.json` + lock file, `npm ci --omit=dev`, `dist`/`build` (or the app folder and `npm prune --omit=dev`) |
| Python | the same Python image, `-slim` | a virtualenv `/opt/venv`, runtime libraries for the `-dev` packages (`libpq-dev` -> `libpq5`) |
| Java | `eclipse-temurin:<v>-jre` | the jar(s) |
| Rust | `gcr.io/distroless/cc-debian12` (Debian slim when a shell or libraries are needed) | the binary |
| .NET | `mcr.microsoft.com/dotnet/aspnet:<v>` | the publish folder |

The runtime stage keeps what the image promised: ENV, the ARGs those need, WORKDIR, USER, EXPOSE, VOLUME, LABEL,
HEALTHCHECK, STOPSIGNAL, ENTRYPOINT/CMD (moved with their comments), user creation and file setup commands, and
files the entrypoint names or that look like runtime assets (config, static, templates, migrations). When the
build context is not visible it copies whole folders and says so. `runtime-base` (setting) overrides the runtime
base image.

## Why
Build toolchains are hundreds of megabytes that the running program never uses, and every one of their packages is
attack surface to patch.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /src
COPY . .
RUN go build -o /out/server .
CMD ["/out/server"]
```
becomes
```dockerfile
FROM golang:1.22 AS builder
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/server .

FROM gcr.io/distroless/static-debian12
WORKDIR /src
COPY --from=builder /out/server /out/server
USER nonroot:nonroot
CMD ["/out/server"]
```

## When it only reports
A split that would break or makes no sense is a finding with the reason, never a fix: a stage without its own
CMD/ENTRYPOINT (a build, tool or base image); a CMD/ENTRYPOINT that does not run the build output (a code generator
or tool container) or runs a program the runtime stage would not have (`npm install -g` tools, scripts the analysis
cannot read); a build whose output path is unknown or never written (`go build ./...`, a `cd` to a variable,
GOBIN/CARGO_TARGET_DIR from a variable); a file that is already multi-stage (another stage copies from a stage, or
an earlier stage builds with the same toolchain); a copy of `/` or a system folder; an `ENV PATH` entry naming the
builder's toolchain that the runtime stage does not copy; a setup command with a relative path that ran in another
directory. `mkdir` (without `-p`) and `ln` (without `-f`) of paths the copies already bring are not repeated.

## Fix safety
Unsafe, always for review: the runtime image has other packages (no compiler, often no shell), may run as another
user, and only has the files the analysis could see. The message lists what moved where and what to check.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        doc = ctx.document
        if doc.escape == "`":
            return
        stage = ctx.model.final_stage()
        if stage is None or len(stage.instructions) < 2:
            return
        if ctx.model.parent_stage(stage) is not None or stage.base.lower() == "scratch":
            return
        if any(h in stage.base.lower() for h in ("windows", "nanoserver", "servercore")):
            return
        if not _may_build(ctx, stage):
            return
        a = Analysis(ctx, stage)
        hit = detect(a)
        if hit is None:
            return
        ecosystem, build, cwd, cmd = hit
        msg = (f"the final stage builds {PLANNERS[ecosystem].label} (line {build.start_line}) and ships the toolchain "
               f"with it (base `{a.base}`)")
        try:
            plan = _plan(a, ecosystem, build, cwd, cmd)
            edit, text = _render(a, plan)
        except NoFix as exc:
            yield self.diagnostic(stage.from_inst, msg, reason=str(exc))
            return
        message = msg + ". " + _explain(plan)
        fix = Fix.unsafe(f"Split into a builder and a {plan.runtime_base} runtime stage", edit)
        yield self.diagnostic(stage.from_inst, message, fix, reason="changes the runtime image; review the split",
                              span=(stage.from_inst.keyword_span[0], stage.from_inst.keyword_span[1]))



def _explain(plan: Plan) -> str:
    parts = [f"The original stage becomes `{plan.builder}`; a `{plan.runtime_base}` runtime stage copies "
             + (", ".join(f"`{x}`" for x in plan.copied) or "the build output") + "."]
    parts.extend(n[:1].upper() + n[1:].rstrip(".") + "." for n in plan.notes)
    if plan.review:
        parts.append("Review: " + "; ".join(plan.review) + ".")
    return " ".join(parts)


BUILDER_NAMES = ("builder", "build", "builder-stage")


def _taken_names(a: Analysis) -> set[str]:
    """Names the new builder stage must not take, lower-cased (BuildKit compares stage names case-insensitively).

    Every stage name of the file, the final stage's own included (it moves to the runtime stage, so ``--target``
    with it still builds the final image), and every name the file refers to as a FROM base, ``COPY``/``ADD
    --from`` or ``RUN --mount=from=``: an image or a named build context (``--build-context NAME=...``) of that name
    would be shadowed by a stage, as written and as its variables expand."""
    m = a.ctx.model
    taken = set(m.stage_names)
    for inst in a.doc.iter_instructions():
        eff = inst.effective
        refs: list[str] = []
        if eff.keyword == "FROM" and eff.args:
            refs.append(eff.args[0])
            scope = m.meta_values
        else:
            refs.extend(f.value or "" for f in eff.flags_named("from"))
            for f in eff.flags_named("mount"):
                for part in (f.value or "").split(","):
                    key, _, value = part.partition("=")
                    if key.strip().lower() == "from":
                        refs.append(value.strip().strip("\"'"))
            if not refs:
                continue
            scope = m.scope_at(inst)
        for ref in refs:
            if ref:
                taken.add(ref.lower())
                expanded = m.expand(ref, scope) if "$" in ref else None
                if expanded:
                    taken.add(expanded.lower())
    return taken


def _builder_name(a: Analysis) -> str:
    taken = _taken_names(a)
    for n in BUILDER_NAMES:
        if n not in taken:
            return n
    i = 2
    while f"builder-{i}" in taken:
        i += 1
    return f"builder-{i}"


def _stage_name_as_written(stage: Stage) -> str | None:
    """The stage's name with the user's spelling (``Stage.name`` is lower-cased)."""
    a = stage.from_inst.args
    return a[2] if stage.name is not None else None


# ------------------------------------------------------------------ does the split make sense, and does it run?
_BUILD_OF = {"go": eco.is_go_build, "rust": eco.is_rust_build, "java": eco.is_java_build,
             "dotnet": eco.is_dotnet_publish, "node": eco.is_node_build}
STANDARD_PATH = frozenset({"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
BROAD = frozenset({"/", "/usr", "/usr/local", "/etc", "/var", "/lib", "/lib64", "/bin", "/sbin", "/opt", "/root",
                   "/home", "/go", "/usr/lib"})
"""Folders that hold far more than an app: copying one copies the builder's system (``COPY --from=builder / /``)."""
RUNTIME_PROGRAMS = {"node": frozenset({"node", "npm", "npx", "yarn", "corepack"}),
                    "java": frozenset({"java"}), "dotnet": frozenset({"dotnet"})}
SHELL_PROGRAMS = frozenset({"sh", "env", "exec"})


def _already_multistage(a: Analysis, ecosystem: str) -> None:
    """NoFix when the author already split build and runtime: another stage copies from a stage, or an earlier
    stage builds with the same toolchain (the final stage is then a variant: dev, test, debug)."""
    m = a.ctx.model
    if len(m.stages) < 2:
        return
    names = set(m.stage_names) | {str(st.index) for st in m.stages}
    for st in m.stages:
        if st is a.stage:
            continue
        label = f"`{st.name}`" if st.name else f"{st.index}"
        for inst in st.instructions:
            f = inst.flag("from") if inst.keyword in ("COPY", "ADD") else None
            if f is not None and (f.value or "").lower() in names:
                raise NoFix(f"the file is already multi-stage: stage {label} copies from stage `{f.value}` (line "
                            f"{inst.start_line}), so the final stage is one of the author's variants")
            if inst.keyword != "RUN":
                continue
            facts = _facts(a.ctx, inst)[1]
            if facts is None:
                continue
            if (ecosystem in facts.builds) if ecosystem in _BUILD_OF else \
                    any(c.basename in ("pip", "pip3") for c in facts.commands):
                raise NoFix(f"the file is already multi-stage: stage {label} builds {PLANNERS[ecosystem].label} too "
                            f"(line {inst.start_line}), so the final stage is one of the author's variants")


def _command_words(a: Analysis) -> list[str]:
    """The words of ENTRYPOINT and CMD (exec form as written, shell form split on blanks), quotes stripped."""
    ws: list[str] = []
    for i in (a.entry, a.cmd):
        if i is None:
            continue
        if i.json:
            ws.extend(i.args)
        else:
            ws.extend(w.strip("'\"") for arg in i.args for w in arg.split())
    return ws


def _program(a: Analysis) -> str | None:
    ws = _command_words(a)
    while ws and (ws[0] in ("exec", "env") or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", ws[0])):
        ws = ws[1:]
    return ws[0] if ws else None


def _resolve(a: Analysis, w: str) -> str:
    return posixpath.normpath(w if w.startswith("/") else posixpath.join(a.cwd, w))


def _unglob(p: str) -> str:
    """A copied path, a glob cut back to its folder (``/app/target/*.jar`` -> ``/app/target``)."""
    return (p.split("*", 1)[0].rstrip("/") or "/") if "*" in p else p


def _targets(plan: Plan) -> list[str]:
    """Everything the runtime stage has from the build: what it copies (globs cut back to their folder), the
    virtualenv, the production ``node_modules`` ``npm ci`` installs."""
    extra = [plan.venv] if plan.ecosystem == "python" else []
    if plan.lockfile_install and plan.app_dir:
        extra.append(posixpath.join(plan.app_dir, "node_modules"))
    return [_unglob(p) for p in plan.copied + extra]


def _check_runtime(a: Analysis, plan: Plan) -> None:
    """NoFix unless the image is a service whose CMD/ENTRYPOINT runs the build output, and the runtime stage has
    everything that command and the image's PATH need."""
    broad = [p for p in plan.copied if p.rstrip("/") in BROAD or p == "/"]
    if broad:
        raise NoFix(f"the runtime stage would copy `{broad[0]}` whole (`COPY --from={plan.builder} {broad[0]} "
                    f"{broad[0]}`), the builder's system with its toolchain")
    targets = _targets(plan)
    runtime = plan.runtime_base
    has_shell = eco.has_shell_image(runtime) and not runtime.startswith(GO_DISTROLESS)
    words = _command_words(a)
    kw = "ENTRYPOINT" if a.entry is not None else "CMD"
    # the program exists in the runtime stage
    prog = _program(a)
    volumes = [v for i in a.volumes for v in i.args]
    if prog and "$" not in prog:
        if "/" in prog:
            p = _resolve(a, prog)
            ok = _under(p, targets) or _under(p, volumes) or (has_shell and p.startswith(SYSTEM_PREFIXES))
        else:
            bins = {posixpath.basename(b) for b in plan.binaries if posixpath.dirname(b) in STANDARD_PATH}
            ok = (prog in bins or prog in plan.packages or plan.ecosystem == "python"
                  or prog in RUNTIME_PROGRAMS.get(plan.ecosystem, ())
                  or (has_shell and (prog in SHELL_PROGRAMS or (prog == "bash" and not eco.is_alpine(runtime))))
                  or (has_shell and runtime == a.base_raw and not _installed_by_stage(a, prog)))
        if not ok:
            raise NoFix(f"the {kw} runs `{prog}`, which the `{runtime}` runtime stage does not have")
    # the command runs the build output
    if PLANNERS[plan.ecosystem].compiled:
        outs = [_unglob(p) for p in plan.artefacts]
        outs += _copied_on(a, outs)
        names = {posixpath.basename(b) for b in plan.binaries}
        runs = any(_under(_resolve(a, w), outs) or w in names for w in words
                   if w and "$" not in w and not w.startswith("-"))
        if not runs:
            for w in words:
                path = _resolve(a, w) if w and ("/" in w or re.search(FILE_EXT, w)) else None
                text = a.read_context(posixpath.relpath(path, a.cwd)) if path and _under(path, plan.copies) else None
                if text and any(n and n in text for n in names | {posixpath.basename(t) for t in outs}):
                    runs = True
        if not runs:
            raise NoFix(f"the {kw} (`{' '.join(words)}`) does not run the build output "
                        f"({', '.join(plan.artefacts)}) as far as the analysis sees: a tool or code-generator image, "
                        "or a wrapper script it cannot read")
    # files the command names
    for w in words[1:]:
        if not w.startswith(("/", "./", "../")) or "$" in w or "=" in w:
            continue
        p = _resolve(a, w)
        if not (_under(p, targets) or _under(p, volumes) or p.startswith(SYSTEM_PREFIXES)):
            raise NoFix(f"the {kw} names `{w}`, which the runtime stage does not copy")
    # PATH entries
    same = eco.repo_name(runtime) == eco.repo_name(a.base_raw)
    written = [d for d in a.copy_dests] + [x for _i, _c, c in a.commands() for x in eco.words(c)[1:]
                                           if x and x.startswith("/")]
    for inst in a.envs:
        args = list(inst.args)
        for key, value in zip(args[::2], args[1::2]):
            if key != "PATH":
                continue
            for d in value.split(":"):
                d = posixpath.normpath(d) if d else d
                if not d or "$" in d or d in STANDARD_PATH or _under(d, targets):
                    continue
                root = d[:-4] if d.endswith("/bin") else d
                if same and not any(_under(w, [root]) for w in written):
                    continue
                raise NoFix(f"ENV PATH on line {inst.start_line} names `{d}`, which the runtime stage does not "
                            "have (the builder's toolchain is not copied)")


def _copied_on(a: Analysis, roots: list[str]) -> list[str]:
    """Where ``mv``/``cp``/``install`` commands put files from under ``roots`` (``cp build/libs/app.jar /app.jar``)."""
    out = []
    for _inst, cwd, c in a.commands():
        if c.basename not in ("mv", "cp", "install"):
            continue
        vals = [x for x in eco.words(c)[1:] if x is not None and not x.startswith("-")]
        if len(vals) != 2 or "$" in "".join(vals) or (cwd is None and not vals[0].startswith("/")):
            continue
        src = posixpath.normpath(posixpath.join(cwd or "/", vals[0]))
        if _under(src, roots) or _under(src.split("*", 1)[0].rstrip("/"), roots):
            dst = posixpath.normpath(posixpath.join(cwd or "/", vals[1]))
            out.append(posixpath.join(dst, posixpath.basename(src)) if vals[1].endswith("/") else dst)
    return out


def _installed_by_stage(a: Analysis, name: str) -> bool:
    """The stage installs a program of that name with a language package manager (``npm install -g``,
    ``cargo install``, ``go install``, ``pip install``), so the base image alone lacks it."""
    for _inst, _cwd, c in a.commands():
        w = [x or "" for x in eco.words(c)]
        if c.basename in ("npm", "yarn", "pnpm", "cargo", "go", "pip", "pip3", "gem") and len(w) > 1 and \
                w[1] in ("install", "i", "add", "global") and any(name in x for x in w[2:]):
            return True
    return False


# ------------------------------------------------------------------ the plan: shared steps, then one planner
def _plan(a: Analysis, ecosystem: str, build: Instruction, cwd: str | None, cmd) -> Plan:
    """The split of the stage: the steps every ecosystem shares around the ecosystem's planner."""
    if a.shells:
        raise NoFix("the stage sets SHELL; the runtime stage would need to repeat it")
    if a.cwd_unknown:
        raise NoFix("a WORKDIR or COPY destination uses a variable whose value is unknown")
    _already_multistage(a, ecosystem)
    if a.entry is None and a.cmd is None:
        raise NoFix("the stage has no CMD or ENTRYPOINT of its own: a build or tool image (run as it is, or a base "
                    "for other builds), not a service whose runtime can be split off")
    builder = _builder_name(a)
    runtime_name = _stage_name_as_written(a.stage)
    pf = a.stage.platform
    users, post, pre = _setup_commands(a, build.start)
    notes: list[str] = []
    if runtime_name:
        notes.append(f"`{runtime_name}` now names the runtime stage, so `--target {runtime_name}` "
                     f"still builds the final image; the build environment is `{builder}`")
    manager, packages, dropped, unknown = _runtime_packages(a, notes)
    plan = Plan(ecosystem, build, cwd, builder, runtime_name, pf if pf and "BUILDPLATFORM" not in pf else None,
                a.ctx.setting("runtime-base"), users, pre, post, manager, packages, dropped, notes=notes)
    if unknown:
        plan.notes.append(f"no runtime library is known for {', '.join(unknown)}, so it is kept in the runtime "
                          "stage; replace it with its runtime package")
    planner = PLANNERS[ecosystem]
    planner.plan(a, plan)
    runtime = plan.runtime_base
    if a.base_raw == runtime and planner.same_base_note:
        plan.notes.append(f"the runtime uses the same base `{runtime}` without the build tools and sources")
    _runtime_setup(a, plan, bool(planner.repeats_setup or runtime == a.base_raw or plan.settings_base))
    _runtime_config(a, plan)
    if not plan.copied:
        raise NoFix("nothing to copy into the runtime stage")
    _check_runtime(a, plan)
    if planner.compiled:
        plan.review.append("check that the program finds every file it reads at runtime (only the build output"
                           + (" and " + ", ".join(plan.copies) if plan.copies else "") + " is copied)")
    if planner.review:
        plan.review.append(planner.review)
    return plan


def _runtime_setup(a: Analysis, plan: Plan, all_setup: bool) -> None:
    """The commands the runtime stage repeats: packages and users before the copies, file setup after them (all of
    it, or only what ran after the build when ``all_setup`` is false)."""
    runtime = plan.runtime_base
    if eco.has_shell_image(runtime):
        if plan.packages and plan.manager is not None:
            if not eco.is_alpine(runtime) and plan.manager == "apk" or eco.is_alpine(runtime) and \
                    plan.manager != "apk":
                plan.notes.append("OS packages are not installed in the runtime stage (its package manager "
                                  "differs)")
            else:
                plan.pre_run.append(_install_line(plan.manager, plan.packages))
        plan.pre_run.extend(plan.users)
        setups = plan.setup_before + plan.setup_after if all_setup else plan.setup_after
        plan.post_run = list(dict.fromkeys(_repeatable_setup(a, plan, setups)))
    else:
        skipped = []
        if plan.packages:
            skipped.append(f"OS packages ({', '.join(plan.packages)})")
        if plan.users or plan.setup_before or plan.setup_after:
            skipped.append("user and file setup commands")
        if skipped:
            plan.notes.append(f"`{runtime}` has no shell or package manager, so " + " and ".join(skipped)
                              + " are not repeated there")


@dataclass(frozen=True)
class Planner:
    """One ecosystem's part of the split: ``plan`` sets the runtime base and what to copy (``template`` renders it)."""
    plan: Callable[[Analysis, Plan], None]
    template: str
    """``dockerfix/templates/<template>.j2``."""
    label: str
    """What the stage builds, for the message."""
    repeats_setup: bool
    """The runtime repeats the file setup from before the build too (it has the same layout as the builder)."""
    compiled: bool = False
    """The runtime gets only the build output: ask the reviewer about files read at runtime."""
    same_base_note: bool = False
    review: str | None = None


# ---- native binaries: Go and Rust (templates go.j2, rust.j2)
def _native_shell_reasons(a: Analysis, plan: Plan) -> list[str]:
    why = a.needs_shell()
    if plan.setup_after:
        why.append("file setup runs after the build")
    final_user = a.final_user()
    if final_user and final_user.split(":")[0] not in ("root", "0", "nonroot", "65532") and \
            not final_user.split(":")[0].isdigit():
        why.append(f"USER {final_user} must exist in the image")
    return why


def _native_outputs(a: Analysis, is_build, outputs) -> list[str]:
    outs: list[str] = []
    for _inst, c_cwd, c in a.commands():
        if is_build(c):
            outs.extend(outputs(a, c_cwd, c))
    if not outs:
        raise NoFix("the build output is unknown")
    return _follow_moves(a, outs)


def _native_runtime(a: Analysis, plan: Plan, outs: list[str], runtime: str) -> None:
    """The runtime base, its user, and the binaries and files it gets (Go and Rust alike)."""
    plan.runtime_base = runtime
    if runtime != a.base_raw and a.final_user() is None:
        plan.user = "nonroot:nonroot" if "distroless" in runtime else "65532:65532"
        plan.review.append(f"the program now runs as user {plan.user}: check what it writes")
    plan.binaries = plan.artefacts = outs
    entry = [p for p in _entry_paths(a) if not _under(p, outs)]
    assets, notes = _assets(a, (".go", ".rs", ".mod", ".sum", ".toml", ".lock"))
    plan.notes.extend(dict.fromkeys(notes))
    plan.copies = _dedupe(entry + [x for x in assets if not _under(x, outs)])


_GO_VALUE_FLAGS = frozenset({"-o", "-tags", "-ldflags", "-gcflags", "-asmflags", "-gccgoflags", "-mod", "-modfile",
                             "-p", "-pkgdir", "-buildmode", "-compiler", "-installsuffix", "-overlay", "-pgo",
                             "-toolexec", "-coverpkg", "-covermode", "-C", "-buildvcs"})


def _go_exec_name(import_path: str) -> str:
    """The binary name ``go build``/``go install`` gives a main package: its last path element, or the one before a
    major-version suffix (``example.com/svc/v2`` -> ``svc``, as cmd/go's DefaultExecName)."""
    parts = [p for p in import_path.rstrip("/").split("/") if p not in ("", ".")]
    if len(parts) > 1 and re.fullmatch(r"v([2-9]|[1-9]\d+)", parts[-1]):
        return parts[-2]
    return parts[-1] if parts else ""


def _go_outputs(a: Analysis, cwd: str | None, cmd) -> list[str]:
    """Where ``go build``/``go install`` writes its binary; NoFix when it writes none or the place is unknown."""
    sub = eco.words(cmd)[1]
    o = eco.option_value(cmd, "-o")
    pkgs: list[str | None] = []
    skip = False
    for word in cmd.words[2:]:
        raw = word.value if word.value is not None else word.raw.lstrip("\"'")
        if skip:
            skip = False
        elif raw.startswith("-"):
            skip = raw.split("=", 1)[0].replace("--", "-", 1) in _GO_VALUE_FLAGS and "=" not in raw
        else:
            pkgs.append(word.value)
    if eco.option_value(cmd, "-C", "--C") is not None:
        raise NoFix("`go build -C` changes directory: where the binary lands is not followed")
    if any(p is None or "$" in p for p in pkgs):
        raise NoFix("the go build packages use a variable: the binary's name is unknown")
    named = [p for p in pkgs if p is not None]  # all of them (checked above)
    if sub == "build" and o:
        if "$" in o:
            raise NoFix(f"the go build output `{o}` uses a variable")
        return [_at(cwd, o, "`go build`")]
    files = [p for p in named if p.endswith(".go")]
    if any("..." in p for p in named) or len(named) - len(files) > 1 or (files and len(files) != len(named)):
        raise NoFix(f"`go {sub} {' '.join(named)}` names several packages: "
                    + ("`go build` writes no binary for them" if sub == "build" else "the binaries' names are not "
                       "followed"))
    name = None
    if files:
        name = posixpath.basename(files[0])[:-3]
    elif named and named[-1] not in (".", "./"):
        name = _go_exec_name(named[-1].replace("@latest", "").split("@")[0])
    else:
        mod = a.read_context("go.mod")
        m = re.search(r"^module\s+(\S+)", mod or "", re.M)
        name = _go_exec_name(m.group(1)) if m else None
    if not name:
        raise NoFix("`go build` without `-o` and without a visible go.mod: the binary's name is unknown")
    if sub == "install":
        inst = a.first(lambda c: c is cmd)
        scope = a.ctx.model.scope_at(inst[0]) if inst else {}
        given = {x.name: x.value for x in cmd.assignments}
        for var in ("GOOS", "GOARCH"):
            if var in given or scope.get(var, "") != "":
                raise NoFix(f"`go install` with {var} set installs into a per-platform folder of GOPATH/bin")
        gobin = given.get("GOBIN", scope.get("GOBIN", ""))
        gopath = given.get("GOPATH", scope.get("GOPATH", ""))
        if gobin is None or gopath is None or (gobin and "$" in gobin) or (gopath and "$" in gopath):
            raise NoFix("`go install` with GOBIN or GOPATH from a variable: where the binary lands is unknown")
        if gobin:
            return [posixpath.join(posixpath.normpath(gobin), name)]
        if gopath:
            return [posixpath.join(posixpath.normpath(gopath.split(":")[0]), "bin", name)]
        if a.eco_base != "go":
            raise NoFix(f"`go install` on `{a.base}`: GOPATH is not the golang image's /go, so where the binary "
                        "lands is unknown")
        return [f"/go/bin/{name}"]
    return [_at(cwd, name, "`go build`")]


def _uses_cgo(a: Analysis) -> list[str]:
    why = []
    for inst in a.envs + a.args:
        if re.search(r"\bCGO_ENABLED=[\"']?1", inst.line):
            why.append(f"CGO_ENABLED=1 on line {inst.start_line}")
    for inst, _c, r, cmds in a.runs:
        if re.search(r"\bCGO_ENABLED=[\"']?1", inst.line):
            why.append(f"CGO_ENABLED=1 on line {inst.start_line}")
    for rel in a.context_files("*.go") + a.context_files("*/*.go") + a.context_files("*/*/*.go"):
        src = a.read_context(rel, 100_000) or ""
        if re.search(r'^\s*import\s+"C"|^\s*"C"\s*$', src, re.M):
            why.append(f"{rel} imports \"C\"")
            break
    return why


def _cgo_disabled(a: Analysis, inst: Instruction, cmd) -> bool:
    if any(x.name == "CGO_ENABLED" for x in cmd.assignments):
        return True
    scope = a.ctx.model.scope_at(inst)
    return scope.get("CGO_ENABLED") == "0"


def plan_go(a: Analysis, plan: Plan) -> None:
    shell_why = _native_shell_reasons(a, plan)
    outs = _native_outputs(a, eco.is_go_build, _go_outputs)
    cgo = _uses_cgo(a)
    if cgo:
        shell_why.append(f"the code uses cgo ({cgo[0]})")
    if shell_why:
        runtime = a.base_raw
        plan.notes.append(f"the runtime keeps the original base `{a.base}` because "
                          + "; ".join(shell_why) + " (a slim Debian of the same release would do too)")
        plan.ca_certificates = False
    else:
        runtime = "scratch" if a.ctx.setting("go-runtime") == "scratch" else GO_DISTROLESS
        plan.ca_certificates = runtime == "scratch"
        for inst, _c, c in a.commands():
            if eco.is_go_build(c) and not _cgo_disabled(a, inst, c):
                r = RunShell(a.doc, inst)
                at = r.doc_span(c.span)[0]
                plan.builder_inserts.setdefault(inst.start, []).append((at, "CGO_ENABLED=0 "))
        plan.notes.append("the binary is built with CGO_ENABLED=0 so it runs without libc"
                          + ("" if a.has_context else " (the Go sources are not visible: check for cgo)"))
    if plan.settings_base:
        runtime = plan.settings_base
        plan.ca_certificates = True
    _native_runtime(a, plan, outs, runtime)


def _rust_outputs(a: Analysis, cwd: str, cmd) -> list[str]:
    w = [x or "" for x in eco.words(cmd)]
    names: list[str] = []
    b = eco.option_value(cmd, "--bin")
    if b:
        names.append(b)
    if not names:
        toml = a.read_context("Cargo.toml") or ""
        names = re.findall(r'\[\[bin\]\][^\[]*?name\s*=\s*"([^"]+)"', toml, re.S)
        if not names:
            m = re.search(r'\[package\][^\[]*?name\s*=\s*"([^"]+)"', toml, re.S)
            if m:
                names = [m.group(1)]
    entry = [p for p in _entry_paths(a)]
    if not names:
        if entry:
            return entry
        raise NoFix("the Rust binary's name is unknown (no Cargo.toml in the visible build context)")
    if w[1] == "install":
        root = eco.option_value(cmd, "--root") or "/usr/local/cargo"
        return [posixpath.join(root, "bin", n) for n in names]
    triple = eco.option_value(cmd, "--target")
    tdir = eco.option_value(cmd, "--target-dir")
    if tdir is None:
        inst = a.first(lambda c: c is cmd)
        given = {x.name: x.value for x in cmd.assignments}
        scope = a.ctx.model.scope_at(inst[0]) if inst else {}
        tdir = given.get("CARGO_TARGET_DIR", scope.get("CARGO_TARGET_DIR", "")) or "target"
        if "CARGO_TARGET_DIR" in scope and scope["CARGO_TARGET_DIR"] is None:
            tdir = None
    if tdir is None or "$" in tdir or (triple and "$" in triple):
        raise NoFix("the cargo target directory uses a variable: where the binary lands is unknown")
    rel = posixpath.join(tdir, triple, "release") if triple else posixpath.join(tdir, "release")
    return [_at(cwd, posixpath.join(rel, n), "`cargo build`") for n in names]


def plan_rust(a: Analysis, plan: Plan) -> None:
    shell_why = _native_shell_reasons(a, plan)
    outs = _native_outputs(a, eco.is_rust_build, _rust_outputs)
    needs_libs = [p for p in plan.packages if p not in ("ca-certificates",)]
    if shell_why or (needs_libs and plan.manager != "apk"):
        runtime = f"debian:{eco.debian_codename(a.base)}-slim"
        if not shell_why:
            shell_why.append("runtime libraries must be installed")
        plan.notes.append(f"the runtime is `{runtime}` because " + "; ".join(shell_why))
    else:
        runtime = RUST_DISTROLESS
    plan.ca_certificates = runtime.startswith("debian:")
    if plan.settings_base:
        runtime = plan.settings_base
    _native_runtime(a, plan, outs, runtime)


# ---- Node (template node.j2)
def _node_outputs(a: Analysis, app: str, argv: list[str] | None) -> list[str]:
    outs = []
    for w in argv or []:
        if w.startswith("-") or "$" in w:
            continue
        p = posixpath.normpath(posixpath.join(app, w))
        if p.startswith(app + "/"):
            top = p[len(app) + 1:].split("/")[0]
            if top in ("dist", "build", "out", "lib", ".output"):
                outs.append(f"{app}/{top}")
    if not outs:
        ts = a.read_context("tsconfig.json") or ""
        m = re.search(r'"outDir"\s*:\s*"\.?/?([^"/]+)', ts)
        if m:
            outs.append(f"{app}/{m.group(1)}")
    return _dedupe(outs)


def plan_node(a: Analysis, plan: Plan) -> None:
    runtime = plan.settings_base or eco.slim_variant(a.base_raw) or a.base_raw
    if plan.cwd is None:
        raise NoFix("the build runs after a `cd` the analysis cannot follow, so the app's folder is unknown")
    app = plan.cwd
    lock = None
    for name in ("package-lock.json", "npm-shrinkwrap.json"):
        if a.read_context(name, 10) is not None:
            lock = name
    if a.first(lambda c: c.basename in ("yarn", "pnpm")) is not None:
        raise NoFix("yarn and pnpm projects are not split yet (only npm)")
    native = any(p and eco.is_build_package(p) for _i, _m, ps in a.package_installs() for p in ps)
    outs = _node_outputs(a, app, a.argv())
    plan.runtime_base = runtime
    plan.app_dir = app
    plan.lockfile = lock
    plan.lockfile_install = bool(lock and outs and not native)
    plan.outputs = outs
    if plan.lockfile_install:
        assets, notes = _assets(a, (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".vue", ".svelte"))
        plan.notes.extend(dict.fromkeys(notes))
        entry = _entry_paths(a)
        plan.copies = _dedupe([x for x in assets + entry if not _under(x, outs) and x != app])
        plan.artefacts = [f"{app}/package.json", f"{app}/{lock}"] + outs
        plan.notes.append("production dependencies are installed again with `npm ci --omit=dev`")
    else:
        plan.artefacts = [app]
        plan.notes.append(f"the whole {app} is copied and dev dependencies are removed with "
                          "`npm prune --omit=dev`" + (" (native modules were built with the toolchain)"
                                                      if native else
                                                      "" if lock else " (no package-lock.json is visible)"))
    plan.packages = [p for p in plan.packages if not eco.is_build_package(p)]
    if runtime != a.base_raw:
        plan.review.append(f"`{runtime}` has no compilers or extra OS packages: check native modules and tools "
                           "the app runs")


# ---- Python (templates builder_python.j2, python.j2)
def plan_python(a: Analysis, plan: Plan) -> None:
    from dockerfix.model.pkgmgr import parse_package_call

    repo = eco.repo_name(a.base).split("/")[-1]
    system = repo in SYSTEM_PYTHON_BASES
    if repo != "python" and not system:
        raise NoFix(f"the virtualenv rewrite needs a `python` image or Debian/Ubuntu with apt's python3, not "
                    f"`{a.base}`")
    if not system and (eco.split_image(a.base)[1] or "").startswith("2"):
        raise NoFix("Python 2 has no `venv` module")
    for _inst, _c, c in a.commands():
        call = parse_package_call(c)
        if call is None or call.manager != "pip" or not call.is_install:
            continue
        if call.has_option("--user", "--target", "-t", "--prefix", "--root"):
            raise NoFix("pip installs with --user/--target/--prefix: the packages would not be in the venv")
        first = call.invocation[0].value or ""
        if first.startswith("/"):
            raise NoFix(f"pip runs as `{first}`, which bypasses the virtualenv")
    if system:
        _plan_system_python(a, plan)
    else:
        plan.runtime_base = plan.settings_base or eco.slim_variant(a.base_raw) or a.base_raw
    if any(i.keyword == "ENV" and "VIRTUAL_ENV" in i.line for i in a.envs):
        raise NoFix("the stage already sets up a virtualenv")
    builder_template = "builder_python_system.j2" if system else "builder_python.j2"
    plan.before[plan.build.start] = _env().get_template(builder_template).render(venv=VENV)
    plan.artefacts = [VENV]
    plan.copies = _dedupe([d for d in a.copy_dests + [plan.cwd, a.cwd]
                           if d is not None and d != "/" and not _under(d, [VENV])])
    if plan.dropped:
        plan.notes.append(f"The build packages ({', '.join(plan.dropped)}) stay in `{plan.builder}`"
                          + (f"; the runtime installs {', '.join(p for p in plan.packages)}" if plan.packages
                             else ""))
    plan.notes.append(f"packages are installed into a virtualenv {VENV} in `{plan.builder}` and copied")


SYSTEM_PYTHON_BASES = frozenset({"debian", "ubuntu"})
"""Bases whose Python is apt's ``python3``: the builder makes the virtualenv with ``python3 -m venv``
(``builder_python_system.j2``), the runtime is the same base with ``python3`` and the runtime libraries."""
PYTHON_BUILD_ONLY = frozenset({"python3-pip", "python3-venv", "python3-setuptools", "python3-wheel",
                               "python3-distutils", "python3-virtualenv", "virtualenv", "python-pip",
                               "python-is-python3"})
"""apt packages a virtualenv's runtime does not need (pip and the venv module live in the builder)."""


def _plan_system_python(a: Analysis, plan: Plan) -> None:
    """Python from apt on Debian/Ubuntu (``FROM debian:12`` + ``apt-get install python3 python3-pip
    build-essential``): the runtime is the same base with ``python3`` and the runtime libraries only; the builder
    gets ``python3-venv`` when its install lacks it."""
    from dockerfix.model.pkgmgr import parse_package_call

    if plan.manager != "apt-get":
        raise NoFix("Python from the system packages is split only where apt installs it")
    installed = [p for _i, _m, ps in a.package_installs() for p in ps if p]
    bases = {eco.package_base(p) for p in installed}
    if not any(b == "python3" or re.fullmatch(r"python3(\.\d+)?(-pip|-venv|-dev)?", b) for b in bases):
        raise NoFix(f"the stage does not install python3 with apt on `{a.base}`")
    system_libs = sorted(b for b in bases if re.match(r"python3-", b) and b not in PYTHON_BUILD_ONLY
                         and not eco.is_build_package(b) and not re.fullmatch(r"python3\.\d+(-venv|-dev)?", b))
    if system_libs:
        raise NoFix(f"Python libraries from apt ({', '.join(system_libs)}) are not visible in the virtualenv")
    plan.runtime_base = plan.settings_base or a.base_raw
    keep = [p for p in plan.packages if eco.package_base(p) not in PYTHON_BUILD_ONLY]
    if not any(eco.package_base(p) == "python3" for p in keep):
        keep.insert(0, "python3")
    plan.packages = keep
    if not any(re.fullmatch(r"python3(\.\d+)?-venv", b) for b in bases):
        for inst, _cwd, c in a.commands():
            call = parse_package_call(c)
            if call is None or call.manager not in ("apt-get", "apt") or not call.is_install:
                continue
            word = next((w for w in call.packages if w.value and eco.package_base(w.value) in
                         ("python3", "python3-pip")), None)
            if word is not None:
                at = RunShell(a.doc, inst).doc_span(word.span)[1]
                plan.builder_inserts.setdefault(inst.start, []).append((at, " python3-venv"))
                plan.notes.append(f"`python3-venv` is added to the install on line {inst.start_line} (the "
                                  "builder's `python3 -m venv` needs it)")
                break
        else:
            raise NoFix("no apt install of python3 to add `python3-venv` to (the builder's `python3 -m venv` "
                        "needs it)")
    if eco.repo_name(a.base).split("/")[-1] == "ubuntu" and plan.packages != ["python3"]:
        plan.review.append(f"the runtime library names are Debian's: check them on `{a.base}`")


# ---- Java (template java.j2)
def plan_java(a: Analysis, plan: Plan) -> None:
    ver = eco.java_version(a.base)
    if ver is None and not plan.settings_base:
        raise NoFix(f"the Java version of `{a.base}` is unknown")
    plan.runtime_base = plan.settings_base or f"eclipse-temurin:{ver}-jre"
    jars = set()
    for _inst, c_cwd, c in a.commands():
        if not eco.is_java_build(c):
            continue
        w = [x or "" for x in eco.words(c)]
        if c_cwd is None:
            raise NoFix("the Java build runs after a `cd` the analysis cannot follow, so where it writes is unknown")
        if c.basename in ("mvn", "mvnw"):
            jars.add(Jar(f"{c_cwd}/target/*.jar", f"{c_cwd}/target/"))
        elif "installDist" in w:
            jars.add(Jar(f"{c_cwd}/build/install", f"{c_cwd}/build/install"))
        else:
            jars.add(Jar(f"{c_cwd}/build/libs/*.jar", f"{c_cwd}/build/libs/"))
    plan.jars = sorted(jars, key=lambda j: j.src)
    jar_dirs = [j.dest.rstrip("/") for j in plan.jars]
    assets, notes = _assets(a, (".java", ".kt", ".gradle", ".kts", ".xml"))
    plan.notes.extend(dict.fromkeys(notes))
    plan.copies = _dedupe([x for x in _follow_moves(a, []) + _entry_paths(a) + assets if not _under(x, jar_dirs)])
    plan.artefacts = [j.src for j in plan.jars]


# ---- .NET (template dotnet.j2)
def plan_dotnet(a: Analysis, plan: Plan) -> None:
    outs = []
    for _inst, c_cwd, c in a.commands():
        if eco.is_dotnet_publish(c):
            o = eco.option_value(c, "-o", "--output")
            if not o or "$" in o:
                raise NoFix("`dotnet publish` without a static `-o`: the publish folder is unknown")
            outs.append(_at(c_cwd, o, "`dotnet publish`"))
    ver = eco.dotnet_version(a.base)
    if ver is None and not plan.settings_base:
        raise NoFix(f"the .NET version of `{a.base}` is unknown")
    plan.runtime_base = plan.settings_base or f"mcr.microsoft.com/dotnet/aspnet:{ver}"
    plan.outputs = plan.artefacts = _dedupe(outs)
    assets, notes = _assets(a, (".cs", ".csproj", ".sln", ".fs", ".fsproj", ".props", ".targets"))
    plan.notes.extend(dict.fromkeys(notes))
    plan.copies = _dedupe([x for x in _entry_paths(a) + assets if not _under(x, outs)])
    plan.review.append("`aspnet` includes ASP.NET Core; a console app can use `mcr.microsoft.com/dotnet/runtime`")


PLANNERS: dict[str, Planner] = {
    "go": Planner(plan_go, "go", "a Go binary", repeats_setup=False, compiled=True),
    "rust": Planner(plan_rust, "rust", "a Rust binary", repeats_setup=False, compiled=True),
    "node": Planner(plan_node, "node", "a Node bundle", repeats_setup=True, same_base_note=True),
    "python": Planner(plan_python, "python", "native Python packages", repeats_setup=True, same_base_note=True,
                      review="check that the runtime libraries cover every compiled extension (`ldd` on the .so "
                             "files)"),
    "java": Planner(plan_java, "java", "a Java archive", repeats_setup=True, compiled=True),
    "dotnet": Planner(plan_dotnet, "dotnet", "a .NET app", repeats_setup=True, compiled=True),
}
"""The planner of each ecosystem :func:`detect` names."""


def _runtime_config(a: Analysis, plan: Plan) -> None:
    """ENV/ARG/WORKDIR/USER for the runtime stage, and the instructions that move there (with comments)."""
    doc = a.doc
    last_run = max((i.start for i, _c, _r, _x in a.runs), default=-1)
    last_fs = max([last_run] + [i.start for i in a.stage.instructions if i.keyword in ("COPY", "ADD")])
    moved: list[Instruction] = []
    for inst in a.stage.instructions[1:]:
        if inst.keyword in MOVED or (inst.keyword in MOVED_IF_LAST and inst.start > last_fs):
            moved.append(inst)
    plan.moved = moved
    blocks = []
    for inst in moved:
        comments = "".join(t.source for t in doc.comments_above(inst) if t.kind == "comment")
        blocks.append(_norm(comments + inst.source))
    plan.moved_blocks = blocks
    if plan.user is None and a.users and a.users[-1] not in moved:
        plan.user = " ".join(a.users[-1].args)
    plan.envs = [_norm(i.source) for i in a.envs]
    plan.workdir = a.cwd if a.workdirs else None
    text = "\n".join(plan.envs + blocks + plan.pre_run + plan.post_run + plan.copies
                     + [str(plan.workdir or ""), str(plan.user or "")])
    refs = _arg_refs(text)
    plan.args = [_norm(i.source) for i in a.args if any(n.split("=")[0] in refs for n in i.args)]
    kept = [i.keyword for i in moved]
    plan.notes.append("moved to the runtime stage: " + (", ".join(dict.fromkeys(kept)) or "nothing")
                      + (f"; repeated there: {', '.join(x for x, y in (('ENV', a.envs), ('WORKDIR', a.workdirs), ('USER', a.users and plan.user)) if y)}"
                         if (a.envs or a.workdirs or (a.users and plan.user)) else ""))


_ENV = None


def _env():
    global _ENV
    if _ENV is None:
        import os

        import jinja2

        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")),
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
            autoescape=False,
        )
    return _ENV


def _render(a: Analysis, plan: Plan) -> tuple[Edit, str]:
    from dockerfix.syntax import DockerfileSyntaxError, parse

    doc = a.doc
    nl = doc.newline
    stage = a.stage
    runtime = _env().get_template(f"{plan.template}.j2").render(**plan.template_values())
    runtime = re.sub(r"\n{3,}", "\n\n", runtime).strip("\n") + "\n"
    try:
        if parse(runtime).to_text() != runtime:
            raise NoFix("the rendered runtime stage does not round-trip")
    except DockerfileSyntaxError as exc:
        raise NoFix(f"the rendered runtime stage does not parse ({exc})") from None

    # builder: the stage's own nodes, minus the moved instructions and their comments
    drop: set[int] = set()
    for inst in plan.moved:
        drop.add(id(inst))
        for t in doc.comments_above(inst):
            if t.kind == "comment":
                drop.add(id(t))
    nodes = [n for n in doc.nodes if stage.start <= n.start < stage.end]
    out: list[str] = []
    prev_blank = False
    removed_since = False
    for n in nodes:
        if id(n) in drop:
            removed_since = True
            continue
        if isinstance(n, Trivia) and n.kind == "blank":
            if prev_blank and removed_since:
                continue
            prev_blank = True
            out.append(n.source)
            continue
        prev_blank = False
        removed_since = False
        src = n.source
        if isinstance(n, Instruction):
            if n.start in plan.before:
                before = plan.before[n.start]
                # put the new lines above the comments that belong to this instruction
                k = len(out)
                for t in reversed(doc.comments_above(n)):
                    if k and out[k - 1] == t.source:
                        k -= 1
                out.insert(k, before.replace("\n", nl))
            if n is stage.from_inst:
                src = _rename_from(n, plan.builder, stage.name)
            for at, text in sorted(plan.builder_inserts.get(n.start, []), reverse=True):
                off = at - n.start
                src = src[:off] + text + src[off:]
        out.append(src)
    builder = "".join(out)
    if not builder.endswith(("\n", "\r\n")):
        builder += nl
    while builder.endswith(nl + nl):
        builder = builder[: -len(nl)]
    new = builder + nl + runtime.replace("\n", nl)
    if not doc.text[stage.end:].strip() and not doc.text.endswith(("\n", "\r\n")):
        new = new[: -len(nl)]
    # the last instruction's own line break is part of the span; keep what follows byte for byte
    end = stage.end
    full = doc.text[: stage.start] + new + doc.text[end:]
    try:
        if parse(full).to_text() != full:
            raise NoFix("the rewritten file does not round-trip")
    except DockerfileSyntaxError as exc:
        raise NoFix(f"the rewritten file does not parse ({exc})") from None
    return Edit(stage.start, end, new), full


def _rename_from(inst: Instruction, builder: str, old_name: str | None) -> str:
    src = inst.source
    body = src.rstrip("\r\n")
    brk = src[len(body):]
    if old_name is None:
        return body + f" {'AS' if inst.raw_keyword.isupper() or not inst.raw_keyword.islower() else 'as'} " \
               f"{builder}" + brk
    m = re.search(r"(\s)(\S+)(\s*)$", body)
    if not m or m.group(2).lower() != old_name:
        raise NoFix("the FROM line's stage name could not be rewritten")
    return body[: m.start(2)] + builder + body[m.end(2):] + brk


TRANSFORMS = (MultiStage,)
