"""One table of package managers and build tools, and the queries the model and the transforms ask it.

Everything dockerfix knows about a tool is a record in :data:`TOOLS` (data, no code): the commands that run it and
which of its actions install, only fetch, or clean; its cache directories, each as a chain of :class:`Loc` rules
(the options, variables and defaults that place it, first match wins); whether the tool reads a cache back later
as installed data (a *store*: Go modules, the Cargo registry, Maven/Gradle/NuGet packages); the flags and variables
that make a later step read only what an earlier fetch filled (:class:`Offline`); manifests and lockfiles, which
commands install a project's dependencies from them and what keeps the lockfile; the cleanup commands and the
directories an ``rm`` clears. Each entry names its source (the tool's docs or code).

Where a location depends on the base image, two more tables answer: :data:`IMAGE_ENV` (variables an official
image sets, such as ``GOPATH=/go`` in ``golang``) and :data:`RPM_CACHEDIRS` (yum/dnf/microdnf's cache per
distribution release, read from the base with :func:`dockerfix.model.ecosystems.rpm_release`).

Two tables hold what ``dockerfix.model.chain`` asks beyond the rows:
:data:`PROVISIONS` (where a tool such as ``npm`` is installed and which packages provide it) and :data:`LOW_LEVEL`
(``dpkg``, ``rpm``: the package format each handles and the options that remove packages).

Location rules (:class:`Loc`, ``kind``), tried in order; the first that applies gives the path, and a rule that
applies without a static value makes the location unknown (with the reason):

``opt``         the value of the command's option ``name`` (``--cache-dir X``, ``--cache-dir=X``), plus ``sub``
``prop``        a Java system property ``-Dname=value`` on the command or in the variables ``vars``, plus ``sub``
``setopt``      dnf's ``--setopt=name=value``
``env``         the variable ``name`` when set and not empty (``sep``: a list, its first element), plus ``sub``
``xdg-any``     any ``XDG_*`` variable is set: ``$HOME/sub`` (Composer's test for an XDG system)
``root``        the command runs as root: ``name`` (yarn classic's ``/usr/local/share``)
``home``        ``$HOME/sub``; unknown when HOME is
``fixed``       ``name``
``relative``    ``name``, relative to the command's working directory (``pip download`` without ``-d``)
``family``      :data:`RPM_CACHEDIRS` for the tool ``name`` and the base image's release
``unless-opt``  the option ``name`` is given: unknown, ``sub`` says why (dnf ``--installroot``)
``unknown``     unknown, ``name`` says why

Queries (``command`` is a :class:`~dockerfix.model.shell.SimpleCommand`, wrappers such as ``sudo`` looked
through; ``call`` a :class:`~dockerfix.model.pkgmgr.PackageCall`; ``env`` the environment at the RUN, name ->
static value or None; ``home`` the RUN's HOME or None; ``base`` the stage's root base image reference; ``user``
the RUN's user, None for the image's default, which is root on the bases this project knows). Inline assignments
(``CARGO_NET_OFFLINE=true cargo build``, ``env X=1 npm ci``) count as environment. Each answer is a list of
:class:`ToolDir` (``path`` None with a ``reason`` when the place is not known statically).

``identify(call_or_command) -> Use | None``
    Which tool, which action (``install``, ``ci``, ``fetch``, ``mod download``...) and which words it has.
``cache_dirs(call_or_command, env, home, base, *, user=INFER) -> list[ToolDir]``
    The cache directories the command writes and a cache mount may hold (what ``manifests.cache_needs`` mounts).
    Empty when the tool writes none for this action, or a variable turns its cache off (``PIP_NO_CACHE_DIR``).
``fills(call_or_command, env=None, home=None, base="", *, user=INFER) -> list[ToolDir]``
    Every directory the command fills for a later step to read: its caches and stores, and download targets that
    are no cache (``pip download -d DIR`` fills DIR, ``bundle cache`` fills ``vendor/cache``). ``cargo fetch``
    fills ``$CARGO_HOME/registry`` and ``git``, ``dotnet restore`` the NuGet packages folder, ``go mod download``
    GOMODCACHE, ``npm ci`` ``~/.npm``.
``offline_reads(call_or_command, env=None, home=None, base="", *, user=INFER) -> list[ToolDir]``
    What the command reads without the network because of an offline flag or variable (``cargo build --offline``
    / ``--frozen`` / ``CARGO_NET_OFFLINE``, ``dotnet publish --no-restore``, ``npm ci --offline``, ``pip install
    --no-index``, ``GOPROXY=off``, ``yarn --offline``, ``pnpm install --offline``, ``mvn -o``, ``gradle
    --offline``, ``apt-get install --no-download``, ``apk --no-network``, ``dnf -C``...): the directories an
    earlier fetch must have filled. ``ToolDir.strict`` is False for the *prefer-offline* flags, which fall back to
    the network. Empty when the command runs online.
``rpm_cache_dir(tool, base) -> (path | None, reason | None)``
    yum, dnf or microdnf's cache directory on that base.
``tool_named(name)``, ``manager_tool(manager)``, ``manager_names()``, ``system_managers()``, ``ecosystem_files()``,
``lockfiles()``, ``frozen_lockfile()``, ``project_dirs()``, ``dependency_installers()``, ``cleanup_paths()``,
``cleanup_owner(manager)``, ``root_cache_dirs(manager)``
    The table's views for ``pkgmgr``, ``manifests``, ``ecosystems`` and ``reorder-manifests``.

Notes on what the table does not claim: a tool's config files (``pip.conf``, ``.npmrc``, ``.yarnrc``,
``settings.xml``, ``nuget.config``, ``poetry.toml``) may move a cache too; they live in the image or the build
context and are not read here, except that ``mvn -s FILE`` makes Maven's repository unknown.
"""

from __future__ import annotations

import posixpath
from functools import lru_cache

from dockerfix._record import dataclass

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from dockerfix.model.pkgmgr import PackageCall

__all__ = [
    "IMAGE_ENV",
    "INFER",
    "LOW_LEVEL",
    "RPM_CACHEDIRS",
    "TOOLS",
    "Cache",
    "Loc",
    "LowLevel",
    "Offline",
    "Tool",
    "ToolDir",
    "Use",
    "cache_dirs",
    "cleanup_owner",
    "cleanup_paths",
    "ecosystem_files",
    "fills",
    "frozen_lockfile",
    "identify",
    "lockfiles",
    "manager_names",
    "manager_tool",
    "offline_keys",
    "offline_reads",
    "project_dirs",
    "root_cache_dirs",
    "rpm_cache_dir",
    "system_managers",
    "tool_named",
]


# =====================================================================================================================
# records
# =====================================================================================================================


@dataclass(frozen=True)
class Loc:
    """One rule of a location chain (see the module docstring for the kinds)."""

    kind: str
    name: str = ""
    sub: str = ""
    sep: str = ""
    vars: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cache:
    """A directory a tool writes downloads (or installed packages it reads back) into."""

    key: str
    """Its name within the tool: ``cache``, ``registry``, ``git``, ``packages``, ``store``, ``download-dir``..."""
    where: tuple[Loc, ...]
    actions: frozenset[str] | None = None
    """The actions that write it (``None``: every use of the tool)."""
    store: bool = False
    """The tool reads it back later as installed data (every later use needs it)."""
    sharing: str | None = None
    """``sharing=`` for a cache mount (``locked`` for the system package managers' lock files)."""
    mount: bool = True
    """A cache mount may hold it. False for download targets that are no cache (``pip download -d``), and for
    caches dockerfix does not mount (zypper, conda, NuGet's http-cache)."""
    only_if: str = ""
    """A variable that must be truthy for the tool to use this directory at all (Bundler's global cache)."""
    source: str = ""


@dataclass(frozen=True)
class Offline:
    """A flag or variable that makes the tool read what an earlier fetch filled instead of the network."""

    how: str
    """``opt`` (the option ``name`` is given), ``env`` (the variable ``name`` is truthy), ``env=`` (the variable
    ``name`` equals ``value``)."""
    name: str
    reads: tuple[str, ...]
    """Keys of the tool's :class:`Cache` entries it then reads."""
    value: str = ""
    actions: frozenset[str] | None = None
    """The actions it applies to (``None``: all)."""
    strict: bool = True
    """False when the tool only prefers the cache and falls back to the network (``--prefer-offline``)."""
    source: str = ""


@dataclass(frozen=True)
class Tool:
    name: str
    """Canonical name (``apt`` for apt-get and apt, ``yarn`` for Yarn Classic, ``yarn-berry``...)."""
    commands: tuple[str, ...]
    """Command names (basenames) that run it; for ``pkgmgr`` tools, the managers ``PackageCall.manager`` names."""
    scripts: tuple[str, ...] = ()
    """Wrapper scripts that run it when called by path (``./mvnw``, ``./gradlew``)."""
    pkgmgr: bool = False
    """``dockerfix.model.pkgmgr`` parses its command lines, with the grammar below (``value_options``, ``verbs``,
    ``subverbs``, ``global_prefix``, ``clean_operands``)."""
    value_options: frozenset[str] = frozenset()
    """Options that take a separate value (``-o X``, ``--setopt X``); the others are flags (``--x=v`` always has
    one). Entries ending in ``_`` are spellings the tool does not take: kept out on purpose."""
    verbs: Any = None
    """``{subcommand as written: action}`` for the aliases (``in`` -> ``install``, ``del`` -> ``remove``,
    ``makecache`` -> ``update``); a subcommand not listed is its own action. The actions are pkgmgr's vocabulary
    (``dockerfix.model.pkgmgr``, "Actions"): :data:`INSTALL_ACTIONS` and :data:`CLEAN_ACTIONS` among them."""
    subverbs: Any = None
    """``{first word: {second word: action}}`` for two-word subcommands (``npm cache clean``, ``conda env create``)."""
    action_value_options: Any = None
    """``{action: options}`` that take a value only in that action (conda's ``-f``: ``--file`` in ``env create``,
    ``--force`` in ``clean -afy``)."""
    global_prefix: bool = False
    """``global`` before the subcommand is a scope, not the subcommand (``yarn global add x``)."""
    clean_operands: frozenset[str] | None = None
    """For a tool whose ``clean`` takes what to clean (dnf's ``clean all``): the operands that clear the cache. None:
    ``clean`` alone clears it."""
    versioned: bool = False
    """Its commands also run with a version suffix: ``pip3``, ``pip3.12``."""
    module: str | None = None
    """The Python module that runs it: ``python -m pip``, ``python3.12 -m pip``."""
    subcommand_of: tuple[str, ...] = ()
    """Tools that run it as their subcommand (``uv pip``): the rest of the line is its grammar, except where the
    host's own row has a two-word subcommand for the next word (``uv pip cache clean`` is uv's), and its cleanups
    are reported under the host."""
    system: bool = False
    """A system package manager (installs into the OS, runs as root, caches at fixed system paths)."""
    family: str | None = None
    """The package format its installs and removals are about (``deb``, ``apk``, ``rpm``, ``conda``): what
    ``dockerfix.model.chain`` asks when a removal takes a tool away, or an install brings it back."""
    reads_index: frozenset[str] = frozenset()
    """Actions that read the package index a fetch (``update``) filled and fail without it (apt-get ``install``,
    ``source``, ``download``, ``satisfy``...)."""
    ecosystem: str | None = None
    """The reorder-manifests ecosystem it installs for."""
    dependency_install: tuple[str, ...] = ()
    """What installs only what the project's manifests name, which reorder-manifests may move before the full COPY
    (``dockerfix.model.manifests.dependency_installs``): for a tool ``pkgmgr`` parses, its actions (``""`` for
    none: a bare ``yarn``); for another, the subcommands, the words after the command (``poetry install``, ``go mod
    download``)."""
    dependency_operands: bool = True
    """False: an operand after that subcommand makes it another kind of install (``pipenv install flask``)."""
    dependency_goals: tuple[str, ...] = ()
    """For a build tool run with goals or tasks (Maven, Gradle): the ones that only download dependencies (fnmatch
    patterns). A run whose words are options and at least one of these is a dependency install; a wrapper script
    of ``scripts`` (``./mvnw``) is then one of its manifests."""
    operand_manifest: str | None = None
    """The dependency install's operand names one of its manifests (``dotnet restore app.csproj``); without an
    operand, the files these ``|``-separated patterns match under where it runs."""
    manifest_options: tuple[str, ...] = ()
    """Options whose values are the manifests the install reads (``pip install -r``, ``-c``): it is a dependency
    install only with one."""
    project_options: tuple[str, ...] = ()
    """Options that make the install install the project itself from its sources (``pip install -e .``)."""
    project_operands: tuple[str, ...] | None = None
    """A local path operand (``./pkg``, ``/src``, ``file:``) or one ending with one of these (pip's package files)
    makes the install install the project's own sources; None: the operands are not read."""
    global_options: tuple[str, ...] = ()
    """Options that make an install global, the tool's own and not the project's (``npm install -g``)."""
    no_scripts_options: tuple[str, ...] = ()
    """Options that keep the install from running the packages' lifecycle scripts (``--ignore-scripts``)."""
    lockfile_fetch: frozenset[str] = frozenset()
    """Actions that download the dependencies from the lockfile alone (``pnpm fetch``): an install after the full
    COPY then only links what an earlier layer holds, and moving it gains nothing."""
    benign_actions: frozenset[str] | None = None
    """For a tool ``pkgmgr`` parses: the actions, besides the dependency install, that read nothing of the build's
    sources (``pip download``, ``npm cache clean``); None: every action (system managers, gem, conda, composer)."""
    project_flag: tuple[str, ...] = ()
    """(flag, *flags that do the same): what makes the dependency install skip the project itself (poetry
    ``--no-root``; ``--only-root`` already keeps it apart), added when the command has none of them."""
    installs: frozenset[str] = frozenset()
    """Actions that install packages."""
    fetches: frozenset[str] = frozenset()
    """Actions that only download, for a later step to install or build from."""
    cleans: tuple[str, ...] = ()
    """Commands that clear its cache (the canonical spelling)."""
    caches: tuple[Cache, ...] = ()
    offline: tuple[Offline, ...] = ()
    no_cache_env: tuple[str, ...] = ()
    """Variables that turn its cache off, so there is nothing to mount (``PIP_NO_CACHE_DIR``)."""
    manifests: tuple[tuple[str, bool, bool], ...] = ()
    """(path, required, is_dir) the install reads, relative to where it runs; optional ones are named only when they
    exist in the build context."""
    lockfile: str | None = None
    frozen: tuple[str, ...] = ()
    """What makes the dependency install keep ``lockfile`` as it is (fail rather than rewrite it): its options
    (``--frozen-lockfile``, ``pipenv install --deploy``) and actions (npm's ``ci``). An install with none of them
    may rewrite the lockfile; empty: the install is not one that rewrites it (poetry, composer, go)."""
    project_dirs: tuple[str, ...] = ()
    """What the dependency install writes inside the project (``node_modules``, ``.venv``, ``vendor``), relative to
    where it runs: a copy of the project made after the install overwrites it."""
    cleanup_paths: tuple[str, ...] = ()
    """Directories whose removal clears its cache (``~`` = the home directory)."""
    cleanup_as: str | None = None
    """The name its cleanups are reported under (``Cleanup.manager``) when not ``name``."""
    signals: tuple[str, ...] = ()
    """Options and variable-name prefixes that say this flavour of a shared command runs (Yarn Berry)."""
    two_word: frozenset[str] = frozenset()
    """Subcommands whose action is two words (``go mod download``)."""
    flags: tuple[tuple[str, str], ...] = ()
    """(purpose, spelling) of the options transforms write for this tool, as the tool's own parser takes them
    (``no-weak-deps``: dnf's ``--setopt=install_weak_deps=False``, microdnf's ``...=0``). A purpose the tool has no
    spelling for is one no transform may write for it."""
    source: str = ""


@dataclass(frozen=True)
class ToolDir:
    """A directory a tool uses, resolved for one command."""

    tool: str
    key: str
    path: str | None
    """Absolute, or relative to the command's working directory; None when not known statically."""
    reason: str | None = None
    """Why ``path`` is None."""
    store: bool = False
    sharing: str | None = None
    mount: bool = True
    strict: bool = True
    """``offline_reads``: the command fails without it (False: it only prefers it)."""


@dataclass(frozen=True)
class Use:
    """A command identified as a use of a tool."""

    tool: Tool
    action: str | None
    """The action as ``pkgmgr`` names it (aliases resolved) or the subcommand as written; None without one."""
    command: Any
    """The effective :class:`~dockerfix.model.shell.SimpleCommand` (wrappers stripped)."""
    call: Any
    """The :class:`~dockerfix.model.pkgmgr.PackageCall`, for ``pkgmgr`` tools (else None)."""
    label: str = ""
    """The name ``cache_needs`` reports (``CacheNeed.tool``): ``apt``, ``uv``, ``pip``, or the command name."""


INFER = object()
"""``user`` default: root when ``home`` is ``/root`` (what ``cache_needs`` has always assumed)."""


# =====================================================================================================================
# the table
# =====================================================================================================================

# dnf(8), yum(8), microdnf: the actions that install packages, as pkgmgr names them (in/localinstall -> install,
# update/up -> upgrade, distro-sync -> dist-upgrade); groupinstall is dnf 4's and yum's spelling of `group install`;
# module is `module install` (`module enable` installs nothing, but loads the repository metadata into the cache all
# the same). What dnf-clean cleans up after.
_RPM_INSTALL = frozenset({"install", "reinstall", "groupinstall", "upgrade", "dist-upgrade", "module"})
# what writes the cache: every install, and makecache (pkgmgr's update), which only fills the metadata
_RPM_CACHE_WRITES = _RPM_INSTALL | {"update"}

INSTALL_ACTIONS = frozenset({"install", "add", "ci", "env-create", "create"})
"""The actions (``PackageCall.action``, aliases resolved by ``verbs``) that install packages."""
CLEAN_ACTIONS = frozenset({"clean", "dist-clean", "cache-clean", "autoclean"})
"""The actions that clear a cache or index (``clean`` only with a cache operand for tools with ``clean_operands``)."""
REMOVE_ACTIONS = frozenset({"remove", "purge", "erase", "autoremove"})
"""Actions that remove installed packages."""
ADD_ACTIONS = frozenset({"install", "add", "reinstall"})
"""Actions that put the packages they name in place (what can bring back a tool an earlier removal took)."""

# command-line grammar shared by several rows (one family of tools reads the same options and subcommands)
_APT_OPTS = frozenset({"-o", "-c", "-t", "-a", "--option", "--config-file", "--target-release", "--default-release",
                       "--host-architecture"})
_APT_VERBS = {"distclean": "dist-clean", "dist-clean": "dist-clean", "full-upgrade": "dist-upgrade"}
_RPM_OPTS = frozenset({
    "-c", "-x", "-d", "-e", "-R", "--config", "--exclude", "--excludepkgs", "--debuglevel", "--errorlevel",
    "--enablerepo", "--disablerepo", "--repo", "--repoid", "--installroot", "--releasever", "--setopt",
    "--downloaddir", "--destdir", "--forcearch", "--color", "--enableplugin", "--disableplugin", "--rpmverbosity",
    "--repofrompath", "--randomwait", "--nodocs_", "--best_", "--setvar", "--use-host-config_", "--comment",
    "--advisory", "--bz", "--cve", "--sec-severity"})
_RPM_VERBS = {"in": "install", "install": "install", "localinstall": "install", "reinstall": "reinstall",
              "remove": "remove", "erase": "remove", "rm": "remove", "update": "upgrade", "upgrade": "upgrade",
              "up": "upgrade", "distro-sync": "dist-upgrade", "makecache": "update", "clean": "clean",
              "autoremove": "autoremove"}
# dnf(8) clean: all, dbcache, expire-cache, metadata, packages; expire-cache only marks the metadata expired
_RPM_CLEAN = frozenset({"all", "packages", "metadata", "dbcache"})
_CONDA_OPTS = frozenset({"-n", "-p", "-c", "-r", "--name", "--prefix", "--channel", "--file", "--root-prefix",
                         "--platform", "--subdir", "--repodata-fn", "--solver", "--experimental-solver", "--rc-file",
                         "--channel-priority", "--json-output_"})
_CONDA_VERBS = {"install": "install", "create": "create", "update": "upgrade", "upgrade": "upgrade",
                "remove": "remove", "uninstall": "remove", "clean": "clean"}
_CONDA_SUBVERBS = {"env": {"create": "env-create", "update": "env-update", "remove": "env-remove"}}
_CONDA_ACTION_OPTS = {"env-create": frozenset({"-f"}), "env-update": frozenset({"-f"})}  # -f: --file, not --force
_PY_CACHE = "https://platformdirs.readthedocs.io (user_cache_dir: $XDG_CACHE_HOME or ~/.cache on Linux)"

TOOLS: tuple[Tool, ...] = (
    # ----------------------------------------------------------------------------------------------- system managers
    Tool(
        "apt", ("apt-get", "apt"), pkgmgr=True, system=True, family="deb",
        value_options=_APT_OPTS, verbs=_APT_VERBS,
        installs=frozenset({"install", "reinstall", "upgrade", "dist-upgrade", "build-dep"}),
        fetches=frozenset({"update", "download", "source"}),
        # apt-get(8): these resolve against the lists `apt-get update` downloads (/var/lib/apt/lists)
        reads_index=frozenset({"install", "reinstall", "upgrade", "dist-upgrade", "build-dep", "source", "download",
                               "satisfy"}),
        cleans=("apt-get clean", "apt-get dist-clean", "rm -rf /var/lib/apt/lists/*"),
        caches=(
            # apt.conf(5): Dir::Cache "var/cache/apt" (archives, pkgcache.bin), Dir::State "var/lib/apt" (lists,
            # extended_states); Docker's cache-mount example mounts both with sharing=locked.
            Cache("archives", (Loc("fixed", "/var/cache/apt"),), sharing="locked",
                  actions=frozenset({"install", "upgrade", "dist-upgrade", "build-dep", "reinstall", "update",
                                     "source", "download"})),
            Cache("state", (Loc("fixed", "/var/lib/apt"),), sharing="locked",
                  actions=frozenset({"install", "upgrade", "dist-upgrade", "build-dep", "reinstall", "update",
                                     "source", "download"})),
        ),
        offline=(
            # apt-get(8): --no-download "use only the .debs it has already downloaded"
            Offline("opt", "--no-download", ("archives",),
                    actions=frozenset({"install", "upgrade", "dist-upgrade", "reinstall", "build-dep"})),
        ),
        cleanup_paths=("/var/lib/apt/lists", "/var/cache/apt"),
        # apt-get(8): --no-install-recommends (apt(8) takes apt-get's options)
        flags=(("no-recommends", "--no-install-recommends"),),
        source="apt.conf(5), apt-get(8); docs.docker.com build cache mounts (apt example)",
    ),
    Tool(
        "apk", ("apk",), pkgmgr=True, system=True, family="apk",
        value_options=frozenset({"-X", "-t", "-p", "--repository", "--virtual", "--root", "--repositories-file",
                                 "--arch", "--cache-dir", "--keys-dir", "--progress-fd", "--wait", "--cache-max-age"}),
        verbs={"del": "remove", "add": "add", "update": "update", "upgrade": "upgrade"},
        subverbs={"cache": {"clean": "cache-clean", "purge": "cache-clean", "sync": "cache-sync",
                            "download": "cache-download"}},
        installs=frozenset({"add", "upgrade"}), fetches=frozenset({"update", "cache-download", "fetch"}),
        cleans=("apk cache clean", "rm -rf /var/cache/apk/*"),
        caches=(
            # apk-cache(5): "If /etc/apk/cache is a symlink to a local directory, apk will use it as a local cache
            # for downloaded package files and repository indices"; apk(8) --cache-dir moves it.
            Cache("cache", (Loc("opt", "--cache-dir"), Loc("fixed", "/etc/apk/cache")),
                  actions=frozenset({"add", "update", "upgrade"})),
        ),
        offline=(Offline("opt", "--no-network", ("cache",), source="apk(8) --no-network"),),
        cleanup_paths=("/var/cache/apk", "/etc/apk/cache"),
        # apk(8): --no-cache (apk-tools 2.6, Alpine 3.3+), -U/--update-cache
        flags=(("no-cache", "--no-cache"), ("update-cache", "--update-cache")),
        source="apk-cache(5), apk(8) (man.archlinux.org/man/apk-cache.5)",
    ),
    Tool(
        "dnf", ("dnf",), pkgmgr=True, system=True, family="rpm",
        value_options=_RPM_OPTS, verbs=_RPM_VERBS, clean_operands=_RPM_CLEAN,
        installs=_RPM_INSTALL, fetches=frozenset({"update", "download"}),
        cleans=("dnf clean all",),
        caches=(
            Cache("cache", (Loc("unless-opt", "--installroot", "the cache is under --installroot"),
                            Loc("setopt", "cachedir"), Loc("family", "dnf")),
                  sharing="locked", actions=_RPM_CACHE_WRITES),
        ),
        offline=(Offline("opt", "-C", ("cache",)), Offline("opt", "--cacheonly", ("cache",))),
        cleanup_paths=("/var/cache/dnf",),
        # dnf.conf(5) install_weak_deps is a boolean ("1, yes, true, on" / "0, no, false, off", any case); dnf's
        # command reference uses `--setopt=install_weak_deps=False`
        flags=(("no-weak-deps", "--setopt=install_weak_deps=False"),),
        source="dnf.conf(5) cachedir; dnf5-caching(7) (/var/cache/libdnf5)",
    ),
    Tool(
        "yum", ("yum",), pkgmgr=True, system=True, family="rpm",
        value_options=_RPM_OPTS, verbs=_RPM_VERBS, clean_operands=_RPM_CLEAN,
        installs=_RPM_INSTALL, fetches=frozenset({"update"}),
        cleans=("yum clean all",),
        caches=(
            Cache("cache", (Loc("unless-opt", "--installroot", "the cache is under --installroot"),
                            Loc("setopt", "cachedir"), Loc("family", "yum")),
                  sharing="locked", actions=_RPM_CACHE_WRITES),
        ),
        offline=(Offline("opt", "-C", ("cache",)), Offline("opt", "--cacheonly", ("cache",))),
        cleanup_paths=("/var/cache/yum",),
        source="yum.conf(5) cachedir=/var/cache/yum/$basearch/$releasever (yum 3); on RHEL 8+ and Fedora yum is dnf",
    ),
    Tool(
        "microdnf", ("microdnf",), pkgmgr=True, system=True, family="rpm",
        value_options=_RPM_OPTS, verbs=_RPM_VERBS, clean_operands=_RPM_CLEAN,
        installs=_RPM_INSTALL, fetches=frozenset({"update", "download"}),
        cleans=("microdnf clean all",),
        caches=(
            Cache("cache", (Loc("unless-opt", "--installroot", "the cache is under --installroot"),
                            Loc("family", "microdnf")),
                  sharing="locked", actions=_RPM_CACHE_WRITES),
        ),
        # microdnf dnf/dnf-main.c process_global_option(): `--setopt=install_weak_deps=` takes "0" or "1" only
        # (rpm-software-management/microdnf#62; "Micro DNF does not support True/False, only 1/0", OSInside/kiwi#1628);
        # dnf5 (microdnf on Fedora 38+) takes 0/1 as well
        flags=(("no-weak-deps", "--setopt=install_weak_deps=0"),),
        source="rpm-software-management/microdnf dnf/dnf-main.c context_new(): CACHEDIR \"/var/cache/yum\" "
               "(metadata, solv, lock); dnf5.spec: dnf5 provides microdnf on Fedora 38+",
    ),
    Tool(
        "zypper", ("zypper",), pkgmgr=True, system=True, family="rpm",
        value_options=frozenset({"-R", "-c", "-D", "-C", "-t", "-r", "--root", "--config", "--reposd-dir",
                                 "--cache-dir", "--raw-cache-dir", "--solv-cache-dir", "--pkg-cache-dir", "--type",
                                 "--repo", "--from", "--download"}),
        verbs={"in": "install", "install": "install", "rm": "remove", "remove": "remove", "ref": "update",
               "refresh": "update", "up": "upgrade", "update": "upgrade", "dup": "dist-upgrade",
               "dist-upgrade": "dist-upgrade", "cc": "clean", "clean": "clean"},
        installs=frozenset({"install", "upgrade", "dist-upgrade"}), fetches=frozenset({"update"}),
        cleans=("zypper clean -a",),
        caches=(
            # zypp.conf(5): cachedir = /var/cache/zypp (raw, solv, packages); zypper --cache-dir/-C moves it.
            # Not mounted by cache-mounts (no zypper support there).
            Cache("cache", (Loc("opt", "--cache-dir"), Loc("opt", "-C"), Loc("fixed", "/var/cache/zypp")),
                  sharing="locked", mount=False),
        ),
        cleanup_paths=("/var/cache/zypp",),
        # zypper(8): install --no-recommends; clean -a/--all
        flags=(("no-recommends", "--no-recommends"),),
        source="zypp.conf(5), zypper(8)",
    ),
    # ------------------------------------------------------------------------------------------------------- Python
    Tool(
        "pip", ("pip",), pkgmgr=True,
        # pip3, pip3.12; `python3 -m pip` (pip's docs: "python -m pip"); `uv pip` (uv's pip interface)
        versioned=True, module="pip", subcommand_of=("uv",),
        # pip, uv pip (uv's options where pip has none: --index-strategy, --resolution, --python-platform...)
        value_options=frozenset({
            "-r", "-c", "-e", "-i", "-f", "-t", "-C", "-b", "-p", "--requirement", "--constraint", "--editable",
            "--index-url", "--extra-index-url", "--find-links", "--target", "--prefix", "--root", "--src",
            "--platform", "--python-version", "--implementation", "--abi", "--upgrade-strategy", "--trusted-host",
            "--cert", "--client-cert", "--cache-dir", "--log", "--log-file", "--proxy", "--retries", "--timeout",
            "--exists-action", "--no-binary", "--only-binary", "--progress-bar", "--config-settings",
            "--global-option", "--install-option", "--build-option", "--python", "--report", "--group",
            "--use-feature", "--use-deprecated", "--keyring-provider", "--root-user-action", "--override", "--index",
            "--default-index", "--index-strategy", "--resolution", "--prerelease", "--extra", "--python-platform",
            "--exclude-newer", "--link-mode", "--reinstall-package", "--refresh-package", "--no-build-package",
            "--no-binary-package", "--only-binary-package", "--config-file", "--directory", "--project"}),
        verbs={"uninstall": "remove", "install": "install", "sync": "install", "compile": "compile"},
        subverbs={"cache": {"purge": "cache-clean", "remove": "cache-clean", "clean": "cache-clean"}},
        installs=frozenset({"install"}), fetches=frozenset({"download", "wheel"}),
        # pip install -r/-c: "install from the given requirements (constraints) file"; -e/--editable "install a
        # project in editable mode"; an operand may be a local project path or a package file (pip.pypa.io
        # cli/pip_install, "Requirement Specifiers", "Local project installs")
        ecosystem="pip", dependency_install=("install",),
        manifest_options=("-r", "--requirement", "-c", "--constraint"), project_options=("-e", "--editable"),
        project_operands=(".whl", ".tar.gz", ".zip"),
        benign_actions=frozenset({"download", "cache-clean", "list", "freeze"}),
        cleans=("pip cache purge",),
        caches=(
            # pip docs, Caching: "pip cache dir"; --cache-dir / PIP_CACHE_DIR; default user_cache_dir("pip")
            Cache("cache", (Loc("opt", "--cache-dir"), Loc("env", "PIP_CACHE_DIR"),
                            Loc("env", "XDG_CACHE_HOME", "pip"), Loc("home", sub=".cache/pip")),
                  actions=frozenset({"install", "download", "wheel"})),
            Cache("download-dir", (Loc("opt", "-d"), Loc("opt", "--dest"), Loc("relative", ".")),
                  actions=frozenset({"download"}), mount=False),
            Cache("wheel-dir", (Loc("opt", "-w"), Loc("opt", "--wheel-dir"), Loc("relative", ".")),
                  actions=frozenset({"wheel"}), mount=False),
            Cache("find-links", (Loc("opt", "--find-links"), Loc("opt", "-f"), Loc("env", "PIP_FIND_LINKS"),
                                 Loc("unknown", "pip --no-index without --find-links reads no directory")),
                  actions=frozenset(), mount=False),
        ),
        offline=(
            Offline("opt", "--no-index", ("find-links",), actions=frozenset({"install", "download", "wheel"}),
                    source="pip install --no-index: ignore the package index, look at --find-links only"),
            Offline("env", "PIP_NO_INDEX", ("find-links",), actions=frozenset({"install", "download", "wheel"})),
        ),
        no_cache_env=("PIP_NO_CACHE_DIR",),
        cleanup_paths=("~/.cache/pip",),
        source="pip.pypa.io topics/caching; " + _PY_CACHE,
    ),
    Tool(
        "uv", ("uv",), ecosystem="uv",
        dependency_install=("sync",), project_flag=("--no-install-project", "--no-install-workspace"),
        subverbs={"cache": {"clean": "cache-clean", "prune": "cache-clean"}},  # `uv pip cache ...` (pkgmgr's pip)
        installs=frozenset({"sync", "add", "install"}), fetches=frozenset({"lock"}),
        cleans=("uv cache clean", "uv cache prune"),
        caches=(
            # docs.astral.sh/uv/reference/storage: $XDG_CACHE_HOME/uv, $HOME/.cache/uv; --cache-dir, UV_CACHE_DIR
            Cache("cache", (Loc("opt", "--cache-dir"), Loc("env", "UV_CACHE_DIR"),
                            Loc("env", "XDG_CACHE_HOME", "uv"), Loc("home", sub=".cache/uv")),
                  actions=frozenset({"sync", "add", "lock", "run", "tool", "install", "download", "wheel"})),
        ),
        offline=(Offline("opt", "--offline", ("cache",)), Offline("env", "UV_OFFLINE", ("cache",))),
        no_cache_env=("UV_NO_CACHE",),
        manifests=(("pyproject.toml", True, False), ("uv.lock", False, False), (".python-version", False, False)),
        lockfile="uv.lock",
        # docs.astral.sh/uv/reference/cli (uv sync): --locked "assert that the uv.lock will remain unchanged",
        # --frozen "sync without updating the uv.lock file"; the project environment is .venv
        frozen=("--locked", "--frozen"), project_dirs=(".venv",),
        cleanup_paths=("~/.cache/uv",),
        source="docs.astral.sh/uv/reference/storage; uv-cache CacheArgs (--no-cache, UV_NO_CACHE, UV_CACHE_DIR)",
    ),
    Tool(
        "poetry", ("poetry",), ecosystem="poetry",
        dependency_install=("install",), project_flag=("--no-root", "--only-root"),
        installs=frozenset({"install", "add", "update", "sync"}), fetches=frozenset({"lock"}),
        cleans=("poetry cache clear --all .",),
        caches=(
            # python-poetry config.py: repository_cache_directory = cache-dir/cache/repositories,
            # artifacts_cache_directory = cache-dir/artifacts, virtualenvs_path defaults to cache-dir/virtualenvs.
            # Only the two download caches are mounted: the virtualenv poetry creates by default lives under the
            # cache dir too, and a mount over the whole dir would take the installed packages out of the image.
            Cache("cache", (Loc("env", "POETRY_CACHE_DIR", "cache"), Loc("env", "XDG_CACHE_HOME", "pypoetry/cache"),
                            Loc("home", sub=".cache/pypoetry/cache")),
                  actions=frozenset({"install", "add", "update", "lock", "sync"})),
            Cache("artifacts", (Loc("env", "POETRY_CACHE_DIR", "artifacts"),
                                Loc("env", "XDG_CACHE_HOME", "pypoetry/artifacts"),
                                Loc("home", sub=".cache/pypoetry/artifacts")),
                  actions=frozenset({"install", "add", "update", "lock", "sync"})),
        ),
        manifests=(("pyproject.toml", True, False), ("poetry.lock", False, False), ("poetry.toml", False, False)),
        lockfile="poetry.lock",
        # poetry install installs from poetry.lock and never rewrites it (it fails when the lock is stale);
        # virtualenvs.in-project puts the environment in .venv
        project_dirs=(".venv",),
        source="python-poetry.org/docs/configuration (cache-dir, virtualenvs.path); poetry/config/config.py",
    ),
    Tool(
        "pipenv", ("pipenv",), ecosystem="pipenv",
        dependency_install=("install", "sync"), dependency_operands=False,
        installs=frozenset({"install", "sync"}), fetches=frozenset({"lock"}),
        caches=(
            # pipenv environments.py: PIPENV_CACHE_DIR default user_cache_dir("pipenv"); pipenv runs pip with
            # PIP_CACHE_DIR set to it (routines/install.py pip_config)
            Cache("cache", (Loc("env", "PIPENV_CACHE_DIR"), Loc("env", "XDG_CACHE_HOME", "pipenv"),
                            Loc("home", sub=".cache/pipenv")),
                  actions=frozenset({"install", "sync"})),
        ),
        manifests=(("Pipfile", True, False), ("Pipfile.lock", False, False)),
        lockfile="Pipfile.lock",
        # pipenv install --deploy "abort if the Pipfile.lock is out-of-date", --ignore-pipfile installs from the
        # lock alone; pipenv sync installs what Pipfile.lock names and never writes it (pypa/pipenv d21efa0
        # "check lockfile exists on sync, and don't update it"); PIPENV_VENV_IN_PROJECT (or an existing .venv) puts
        # the environment in the project
        frozen=("--deploy", "--ignore-pipfile", "sync"), project_dirs=(".venv",),
        source="pypa/pipenv environments.py, routines/install.py; " + _PY_CACHE,
    ),
    # ----------------------------------------------------------------------------------------------------- Node.js
    Tool(
        "npm", ("npm",), pkgmgr=True, ecosystem="npm",
        value_options=frozenset({"-w", "--prefix", "--workspace", "--registry", "--cache", "--loglevel", "--omit",
                                 "--include", "--tag", "--userconfig", "--globalconfig", "--location",
                                 "--install-strategy", "--otp"}),
        # npm/cli lib/utils/cmd-list.js aliases (its typo aliases too: isntall, udpate...)
        verbs={"i": "install", "in": "install", "ins": "install", "inst": "install", "insta": "install",
               "instal": "install", "isnt": "install", "isnta": "install", "isntal": "install", "isntall": "install",
               "add": "install", "install": "install", "ci": "ci", "clean-install": "ci", "ic": "ci",
               "install-clean": "ci", "isntall-clean": "ci", "uninstall": "remove", "remove": "remove",
               "rm": "remove", "r": "remove", "un": "remove", "unlink": "remove", "update": "upgrade",
               "up": "upgrade", "upgrade": "upgrade", "udpate": "upgrade"},
        subverbs={"cache": {"clean": "cache-clean", "clear": "cache-clean", "rm": "cache-clean",
                            "verify": "cache-verify"}},
        installs=frozenset({"install", "ci"}),
        # docs.npmjs.com npm-install/npm-ci: with no arguments they install the project's dependencies (a folder
        # or file: argument installs that local package); -g/--global, --location=global install globally;
        # --ignore-scripts skips the lifecycle scripts
        dependency_install=("ci", "install"), project_operands=(),
        global_options=("-g", "--global", "--location"), no_scripts_options=("--ignore-scripts",),
        benign_actions=frozenset({"cache-clean", "config"}),
        cleans=("npm cache clean --force",),
        caches=(
            # npm/cli config definitions: cache = ~/.npm on POSIX (%LocalAppData%/npm-cache on Windows);
            # --cache, npm_config_cache (npm reads npm_config_* case-insensitively)
            Cache("cache", (Loc("opt", "--cache"), Loc("env", "npm_config_cache"), Loc("env", "NPM_CONFIG_CACHE"),
                            Loc("home", sub=".npm")),
                  actions=frozenset({"ci", "install"})),
        ),
        offline=(
            Offline("opt", "--offline", ("cache",), source="docs.npmjs.com config: offline"),
            Offline("env", "npm_config_offline", ("cache",)),
            Offline("opt", "--prefer-offline", ("cache",), strict=False),
            Offline("env", "npm_config_prefer_offline", ("cache",), strict=False),
        ),
        manifests=(("package.json", True, False), ("package-lock.json", False, False),
                   ("npm-shrinkwrap.json", False, False), (".npmrc", False, False)),
        lockfile="package-lock.json",
        # docs.npmjs.com npm-ci: "if dependencies in the package lock do not match those in package.json, npm ci
        # will exit with an error, instead of updating the package lock"
        frozen=("ci",), project_dirs=("node_modules",),
        cleanup_paths=("~/.npm", "/usr/local/share/.cache/npm"),
        source="npm/cli lib/utils/config/definitions.js (cacheRoot, cacheExtra '.npm')",
    ),
    Tool(
        "yarn", ("yarn",), pkgmgr=True, ecosystem="yarn",
        value_options=frozenset({"--cwd", "--modules-folder", "--cache-folder", "--network-timeout", "--registry",
                                 "--mutex", "--network-concurrency", "--global-folder", "--link-folder",
                                 "--use-yarnrc", "--preferred-cache-folder"}),
        verbs={"add": "add", "install": "install", "remove": "remove", "upgrade": "upgrade", "up": "upgrade"},
        subverbs={"cache": {"clean": "cache-clean"}}, global_prefix=True,
        installs=frozenset({"install", "add"}),
        # classic.yarnpkg.com cli/install: `yarn install` ("yarn" alone is the same) installs the project's
        # dependencies; `yarn add x` adds one
        dependency_install=("", "install"), dependency_operands=False,
        global_options=("-g", "--global", "--location"), no_scripts_options=("--ignore-scripts",),
        benign_actions=frozenset({"cache-clean"}),
        cleans=("yarn cache clean",),
        caches=(
            # yarnpkg/yarn src/util/user-dirs.js getCacheDir(): $XDG_CACHE_HOME/yarn, else <userHome>/.cache/yarn;
            # src/util/user-home-dir.js: userHome is /usr/local/share for root (uid 0, src/util/root-user.js);
            # YARN_CACHE_FOLDER and --cache-folder override (yarnpkg.com/en/docs/cli/cache)
            Cache("cache", (Loc("opt", "--cache-folder"), Loc("env", "YARN_CACHE_FOLDER"),
                            Loc("env", "XDG_CACHE_HOME", "yarn"), Loc("root", "/usr/local/share/.cache/yarn"),
                            Loc("home", sub=".cache/yarn")),
                  actions=frozenset({"", "install", "add"})),
        ),
        offline=(
            Offline("opt", "--offline", ("cache",), source="yarnpkg.com/en/docs/cli/install --offline"),
            Offline("opt", "--prefer-offline", ("cache",), strict=False),
        ),
        manifests=(("package.json", True, False), ("yarn.lock", False, False), (".yarnrc", False, False),
                   (".yarnrc.yml", False, False), (".npmrc", False, False), (".yarn/releases", False, True),
                   (".yarn/plugins", False, True), (".yarn/patches", False, True)),
        lockfile="yarn.lock",
        # classic.yarnpkg.com cli/install: --frozen-lockfile "don't generate a yarn.lock lockfile and fail if an
        # update is needed", --pure-lockfile "don't generate a yarn.lock lockfile"; Yarn Berry --immutable. Berry
        # installs into .pnp.cjs and .yarn/cache instead of node_modules
        frozen=("--frozen-lockfile", "--immutable", "--pure-lockfile"),
        project_dirs=("node_modules", ".pnp.cjs", ".yarn/cache"),
        cleanup_paths=("~/.cache/yarn", "/usr/local/share/.cache/yarn", "~/.yarn-cache", "~/.yarn/berry/cache"),
        source="yarnpkg/yarn src/util/user-dirs.js, user-home-dir.js, root-user.js",
    ),
    Tool(
        "yarn-berry", ("yarn",),
        installs=frozenset({"install", "add"}),
        caches=(
            # yarnpkg.com/configuration/yarnrc: cacheFolder, enableGlobalCache, globalFolder; Yarn 4 keeps the
            # cache in the global folder (~/.yarn/berry/cache) and ignores YARN_CACHE_FOLDER there
            # (yarnpkg/berry#6302), Yarn 2-3 in the project's .yarn/cache. The Dockerfile does not show which.
            Cache("cache", (Loc("unknown", "Yarn Berry keeps its cache in ~/.yarn/berry/cache (Yarn 4) or in the "
                                           "project's .yarn/cache (Yarn 2-3), and the version is not known"),),
                  actions=frozenset({"", "install", "add"})),
        ),
        signals=("--immutable", "--immutable-cache", "--check-cache", "--mode", "YARN_ENABLE_", "YARN_NODE_LINKER",
                 "YARN_GLOBAL_FOLDER"),
        source="yarnpkg.com/configuration/yarnrc; yarnpkg/berry#6302",
    ),
    Tool(
        "pnpm", ("pnpm",), pkgmgr=True, ecosystem="pnpm",
        value_options=frozenset({"-F", "-C", "--filter", "--dir", "--store-dir", "--reporter", "--registry",
                                 "--loglevel", "--virtual-store-dir", "--modules-dir", "--config.store-dir_"}),
        verbs={"add": "add", "i": "install", "install": "install", "remove": "remove", "rm": "remove",
               "uninstall": "remove", "un": "remove", "update": "upgrade", "up": "upgrade", "upgrade": "upgrade"},
        subverbs={"store": {"prune": "cache-clean"}}, global_prefix=True,
        installs=frozenset({"install", "add"}), fetches=frozenset({"fetch"}),
        # pnpm.io/cli/install: "used to install all dependencies for a project" (pnpm add installs one);
        # pnpm.io/cli/fetch: "fetch packages from a lockfile into virtual store, package manifest is ignored"
        dependency_install=("install",), dependency_operands=False, lockfile_fetch=frozenset({"fetch"}),
        global_options=("-g", "--global", "--location"), no_scripts_options=("--ignore-scripts",),
        benign_actions=frozenset({"cache-clean"}),
        cleans=("pnpm store prune",),
        caches=(
            # pnpm config/config/src/dirs.ts getDataDir(): PNPM_HOME, $XDG_DATA_HOME/pnpm, ~/.local/share/pnpm;
            # store/store-path: the store is <pnpm home>/store (plus a version dir); --store-dir overrides.
            # The store is hard-linked into node_modules; across a mount pnpm copies instead.
            Cache("store", (Loc("opt", "--store-dir"), Loc("env", "PNPM_HOME", "store"),
                            Loc("env", "XDG_DATA_HOME", "pnpm/store"), Loc("home", sub=".local/share/pnpm/store")),
                  actions=frozenset({"install", "add", "i", "fetch"})),
        ),
        offline=(
            Offline("opt", "--offline", ("store",), source="pnpm.io/cli/install --offline"),
            Offline("opt", "--prefer-offline", ("store",), strict=False),
        ),
        manifests=(("package.json", True, False), ("pnpm-lock.yaml", False, False), (".npmrc", False, False),
                   (".pnpmfile.cjs", False, False)),
        lockfile="pnpm-lock.yaml",
        # pnpm.io/cli/install --frozen-lockfile: "pnpm doesn't generate a lockfile and fails to install if the
        # lockfile is out of sync with the manifest"
        frozen=("--frozen-lockfile",), project_dirs=("node_modules",),
        cleanup_paths=("~/.local/share/pnpm/store", "~/.pnpm-store", "~/.cache/pnpm"),
        source="pnpm/pnpm config/config/src/dirs.ts, store/store-path/src/index.ts",
    ),
    # ----------------------------------------------------------------------------------------------- Go and Rust
    Tool(
        "go", ("go",), ecosystem="go",
        dependency_install=("mod download",), dependency_operands=False,
        installs=frozenset({"install", "get"}), fetches=frozenset({"mod download"}),
        cleans=("go clean -modcache", "go clean -cache"),
        two_word=frozenset({"mod"}),
        caches=(
            # go help environment / testdata/script/mod_gomodcache.txt: GOMODCACHE defaults to $GOPATH[0]/pkg/mod,
            # GOPATH to $HOME/go; the golang image sets GOPATH=/go (IMAGE_ENV)
            Cache("modcache", (Loc("env", "GOMODCACHE"), Loc("env", "GOPATH", "pkg/mod", sep=":"),
                               Loc("home", sub="go/pkg/mod")),
                  store=True,
                  actions=frozenset({"mod download", "build", "install", "test", "get", "run", "vet", "generate"})),
            # testdata/script/cache_unix.txt: GOCACHE, else $XDG_CACHE_HOME/go-build, else $HOME/.cache/go-build
            Cache("build", (Loc("env", "GOCACHE"), Loc("env", "XDG_CACHE_HOME", "go-build"),
                            Loc("home", sub=".cache/go-build")),
                  actions=frozenset({"build", "install", "test", "run", "vet"})),
        ),
        offline=(
            # GOPROXY=off: "module lookup disabled by GOPROXY=off" (testdata/script/mod_gonoproxy.txt); the go
            # command then builds from the module cache only. (-mod=mod allows downloads; -mod=vendor reads ./vendor.)
            Offline("env=", "GOPROXY", ("modcache",), value="off",
                    actions=frozenset({"mod download", "build", "install", "test", "get", "run", "vet",
                                       "generate", "list"})),
        ),
        manifests=(("go.mod", True, False), ("go.sum", False, False)),
        lockfile="go.sum",
        source="go.dev/ref/mod (module cache, GOPROXY); cmd/go testdata mod_gomodcache.txt, cache_unix.txt",
    ),
    Tool(
        "cargo", ("cargo",), ecosystem="cargo", dependency_install=("fetch",),
        installs=frozenset({"install"}), fetches=frozenset({"fetch"}),
        caches=(
            # doc.rust-lang.org/cargo/guide/cargo-home.html: $CARGO_HOME (default $HOME/.cargo) registry/ (index,
            # cache, src) and git/ (db, checkouts); the rust image sets CARGO_HOME=/usr/local/cargo (IMAGE_ENV)
            Cache("registry", (Loc("env", "CARGO_HOME", "registry"), Loc("home", sub=".cargo/registry")),
                  store=True, actions=frozenset({"fetch", "build", "install", "test", "check"})),
            Cache("git", (Loc("env", "CARGO_HOME", "git"), Loc("home", sub=".cargo/git")),
                  store=True, actions=frozenset({"fetch", "build", "install", "test", "check"})),
        ),
        offline=(
            # cargo-fetch(1): "Subsequent Cargo commands will be able to run offline after a cargo fetch";
            # --offline, --frozen (= --locked --offline), CARGO_NET_OFFLINE / net.offline
            Offline("opt", "--offline", ("registry", "git")),
            Offline("opt", "--frozen", ("registry", "git")),
            Offline("env", "CARGO_NET_OFFLINE", ("registry", "git")),
        ),
        manifests=(("Cargo.toml", True, False), ("Cargo.lock", False, False)),
        lockfile="Cargo.lock",
        # doc.rust-lang.org/cargo/commands/cargo-fetch.html --locked: "asserts that the exact same dependencies
        # and versions are used as when the existing Cargo.lock file was originally generated"
        frozen=("--locked",),
        source="doc.rust-lang.org/cargo/guide/cargo-home.html, commands/cargo-fetch.html",
    ),
    # ---------------------------------------------------------------------------------------------------------- JVM
    Tool(
        "maven", ("mvn",), scripts=("mvnw",), ecosystem="maven",
        installs=frozenset({"install", "package", "verify"}),
        fetches=frozenset({"dependency:go-offline", "dependency:resolve", "dependency:resolve-plugins"}),
        # maven-dependency-plugin's goals (dependency:go-offline, dependency:resolve...) and other plugins'
        # go-offline goals
        dependency_goals=("dependency:*", "*:go-offline"),
        caches=(
            # maven settings.xml localRepository "Default: ${user.home}/.m2/repository"; -Dmaven.repo.local
            Cache("repository", (Loc("prop", "maven.repo.local", vars=("MAVEN_OPTS", "MAVEN_ARGS")),
                                 Loc("unless-opt", "-s", "a settings file (-s) may set localRepository"),
                                 Loc("unless-opt", "--settings", "a settings file (--settings) may set "
                                                                 "localRepository"),
                                 Loc("home", sub=".m2/repository")),
                  store=True),
        ),
        offline=(Offline("opt", "-o", ("repository",)), Offline("opt", "--offline", ("repository",))),
        manifests=(("pom.xml", True, False), (".mvn", False, True)),
        source="maven.apache.org settings reference (localRepository); LocalRepository API docs",
    ),
    Tool(
        "gradle", ("gradle",), scripts=("gradlew",), ecosystem="gradle",
        installs=frozenset({"build", "assemble", "installDist"}),
        fetches=frozenset({"dependencies", "androidDependencies"}),
        # docs.gradle.org viewing_debugging_dependencies: `gradle dependencies` resolves (downloads) every
        # configuration's dependencies; the Android plugin's androidDependencies the same for its variants
        dependency_goals=("dependencies", "androidDependencies"),
        caches=(
            # docs.gradle.org/userguide/gradle_directories.html: Gradle User Home (~/.gradle, GRADLE_USER_HOME)
            # holds caches/ (dependencies) and wrapper/dists; -g/--gradle-user-home, -Dgradle.user.home
            Cache("caches", (Loc("opt", "--gradle-user-home", "caches"), Loc("opt", "-g", "caches"),
                             Loc("prop", "gradle.user.home", "caches", vars=("GRADLE_OPTS",)),
                             Loc("env", "GRADLE_USER_HOME", "caches"), Loc("home", sub=".gradle/caches")),
                  store=True),
        ),
        offline=(Offline("opt", "--offline", ("caches",)),),
        manifests=(("build.gradle", False, False), ("build.gradle.kts", False, False),
                   ("settings.gradle", False, False), ("settings.gradle.kts", False, False),
                   ("gradle.properties", False, False), ("gradle", False, True)),
        source="docs.gradle.org/userguide/gradle_directories.html",
    ),
    # ------------------------------------------------------------------------------------------------ Ruby and PHP
    Tool(
        "bundler", ("bundle",), ecosystem="bundler", dependency_install=("install",),
        installs=frozenset({"install"}), fetches=frozenset({"cache", "package"}),
        caches=(
            # bundle-config(1): global_gem_cache (BUNDLE_GLOBAL_GEM_CACHE) "cache all gems and compiled extensions
            # globally" in Bundler.user_cache (~/.bundle/cache); off by default, when Bundler keeps the .gem files
            # in <bundle path>/cache with the installed gems, which no mount can separate. With the global cache
            # on, a mount would hand compiled extensions to a fresh install (rubygems/rubygems#6616).
            Cache("global-cache", (Loc("unknown", "Bundler's global cache also holds compiled extensions that a "
                                                  "later install reuses without rebuilding them "
                                                  "(rubygems/rubygems#6616)"),),
                  only_if="BUNDLE_GLOBAL_GEM_CACHE", actions=frozenset({"install"})),
            # bundle-cache(1): the app's cache is vendor/cache (BUNDLE_CACHE_PATH); `bundle install --local` reads it
            Cache("app-cache", (Loc("env", "BUNDLE_CACHE_PATH"), Loc("relative", "vendor/cache")),
                  actions=frozenset({"cache", "package"}), mount=False),
        ),
        offline=(Offline("opt", "--local", ("app-cache",), actions=frozenset({"install"})),),
        manifests=(("Gemfile", True, False), ("Gemfile.lock", False, False)),
        lockfile="Gemfile.lock",
        # bundle-install(1): --frozen "do not allow the Gemfile.lock to be updated after this install",
        # --deployment implies it; installs into vendor/bundle (deployment) with its config in .bundle
        frozen=("--frozen", "--deployment"), project_dirs=(".bundle", "vendor/bundle"),
        source="bundler.io/man/bundle-config.1.html (global_gem_cache), bundle-cache(1), bundle-install(1)",
    ),
    Tool(
        "gem", ("gem",), pkgmgr=True,
        value_options=frozenset({"-v", "-i", "-n", "-s", "-P", "-g", "-p", "--version", "--install-dir", "--bindir",
                                 "--source", "--trust-policy", "--platform", "--file", "--http-proxy",
                                 "--build-root", "--target-rbconfig"}),
        verbs={"install": "install", "i": "install", "uninstall": "remove", "update": "upgrade", "cleanup": "clean"},
        installs=frozenset({"install", "upgrade"}),
        cleans=("gem cleanup",),
        cleanup_paths=("~/.gem", "~/.local/share/gem", "/usr/local/bundle/cache"),
        source="guides.rubygems.org (the .gem files stay in $GEM_HOME/cache with the installed gems)",
    ),
    Tool(
        "composer", ("composer",), pkgmgr=True, ecosystem="composer",
        value_options=frozenset({"-d", "--working-dir", "--prefer-install", "--ignore-platform-req",
                                 "--apcu-autoloader-prefix", "--stability", "-s", "--repository", "--repository-url",
                                 "--add-repository_"}),
        verbs={"install": "install", "i": "install", "update": "upgrade", "u": "upgrade", "upgrade": "upgrade",
               "require": "add", "r": "add", "remove": "remove", "rm": "remove", "clear-cache": "cache-clean",
               "clearcache": "cache-clean", "cc": "cache-clean"},
        global_prefix=True,
        installs=frozenset({"install", "add", "upgrade"}),
        # getcomposer.org/doc/03-cli.md: install "reads the composer.json file ..., resolves the dependencies, and
        # installs them into vendor"; --no-scripts "skips execution of scripts defined in composer.json"
        dependency_install=("install",), no_scripts_options=("--no-scripts",),
        cleans=("composer clear-cache",),
        caches=(
            # composer src/Composer/Factory.php getCacheDir(): COMPOSER_CACHE_DIR; $COMPOSER_HOME/cache; on an XDG
            # system (any XDG_* variable, or /etc/xdg exists) $XDG_CACHE_HOME/composer or ~/.cache/composer; else
            # ~/.composer/cache. The composer image sets COMPOSER_HOME=/tmp (IMAGE_ENV).
            Cache("cache", (Loc("env", "COMPOSER_CACHE_DIR"), Loc("env", "COMPOSER_HOME", "cache"),
                            Loc("env", "XDG_CACHE_HOME", "composer"), Loc("xdg-any", sub=".cache/composer"),
                            Loc("unknown", "Composer's cache is ~/.cache/composer when the image has /etc/xdg, "
                                           "else ~/.composer/cache")),
                  actions=frozenset({"install", "add", "upgrade", "update"})),
        ),
        offline=(Offline("env", "COMPOSER_DISABLE_NETWORK", ("cache",),
                         source="getcomposer.org/doc/03-cli.md COMPOSER_DISABLE_NETWORK"),),
        manifests=(("composer.json", True, False), ("composer.lock", False, False), ("auth.json", False, False)),
        lockfile="composer.lock",
        # getcomposer.org/doc/03-cli.md install: reads composer.lock and installs into vendor/ (it warns about a
        # stale lock, it does not rewrite it)
        project_dirs=("vendor",),
        cleanup_paths=("~/.composer/cache", "~/.cache/composer"),
        source="composer/composer src/Composer/Factory.php; docker-library composer (COMPOSER_HOME=/tmp)",
    ),
    # ------------------------------------------------------------------------------------------------------- .NET
    Tool(
        "dotnet", ("dotnet",), ecosystem="dotnet",
        installs=frozenset({"build", "publish"}), fetches=frozenset({"restore"}),
        # learn.microsoft.com dotnet-restore: `dotnet restore [<ROOT>]`, ROOT "optional path to the project file to
        # restore", else the project or solution file found in the current directory
        dependency_install=("restore",), operand_manifest="*.csproj|*.fsproj|*.vbproj|*.sln",
        cleans=("dotnet nuget locals all --clear",),
        caches=(
            # learn.microsoft.com nuget/consume-packages/managing-the-global-packages-and-cache-folders:
            # global-packages ~/.nuget/packages (NUGET_PACKAGES; globalPackagesFolder in nuget.config);
            # `dotnet restore --packages DIR`
            Cache("packages", (Loc("opt", "--packages"), Loc("env", "NUGET_PACKAGES"),
                               Loc("home", sub=".nuget/packages")),
                  store=True, actions=frozenset({"restore", "build", "publish", "test"})),
            # http-cache ~/.local/share/NuGet/v3-cache (NUGET_HTTP_CACHE_PATH); not mounted
            Cache("http-cache", (Loc("env", "NUGET_HTTP_CACHE_PATH"), Loc("home", sub=".local/share/NuGet/v3-cache")),
                  actions=frozenset({"restore", "build", "publish", "test"}), mount=False),
        ),
        offline=(Offline("opt", "--no-restore", ("packages",),
                         actions=frozenset({"build", "publish", "test", "run", "pack"})),),
        manifests=(("nuget.config", False, False), ("NuGet.Config", False, False),
                   ("Directory.Build.props", False, False), ("Directory.Packages.props", False, False),
                   ("global.json", False, False)),
        # dotnet restore writes project.assets.json and the NuGet props/targets into each project's obj/
        project_dirs=("obj",),
        source="learn.microsoft.com/nuget/consume-packages/managing-the-global-packages-and-cache-folders",
    ),
    # ------------------------------------------------------------------------------------------------------ conda
    Tool(
        "conda", ("conda", "mamba"), pkgmgr=True, family="conda",
        value_options=_CONDA_OPTS, verbs=_CONDA_VERBS, subverbs=_CONDA_SUBVERBS,
        action_value_options=_CONDA_ACTION_OPTS,
        installs=frozenset({"install", "create", "upgrade", "env-create", "env-update"}),
        cleans=("conda clean -afy",),
        caches=(
            # conda docs, pkgs_dirs: <root prefix>/pkgs when writable, else ~/.conda/pkgs; CONDA_PKGS_DIRS (comma
            # list). conda links installed files from here (a copy across filesystems). Not mounted.
            Cache("pkgs", (Loc("env", "CONDA_PKGS_DIRS", sep=","),
                           Loc("unknown", "conda's package cache is <root prefix>/pkgs, or ~/.conda/pkgs when the "
                                          "prefix is not writable")),
                  mount=False),
        ),
        offline=(Offline("opt", "--offline", ("pkgs",)),),
        cleanup_paths=("/opt/conda/pkgs", "~/.conda/pkgs", "/opt/miniconda/pkgs", "/opt/micromamba/pkgs",
                       "~/micromamba/pkgs"),
        source="docs.conda.io configuration (pkgs_dirs, CONDA_PKGS_DIRS)",
    ),
    Tool(
        "micromamba", ("micromamba",), pkgmgr=True, cleanup_as="conda", family="conda",
        value_options=_CONDA_OPTS, verbs=_CONDA_VERBS, subverbs=_CONDA_SUBVERBS,
        action_value_options=_CONDA_ACTION_OPTS,
        installs=frozenset({"install", "create", "upgrade", "env-create", "env-update"}),
        cleans=("micromamba clean --all --yes",),
        caches=(
            # mamba.readthedocs.io micromamba-installation: "all environments and cache will be created by
            # default under the MAMBA_ROOT_PREFIX"; the install script's default prefix is ~/micromamba
            Cache("pkgs", (Loc("env", "CONDA_PKGS_DIRS", sep=","), Loc("env", "MAMBA_ROOT_PREFIX", "pkgs"),
                           Loc("home", sub="micromamba/pkgs")),
                  mount=False),
        ),
        offline=(Offline("opt", "--offline", ("pkgs",)),),
        source="mamba.readthedocs.io/en/latest/installation/micromamba-installation.html",
    ),
)

IMAGE_ENV: dict[str, dict[str, str]] = {
    # last path component of the base's repository -> variables the image sets
    "golang": {"GOPATH": "/go"},  # docker-library/golang Dockerfile: ENV GOPATH /go
    "rust": {"CARGO_HOME": "/usr/local/cargo", "RUSTUP_HOME": "/usr/local/rustup"},  # rust-lang/docker-rust
    "composer": {"COMPOSER_HOME": "/tmp"},  # docker-library/repo-info composer: COMPOSER_HOME=/tmp
}
"""Variables official base images set that move a tool's directories. The Dockerfile's own ENV wins."""

_INF = 1 << 30
RPM_CACHEDIRS: dict[str, tuple[tuple[str, int, int, str], ...]] = {
    # (family, first release, last release, cache directory), for the releases rpm_release() reads off the base.
    # yum 3 (RHEL/CentOS <= 7, Amazon Linux 1/2): yum.conf cachedir=/var/cache/yum/$basearch/$releasever.
    # dnf 4 (RHEL 8-10, Fedora 22-40, Amazon Linux 2022+; yum is a link to it): dnf.conf(5) cachedir
    #   /var/cache/dnf for root.
    # dnf 5 (Fedora 41+: dnf5.spec dnf5_obsoletes_dnf for fedora > 40, also yum): dnf5-caching(7) "The default root
    #   cache directory is /var/cache/libdnf5".
    "yum": (("el", 0, 7, "/var/cache/yum"), ("el", 8, 10, "/var/cache/dnf"),
            ("fedora", 0, 21, "/var/cache/yum"), ("fedora", 22, 40, "/var/cache/dnf"),
            ("fedora", 41, _INF, "/var/cache/libdnf5"),
            ("amzn", 0, 2021, "/var/cache/yum"), ("amzn", 2022, _INF, "/var/cache/dnf")),
    "dnf": (("el", 0, 10, "/var/cache/dnf"),
            ("fedora", 0, 40, "/var/cache/dnf"), ("fedora", 41, _INF, "/var/cache/libdnf5"),
            ("amzn", 2022, _INF, "/var/cache/dnf")),
    # microdnf 3 (libdnf) hard-codes /var/cache/yum (dnf/dnf-main.c); dnf5 replaces microdnf on Fedora 38+
    # (dnf5.spec: Provides/Obsoletes microdnf < 4 for fedora > 37).
    "microdnf": (("el", 0, 10, "/var/cache/yum"),
                 ("fedora", 0, 37, "/var/cache/yum"), ("fedora", 38, _INF, "/var/cache/libdnf5"),
                 ("amzn", 2022, _INF, "/var/cache/yum")),
}
_RPM_UNKNOWN = {
    "yum": "yum's cache is /var/cache/yum (yum 3: CentOS 7, Amazon Linux 2), /var/cache/dnf (dnf 4: RHEL/CentOS "
           "8-10, Fedora 22-40, Amazon Linux 2023) or /var/cache/libdnf5 (dnf 5: Fedora 41+)",
    "dnf": "dnf's cache is /var/cache/dnf (dnf 4) or /var/cache/libdnf5 (dnf 5: Fedora 41+)",
    "microdnf": "microdnf's cache is /var/cache/yum (microdnf 3: UBI, RHEL, CentOS) or /var/cache/libdnf5 (dnf 5 "
                "as microdnf: Fedora 38+)",
}


# =====================================================================================================================
# where tools are installed (for "is the tool still there at the end of the chain": dockerfix.model.chain)
# =====================================================================================================================

@dataclass(frozen=True)
class Provision:
    """Where a tool is installed and which packages provide it (what removes it: ``dockerfix.model.chain``)."""

    name: str
    binaries: tuple[str, ...]
    """Command names (``npm``); also matched as the last part of a relative ``rm`` operand."""
    packages: dict[str, tuple[str, ...]]
    """Package-name globs that provide the tool, by family: ``deb`` (apt), ``apk``, ``rpm`` (dnf, yum, microdnf,
    zypper), ``conda`` (conda, mamba, micromamba), ``npm`` (``npm uninstall -g``)."""
    paths: tuple[str, ...]
    """Binaries and install folders: removing one, a folder above one, or a glob matching one removes the tool."""
    code_dirs: tuple[str, ...] = ()
    """The tool's own code: removing anything inside (documentation aside) breaks it."""
    needs: tuple[str, ...] = ()
    """Tools it runs on: removing those removes it too (npm is a node script)."""
    corepack: bool = False
    """``corepack disable`` (no names) removes its shims."""
    dir_vars: tuple[str, ...] = ()
    """Variables that hold its install folder (``NVM_DIR``): ``rm -rf "$NVM_DIR"`` removes it."""


_NODE_CODE = ("/usr/local/lib/node_modules", "/usr/lib/node_modules")
_BINS = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin")
_NVM = ("~/.nvm", "/root/.nvm", "/usr/local/nvm", "/opt/nvm")


def _bins(*names: str) -> tuple[str, ...]:
    return tuple(f"{d}/{n}" for d in _BINS for n in names)


PROVISIONS: dict[str, Provision] = {t.name: t for t in (
    Provision("node", ("node", "nodejs"),
         {"deb": ("nodejs", "nodejs-*", "node"), "apk": ("nodejs", "nodejs-current", "nodejs-lts*"),
          "rpm": ("nodejs", "nodejs[0-9]*", "nodejs-[0-9]*"), "conda": ("nodejs",)},
         _bins("node", "nodejs") + _NVM, dir_vars=("NVM_DIR",)),
    Provision("npm", ("npm",),
         {"deb": ("npm",), "apk": ("npm", "nodejs-npm"), "rpm": ("npm", "npm[0-9]*", "nodejs-npm"),
          "npm": ("npm",)},
         _bins("npm") + tuple(f"{d}/npm" for d in _NODE_CODE) + ("/usr/share/nodejs/npm",),
         code_dirs=tuple(f"{d}/npm" for d in _NODE_CODE) + ("/usr/share/nodejs/npm",),
         needs=("node",)),
    Provision("yarn", ("yarn", "yarnpkg"),
         {"deb": ("yarn", "yarnpkg"), "apk": ("yarn",), "rpm": ("yarn", "yarnpkg"), "npm": ("yarn",),
          "conda": ("yarn",)},
         _bins("yarn", "yarnpkg") + tuple(f"{d}/yarn" for d in _NODE_CODE) + ("/opt/yarn-v*", "/usr/share/yarn"),
         code_dirs=tuple(f"{d}/yarn" for d in _NODE_CODE) + ("/opt/yarn-v*",),
         needs=("node",), corepack=True),
    Provision("pnpm", ("pnpm", "pnpx"),
         {"apk": ("pnpm",), "npm": ("pnpm",)},
         _bins("pnpm", "pnpx") + tuple(f"{d}/pnpm" for d in _NODE_CODE) + ("~/.local/share/pnpm",),
         code_dirs=tuple(f"{d}/pnpm" for d in _NODE_CODE), needs=("node",), corepack=True, dir_vars=("PNPM_HOME",)),
    Provision("conda", ("conda",),
         {"conda": ("conda",)},
         ("/opt/conda", "/opt/conda/bin/conda", "/opt/miniconda", "/opt/miniconda3", "/opt/miniforge",
          "/opt/miniforge3", "/opt/mambaforge", "~/miniconda3", "~/miniforge3", "~/anaconda3") + _bins("conda"),
         code_dirs=("/opt/conda/condabin", "/opt/conda/lib/python3*/site-packages/conda"),
         dir_vars=("CONDA_DIR", "CONDA_ROOT")),
    Provision("mamba", ("mamba",),
         {"conda": ("mamba",)},
         ("/opt/conda", "/opt/conda/bin/mamba", "/opt/miniforge", "/opt/miniforge3", "/opt/mambaforge",
          "~/miniforge3") + _bins("mamba"),
         dir_vars=("CONDA_DIR", "CONDA_ROOT")),
    Provision("micromamba", ("micromamba",),
         {},
         _bins("micromamba") + ("/opt/micromamba/bin/micromamba", "~/.local/bin/micromamba"),
         dir_vars=("MAMBA_EXE",)),
)}


@dataclass(frozen=True)
class LowLevel:
    """A low-level package tool: it installs and removes package files of one format without a repository or
    subcommands (``dpkg``, ``rpm``); what ``dockerfix.model.chain`` asks when such a command may take a tool away."""

    name: str
    """Its command."""
    family: str
    """The package format it handles (the rows' ``family``)."""
    remove_options: tuple[str, ...]
    """The options that make it remove the packages it names; a one-letter one also counts inside a bundle of
    short options (``rpm -ev``)."""
    source: str = ""


LOW_LEVEL: dict[str, LowLevel] = {t.name: t for t in (
    LowLevel("dpkg", "deb", ("-r", "-P", "--remove", "--purge"),
             source="dpkg(1): -r|--remove package..., -P|--purge package..."),
    LowLevel("rpm", "rpm", ("-e", "--erase"), source="rpm(8): -e|--erase PACKAGE_NAME ..."),
)}
"""Command -> the low-level package tool it runs."""


# =====================================================================================================================
# views of the table
# =====================================================================================================================

_BY_NAME = {t.name: t for t in TOOLS}
_BY_COMMAND: dict[str, Tool] = {}
for _t in TOOLS:
    for _c in _t.commands + _t.scripts:
        _BY_COMMAND.setdefault(_c, _t)  # yarn: Yarn Classic unless something says Berry
del _t, _c


def tool_named(name: str) -> Tool:
    return _BY_NAME[name]


def manager_tool(manager: str) -> Tool:
    """The row of a manager ``pkgmgr`` parses (a ``PackageCall.manager``: ``apt-get``, ``mamba``...)."""
    t = _BY_COMMAND[manager]
    if not t.pkgmgr:
        raise KeyError(manager)
    return t


def manager_names() -> tuple[str, ...]:
    """The managers ``pkgmgr`` parses, in table order (``PackageCall.manager`` values)."""
    out: list[str] = []
    for t in TOOLS:
        if t.pkgmgr:
            out.extend(c for c in t.commands if c not in out)
    return tuple(out)


@lru_cache(maxsize=None)
def command_tools() -> frozenset[str]:
    """Command and wrapper-script names of the tools ``pkgmgr`` does not parse (go, cargo, mvn/mvnw, gradle/gradlew,
    bundle, dotnet, poetry, uv, pipenv...): cache mounts look for them among a RUN's commands. Cached: a constant of
    the constant table."""
    return frozenset(c for t in TOOLS if not t.pkgmgr for c in t.commands + t.scripts)


@lru_cache(maxsize=None)
def cleanups_made_pointless(label: str) -> frozenset[str]:
    """The cleanup owners (``Cleanup.manager``) whose cleanup a cache mount of ``label``'s caches makes pointless
    (``apt`` -> apt's; ``uv`` -> uv's and pip's, since ``uv pip`` reads pip's commands). Cached: a pure function of
    the string over the constant table."""
    t = _BY_NAME.get(label) or _BY_COMMAND.get(label)
    if t is None:
        return frozenset({label})
    owners = {t.cleanup_as or t.name, label} | {cleanup_owner(c) for c in t.commands}
    owners |= {u.cleanup_as or u.name for u in TOOLS if t.name in u.subcommand_of}  # uv: `uv pip`'s, pip's
    return frozenset(owners)


@lru_cache(maxsize=None)
def system_managers() -> tuple[str, ...]:
    """The commands of the system package managers, in table order. Cached: a constant of the constant table."""
    out: list[str] = []
    for t in TOOLS:
        if t.system:
            out.extend(t.commands)
    return tuple(out)


def dependency_installers() -> dict[str, Tool]:
    """Command or wrapper script -> the row of a tool ``pkgmgr`` does not parse with a ``dependency_install`` or
    ``dependency_goals`` (what ``manifests.dependency_installs`` reads for it)."""
    return {c: t for t in TOOLS if (t.dependency_install or t.dependency_goals) and not t.pkgmgr
            for c in t.commands + t.scripts}


def ecosystem_files() -> dict[str, tuple[tuple[str, bool, bool], ...]]:
    return {t.ecosystem: t.manifests for t in TOOLS if t.ecosystem and t.manifests}


def lockfiles() -> dict[str, str]:
    return {t.ecosystem: t.lockfile for t in TOOLS if t.ecosystem and t.lockfile}


def frozen_lockfile() -> dict[str, tuple[str, ...]]:
    """Ecosystem -> the options and actions that make its dependency install keep the lockfile (the rows'
    ``frozen``), for the ecosystems whose install may otherwise rewrite it."""
    return {t.ecosystem: t.frozen for t in TOOLS if t.ecosystem and t.frozen}


def project_dirs() -> dict[str, tuple[str, ...]]:
    """Ecosystem -> what its dependency install writes inside the project (the rows' ``project_dirs``)."""
    return {t.ecosystem: t.project_dirs for t in TOOLS if t.ecosystem and t.project_dirs}


def cleanup_paths() -> tuple[tuple[str, str], ...]:
    """(cleanup owner, directory) for every directory whose removal clears a tool's cache, in table order."""
    return tuple((t.cleanup_as or t.name, p) for t in TOOLS for p in t.cleanup_paths)


@lru_cache(maxsize=None)
def root_cache_dirs(manager: str) -> tuple[str, ...]:
    """Every directory where ``manager`` (a ``PackageCall.manager``), run as root with its defaults, may leave its
    cache, whatever the base: the row's ``cleanup_paths`` with ``~`` as ``/root``, and for yum, dnf and microdnf each
    release's cache (:data:`RPM_CACHEDIRS`). Pure (a function of the name, over the constant table)."""
    t = _BY_COMMAND.get(manager)
    if t is None or not t.pkgmgr:
        return ()
    out = ["/root" + p[1:] if p.startswith("~") else p for p in t.cleanup_paths]
    for _fam, _lo, _hi, path in RPM_CACHEDIRS.get(t.name, ()):
        if path not in out:
            out.append(path)
    return tuple(out)


def cleanup_owner(manager: str) -> str:
    """The name a manager's clean command is reported under (``apt-get`` -> ``apt``, ``mamba`` -> ``conda``)."""
    t = _BY_COMMAND.get(manager)
    return (t.cleanup_as or t.name) if t is not None and t.pkgmgr else manager


# =====================================================================================================================
# queries
# =====================================================================================================================

_FALSY = ("", "0", "false", "no", "off", "n")


def _truthy(v: str | None) -> bool:
    return v is None or v.strip().lower() not in _FALSY  # a value only known at build time may be true


def _script_of(name: str | None, script: str) -> bool:
    return name is not None and posixpath.basename(name) == script and name.startswith(("./", "/"))


def identify(obj: Any) -> Use | None:
    """The tool a command (or a ``PackageCall``) runs, and the action; None for anything else."""
    from dockerfix.model.pkgmgr import PackageCall, parse_package_call

    call: PackageCall | None
    if isinstance(obj, PackageCall):
        call, cmd = obj, obj.command
    else:
        cmd, call = obj, parse_package_call(obj)
    eff = cmd.effective
    if call is not None:
        manager = call.manager
        if manager == "pip" and call.invocation and call.invocation[0].value == "uv":
            return Use(_BY_NAME["uv"], call.action, eff, call, "uv")
        tool = _BY_COMMAND.get(manager)
        if tool is None:
            return None
        if tool.name == "yarn" and _is_berry(call, eff):
            tool = _BY_NAME["yarn-berry"]
        label = "apt" if tool.name == "apt" else manager
        return Use(tool, call.action, eff, call, label)
    base = eff.basename
    if base is None:
        return None
    tool = _BY_COMMAND.get(base)
    if tool is None or tool.pkgmgr:
        return None
    if base in tool.scripts and not _script_of(eff.name_value, base):
        return None
    args = [w.value for w in eff.args]
    first = next((a for a in args if a is None or not a.startswith("-")), None)
    action = first
    if first in tool.two_word:
        i = args.index(first)
        nxt = args[i + 1] if i + 1 < len(args) else None
        action = f"{first} {nxt}" if nxt is not None else first
    return Use(tool, action, eff, None, base)


def _is_berry(call: Any, eff: Any) -> bool:
    sig = _BY_NAME["yarn-berry"].signals
    if any(o.name in sig for o in call.options):
        return True
    return any(a.name.startswith(s) for a in eff.assignments for s in sig if s.startswith("YARN_"))


class _Ctx:
    __slots__ = ("env", "home", "root", "base", "use", "_opts")

    def __init__(self, use: Use, env: dict[str, str | None], home: str | None, base: str, user: Any) -> None:
        merged: dict[str, str | None] = dict(_image_env(base))
        merged.update(env)
        for a in use.command.assignments:
            merged[a.name] = a.value.value if a.value is not None else None
        self.env = merged
        self.home = home
        if user is INFER:
            self.root = home == "/root"
        else:
            self.root = user in (None, "", "root", "0", "0:0", "root:root") or (
                isinstance(user, str) and user.partition(":")[0] in ("root", "0"))
        self.base = base
        self.use = use

    def option(self, name: str) -> tuple[bool, str | None]:
        """(given?, value) of an option of the command."""
        call = self.use.call
        if call is not None:
            for o in call.options:
                if o.name == name and o.value is not None:
                    return True, o.value
        # not a value option in pkgmgr's tables (pip -d), or a tool pkgmgr does not parse: the next word
        words = self.use.command.args
        for i, w in enumerate(words):
            v = w.value
            if v is None:
                continue
            if v == name:
                if i + 1 < len(words):
                    return True, words[i + 1].value
                return True, None
            if v.startswith(name + "="):
                return True, v[len(name) + 1:]
        return False, None

    def flag(self, name: str) -> bool:
        call: PackageCall | None = self.use.call
        if call is not None:
            return call.has_option(name)
        return any(w.value == name or (w.value or "").startswith(name + "=") for w in self.use.command.args)

    def prop(self, name: str, vars: tuple[str, ...]) -> tuple[bool, str | None]:
        """A ``-Dname=value`` system property on the command line or in the variables ``vars``."""
        key = f"-D{name}="
        words = self.use.command.args
        for i, w in enumerate(words):
            v = w.value
            if v is None:
                continue
            if v.startswith(key):
                return True, v[len(key):]
            if v == "-D" and i + 1 < len(words):
                nv = words[i + 1].value
                if nv is None:
                    return True, None
                if nv.startswith(name + "="):
                    return True, nv[len(name) + 1:]
        for var in vars:
            if var not in self.env:
                continue
            val = self.env[var]
            if val is None:
                return True, None
            for part in val.split():
                if part.startswith(key):
                    return True, part[len(key):]
        return False, None


def _image_env(base: str) -> dict[str, str]:
    if not base or "$" in base:
        return {}
    from dockerfix.model.ecosystems import repo_name

    return IMAGE_ENV.get(repo_name(base).rsplit("/", 1)[-1], {})


def _join(value: str, sub: str) -> str:
    return posixpath.normpath(posixpath.join(value, sub)) if sub else posixpath.normpath(value)


def _resolve(tool: Tool, where: tuple[Loc, ...], ctx: _Ctx) -> tuple[str | None, str | None]:
    """(path, None) or (None, reason) for a location chain."""
    label = ctx.use.label or tool.name
    for loc in where:
        k = loc.kind
        if k == "opt":
            given, val = ctx.option(loc.name)
            if not given:
                continue
            if val is None:
                return None, f"{label} {loc.name} has no static value"
            return _join(val, loc.sub), None
        if k == "prop":
            given, val = ctx.prop(loc.name, loc.vars)
            if not given:
                continue
            if val is None:
                return None, f"-D{loc.name} has no static value"
            return _join(val, loc.sub), None
        if k == "setopt":
            given, val = False, None
            call = ctx.use.call
            for v in (call.option_values("--setopt") if call is not None else ()):
                if v is None:
                    return None, f"{label} --setopt has no static value"
                if v.startswith(loc.name + "="):
                    given, val = True, v[len(loc.name) + 1:]
            if given:
                return _join(val or "/", loc.sub), None
            continue
        if k == "env":
            if loc.name not in ctx.env:
                continue
            val = ctx.env[loc.name]
            if val is None:
                return None, f"${loc.name} has no static value"
            if loc.sep:
                val = val.split(loc.sep)[0]
            if not val.strip():
                continue
            return _join(val, loc.sub), None
        if k == "xdg-any":
            if not any(n.startswith("XDG_") for n in ctx.env):
                continue
            if ctx.home is None:
                return None, "the RUN's user has an unknown HOME"
            return _join(ctx.home, loc.sub), None
        if k == "root":
            if ctx.root:
                return _join(loc.name, loc.sub), None
            continue
        if k == "home":
            if ctx.home is None:
                return None, "the RUN's user has an unknown HOME"
            return _join(ctx.home, loc.sub), None
        if k == "fixed":
            return loc.name, None
        if k == "relative":
            return loc.name, None
        if k == "family":
            return rpm_cache_dir(loc.name, ctx.base)
        if k == "unless-opt":
            if ctx.flag(loc.name):
                return None, loc.sub
            continue
        if k == "unknown":
            return None, loc.name
        raise ValueError(f"unknown location rule {k!r}")  # pragma: no cover - the table is checked by the tests
    return None, f"no location rule of {tool.name} applies"


def rpm_cache_dir(tool: str, base: str) -> tuple[str | None, str | None]:
    """(cache directory, None) of yum, dnf or microdnf on the base image; (None, reason) when the base does not
    show which release (and so which of yum 3, dnf 4, dnf 5 or microdnf) it ships."""
    from dockerfix.model.ecosystems import rpm_release

    rel = rpm_release(base) if base and "$" not in base else None
    if rel is not None:
        family, version = rel
        for fam, lo, hi, path in RPM_CACHEDIRS[tool]:
            if fam == family and lo <= version <= hi:
                return path, None
    shown = f"the base image {base}" if base else "the base image"
    return None, f"{_RPM_UNKNOWN[tool]}, and {shown} does not show which"


def _use(obj: Any, env: dict[str, str | None] | None = None) -> Use | None:
    """``identify``, and Yarn Berry for ``yarn`` when the environment carries one of its settings."""
    use = obj if isinstance(obj, Use) else identify(obj)
    if use is not None and use.tool.name == "yarn" and env:
        prefixes = tuple(s for s in _BY_NAME["yarn-berry"].signals if s.startswith("YARN_"))
        if any(n.startswith(prefixes) for n in env):
            use = Use(_BY_NAME["yarn-berry"], use.action, use.command, use.call, use.label)
    return use


def _dirs(use: Use, caches: list[Cache], env: dict[str, str | None] | None, home: str | None, base: str,
          user: Any) -> list[ToolDir]:
    ctx = _Ctx(use, env or {}, home, base or "", user)
    out: list[ToolDir] = []
    for c in caches:
        if c.only_if and not (c.only_if in ctx.env and _truthy(ctx.env[c.only_if])):
            continue
        path, reason = _resolve(use.tool, c.where, ctx)
        out.append(ToolDir(use.label or use.tool.name, c.key, path, reason, c.store, c.sharing, c.mount))
    return out


def _writes(c: Cache, action: str | None) -> bool:
    return c.actions is None or (action or "") in c.actions


def cache_dirs(obj: Any, env: dict[str, str | None] | None = None, home: str | None = None, base: str = "", *,
               user: Any = INFER) -> list[ToolDir]:
    """The cache directories ``obj`` writes that a cache mount may hold (see the module docstring)."""
    use = _use(obj, env)
    if use is None:
        return []
    off = use.tool.no_cache_env
    if off and any((env is not None and v in env) or any(a.name == v for a in use.command.assignments)
                   for v in off):
        return []  # a variable that turns the cache off is set (its value does not matter), in the scope or inline
    caches = [c for c in use.tool.caches if c.mount and _writes(c, use.action)]
    return _dirs(use, caches, env, home, base, user)


def fills(obj: Any, env: dict[str, str | None] | None = None, home: str | None = None, base: str = "", *,
          user: Any = INFER) -> list[ToolDir]:
    """Every directory ``obj`` fills for a later step to read (see the module docstring)."""
    use = _use(obj, env)
    if use is None:
        return []
    caches = [c for c in use.tool.caches if c.actions is None or (use.action or "") in c.actions]
    return _dirs(use, caches, env, home, base, user)


def offline_keys(obj: Any, env: dict[str, str | None] | None = None) -> dict[str, bool]:
    """:func:`offline_reads` without the paths: {cache key (``Cache.key``): strict?} of what ``obj`` (a command, a
    ``PackageCall`` or a :class:`Use`) reads offline."""
    use = _use(obj, env)
    keys: dict[str, bool] = {}
    if use is None or not use.tool.offline:
        return keys
    ctx = _Ctx(use, env or {}, None, "", INFER)
    for f in use.tool.offline:
        if f.actions is not None and (use.action or "") not in f.actions:
            continue
        if f.how == "opt":
            on = ctx.flag(f.name)
        elif f.how == "env":
            on = f.name in ctx.env and _truthy(ctx.env[f.name])
        elif f.how == "env=":
            val = ctx.env.get(f.name, "")
            on = f.name in ctx.env and (val is None or f.value in val.split(","))
        else:  # pragma: no cover - the table is checked by the tests
            raise ValueError(f"unknown offline rule {f.how!r}")
        if on:
            for k in f.reads:
                keys[k] = keys.get(k, False) or f.strict
    return keys


def offline_reads(obj: Any, env: dict[str, str | None] | None = None, home: str | None = None, base: str = "", *,
                  user: Any = INFER) -> list[ToolDir]:
    """What ``obj`` reads without the network because of an offline flag or variable (see the module docstring)."""
    use = _use(obj, env)
    if use is None:
        return []
    keys = offline_keys(use, env)
    if not keys:
        return []
    caches = [c for c in use.tool.caches if c.key in keys]
    out = _dirs(use, caches, env, home, base, user)
    return [ToolDir(d.tool, d.key, d.path, d.reason, d.store, d.sharing, d.mount, keys[d.key]) for d in out]


# =====================================================================================================================
# option spellings, recommended packages builds rely on, packages known bases ship, native builds
# =====================================================================================================================


def tool_flag(manager: str, purpose: str) -> str | None:
    """The spelling of the option for ``purpose`` that ``manager`` (a ``PackageCall.manager`` or tool name) takes,
    from the table's ``flags``; None when the tool has none (a transform must then not write one)."""
    t = _BY_COMMAND.get(manager) or _BY_NAME.get(manager)
    if t is None:
        return None
    return dict(t.flags).get(purpose)


@dataclass(frozen=True)
class Recommended:
    """Packages a Debian/Ubuntu package brings only as *Recommends* (skipped by ``--no-install-recommends``) that a
    later step of the build may need."""

    packages: tuple[str, ...]
    """What to add to the install list instead."""
    need: str
    """When a later step needs them: ``https`` (TLS through the system's CA store: curl, wget, git with an https
    URL), ``ssh`` (git over ssh), ``compile`` (a native build: see :func:`native_build`), ``keyserver`` (``gpg
    --recv-keys``/``--keyserver``, which runs dirmngr)."""
    source: str


RECOMMENDS: dict[str, tuple[Recommended, ...]] = {
    # Debian 12 package metadata (`apt-cache show`): curl Depends libcurl4, which Recommends ca-certificates
    "curl": (Recommended(("ca-certificates",), "https", "Debian 12 libcurl4 Recommends: ca-certificates"),),
    "wget": (Recommended(("ca-certificates",), "https", "Debian 12 wget Recommends: ca-certificates"),),
    "git": (Recommended(("ca-certificates",), "https", "Debian 12 git Recommends: ca-certificates, ..."),
            Recommended(("openssh-client",), "ssh", "Debian 12 git Recommends: ..., ssh-client (openssh-client)")),
    "python3-pip": (Recommended(("build-essential", "python3-dev"), "compile",
                                "Debian 12 python3-pip Recommends: build-essential, python3-dev"),),
    "gpg": (Recommended(("dirmngr",), "keyserver", "Debian 12 gpg Recommends: gnupg (which depends on dirmngr)"),),
}
"""Package name -> what ``--no-install-recommends`` drops that builds rely on (Debian 12 and Ubuntu 22.04/24.04 use
the same names)."""

DEPENDS: dict[str, tuple[str, ...]] = {
    "python3-pip": ("ca-certificates",),  # Debian 12 python3-pip Depends: ca-certificates, ...
    "ca-certificates-java": ("ca-certificates",),
}
"""Packages of :data:`RECOMMENDS` interest that another package brings as a hard dependency (kept with
``--no-install-recommends``)."""

BASE_PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # repository -> (packages every tag ships, tag parts for which it does not hold)
    # docker-library: buildpack-deps:*-curl installs ca-certificates (and the images built on it: gcc, node,
    # ruby, perl, python, golang, rust full tags); python:*-slim, golang, rust:*-slim, php and eclipse-temurin
    # install ca-certificates themselves; node:*-slim and ruby:*-slim purge what they installed for the download.
    "buildpack-deps": (("ca-certificates",), ()),
    "python": (("ca-certificates",), ("alpine",)),
    "pypy": (("ca-certificates",), ()),
    "golang": (("ca-certificates",), ("alpine",)),
    "rust": (("ca-certificates",), ("alpine",)),
    "php": (("ca-certificates",), ("alpine",)),
    "eclipse-temurin": (("ca-certificates",), ("alpine",)),
    "maven": (("ca-certificates",), ("alpine",)),
    "gradle": (("ca-certificates",), ("alpine",)),
    "gcc": (("ca-certificates",), ()),
    "node": (("ca-certificates",), ("slim", "alpine")),
    "ruby": (("ca-certificates",), ("slim", "alpine")),
    "perl": (("ca-certificates",), ("slim",)),
}
"""Debian packages known bases are known to ship; ``debian``, ``ubuntu`` and unknown bases: none known."""


def base_has_package(base: str, package: str) -> bool:
    """Whether the base image ``base`` is known to ship ``package`` (False: not known, not "known not to")."""
    from dockerfix.model.ecosystems import repo_name

    ref = (base or "").lower()
    repo = repo_name(ref)
    if repo.startswith("docker.io/library/"):
        repo = repo[len("docker.io/library/"):]
    got = BASE_PACKAGES.get(repo)
    if got is None or package not in got[0]:
        return False
    tag = ref.rsplit(":", 1)[-1] if ":" in ref.rsplit("/", 1)[-1] else ""
    return not any(part in tag for part in got[1])


NATIVE_BUILD_COMMANDS = frozenset({
    "gcc", "g++", "cc", "c++", "clang", "clang++", "gfortran", "make", "gmake", "cmake", "ninja", "meson",
    "configure", "autoreconf", "autogen.sh", "node-gyp", "rustc", "cythonize", "ld",
})
"""Commands that compile native code themselves."""

_NATIVE_INSTALLS = {
    # package installs that build native code when a package ships only sources: pip sdists (setup.py, PEP 517
    # backends), npm/yarn/pnpm install scripts (node-gyp), gem native extensions (extconf.rb)
    "pip": frozenset({"install", "wheel", "download"}), "npm": frozenset({"install", "ci", "rebuild"}),
    "yarn": frozenset({"", "install", "add"}), "pnpm": frozenset({"install", "add", "rebuild"}),
    "gem": frozenset({"install", "update"}), "composer": frozenset({"install", "require", "update"}),
}
_NATIVE_TOOLS = {
    "bundle": frozenset({"install", "update"}), "cargo": frozenset({"build", "install", "test", "run", "bench"}),
    "go": frozenset({"build", "install", "test", "run", "generate"}), "poetry": frozenset({"install", "sync"}),
    "pipenv": frozenset({"install", "sync"}), "uv": frozenset({"sync", "pip"}),
}


_PARSE_CALL: list[Any] = []


def _load_parse_call() -> Any:
    # pkgmgr imports this module: imported on first use and kept (an import statement per command cost 2% of a fix
    # of a file of install blocks)
    from dockerfix.model.pkgmgr import parse_package_call

    _PARSE_CALL.append(parse_package_call)
    return parse_package_call


def native_build(command: Any, env: dict[str, str | None] | None = None) -> str | None:
    """Why ``command`` (a ``SimpleCommand``, wrappers looked through) may compile native code, or None.

    A compiler or build system; a package install that builds from sources when no binary fits (pip without
    ``--only-binary=:all:``, npm/yarn/pnpm without ``--ignore-scripts``, gem, bundle); ``cargo build``; ``go build``
    unless ``CGO_ENABLED=0``; ``python setup.py``; and a script dockerfix cannot read (``sh build.sh``, ``./x``)."""
    parse_package_call = _PARSE_CALL[0] if _PARSE_CALL else _load_parse_call()
    eff = command.effective
    base = eff.basename or ""
    args = [w.value for w in eff.args]
    if base in NATIVE_BUILD_COMMANDS:
        return f"`{base}` compiles"
    if base.startswith("python") and "setup.py" in [(a or "").rsplit("/", 1)[-1] for a in args[:2]]:
        return "`setup.py` builds the package"
    call = parse_package_call(eff)
    if call is not None and call.manager in _NATIVE_INSTALLS and (call.action or "") in _NATIVE_INSTALLS[call.manager]:
        opts = {o.name: o.value for o in call.options}
        if call.manager == "pip" and (opts.get("--only-binary") == ":all:" or "--no-deps" in opts and not call.packages):
            return None
        if call.manager in ("npm", "yarn", "pnpm") and "--ignore-scripts" in opts:
            return None
        return f"`{call.manager} {call.action or 'install'}` may build native extensions from sources"
    sub = args[0] if args else None
    if base in _NATIVE_TOOLS and sub in _NATIVE_TOOLS[base]:
        if base == "go":
            merged = dict(env or {})
            merged.update({a.name: (a.value.value if a.value is not None else None) for a in eff.assignments})
            merged.update({a.name: (a.value.value if a.value is not None else None) for a in command.assignments})
            if merged.get("CGO_ENABLED") == "0":
                return None
            return f"`go {sub}` compiles cgo code with the C toolchain (CGO_ENABLED is not 0)"
        return f"`{base} {sub}` may build native code"
    if base in ("sh", "bash", "dash", "zsh", "ash") and args:
        if not (args[0] or "").startswith("-"):
            return f"`{base} {args[0]}` runs a script dockerfix cannot read"
        if any(a is None or a.startswith("-") and "c" in a[1:] and not a.startswith("--") for a in args):
            return f"`{base} -c` runs a command string dockerfix does not read"
    name = eff.name_value or ""
    if name.startswith("./") or (name.startswith("/") and base.endswith(".sh")):
        return f"`{name}` runs a script dockerfix cannot read"
    return None
