"""Package-manager invocations and cache cleanups inside a parsed RUN script.

Reads ``dockerfix.model.shell`` nodes only; no regexes over command text. The grammar (which managers, their options
that take a value, subcommand aliases, two-word subcommands, cache directories an ``rm`` clears) is the tool table's,
``dockerfix.model.tools``: this module states no fact about a manager, it reads them.

API
    ``find_package_calls(script) -> list[PackageCall]``
        Every simple command (wrappers such as ``sudo``/``env`` looked through, see
        ``SimpleCommand.effective``) that runs a known package manager, in source order.
    ``parse_package_call(cmd, site=None) -> PackageCall | None``
        The same for one ``SimpleCommand``.
    ``find_cleanups(script) -> list[Cleanup]``
        Commands that clear a package manager's cache or index: the manager's own clean command
        (``apt-get clean``, ``dnf clean all``, ``npm cache clean --force``, ``conda clean -afy``,
        ``pip cache purge``...) and ``rm`` of a known cache directory (``rm -rf /var/lib/apt/lists/*``).
    ``removed_paths(cmd) -> list[str]``
        The static operands of an ``rm`` command (quote-removed; globs and ``~`` kept verbatim).
    ``MANAGERS``: the canonical manager names.

Managers (``PackageCall.manager``)
    apt-get, apt, apk, dnf, yum, microdnf, zypper, pip (also pipX, pipX.Y, ``python -m pip``,
    ``python3.12 -m pip``, ``uv pip``: see ``PackageCall.invocation``), npm, yarn, pnpm, gem, composer,
    conda, mamba, micromamba.

Actions (``PackageCall.action``), aliases resolved
    ``install``; ``add`` (apk, yarn, pnpm, composer require); ``ci`` (npm ci / clean-install);
    ``update`` = refresh the package index only (apt update, apk update, zypper refresh, dnf/yum makecache);
    ``upgrade`` = upgrade installed packages (apt upgrade, but also ``yum update``, ``dnf update``,
    ``npm update``, ``composer update``, ``gem update``, ``conda update``); ``dist-upgrade``;
    ``remove`` (remove, purge is kept as ``purge``, apk del, pip uninstall, npm rm...); ``autoremove``;
    ``clean`` (apt-get clean, dnf/yum clean, zypper clean, gem cleanup, conda clean); ``dist-clean``
    (apt-get distclean); ``cache-clean`` (npm/yarn cache clean, pip cache purge/remove, apk cache
    clean/purge, pnpm store prune, composer clear-cache); ``env-create``/``env-update`` (conda env ...).
    Anything else is the subcommand as written; ``None`` when there is no static subcommand.

Options (``Option``)
    ``--name=value`` and ``--name value`` (for options known to take a value), short clusters split
    (``-qy`` -> ``-q``, ``-y``), ``-rreq.txt``; ``--`` ends options. Options before and after the action
    are both collected, in order.
"""

from __future__ import annotations

from functools import lru_cache

from dockerfix._record import dataclass

from dockerfix.model import tools
from dockerfix.model.shell import CommandSite, Script, SimpleCommand, Word

__all__ = [
    "MANAGERS",
    "Cleanup",
    "Option",
    "PackageCall",
    "find_cleanups",
    "find_package_calls",
    "parse_package_call",
    "removed_paths",
]

MANAGERS = tools.manager_names()
"""apt-get, apt, apk, dnf, yum, microdnf, zypper, pip, conda, mamba, micromamba, npm, yarn, pnpm, gem, composer: the
tools of ``dockerfix.model.tools`` whose command lines this module parses."""


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # "--no-cache-dir", "-y", "--setopt"
    value: str | None  # "install_weak_deps=False"; None for a flag or a dynamic value
    words: tuple[Word, ...]  # the word(s) it was read from (a short cluster shares its word)

    @property
    def span(self) -> tuple[int, int]:
        return self.words[0].span[0], self.words[-1].span[1]


@dataclass(frozen=True, slots=True)
class PackageCall:
    manager: str
    action: str | None
    options: tuple[Option, ...]
    packages: tuple[Word, ...]  # positional operands after the action (for `clean all`: `all`)
    command: SimpleCommand  # as written, wrappers included
    invocation: tuple[Word, ...]  # words naming the manager: (`pip3`,), (`python3`, `-m`, `pip`), (`uv`, `pip`)
    action_words: tuple[Word, ...] = ()  # `install`; `cache`, `clean`; `env`, `create`
    site: CommandSite | None = None

    def has_option(self, *names: str) -> bool:
        return any(o.name in names for o in self.options)

    def option(self, *names: str) -> Option | None:
        for o in self.options:
            if o.name in names:
                return o
        return None

    def option_values(self, *names: str) -> list[str | None]:
        return [o.value for o in self.options if o.name in names]

    @property
    def package_names(self) -> tuple[str | None, ...]:
        return tuple(w.value for w in self.packages)

    @property
    def is_install(self) -> bool:
        return self.action in tools.INSTALL_ACTIONS

    @property
    def is_cleanup(self) -> bool:
        return self.action in tools.CLEAN_ACTIONS


@dataclass(frozen=True, slots=True)
class Cleanup:
    manager: str  # whose cache: "apt", "apk", "dnf", "yum", "zypper", "pip", "npm", "yarn", "pnpm", ...
    command: SimpleCommand
    cache: str | None  # the known cache directory an `rm` removes (None for a manager's clean command)
    path: str | None  # the `rm` operand that matched
    call: PackageCall | None = None  # the clean command, when it is one
    site: CommandSite | None = None


# --- the grammar, read from the tool table (``dockerfix.model.tools``: value_options, verbs, subverbs...) ----------

_TOOL: dict[str, tools.Tool] = {m: tools.manager_tool(m) for m in MANAGERS}
"""Manager -> its row of the tool table (apt-get and apt share one, conda and mamba another)."""
_VERSIONED: tuple[str, ...] = tuple(m for m in MANAGERS if _TOOL[m].versioned)
"""Managers also run with a version suffix (the row's ``versioned``: ``pip3``, ``pip3.12``)."""
_MODULES: dict[str, str] = {t.module: m for m, t in _TOOL.items() if t.module}
"""Python module -> manager (the row's ``module``: ``python -m pip``)."""
_HOSTED: dict[str, dict[str, str]] = {}
"""Host command -> {subcommand: manager} (the row's ``subcommand_of``: ``uv pip``)."""
for _m, _t in _TOOL.items():
    for _h in _t.subcommand_of:
        _HOSTED.setdefault(_h, {})[_m] = _m
del _m, _t, _h
_NO_VERBS: dict[str, str] = {}
_NAMES: frozenset[str] = frozenset(_TOOL) | frozenset(_HOSTED)
"""Effective command names that may run a manager (itself or its host); with the versioned and ``python`` prefixes of
:func:`_manager_of`, the test :func:`_may_be_call` makes before reading a command."""
_PREFIXES: tuple[str, ...] = _VERSIONED + ("python",)


def _may_be_call(base: str | None) -> bool:
    """False when a command whose effective command is named ``base`` is certainly no package-manager call (most
    commands: ``echo``, ``rm``): such a command is refused without reading its words."""
    return base is not None and (base in _NAMES or base.startswith(_PREFIXES))


def _manager_of(cmd: SimpleCommand) -> tuple[str, int] | None:
    """(manager, number of words naming it) for a command, or None."""
    base = cmd.basename
    if base is None:
        return None
    if base in _TOOL:
        return base, 1
    for m in _VERSIONED:
        if base.startswith(m) and _is_versioned(base[len(m):]):
            return m, 1
    if base.startswith("python") and _is_versioned(base[6:]):
        return _python_m(cmd)
    hosted = _HOSTED.get(base)
    if hosted is not None and len(cmd.words) > 1:
        sub = cmd.words[1].value
        hit = hosted.get(sub) if sub is not None else None
        if hit is not None:
            return hit, 2
    return None


def _is_versioned(rest: str) -> bool:
    return rest == "" or all(c.isdigit() or c == "." for c in rest) and rest[0].isdigit()


def _python_m(cmd: SimpleCommand) -> tuple[str, int] | None:
    """``python [interpreter options] -m MODULE`` for a module the table names: (manager, words up to MODULE)."""
    words = cmd.words
    i = 1
    while i < len(words):
        v = words[i].value
        if v is None:
            return None
        if v == "-m":
            if i + 1 < len(words):
                m = _MODULES.get(words[i + 1].value)  # type: ignore[arg-type]  # None is no key
                if m is not None:
                    return m, i + 2
            return None
        if v.startswith("-m"):
            m = _MODULES.get(v[2:])
            return (m, i + 1) if m is not None else None
        if v.startswith("-") and v not in ("-c", "-"):
            i += 1  # -u, -I, -E, -s, -B, -O, -W x...
            if v in ("-W", "-X") and i < len(words):
                i += 1
            continue
        return None
    return None


def _host(manager: str, invocation: tuple[Word, ...]) -> tools.Tool | None:
    """The row of the tool that runs ``manager`` as its subcommand here (``uv`` for ``uv pip``), or None."""
    if len(invocation) == 2 and invocation[0].value in _HOSTED:
        return tools.tool_named(invocation[0].value)
    return None


def _parse_args(words: tuple[Word, ...], i: int, value_opts: frozenset[str] | set[str]) -> tuple[list[Option], list[Word]]:
    options: list[Option] = []
    positionals: list[Word] = []
    end_of_opts = False
    while i < len(words):
        w = words[i]
        v = w.value
        if end_of_opts or v is None or not v.startswith("-") or v == "-":
            positionals.append(w)
            i += 1
            continue
        if v == "--":
            end_of_opts = True
            i += 1
            continue
        if v.startswith("--"):
            if "=" in v:
                name, val = v.split("=", 1)
                options.append(Option(name, val, (w,)))
                i += 1
            elif v in value_opts and i + 1 < len(words):
                nxt = words[i + 1]
                options.append(Option(v, nxt.value, (w, nxt)))
                i += 2
            else:
                options.append(Option(v, None, (w,)))
                i += 1
            continue
        # short option(s): -y, -qy, -rreq.txt, -r req.txt
        consumed_next = False
        k = 1
        while k < len(v):
            name = "-" + v[k]
            if name in value_opts:
                rest = v[k + 1:]
                if rest:
                    options.append(Option(name, rest.lstrip("="), (w,)))
                elif i + 1 < len(words):
                    nxt = words[i + 1]
                    options.append(Option(name, nxt.value, (w, nxt)))
                    consumed_next = True
                else:
                    options.append(Option(name, None, (w,)))
                break
            options.append(Option(name, None, (w,)))
            k += 1
        i += 2 if consumed_next else 1
    return options, positionals


def parse_package_call(cmd: SimpleCommand, site: CommandSite | None = None) -> PackageCall | None:
    """Read one simple command as a package-manager call (wrappers looked through), or None.

    The reading depends on the (immutable) command alone and is kept in the command's memo slot: the transforms ask
    about the same commands ~36k times over the corpus. The slot keeps the call's fields without the command (a call
    holds its command: kept whole, the pair would be a reference cycle), and a call is built per question."""
    memo = cmd._reading
    if memo is None:
        call = _parse_call(cmd, site, None) if _may_be_call(cmd.effective_basename) else None
        memo = False if call is None else (call.manager, call.action, call.options, call.packages, call.invocation,
                                           call.action_words)
        object.__setattr__(cmd, "_reading", memo)
        return call  # (the first question's call is the one just read)
    if memo is False:
        return None
    return PackageCall(memo[0], memo[1], memo[2], memo[3], cmd, memo[4], memo[5], site)


def _parse_call(cmd: SimpleCommand, site: CommandSite | None, extra_value_opts: set[str] | None) -> PackageCall | None:
    retry = bool(extra_value_opts)
    eff = cmd.effective
    found = _manager_of(eff)
    if found is None:
        return None
    manager, n = found
    tool = _TOOL[manager]
    words = eff.words
    invocation = words[:n]
    value_opts = tool.value_options | extra_value_opts if extra_value_opts else tool.value_options
    options, positionals = _parse_args(words, n, value_opts)
    action_words: tuple[Word, ...] = ()
    action = None
    rest = positionals
    if rest and rest[0].value is not None:
        first = rest[0].value
        if tool.global_prefix and first == "global" and len(rest) > 1 and rest[1].value is not None:
            action_words = (rest[0],)
            rest = rest[1:]
            first = rest[0].value  # type: ignore[assignment]  # not None: checked as rest[1] above
        host = _host(manager, invocation) if n == 2 else None
        grammar = host if host is not None and host.subverbs and first in host.subverbs else tool
        sub = grammar.subverbs.get(first) if grammar.subverbs else None
        if sub is not None and len(rest) > 1 and rest[1].value in sub:
            action = sub[rest[1].value]
            action_words += (rest[0], rest[1])
            rest = rest[2:]
        else:
            action = (tool.verbs or _NO_VERBS).get(first, first)
            action_words += (rest[0],)
            rest = rest[1:]
    if not retry and tool.action_value_options and action in tool.action_value_options:
        # the row's options that take a value in this action only (conda's `-f`: --file in `env create`)
        return _parse_call(cmd, site, extra_value_opts=set(tool.action_value_options[action]))
    return PackageCall(manager, action, tuple(options), tuple(rest), cmd, invocation, action_words, site)


def find_package_calls(script: Script) -> list[PackageCall]:
    """Every package-manager call in the script, in source order (empty when the script is not ok)."""
    return list(script.view(_find_package_calls))


def _find_package_calls(script: Script) -> list[PackageCall]:
    if not script.ok:
        return []
    out = []
    for site in script.sites:
        call = parse_package_call(site.command, site)
        if call is not None:
            out.append(call)
    return out


# --- rm and caches ---------------------------------------------------------------------------------------

def removed_paths(cmd: SimpleCommand) -> list[str]:
    """Static operands of an ``rm`` command (wrappers looked through); [] for anything else.

    Values are quote-removed; globs and a leading ``~`` are kept verbatim. Operands holding an
    expansion (``$HOME/.cache``) are left out.
    """
    if cmd.effective_basename != "rm":
        return []
    eff = cmd.effective
    out = []
    end_of_opts = False
    for w in eff.args:
        v = w.value
        if v is None:
            continue
        if not end_of_opts and v == "--":
            end_of_opts = True
            continue
        if not end_of_opts and v.startswith("-") and len(v) > 1:
            continue
        out.append(v)
    return out


# cache directories, "~" meaning the home directory (matched as "~" and "/root"): the table's cleanup paths
_CACHES: tuple[tuple[str, str], ...] = tools.cleanup_paths()
_HOMES = ("~", "/root")


def _normalize(path: str) -> tuple[str, bool] | None:
    """(directory, exact) for an rm operand: trailing ``/``, ``/*``, ``/.*``, ``/**`` dropped. A glob
    further in (``/var/cache/apt/archives/*.deb``) keeps the directory before it, with exact=False:
    it removes something inside that directory, not the directory itself."""
    p = path
    while "//" in p:
        p = p.replace("//", "/")
    changed = True
    while changed:
        changed = False
        for suffix in ("/**", "/*", "/.*", "/"):
            if p.endswith(suffix) and len(p) > len(suffix):
                p = p[: -len(suffix)]
                changed = True
    if p.startswith("~root/"):
        p = "~/" + p[6:]
    exact = True
    if "*" in p or "?" in p or "[" in p:
        cut = min(i for i in (p.find("*"), p.find("?"), p.find("[")) if i >= 0)
        p = p[: p.rfind("/", 0, cut)]
        exact = False
        if not p:
            return None
    return p, exact


# each cache with the forms an rm operand may name it by ("~" caches as ``~/...`` and ``/root/...``), each with its
# trailing "/": built once, not per operand and cache
_CACHE_FORMS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = tuple(
    (manager, cache, tuple((f, f + "/") for f in ([h + cache[1:] for h in _HOMES] if cache.startswith("~")
                                                   else [cache])))
    for manager, cache in _CACHES
)


@lru_cache(maxsize=4096)
def _matches(path: str) -> tuple[tuple[str, str], ...]:
    """(manager, cache dir) pairs that removing ``path`` clears: the dir itself, inside it, or a parent
    at least two levels deep (``/var/cache``, ``/root/.cache``). A pure function of the operand, once per distinct
    operand (the same few cleanups recur in every file; each was compared with every cache form)."""
    norm = _normalize(path)
    if norm is None:
        return ()
    p, exact = norm
    deep_enough = p.count("/") >= 2 or p.startswith("~/")
    parent_of = p + "/"
    hits = []
    for manager, cache, forms in _CACHE_FORMS:
        for form, form_dir in forms:
            if p == form or p.startswith(form_dir):
                hits.append((manager, cache))
                break
            if exact and deep_enough and form.startswith(parent_of):
                hits.append((manager, cache))
                break
    return tuple(hits)


def find_cleanups(script: Script) -> list[Cleanup]:
    """Cache and index cleanups in the script, in source order (empty when the script is not ok)."""
    return list(script.view(_find_cleanups))


def _find_cleanups(script: Script) -> list[Cleanup]:
    if not script.ok:
        return []
    out: list[Cleanup] = []
    calls = script.view(_find_package_calls)  # the sites' readings, in site order: read once per script
    j = 0
    for site in script.sites:
        cmd = site.command
        call = None
        if j < len(calls) and calls[j].site is site:
            call = calls[j]
            j += 1
        if call is not None:
            if _is_clean_call(call):
                host = _host(call.manager, call.invocation)
                who = tools.cleanup_owner(call.manager) if host is None else host.cleanup_as or host.name
                out.append(Cleanup(who, cmd, None, None, call, site))
            continue
        for path in removed_paths(cmd):
            for manager, cache in _matches(path):
                out.append(Cleanup(manager, cmd, cache, path, None, site))
    return out


def _is_clean_call(call: PackageCall) -> bool:
    if call.action not in tools.CLEAN_ACTIONS:
        return False
    operands = _TOOL[call.manager].clean_operands if call.action == "clean" else None
    return operands is None or any(w.value in operands for w in call.packages)
