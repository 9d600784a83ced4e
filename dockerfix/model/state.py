"""The build's state at each instruction: platform and shell, WORKDIR, USER, HOME, environment, and what may already
be in a path. One owner for each of these facts: transforms ask here and never derive them themselves.

Every answer can be *unknown*, and says why: ``None`` for a value, ``Contents.unknown`` (a reason) for a path. A
transform treats unknown as unsafe or finding-only.

Where the answers come from:

- **OS and shell** (:meth:`BuildState.shell_at`): the stage chain's latest ``SHELL`` before the instruction; else a
  ``# hadolint shell=...`` pragma above it (hadolint's way of naming the shell); else the root base's platform:
  ``FROM --platform=windows/...``, Windows base names (``nanoserver``, ``servercore``, ``windows``, ``microsoft/iis``,
  ``dotnet/framework``, ``-ltsc20xx`` tags...) say Windows; so does the backtick ``# escape=`` directive (the Windows
  convention) unless the base is a known Linux image, where RUN's shell form runs ``cmd /S /C``; everything else runs ``/bin/sh -c``.
- **WORKDIR, USER, HOME**: the stage chain's WORKDIR/USER/ENV instructions, expanded with BuildKit's rules; when the
  file never sets them, the base image's values, known only for the bases in :data:`KNOWN_BASES` (official library
  images and a few vendors' images that keep Docker's defaults: root, ``/``).
- **Contents of a path** (:meth:`BuildState.contents`): the base image (nothing for ``scratch``; for a known base, the
  system directories of :data:`SYSTEM_DIRS` may hold files and everything else is absent; for any other base,
  unknown), parent stages (``FROM stage`` continues the parent's state), package installs (they fill the system
  directories), tool calls that fill their caches (``cargo fetch``, ``npm ci``...; the tool table
  ``dockerfix.model.tools`` says which), COPY/ADD destinations, and RUNs that name the path or run in it.
"""

from __future__ import annotations

import posixpath
import weakref
from bisect import bisect_left, bisect_right
from functools import lru_cache

from dockerfix._record import dataclass
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, Sequence

    from dockerfix.model.paths import PathIndex
    from dockerfix.model.shell import Script
    from dockerfix.model.stages import Model, Stage
    from dockerfix.syntax.nodes import Instruction

# ------------------------------------------------------------------ images

WINDOWS_NAME_HINTS = ("windows", "nanoserver", "servercore", "microsoft/iis", "dotnet/framework",
                      "dotnet-framework", "microsoft/aspnet", "mssql-server-windows", "powershell:windowsserver")
"""Parts of a base reference (name or tag) that mean a Windows image."""
_WINDOWS_TAG_HINTS = ("ltsc20", "-1809", "-20h2", "-1903", "-1909", "-2004", "-2022", "-2019", "-2016")

KNOWN_BASES = frozenset({
    # Docker Official Images (docker.io/library/*) that run as root in / unless noted in KNOWN_USERS
    "alpine", "debian", "ubuntu", "busybox", "centos", "fedora", "rockylinux", "almalinux", "amazonlinux",
    "oraclelinux", "archlinux", "opensuse/leap", "opensuse/tumbleweed", "photon", "clearlinux", "mageia",
    "python", "pypy", "node", "golang", "rust", "ruby", "php", "perl", "openjdk", "eclipse-temurin",
    "amazoncorretto", "ibm-semeru-runtimes", "sapmachine", "maven", "gradle", "groovy", "clojure", "erlang",
    "elixir", "haskell", "julia", "r-base", "swift", "dart", "gcc", "buildpack-deps", "nginx", "httpd", "haproxy",
    "tomcat", "jetty", "redis", "postgres", "mysql", "mariadb", "mongo", "memcached", "rabbitmq", "traefik",
    "caddy", "composer", "bash", "docker", "nats", "influxdb", "telegraf", "vault", "consul",
    # vendors' base images with Docker's defaults
    "mcr.microsoft.com/dotnet/sdk", "mcr.microsoft.com/dotnet/aspnet", "mcr.microsoft.com/dotnet/runtime",
    "mcr.microsoft.com/dotnet/runtime-deps", "registry.access.redhat.com/ubi8", "registry.access.redhat.com/ubi9",
    "registry.access.redhat.com/ubi8/ubi", "registry.access.redhat.com/ubi9/ubi",
    "registry.access.redhat.com/ubi8/ubi-minimal", "registry.access.redhat.com/ubi9/ubi-minimal",
    "registry.access.redhat.com/ubi8/ubi-micro", "registry.access.redhat.com/ubi9/ubi-micro",
    "quay.io/centos/centos", "public.ecr.aws/amazonlinux/amazonlinux",
})
"""Bases whose user, working directory and layout are known (Docker's defaults: ``root``, ``/``)."""

KNOWN_USERS = {"node": {"node": ("1000", "1000", "/home/node")}}
"""Users a known base image creates: base -> user -> (uid, gid, home)."""

KNOWN_BASE_DIRS = {"golang": ("/go",), "node": ("/opt/yarn-v",), "gradle": ("/home/gradle",)}
"""Directories outside :data:`SYSTEM_DIRS` that a known base ships content in (path prefixes: ``/opt/yarn-v`` is the
node image's ``/opt/yarn-v1.22.19``)."""

SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
               "/sbin", "/sys", "/tmp", "/usr", "/var")
"""Where a base image and package installs keep their files. ``/usr/src``, ``/usr/local/src``, ``/opt/*``,
``/srv/*`` and ``/home/*`` are application space (empty in known bases) unless :data:`KNOWN_BASE_DIRS` says
otherwise; package installs may still fill ``/opt``."""
_APP_SPACE = ("/usr/src", "/usr/local/src", "/srv", "/home", "/opt", "/app", "/code", "/workspace", "/src")

PACKAGE_MANAGERS = frozenset({"apt-get", "apt", "aptitude", "dpkg", "apk", "dnf", "yum", "microdnf", "zypper", "rpm",
                              "pacman", "tdnf", "emerge", "xbps-install"})


@lru_cache(maxsize=1024)
def _repo(ref: str) -> str:
    """``ecosystems.repo_name``, once per reference: asked for the base of every stage whenever the OS or a user is
    looked up (an import statement and a split of the reference each time)."""
    from dockerfix.model.ecosystems import repo_name

    return repo_name(ref)


def is_known_base(ref: str) -> bool:
    r = _repo(ref)
    return r in KNOWN_BASES or r.startswith("docker.io/library/")


@lru_cache(maxsize=1024)
def windows_hint(ref: str, platform: str | None) -> str | None:
    """Why the base ``ref`` (with the FROM's ``--platform`` value) is a Windows image, or None; once per pair (asked
    for every root stage in every pass: a lower-cased copy and a dozen searches each time)."""
    if platform and platform.lower().startswith("windows"):
        return f"FROM --platform={platform}"
    r = ref.lower()
    for h in WINDOWS_NAME_HINTS:
        if h in r:
            return f"the base image {ref} is a Windows image"
    tag = r.rsplit(":", 1)[-1] if ":" in r.rsplit("/", 1)[-1] else ""
    if tag and any(h in tag for h in _WINDOWS_TAG_HINTS):
        return f"the base image {ref} has a Windows tag"
    return None


def _under(path: str, root: str) -> bool:
    return path == root or root == "/" or path.startswith(root.rstrip("/") + "/")


def norm(path: str, cwd: str | None = "/") -> str | None:
    """An absolute, normalized path (``cwd`` for relative ones; None when it is not known)."""
    if not path.startswith("/"):
        if cwd is None:
            return None
        path = posixpath.join(cwd, path)
    p = posixpath.normpath(path)
    return "/" + p.lstrip("/") if p.startswith("//") else p


# ------------------------------------------------------------------ answers

@dataclass(frozen=True)
class Shell:
    """How RUN's shell form runs at an instruction."""

    dialect: str
    """``posix``, ``powershell``, ``cmd`` or ``unknown``."""
    argv: tuple[str, ...]
    os: str | None
    """``linux``, ``windows`` or None (unknown)."""
    source: str
    """Where the answer comes from (``SHELL on line 3``, ``# hadolint shell=powershell``, ``the base image``...)."""

    @property
    def is_posix(self) -> bool:
        return self.dialect == "posix"

    @property
    def reason(self) -> str | None:
        """Why RUN's shell form is not read as a POSIX shell here (None when it is)."""
        if self.is_posix:
            return None
        if self.source.startswith("SHELL"):
            return f"{self.source} ({list(self.argv)!r}) is not a POSIX shell"
        return f"RUN runs under {self.dialect if self.dialect != 'unknown' else 'a non-POSIX shell'} " \
               f"({self.source})"


@dataclass(frozen=True)
class Filler:
    """Something that may have put files in a path before an instruction."""

    line: int
    """Line of the instruction (0: the base image)."""
    what: str


@dataclass(frozen=True)
class Contents:
    """What may be in a path before an instruction: the steps that may have filled it, or why that is unknown."""

    fillers: tuple[Filler, ...] = ()
    unknown: str | None = None

    @property
    def is_empty(self) -> bool:
        """Known to hold nothing (absent, or only made by WORKDIR/mkdir)."""
        return not self.fillers and self.unknown is None

    @property
    def reason(self) -> str | None:
        if self.unknown is not None:
            return self.unknown
        if self.fillers:
            return self.fillers[0].what
        return None


def _start(inst: "Instruction") -> int:
    return inst.start


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


class BuildState:
    """Per-instruction facts of one document (``Model.state``); computed lazily, memoised per stage."""

    def __init__(self, model: "Model") -> None:
        # the model owns this object (``Model.state``): a weak reference back keeps the pair out of the cyclic
        # collector, so each file's trees are freed by reference counting (tests/test_gc.py)
        self.model: Model = weakref.proxy(model)
        self._os: dict[int, tuple[str | None, str]] = {}
        self._pragmas: list[tuple[int, str]] | None = None
        self._shells: dict[int, Shell] = {}
        self._shells_of: dict[int, list[Instruction]] = {}
        self._default_shells: dict[tuple[str | None, str], Shell] = {}
        self._stage_default: dict[int, Shell] = {}  # stage -> its shell, for stages where no SHELL or pragma sets one
        self._any_shell: bool | None = None  # whether the file has a SHELL instruction (found at the first question)
        self._ships: tuple[dict[int, int], list[int], dict[str, int], dict[str, int]] | None = None
        self._by_keyword: dict[tuple[int, str], tuple[list[int], list[Instruction]]] = {}
        self._wd: dict[tuple[int, bool], tuple[list[int], list[str | None], str | None]] = {}
        self._writers_of: dict[int, tuple[_Writers, int, int]] = {}
        self._inherits: dict[tuple[int, str], Instruction | None] = {}
        self._fills_of: dict[tuple[int, object], tuple[_Writers, PathIndex, list[int]]] = {}
        self._footprints: dict[int, _Footprint] = {}
        self._copied: dict[int, list[tuple[Instruction, str | None, bool]]] | None = None
        self._refs: list[tuple[int, Instruction, str | None, Sequence[str]]] | None = None

    # ---------------------------------------------------------------- OS and shell
    def root_base(self, stage: "Stage") -> str:
        m = self.model
        root = m.stage_chain(stage)[-1]
        return m.expand(root.base, m.meta_values) or root.base

    def stage_os(self, stage: "Stage") -> tuple[str | None, str]:
        """(``linux``/``windows``/None, why) for the stage's root base."""
        root = self.model.stage_chain(stage)[-1]
        got = self._os.get(root.index)
        if got is None:
            got = self._os[root.index] = self._root_os(root)
        return got

    def _root_os(self, root: "Stage") -> tuple[str | None, str]:
        m = self.model
        plat = root.platform
        plat_v = m.expand(plat, m.meta_values) if plat else None
        base = m.expand(root.base, m.meta_values)
        hint = windows_hint(base or root.base, plat_v)
        if hint:
            return "windows", hint
        if base is not None and (base.lower() == "scratch" or is_known_base(base)):
            return "linux", "the base image"
        if m.document.escape == "`":
            return "windows", "the file's escape directive is the backtick, the Windows convention"
        if base is None:
            return "linux", "the base image comes from a variable without a static value (assumed Linux)"
        return "linux", "the base image"

    def _hadolint_shells(self) -> list[tuple[int, str]]:
        """(offset, shell) of ``# hadolint shell=...`` comments, in order."""
        if self._pragmas is None:
            out = []
            doc = self.model.document
            if "hadolint" in doc.text:
                from dockerfix.syntax.nodes import Trivia

                for n in doc.nodes:
                    if isinstance(n, Trivia) and n.kind == "comment" and "shell" in n.text:
                        t = n.text.strip().lstrip("#").strip()
                        if t.startswith("hadolint") and "shell=" in t:
                            out.append((n.start, t.split("shell=", 1)[1].split()[0].strip().lower()))
            self._pragmas = out
        return self._pragmas

    def shell_at(self, inst: "Instruction") -> Shell:
        """How a shell-form RUN at ``inst`` runs (for ONBUILD, the stage that declares it)."""
        got = self._shells.get(inst.start)
        if got is None:
            got = self._shells[inst.start] = self._shell_at(inst)
        return got

    def _stage_shells(self, stage: "Stage") -> list["Instruction"]:
        """The stage's SHELL instructions in order; once per stage, not per RUN (a list built per RUN was quadratic
        in long stages)."""
        got = self._shells_of.get(stage.index)
        if got is None:
            got = self._shells_of[stage.index] = [i for i in stage.instructions if i.keyword == "SHELL"]
        return got

    def _shell_at(self, inst: "Instruction") -> Shell:
        m = self.model
        stage = m.stage_of(inst)
        if stage is None:
            return Shell("unknown", (), None, "no stage")
        got = self._stage_default.get(stage.index)
        if got is not None:
            return got  # every instruction of the stage runs the default shell (found at its first question)
        os_, why = self.stage_os(stage)
        if self._any_shell is None:
            self._any_shell = any(i.keyword == "SHELL" for i in m.document.instructions)
        if self._any_shell:
            shells = self._stage_shells(stage)
            k = bisect_left(shells, inst.start, key=_start) if shells else 0
            sh = shells[k - 1] if k else self._inherited(stage, "SHELL")  # the stage's own before inst, else the chain's
        else:
            shells, sh = [], None  # no SHELL in the file (most files): neither the stage's own nor an inherited one
        if sh is not None:
            argv = tuple(sh.args) if sh.json else ()
            src = f"SHELL on line {sh.start_line}"
            if not sh.json:
                return Shell("unknown", argv, os_, src)
            from dockerfix.model.shell import is_posix_shell  # (a SHELL instruction: rare, so imported here)

            if is_posix_shell(list(argv)):
                return Shell("posix", argv, os_, src)
            return Shell(_dialect(argv), argv, os_, src)
        pragmas = self._hadolint_shells()
        prag = [s for at, s in pragmas[:bisect_left(pragmas, inst.start, key=_first)]] if pragmas else ()
        if prag:
            name = prag[-1]
            argv = (name,)
            from dockerfix.model.shell import is_posix_shell

            if is_posix_shell([name]):
                return Shell("posix", argv, os_, f"# hadolint shell={name}")
            return Shell(_dialect(argv), argv, os_, f"# hadolint shell={name}")
        # the stage's default shell: one per (OS, why), shared by its RUNs (records are values)
        got = self._default_shells.get((os_, why))
        if got is None:
            got = self._default_shells[(os_, why)] = (
                Shell("cmd", ("cmd", "/S", "/C"), os_, why) if os_ == "windows"
                else Shell("posix", ("/bin/sh", "-c"), os_, why))
        if not shells and not pragmas:
            self._stage_default[stage.index] = got  # no SHELL in the stage or its chain, no pragma in the file
        return got

    # ---------------------------------------------------------------- which stages ship
    def ships(self, stage: "Stage") -> tuple[bool, str]:
        """(may the stage's filesystem and settings end up in an image someone runs, why).

        The final stage ships; so does a stage other stages are built FROM (its state is theirs) and a stage nothing
        refers to (built only with ``--target``, e.g. ``dev`` or ``test`` stages). A stage that other stages only
        copy from (``COPY --from``, ``RUN --mount=from=``) is a build stage: only what is copied out of it ships."""
        m = self.model
        if stage is m.final_stage():
            return True, "the final stage"
        # The first later stage that decides (built FROM it, or names a stage through a variable), else whether any
        # later stage copies from it; the facts of every stage are gathered once (a scan of every later stage for
        # each stage was quadratic in files with hundreds of stages).
        first_child, unknown_at, last_ref, last_ref_lower = self._ship_facts()
        child = first_child.get(stage.index)
        k = bisect_right(unknown_at, stage.index)
        unknown = unknown_at[k] if k < len(unknown_at) else None
        if child is not None and (unknown is None or child <= unknown):
            other = m.stages[child]
            return True, f"stage {other.name or other.index} is built FROM it"
        if unknown is not None:
            return True, "a COPY --from names a stage through a variable"
        if (stage.name and last_ref_lower.get(stage.name, -1) > stage.index) or \
                last_ref.get(str(stage.index), -1) > stage.index:
            return False, "a build stage other stages copy from"
        return True, "a stage nothing else uses (built with --target)"

    def _ship_facts(self) -> tuple[dict[int, int], list[int], dict[str, int], dict[str, int]]:
        """(stage index -> the first later stage built FROM it, the stages with a ``--from`` whose value is unknown,
        ``--from`` value -> the last stage that names it, the same by the value in lower case); once per document."""
        got = self._ships
        if got is None:
            m = self.model
            first_child: dict[int, int] = {}
            unknown_at: list[int] = []
            last_ref: dict[str, int] = {}
            last_ref_lower: dict[str, int] = {}
            for other in m.stages:
                # the first later stage built FROM a stage, directly or not, is its first child (a descendant's
                # chain goes through a child, which comes before it): no walk of every stage's chain (quadratic)
                parent = m.parent_stage(other)
                if parent is not None and parent.index < other.index and parent.index not in first_child:
                    first_child[parent.index] = other.index
            for at, _, v, _ in self._from_refs():
                if v is None:
                    if not unknown_at or unknown_at[-1] != at:
                        unknown_at.append(at)
                    continue
                last_ref[v] = at
                last_ref_lower[v.lower()] = at
            got = self._ships = (first_child, unknown_at, last_ref, last_ref_lower)
        return got

    def _from_refs(self) -> list[tuple[int, "Instruction", str | None, "Sequence[str]"]]:
        """(stage index, instruction, the ``--from`` value expanded or None, the paths it reads there as written) of
        every reference to another stage or image: ``COPY``/``ADD --from`` (its sources) and ``RUN --mount=from=``
        (its ``source=``, ``/`` when not given), ONBUILD ones included; in document order, once per document (what
        :meth:`ships` and :meth:`copied_out` read)."""
        got = self._refs
        if got is None:
            got = self._refs = []
            m = self.model
            for other in m.stages:
                for i in other.instructions:
                    i = i.effective if i.keyword == "ONBUILD" else i
                    if not i.flags:
                        continue  # (most instructions: no --from, no --mount)
                    reads: list[tuple[str, "Sequence[str]"]] = []
                    if i.keyword in ("COPY", "ADD"):
                        reads = [(f.value, i.args[:-1]) for f in i.flags_named("from") if f.value is not None]
                    elif i.keyword == "RUN":
                        for f in i.flags_named("mount"):
                            refs: list[str] = []
                            source = "/"
                            for part in (f.value or "").split(","):
                                k, _, val = part.partition("=")
                                k = k.strip().lower()  # (BuildKit reads the keys in any case)
                                if k == "from":
                                    refs.append(val.strip())
                                elif k in ("source", "src") and val.strip():
                                    source = val.strip()
                            reads.extend((r, [source]) for r in refs)
                    for r, sources in reads:
                        got.append((other.index, i, m.expand_at(r, i), sources))
        return got

    def copied_out(self, stage: "Stage") -> list[tuple["Instruction", str | None, bool]]:
        """(instruction, source path, named?) for each path a later stage reads out of ``stage``: the sources of a
        ``COPY`` or ``ADD --from`` naming it (relative to the stage's root, as BuildKit reads them) and the ``source=`` of a
        ``RUN --mount=from=`` naming it (``/`` when not given), normalised; None for a source a variable hides. A
        ``--from`` whose value a variable hides may name any earlier stage: its sources count for every stage before
        the one it is in, with ``named`` False (unknown is not "none"). Once per document."""
        got = self._copied
        if got is None:
            got = self._copied = {}
            m = self.model
            hidden: dict[int, list[tuple[Instruction, str | None, bool]]] = {}  # stage -> its copies through a
            # --from a variable hides
            names = {st.name.lower(): st.index for st in m.stages if st.name}
            for at, i, ref, sources in self._from_refs():
                paths = []
                for raw in sources:
                    src = m.expand_at(raw, i)
                    paths.append((i, None if src is None else norm(src.split("*", 1)[0].rstrip("/") or "/", "/"),
                                  ref is not None))
                if ref is None:
                    hidden.setdefault(at, []).extend(paths)
                    continue
                k = names.get(ref.lower())
                if k is None or k >= at:  # a stage is named only after it
                    k = int(ref) if ref.isdigit() and int(ref) < at else None
                if k is None:
                    continue  # an image, not a stage
                got.setdefault(k, []).extend(paths)
            # for each stage, the copies through a hidden --from in the stages after it, one per source: built from
            # the last stage back, each from the next one's (a list per stage scanned for every question was
            # quadratic in a file of such copies)
            suffix: dict[str | None, tuple[Instruction, str | None, bool]] = {}
            for st in reversed(m.stages):
                if suffix:
                    got[st.index] = got.get(st.index, []) + list(suffix.values())
                for p in reversed(hidden.get(st.index, ())):
                    suffix[p[1]] = p  # (read backwards: the first copy of a source in the file wins)
        return got.get(stage.index, [])

    # ---------------------------------------------------------------- WORKDIR, USER, HOME, env
    def env_at(self, inst: "Instruction") -> dict[str, str | None]:
        return self.model.scope_at(inst)

    def _last(self, inst: "Instruction", keyword: str) -> "Instruction | None | bool":
        """The latest ``keyword`` instruction before ``inst`` in its stage chain; False when the file has none."""
        m = self.model
        stage = m.stage_of(inst)
        if stage is None:
            return None
        starts, insts = self._keyword_index(stage, keyword)
        k = bisect_left(starts, inst.start)
        if k:
            return insts[k - 1]
        got = self._inherited(stage, keyword)
        return False if got is None else got

    def _inherited(self, stage: "Stage", keyword: str) -> "Instruction | None":
        """The last ``keyword`` instruction of the stages ``stage`` is built FROM (the nearest that has one), or
        None; once per stage and keyword, each stage from its parent's answer (a walk of the chain for every
        question was quadratic in files whose stages each build FROM the one before)."""
        memo = self._inherits
        key = (stage.index, keyword)
        if key in memo:
            return memo[key]
        if self.model.parent_stage(stage) is None:
            memo[key] = None  # a stage built FROM an image inherits no instruction (most stages)
            return None
        parent, todo = self.model.unanswered(stage, lambda s: (s.index, keyword) in memo)
        got: Instruction | None = memo[(parent.index, keyword)] if parent is not None else None  # the root: None
        for st in todo:  # down the chain, each stage from its parent's own and inherited
            if parent is not None:
                own = self._keyword_index(parent, keyword)[1]
                got = own[-1] if own else got
            memo[(st.index, keyword)] = got
            parent = st
        return got

    def _keyword_index(self, stage: "Stage", keyword: str) -> tuple[list[int], list["Instruction"]]:
        """The stage's ``keyword`` instructions and their starts, once per stage and keyword: ``_last`` bisects
        (scanning the stage for every RUN was quadratic in long stages: 2.3 s of 6.9 s on 6,400 lines of installs)."""
        key = (stage.index, keyword)
        got = self._by_keyword.get(key)
        if got is None:
            insts = [i for i in stage.instructions if i.keyword == keyword]
            got = self._by_keyword[key] = ([i.start for i in insts], insts)
        return got

    def same_user(self, a: "Instruction", b: "Instruction") -> bool:
        """Do ``a`` and ``b`` (``a`` first) run as the same user? True when both are known and equal, or when they are
        in one stage with no USER instruction between them (whatever that user is)."""
        ua, ub = self.user_at(a), self.user_at(b)
        if ua is not None and ua == ub:
            return True
        stage = self.model.stage_of(a)
        if stage is None or self.model.stage_of(b) is not stage:
            return False
        starts = self._keyword_index(stage, "USER")[0]
        return bisect_left(starts, a.start) == bisect_left(starts, b.start)

    def user_at(self, inst: "Instruction") -> str | None:
        """The USER a RUN at ``inst`` runs as (``root`` by default on a known base); None when unknown."""
        m = self.model
        last = self._last(inst, "USER")
        if last is None:
            return None
        if last is False:
            stage = m.stage_of(inst)
            if stage is None:
                return None
            base = self.root_base(stage)
            if base.lower() == "scratch" or is_known_base(base):
                return "root"
            return None
        assert not isinstance(last, bool)
        if not last.args:
            return None
        return m.expand_at(last.args[0], last)

    def base_user_known(self, inst: "Instruction") -> bool:
        return self.user_at(inst) is not None

    def home_at(self, inst: "Instruction") -> str | None:
        """HOME for a RUN at ``inst``: ``HOME`` in the environment, root's ``/root``, a known base's user; else None."""
        env = self.env_at(inst)
        if "HOME" in env:
            return env["HOME"] or None
        user = self.user_at(inst)
        if user is None:
            return None
        name = user.partition(":")[0]
        if name in ("root", "0"):
            return "/root"
        stage = self.model.stage_of(inst)
        base = _repo(self.root_base(stage)) if stage is not None else ""
        for img, users in KNOWN_USERS.items():
            if base.rsplit("/", 1)[-1] == img:
                for uname, (uid, _, home) in users.items():
                    if name in (uname, uid):
                        return home
        return None

    def uid_at(self, inst: "Instruction") -> tuple[str, str] | None:
        """(uid, gid) of the RUN's user when known (root: 0, 0)."""
        user = self.user_at(inst)
        if user is None:
            return None
        name, _, group = user.partition(":")
        if name in ("root", "0") and group in ("", "root", "0"):
            return "0", "0"
        if name.isdigit() and (not group or group.isdigit()):
            return name, group or name
        stage = self.model.stage_of(inst)
        base = _repo(self.root_base(stage)) if stage is not None else ""
        for img, users in KNOWN_USERS.items():
            if base.rsplit("/", 1)[-1] == img and name in users and group in ("", name):
                uid, gid, _ = users[name]
                return uid, gid
        return None

    def workdir_at(self, inst: "Instruction", *, symbolic: bool = False) -> str | None:
        """The working directory of ``inst`` (``/`` by default on a known base); None when unknown.

        ``symbolic``: on a base whose working directory is unknown, answer relative to a stand-in root
        ``/@baseN`` (N: the root stage's index) instead of None, so two paths in the same unknown directory can still
        be compared."""
        stage = self.model.stage_of(inst)
        if stage is None:
            return None
        starts, after, at_start = self._workdirs(stage, symbolic)
        k = bisect_left(starts, inst.start)
        return after[k - 1] if k else at_start

    def _workdirs(self, stage: "Stage", symbolic: bool) -> tuple[list[int], list[str | None], str | None]:
        """(starts of the stage's WORKDIRs, the working directory after each, the one the stage starts in), once
        per stage and pass: each answer of :meth:`workdir_at` is then a bisect (folding every earlier WORKDIR of
        the chain for every question was quadratic in a file of many WORKDIRs)."""
        key = (stage.index, symbolic)
        got = self._wd.get(key)
        if got is not None:
            return got
        # each stage starts where the stage it is built FROM ends
        above, todo = self.model.unanswered(stage, lambda s: (s.index, symbolic) in self._wd)
        cwd: str | None = None
        if above is not None:
            _, p_after, p_start = self._wd[(above.index, symbolic)]
            cwd = p_after[-1] if p_after else p_start
        else:
            root = todo[0]
            base = self.root_base(root)
            if base.lower() == "scratch" or is_known_base(base):
                cwd = "/"
            elif symbolic:
                cwd = f"/@base{root.index}"
        for st in todo:
            at_start = cwd
            starts, workdirs = self._keyword_index(st, "WORKDIR")
            after: list[str | None] = []
            for i in workdirs:
                cwd = self._after_workdir(i, cwd)
                after.append(cwd)
            self._wd[(st.index, symbolic)] = (starts, after, at_start)
        return self._wd[key]

    def _after_workdir(self, i: "Instruction", cwd: str | None) -> str | None:
        if not i.args:
            return cwd
        m = self.model
        v = m.expand_at(i.args[0], i)
        if v is None:
            return None
        if v.startswith("/"):
            return norm(v)
        return norm(v, cwd) if cwd is not None else None

    # ---------------------------------------------------------------- contents of paths
    def base_contents(self, stage: "Stage", path: str) -> Contents:
        """What the root base image of ``stage`` may hold at ``path``."""
        base = self.root_base(stage)
        if base.lower() == "scratch":
            return Contents()
        if not is_known_base(base):
            return Contents(unknown=f"the base image {base} may already hold files in {path}")
        name = _repo(base).rsplit("/", 1)[-1]
        for d in KNOWN_BASE_DIRS.get(name, ()):
            if path.startswith(d) or _under(d, path):
                return Contents((Filler(0, f"the base image {base} ships files in {d}"),))
        if is_system_path(path):
            return Contents((Filler(0, f"the base image {base} may ship files in {path}"),))
        return Contents()

    def contents(self, path: str, inst: "Instruction", *,
                 fills: "Callable[[Instruction], list[str]] | None" = None, fills_key: object = None,
                 include_base: bool = True, first: bool = False) -> Contents:
        """What may be in ``path`` (or below it) just before ``inst`` runs, from the base image, parent stages and
        the earlier instructions of the stage chain. ``fills(run)`` lists extra directories a RUN fills (the caches
        its tools write, from the tool table ``dockerfix.model.tools``); package installs fill the system directories.

        The answer is :meth:`writes` over every earlier instruction of the chain; only the instructions the chain's
        :class:`~dockerfix.model.paths.PathIndex` names for ``path`` are asked (asking every earlier instruction for
        every COPY + ``chown -R`` pair of a file was quadratic). With ``fills``, the directories it gives are filed
        too, in an index per ``fills_key`` (a value that says which answers ``fills`` gives in this pass); without a
        key every earlier instruction is asked (the walk). ``first``: only the first filler is wanted (the answer
        holds at most one, and the same ``unknown``): the candidates are read in order up to it, not all of them (a
        question answered by every earlier COPY into ``/`` read them all, for every RUN asking)."""
        m = self.model
        stage = m.stage_of(inst)
        if stage is None:
            return Contents(unknown="the instruction is outside any stage")
        fillers: list[Filler] = []
        unknown: str | None = None
        if include_base:
            b = self.base_contents(stage, path)
            fillers.extend(b.fillers)
            unknown = b.unknown
        if fills is not None and fills_key is None:
            for st in reversed(m.stage_chain(stage)):
                for i in st.instructions[1:]:
                    if st is stage and i.start >= inst.start:
                        break
                    if i.keyword in _WRITERS:
                        f, u = self.writes(i, path, fills=fills)
                        if f:
                            fillers.append(Filler(i.start_line, f))
                        elif u and unknown is None:
                            unknown = u
            return Contents(tuple(fillers), unknown)
        system = is_system_path(path, package_space=True)
        w, lo, end = self._writers(stage)
        hi = bisect_left(w.starts, inst.start, lo, end)  # the chain's writers before inst, root stage first
        if not hi:
            return Contents(tuple(fillers), unknown)
        said: dict[int, tuple[str | None, str | None]] = {}
        if first and fillers:
            numbers: "Iterable[int]" = ()
        elif first:
            from heapq import merge  # (heapq stays off the start-up path)

            # the candidates one at a time, in order, up to the first filler
            streams: list[Iterable[int]] = [w.paths.forward(path, 0, hi)]
            if fills is not None:
                streams.append(self._fills_index(w, fills_key, fills).forward(path, 0, hi))
            if system and w.installs:
                streams.append(w.installs[:bisect_left(w.installs, hi)])
            numbers = _distinct(merge(*streams))
        else:
            numbers = w.paths.candidates(path, 0, hi)
            if fills is not None:  # (with a key: the walk returned above)
                filled = self._fills_index(w, fills_key, fills).candidates(path, 0, hi)
                if filled:
                    numbers = sorted(set(numbers).union(filled))
            if system and w.installs:
                k = bisect_left(w.installs, hi)
                numbers = sorted(set(numbers).union(w.installs[:k])) if k else numbers
        for n in numbers:
            i = w.insts[n]
            said[n] = f, u = self.writes(i, path, fills=fills)
            if f:
                fillers.append(Filler(i.start_line, f))
                if first:
                    break
        if unknown is None:
            # the first instruction that cannot tell: one filed as unknown, unless it named the path (then it was a
            # candidate and may have said so above)
            for n in w.unknown:
                if n >= hi:
                    break
                f, u = said[n] if n in said else self.writes(w.insts[n], path, fills=fills)
                if u and not f:
                    unknown = u
                    break
        return Contents(tuple(fillers), unknown)

    def _fills_index(self, w: "_Writers", key: object, fills: "Callable[[Instruction], list[str]]") -> "PathIndex":
        """The RUNs of the chain index ``w`` filed by the directories ``fills`` gives for them (around each: a
        directory is filled, what is below it and the directories above it hold it), in ``w``'s numbers; one per
        index and key in a pass, filed further when the chain's index has grown since."""
        got = self._fills_of.get((id(w), key))
        if got is None or got[0] is not w:
            from dockerfix.model.paths import PathIndex

            got = self._fills_of[(id(w), key)] = (w, PathIndex(), [0])
        _, idx, filed = got
        insts = w.insts
        for n in range(filed[0], len(insts)):
            if insts[n].keyword == "RUN":
                for d in fills(insts[n]):
                    idx.around(d, n)
        filed[0] = len(insts)
        return idx

    def _writers(self, stage: "Stage") -> "tuple[_Writers, int, int]":
        """The COPY/ADD/RUN instructions of the stage's chain, root stage first, filed by the paths they may write
        (:meth:`writes`) in one index; with the numbers of the stage's first writer and of the one after its last.

        A child goes on from its parent's index when the parent is the last stage filed in it (no other child went
        on from it first): each stage of a chain is filed once, and a question reads one index, not one per stage of
        the chain (stages each built FROM the one before, as deep as the file, were quadratic in the depth). A
        stage's questions stop at its own writers (``hi``), so what a child files after it changes none of them."""
        got = self._writers_of.get(stage.index)
        if got is not None:
            return got
        chain = self.model.stage_chain(stage)
        todo = [stage]
        w: _Writers | None = None
        for anc in chain[1:]:
            filed = self._writers_of.get(anc.index)
            if filed is not None:
                if filed[0].tail is anc:
                    w = filed[0]
                break
            todo.append(anc)
        if w is None:
            from dockerfix.model.paths import PathIndex

            w = _Writers([], [], PathIndex(), [], [])
            todo = list(chain)
        for st in reversed(todo):
            lo = len(w.insts)
            self._file_writers(w, st)
            w.tail = st
            self._writers_of[st.index] = (w, lo, len(w.insts))
        return self._writers_of[stage.index]

    def _file_writers(self, w: "_Writers", stage: "Stage") -> None:
        """File the stage's COPY/ADD/RUN instructions in ``w`` after the ones filed so far."""
        m = self.model
        for i in stage.instructions[1:]:
            if i.keyword not in _WRITERS:
                continue
            n = len(w.insts)
            w.insts.append(i)
            w.starts.append(i.start)
            if i.keyword != "RUN":
                if not i.args:
                    continue
                dest = m.expand_at(i.args[-1], i)
                d = norm(dest, self.workdir_at(i)) if dest else None
                if d is None:
                    w.paths.always(n)
                else:
                    w.paths.around(d, n)
                continue
            fp = self._footprint(i)
            if fp.unreadable is not None:
                w.unknown.append(n)
                continue
            for kind, value in fp.steps:
                if kind is _PKG:
                    if not w.installs or w.installs[-1] != n:
                        w.installs.append(n)
                elif kind is _UNRESOLVED:
                    w.unknown.append(n)
                else:
                    assert value is not None  # a _PATH step carries its path
                    w.paths.inside(value, n)
            if not fp.stops:
                if fp.cwd is None:
                    w.unknown.append(n)
                elif fp.has_items:
                    w.paths.inside(fp.cwd, n)

    def writes(self, inst: "Instruction", path: str, *,
               fills: "Callable[[Instruction], list[str]] | None" = None) -> tuple[str | None, str | None]:
        """What one instruction of a stage chain (a COPY, ADD or RUN) may put in ``path`` or below it: (why it may,
        or None; why dockerfix cannot tell, or None). :meth:`contents` is this over every earlier instruction; a
        question about a few known instructions asks them alone (asking :meth:`contents` for each of a stage's RUNs
        reads the stage once per RUN)."""
        if inst.keyword == "RUN":
            return self._run_fills(inst, path, fills)
        if inst.keyword in _WRITERS:
            return self._copy_fills(inst, path) or None, None
        return None, None

    def _copy_fills(self, i: "Instruction", path: str) -> str | None:
        m = self.model
        if not i.args:
            return None
        dest = m.expand_at(i.args[-1], i)
        cwd = self.workdir_at(i)
        d = norm(dest, cwd) if dest else None
        if d is None:
            return f"the {i.keyword} on line {i.start_line} writes to a destination dockerfix cannot resolve"
        if _under(d, path) or _under(path, d):
            return f"the {i.keyword} on line {i.start_line} writes to {d}"
        return None

    def _footprint(self, i: "Instruction") -> "_Footprint":
        """What a RUN may write, read once per pass: its static words' paths and package installs in the order
        :meth:`_run_fills` asks them."""
        got = self._footprints.get(i.start)
        if got is not None and got.inst is i:
            return got
        fp = _Footprint(i)
        if i.json or i.heredocs:
            fp.unreadable = f"the RUN on line {i.start_line} cannot be read (exec form or heredoc) and may write there"
        else:
            script = _parsed(i.rest)
            if script is None:
                fp.unreadable = f"the RUN on line {i.start_line} cannot be read and may write there"
            else:
                from dockerfix.model.shell import written_targets

                fp.cwd = cwd = self.workdir_at(i)
                fp.has_items = bool(script.items)
                m = self.model
                env = None
                steps = fp.steps
                for node in script.walk():
                    name = getattr(node, "basename", None)
                    if name in PACKAGE_MANAGERS:
                        steps.append((_PKG, None))
                    for w in (getattr(node, "words", ()) or ()) + written_targets(node):
                        v = w.value
                        if v is None:
                            env = env if env is not None else m.scope_at(i)
                            v = m.expand(w.raw, env)
                            if v is None:
                                if "/" in w.raw:
                                    steps.append((_UNRESOLVED, None))
                                    fp.stops = True
                                    break
                                continue
                        if "/" not in v and v not in (".", ".."):
                            continue
                        p = norm(v.split("*", 1)[0].rstrip("/") or "/", cwd)
                        if p is not None:
                            steps.append((_PATH, p))
                    if fp.stops:
                        break
        self._footprints[i.start] = fp
        return fp

    def _run_fills(self, i: "Instruction", path: str,
                   fills: "Callable[[Instruction], list[str]] | None") -> tuple[str | None, str | None]:
        fp = self._footprint(i)
        if fp.unreadable is not None:
            return None, fp.unreadable
        if fills is not None:
            for d in fills(i):
                if _under(d, path) or _under(path, d):
                    return f"the RUN on line {i.start_line} fills {d}", None
        for kind, p in fp.steps:
            if kind is _PATH:
                assert p is not None
                if (_under(p, path) and p != "/") or (p == path):
                    return f"the RUN on line {i.start_line} writes to {p}", None
            elif kind is _PKG:
                if is_system_path(path, package_space=True):
                    return f"the package install on line {i.start_line} may put files in {path}", None
            else:
                return None, f"the RUN on line {i.start_line} names a path dockerfix cannot resolve"
        cwd = fp.cwd
        if cwd is not None and _under(cwd, path) and fp.has_items:
            return f"the RUN on line {i.start_line} runs in {cwd} and may create files there", None
        if cwd is None:
            return None, f"the working directory of the RUN on line {i.start_line} is not known"
        return None, None


def _distinct(numbers: "Iterable[int]") -> "Iterator[int]":
    """The numbers of a sorted stream, each once."""
    last = -1
    for n in numbers:
        if n != last:
            yield n
            last = n


_PKG, _PATH, _UNRESOLVED = "pkg", "path", "unresolved"


class _Footprint:
    """What a RUN may write (:meth:`BuildState._footprint`): ``steps`` in walk order, each a package install
    (``_PKG``), a path its static words name (``_PATH``) or a word naming a path that cannot be resolved
    (``_UNRESOLVED``, the last step: the question ends there)."""

    __slots__ = ("inst", "unreadable", "steps", "stops", "cwd", "has_items")

    def __init__(self, inst: "Instruction") -> None:
        self.inst = inst
        self.unreadable: str | None = None
        self.steps: list[tuple[str, str | None]] = []
        self.stops = False
        self.cwd: str | None = None
        self.has_items = False


class _Writers:
    """A stage chain's writers (:meth:`BuildState._writers`): instructions and starts in order; ``paths`` files them
    by the paths they name (a COPY's destination around it, a RUN's paths and working directory inside them);
    ``installs``: RUNs with a package install (they may write any system path); ``unknown``: RUNs that may answer
    "cannot tell" (unreadable, a path word that cannot be resolved, an unknown working directory); ``tail``: the
    last stage filed."""

    __slots__ = ("insts", "starts", "paths", "installs", "unknown", "tail")

    def __init__(self, insts: list["Instruction"], starts: list[int], paths: "PathIndex",
                 installs: list[int], unknown: list[int]) -> None:
        self.insts = insts
        self.starts = starts
        self.paths = paths
        self.installs = installs
        self.unknown = unknown
        self.tail: Stage | None = None


_WRITERS = frozenset(("COPY", "ADD", "RUN"))
"""The instructions that may put files in the image (:meth:`BuildState.writes`)."""


def _parsed(src: str) -> "Script | None":
    from dockerfix.model.shell import parse_shell_cached

    s = parse_shell_cached(src)
    return s if s.ok else None


def is_system_path(path: str, *, package_space: bool = False) -> bool:
    """Is ``path`` where base images (or, with ``package_space``, package installs, which also use ``/opt``) keep
    files?"""
    if package_space and _under(path, "/opt"):
        return True
    if any(_under(path, a) for a in _APP_SPACE if a != "/opt") and path not in ("/usr", "/home", "/srv"):
        return False
    return any(_under(path, d) for d in SYSTEM_DIRS)


def _dialect(argv: tuple[str, ...]) -> str:
    first = (argv[0] if argv else "").replace("\\", "/").rsplit("/", 1)[-1].lower()
    if first.endswith(".exe"):
        first = first[:-4]
    if first in ("powershell", "pwsh"):
        return "powershell"
    if first == "cmd":
        return "cmd"
    return "unknown"
