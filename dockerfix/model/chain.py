"""Facts about a RUN's command chain as a whole: what a later command in the same script does to a tool.

Reads ``dockerfix.model.shell`` scripts (and ``dockerfix.model.pkgmgr`` calls) only; no regexes over command text.

API
    ``tool_removal(script, tool, after) -> Removal | None``
        Whether the commands that start at or after script offset ``after`` remove ``tool`` (or a tool it runs on),
        so that a command *appended* to the chain could no longer run it (exit 127). None when nothing does. This is
        the question every transform that appends a command of a tool to a RUN (``npm cache clean --force``,
        ``yarn cache clean``, ``conda clean -afy``...) must ask first: pass the end of the command the appended one
        follows (``call.command.span[1]``).
    ``TOOLS`` (``dockerfix.model.tools.PROVISIONS``, part of the one tool table): the tools this module knows (``npm``, ``node``, ``yarn``, ``pnpm``, ``conda``, ``mamba``,
    ``micromamba``): the packages that provide each, per package-manager family, the paths of its binaries and
    install folders, and the tools it runs on (``npm`` needs ``node``).

What counts as a removal (each in any position of the chain: after ``||``, inside ``if``, a subshell or ``$( )`` it
still *may* run, and a may is enough to refuse an append)
    - a package removal of a providing package: ``apt-get remove/purge`` (``--auto-remove`` or not), ``apk del``
      (also of a ``--virtual``/``-t`` group the same chain made with a providing package, and of any ``.name``
      group it did not make, whose content is unknown), ``dnf/yum/microdnf remove/erase``, ``zypper rm``,
      ``conda/mamba/micromamba remove``; package words may carry versions (``npm=9.*``), architectures
      (``nodejs:amd64``) or globs (``'nodejs*'``);
    - the tool uninstalling itself: ``npm uninstall -g npm`` (any alias, ``--global``, ``--location=global``),
      ``npm uninstall -g yarn``, ``corepack disable [tool]``;
    - ``rm`` of a binary or install folder of the tool, of a folder above one (``rm -rf /usr/local``), of a glob
      that matches one of those (``rm -rf /usr/local/lib/node_modules/*``), of something inside the tool's own code
      folder (``/usr/local/lib/node_modules/npm/node_modules``; documentation folders excepted), of a relative path
      whose last part is the tool's binary name (the working directory is unknown), or of a path built from an
      expansion that names the tool (``rm "$(command -v npm)"``, ``rm -rf "$NVM_DIR"``).
    A later install of a providing package (``apk add npm``) puts the tool back: only the last event counts.

Not a removal: ``apt-get autoremove`` without packages (explicitly installed packages stay, and a tool from the
base image is no package), ``rm -rf node_modules`` (a project's dependencies), removing a cache.
"""

from __future__ import annotations

from dockerfix._record import dataclass
from fnmatch import fnmatchcase

from dockerfix.model.pkgmgr import PackageCall, parse_package_call, removed_paths
from dockerfix.model.shell import Pipeline, Script, SimpleCommand, Word

__all__ = ["TOOLS", "Removal", "Tool", "tool_removal"]


# what provides each tool and where it lives: part of the one table of tools
from dockerfix.model.tools import PROVISIONS as TOOLS  # noqa: E402
from dockerfix.model.tools import Provision as Tool  # noqa: E402

from dockerfix.model.tools import ADD_ACTIONS, LOW_LEVEL, REMOVE_ACTIONS, manager_names, manager_tool  # noqa: E402

# manager -> the package format it installs (the tool table's ``family``)
_FAMILY = {m: f for m in manager_names() if (f := manager_tool(m).family) is not None}
_DOC_PARTS = frozenset({"doc", "docs", "man", "html", "changelog.md", "readme.md", "license"})
_GLOBAL_NPM = ("-g", "--global")


@dataclass(frozen=True)
class Removal:
    tool: str
    """The tool asked about."""
    via: str
    """The tool the command removes (the tool itself, or one it runs on: ``node`` for ``npm``)."""
    command: SimpleCommand
    how: str
    """What the command does, for a message: ``apt-get purge removes the package nodejs``."""

    @property
    def text(self) -> str:
        return self.command.raw


def tool_removal(script: Script, tool: str, after: int) -> Removal | None:
    """The last command at or after offset ``after`` of ``script`` that removes ``tool`` (or a tool it needs),
    unless a later command installs it again; None when the tool is still there at the end of the chain.

    An unknown ``tool`` (not in :data:`TOOLS`) or a script that is not ``ok`` gives None: callers that must be sure
    check ``script.ok`` themselves (they cannot append to such a script anyway)."""
    if tool not in TOOLS or not script.ok:
        return None
    names = _closure(tool)
    virtuals: dict[str, tuple[str, ...]] = {}
    state: Removal | None = None
    for site in script.sites:
        cmd = site.command
        call = parse_package_call(cmd, site)
        if call is not None and call.manager == "apk" and call.action == "add":
            group = _virtual_name(call)
            if group is not None:
                virtuals[group] = tuple(v for v in call.package_names if v is not None)
        if cmd.span[0] < after:
            continue
        hit = _removes(cmd, call, names, virtuals)
        if hit is not None:
            via, how = hit
            state = Removal(tool, via, cmd, how)
        elif state is not None and call is not None and _reinstalls(call, state.via):
            state = None
    return state


def _closure(tool: str) -> tuple[str, ...]:
    out = [tool]
    for t in out:
        for n in TOOLS[t].needs:
            if n not in out:
                out.append(n)
    return tuple(out)


def _virtual_name(call: PackageCall) -> str | None:
    for o in call.options:
        if o.name in ("-t", "--virtual"):
            return o.value
    return None


def _package_name(word: str, family: str) -> str:
    name = word
    if family == "deb":
        name = name.split("=", 1)[0].split(":", 1)[0]
    elif family == "apk":
        for sep in ("~", "=", ">", "<"):
            name = name.split(sep, 1)[0]
    elif family == "rpm":
        name = name.split(">", 1)[0].split("<", 1)[0].split("=", 1)[0]
    elif family == "conda":
        for sep in ("=", ">", "<", "!", " "):
            name = name.split(sep, 1)[0]
        name = name.rsplit("::", 1)[-1]
    elif family == "npm":
        if name.startswith("@"):
            return name
        name = name.split("@", 1)[0]
    return name


def _provides(word: str, family: str, tool: str) -> bool:
    name = _package_name(word, family)
    pats = TOOLS[tool].packages.get(family, ())
    if family == "rpm" and "-" in name:
        # dnf/yum accept name-version(-release): nodejs-18.19.0
        head = name.split("-", 1)[0]
        if any(fnmatchcase(head, p) for p in pats if "-" not in p) and name[len(head) + 1:][:1].isdigit():
            return True
    for p in pats:
        if fnmatchcase(name, p):
            return True
        if any(c in name for c in "*?[") and fnmatchcase(p.rstrip("*") or p, name):
            return True  # the user's glob (`nodejs*`) matches the package
    return False


def _removes(cmd: SimpleCommand, call: PackageCall | None, names: tuple[str, ...],
             virtuals: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    if call is not None:
        return _call_removes(call, names, virtuals)
    eff = cmd.effective
    if eff.basename == "corepack":
        vals = [w.value for w in eff.args]
        if vals and vals[0] == "disable":
            named = [v for v in vals[1:] if v is not None and not v.startswith("-")]
            for n in names:
                t = TOOLS[n]
                if (not named and t.corepack) or any(v.split("@", 1)[0] == n for v in named):
                    return n, f"`corepack disable` removes the {n} shim"
        return None
    if eff.basename == "rm":
        return _rm_removes(eff, names)
    low = LOW_LEVEL.get(eff.basename or "")
    if low is not None:
        family, flags = low.family, low.remove_options
        vals = [w.value for w in eff.args]
        if not any(v is not None and (v in flags or (v[:1] == "-" and v[1:2] != "-" and
                                                      any(f[1:] in v[1:] for f in flags if len(f) == 2)))
                   for v in vals):
            return None
        for v in vals:
            if v is None:
                return names[0], f"`{eff.basename}` removes a package named by a variable"
            if v.startswith("-"):
                continue
            for n in names:
                if _provides(v, family, n):
                    return n, f"`{eff.basename}` removes the package {v}"
    return None


def _call_removes(call: PackageCall, names: tuple[str, ...],
                  virtuals: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    if call.action not in REMOVE_ACTIONS:
        return None
    mgr = call.manager
    if mgr in ("npm", "pnpm", "yarn"):
        if mgr == "npm" and not (call.has_option(*_GLOBAL_NPM) or "global" in call.option_values("--location")):
            return None
        if mgr in ("yarn", "pnpm") and not (call.action_words and call.action_words[0].value == "global"
                                            or call.has_option("-g", "--global")):
            return None
        verb = " ".join(w.raw for w in (call.invocation + call.action_words))
        for w in call.packages:
            v = w.value
            if v is None:
                return names[0], f"`{verb}` removes a global package named by a variable"
            for n in names:
                if _provides(v, "npm", n):
                    return n, f"`{verb}` removes the global package {v}"
        return None
    family = _FAMILY.get(mgr)
    if family is None:
        return None
    verb = " ".join(w.raw for w in (call.invocation + call.action_words))
    for w in call.packages:
        v = w.value
        if v is None:
            return names[0], f"`{verb}` removes a package named by a variable"
        for n in names:
            if _provides(v, family, n):
                return n, f"`{verb}` removes the package {v}"
        if family == "apk":
            group = virtuals.get(v)
            if group is not None:
                for n in names:
                    if any(_provides(g, "apk", n) for g in group):
                        return n, f"`{verb}` removes the virtual package {v}, which holds {n}"
            elif v.startswith("."):
                return names[0], f"`{verb}` removes the virtual package {v}, whose content this RUN does not show"
    return None


def _rm_removes(eff: SimpleCommand, names: tuple[str, ...]) -> tuple[str, str] | None:
    ops = removed_paths(eff)
    for n in names:
        t = TOOLS[n]
        for op in ops:
            if _path_removes(op, t):
                return n, f"`rm` of {op} removes {n}"
        for w in eff.args:
            if w.value is None and _dynamic_names_tool(w, t):
                return n, f"`rm` of {w.raw} may remove {n}"
    return None


_LOOKUPS = frozenset({"which", "command", "type", "readlink", "realpath", "dirname"})


def _dynamic_names_tool(w: Word, t: Tool) -> bool:
    """An ``rm`` operand built from an expansion that points at the tool: the whole install folder variable
    (``"$NVM_DIR"``, ``${NVM_DIR}/*``) or a lookup of its binary (``"$(command -v npm)"``, `` `which npm` ``)."""
    raw = w.raw.strip("\"'")
    for v in t.dir_vars:
        for form in (f"${v}", f"${{{v}}}"):
            if raw in (form, form + "/", form + "/*"):
                return True
    for seq in w.substitutions:
        for node in seq.items:
            cmds = node.commands if isinstance(node, Pipeline) else (node,)
            for c in cmds:
                if isinstance(c, SimpleCommand) and c.effective.basename in _LOOKUPS and any(
                        a.value is not None and a.value.rsplit("/", 1)[-1] in t.binaries for a in c.effective.args):
                    return True
    return False


def _norm(p: str) -> str:
    while "//" in p:
        p = p.replace("//", "/")
    if p == "~" or p.startswith("~/"):
        p = "/root" + p[1:]  # HOME of root; other users' homes are named in full
    elif p.startswith("~root/"):
        p = "/root/" + p[6:]
    while len(p) > 1 and p.endswith("/"):
        p = p[:-1]
    while p.endswith("/."):
        p = p[:-2] or "/"
    return p


def _has_glob(s: str) -> bool:
    return "*" in s or "?" in s or "[" in s


def _seg(op: str, target: str) -> bool:
    """One path segment of an ``rm`` operand against one of a known path (either may be a glob)."""
    return fnmatchcase(target, op) or (_has_glob(target) and fnmatchcase(op, target))


def _path_removes(op: str, t: Tool) -> bool:
    p = _norm(op)
    if not p.startswith("/"):
        return p.rsplit("/", 1)[-1] in t.binaries  # relative: the working directory is unknown
    opp = [x for x in p.split("/") if x]
    for target in t.paths:
        tp = [x for x in _norm(target).split("/") if x]
        # the operand is the path or a folder above it (a glob operand matching either)
        if len(opp) <= len(tp) and all(_seg(a, b) for a, b in zip(opp, tp)):
            return True
    for code in t.code_dirs:
        cp = [x for x in _norm(code).split("/") if x]
        if len(opp) > len(cp) and all(_seg(a, b) for a, b in zip(opp, cp)):
            rest = [x.lower() for x in opp[len(cp):]]
            if rest[0] not in _DOC_PARTS and not rest[-1].endswith(".md"):
                return True
    return False


def _reinstalls(call: PackageCall, via: str) -> bool:
    if call.action not in ADD_ACTIONS:
        return False
    family = _FAMILY.get(call.manager)
    if call.manager == "npm" and call.has_option(*_GLOBAL_NPM):
        family = "npm"
    if family is None:
        return False
    return any(v is not None and _provides(v, family, via) for v in call.package_names)
