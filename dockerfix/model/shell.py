"""Shell model of a RUN command: a lossless, read-only view of POSIX/bash shell text.

Transforms read the shell inside ``RUN`` through this module, never with regexes over the whole command.
It takes a plain string (the command BuildKit hands to ``/bin/sh -c``, continuations already joined, or a
heredoc body) and imports nothing from the rest of dockerfix. Plain scripts (simple commands, quotes, parameter
expansions, ``&&`` ``||`` ``;`` ``|``) are read by a small tokenizer that gives exactly tree-sitter's result (see
``_plain_sequence``); ``tree_sitter`` is imported on the first script it does not take.

Offsets
    Every ``span`` is a ``(start, end)`` pair of Python ``str`` indices into the parsed string, so
    ``script.source[start:end] == node.raw`` always holds, non-ASCII text included.

Entry points
    ``parse_shell(src) -> Script``
        Never raises for a ``str``: a parse tree-sitter marks with ERROR/MISSING nodes, or a shape this
        model does not understand, gives ``Script(ok=False, error=...)`` and callers must not rewrite it.
        Raises ``ShellParseError`` only for a non-``str`` argument or when tree-sitter is unavailable.
    ``parse_shell_strict(src) -> Script``
        Same, but raises ``ShellParseError`` when the script is not ``ok``.
    ``is_posix_shell(shell_argv) -> bool``
        Whether a ``SHELL ["...", ...]`` argv runs a POSIX-like shell (sh, bash, dash, ash, zsh, ...).

Structure (all frozen dataclasses)
    ``Script``: ``source``, ``ok``, ``error``, ``body`` (a ``Sequence``); ``items`` / ``separators`` (the
    top-level chain), ``sites`` (every ``SimpleCommand`` with its ``CommandSite`` context, in source order),
    ``commands`` (the bare ``SimpleCommand`` objects), ``state_changes``, ``has_leaking_state``,
    ``walk()`` (every ``Node``).
    ``Sequence``: ``items`` (nodes) and ``separators`` (one ``Separator`` or ``None`` after each item).
    ``&&``/``||`` lists are flattened into it: shell gives ``&&`` and ``||`` equal precedence, left to
    right, binding tighter than ``;``, ``&`` and newline, so the flat list loses nothing.
    ``Node`` is one of:
        ``SimpleCommand``: ``assignments`` (prefix ``NAME=value``), ``words`` (name and arguments),
        ``redirects``; ``name``, ``args``, ``name_value``, ``basename``, ``is_command(*names)``,
        ``effective`` (wrappers such as ``sudo``/``env``/``command``/``exec`` removed, see ``WRAPPERS``).
        Declaration builtins (``export``, ``local``, ``declare``, ``readonly``, ``typeset``, ``unset``)
        are simple commands too; their ``NAME=value`` operands are plain words.
        ``Pipeline``: ``commands`` (two or more, or one when ``negated``), ``negated``.
        ``Subshell`` ``( ... )`` and ``Group`` ``{ ...; }``: ``body`` and ``redirects``.
        ``Compound``: ``kind`` in ``COMPOUND_KINDS`` (if, for, select, c-for, while, until, case,
        function, arith ``(( ))``, test ``[[ ]]``/``[ ]`` as tree-sitter reads them), ``parts`` (every
        command list inside, in source order), ``redirects``, ``name`` (function name).
    ``Word``: ``raw``, ``span``, ``value`` (text after quote removal; ``None`` when it holds any
    expansion: ``$x``, ``${x}``, ``$(..)``, backticks, ``$((..))``, ``<(..)``, brace expansion ``{a,b}``),
    ``has_expansion``, ``has_glob`` (unquoted ``*``, ``?``, ``[``, kept verbatim in ``value``),
    ``has_tilde`` (leading unquoted ``~``, kept verbatim in ``value``), ``is_quoted``, ``substitutions``
    (the command lists inside ``$(..)``, backticks and ``<(..)``).
    ``Assignment``: ``name``, ``op`` (``=`` or ``+=``), ``value`` (a ``Word``, or ``None`` for an array).
    ``Redirect``: ``op`` (``>``, ``2>&1``'s ``>&``, ``<<``, ``<<<``...), ``fd``, ``target`` (a ``Word``;
    for a heredoc its delimiter), ``heredoc`` (the body text, heredocs only).

Context of a simple command (``CommandSite``)
    ``chain_index`` (index in ``Script.items``), ``in_pipeline``, ``in_subshell`` (``( )``),
    ``in_group`` (``{ }``), ``in_substitution`` (``$( )``, backticks, ``<( )``), ``compound`` (kind of the
    innermost enclosing ``Compound``), ``conditional`` (after ``||`` in its list, or inside a compound),
    ``negated``, ``background`` (its list ends with ``&``); ``is_nested`` and ``runs_in_main_shell``.

State changes (``StateChange``)
    Commands whose effect a later command can rely on: ``cd``, ``pushd``/``popd``, ``export`` and the
    other declaration builtins, ``set``, ``unset``, ``umask``, ``source``/``.``, ``shopt``, ``alias``/
    ``unalias``, ``ulimit``, ``eval``, ``trap``, ``read``/``mapfile``, ``exec`` (replaces the shell or
    re-points its file descriptors), bare assignments ``FOO=bar``, prefix assignments on special builtins
    (they persist in POSIX sh), and function definitions. ``leaks`` says whether it runs in the main
    shell (not in a subshell, pipeline, substitution or background job), i.e. whether merging another
    command after it could change that command's behaviour.
"""

from __future__ import annotations

import operator
from dockerfix._lazyre import lazy
from dockerfix._record import cached_property, dataclass, field, replace
from functools import lru_cache
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator, TypeVar

    _V = TypeVar("_V")

__all__ = [
    "COMPOUND_KINDS",
    "WRAPPERS",
    "Assignment",
    "CommandSite",
    "Compound",
    "Group",
    "Node",
    "Pipeline",
    "Redirect",
    "Script",
    "Separator",
    "Sequence",
    "ShellParseError",
    "SimpleCommand",
    "StateChange",
    "Subshell",
    "UserSwitch",
    "Word",
    "is_posix_shell",
    "parse_shell",
    "parse_shell_strict",
]

Span = tuple[int, int]


class ShellParseError(Exception):
    """The only exception this module raises (bad argument type, tree-sitter missing, strict parse)."""


# ---------------------------------------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    raw: str
    span: Span
    value: str | None
    has_expansion: bool = False
    has_glob: bool = False
    has_tilde: bool = False
    is_quoted: bool = False
    substitutions: tuple[Sequence, ...] = ()

    @property
    def is_static(self) -> bool:
        return self.value is not None


_new = object.__new__
_set = object.__setattr__

# A word whose flags are all at their defaults keeps only raw, span and value in its ``__dict__`` (``_plain_word``);
# the flags are read from the class. Most words of a script are plain, and a three-key dict costs about 60% of the
# eight-key one to build (a parse makes one word per word: ~3% of a run over the corpus went to building them).
# Equality, hashing, repr, pickling and ``replace`` read every field through ``getattr``, so both forms are the same
# word to every reader.
for _name, _default in (("has_expansion", False), ("has_glob", False), ("has_tilde", False), ("is_quoted", False),
                        ("substitutions", ())):
    setattr(Word, _name, _default)
del _name, _default


def _fast_word(raw: str, span: Span, value: str | None, has_expansion: bool = False, has_glob: bool = False,
               has_tilde: bool = False, is_quoted: bool = False, substitutions: tuple[Sequence, ...] = ()) -> Word:
    """``Word(...)`` without the frozen-dataclass ``__init__`` cost (a parse makes one per word)."""
    w = _new(Word)
    if has_expansion or has_glob or has_tilde or is_quoted or substitutions:
        _set(w, "__dict__", {"raw": raw, "span": span, "value": value, "has_expansion": has_expansion,
                             "has_glob": has_glob, "has_tilde": has_tilde, "is_quoted": is_quoted,
                             "substitutions": substitutions})
    else:
        _set(w, "__dict__", {"raw": raw, "span": span, "value": value})
    return w


def _plain_word(raw: str, span: Span) -> Word:
    """A word of plain characters (its value is its text; no flag set): ``_fast_word(raw, span, raw)``. The keys are
    stored into the new instance's own ``__dict__`` (a quarter cheaper than building a dict and setting it)."""
    w = _new(Word)
    d = w.__dict__
    d["raw"] = raw
    d["span"] = span
    d["value"] = raw
    return w


@dataclass(frozen=True, slots=True)
class Assignment:
    raw: str
    span: Span
    name: str
    op: str
    value: Word | None

    @property
    def is_array(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class Redirect:
    raw: str
    span: Span
    op: str
    fd: str | None
    target: Word | None
    heredoc: str | None = None  # heredoc body text (without the closing delimiter line)
    heredoc_span: Span | None = None  # body and closing delimiter line


_WRITES = frozenset((">", ">>", ">|", "&>", "&>>", "<>", ">&"))


def redirect_targets(node: object) -> tuple[Word, ...]:
    """The target words of every redirection of ``node`` (``< f`` reads a file as surely as an argument names it;
    see :func:`written_targets` for the ones that write). Empty for nodes without redirections."""
    return tuple(r.target for r in getattr(node, "redirects", ()) or () if r.target is not None)


def written_targets(node: object) -> tuple[Word, ...]:
    """The target words of ``node``'s redirections that write a file (``> f``, ``>> f``, ``&> f``, ``<> f``; not
    ``2>&1`` or ``>&2``, which duplicate a descriptor): a command writes these paths as surely as its arguments
    name them. Empty for nodes without redirections."""
    out = []
    for r in getattr(node, "redirects", ()) or ():
        t = r.target
        if t is None or r.op not in _WRITES or (r.op == ">&" and (t.value or "").isdigit()) or t.value == "-":
            continue
        out.append(t)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Separator:
    text: str  # one of "&&", "||", ";", "&", "\n"
    span: Span


# What `effective` strips. Value: options that take an argument (None = the wrapper takes no options).
WRAPPERS: dict[str, frozenset[str] | None] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "--user", "--group",
                       "--host", "--prompt", "--close-from", "--chdir", "--role", "--type",
                       "--command-timeout", "--other-user"}),
    "env": frozenset({"-u", "-C", "--unset", "--chdir"}),
    "command": frozenset(),
    "builtin": None,
    "exec": frozenset({"-a"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "nohup": None,
    "time": frozenset(),
    "eatmydata": None,
    "stdbuf": frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "xargs": frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter",
                        "--max-lines", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"}),
    # wrappers that run the command as another user (see ``UserSwitch``)
    "doas": frozenset({"-u", "-C"}),
    "gosu": frozenset(),
    "su-exec": frozenset(),
    "runuser": frozenset({"-u", "--user", "-g", "--group", "-G", "--supp-group", "-w", "--whitelist-environment"}),
    "setpriv": frozenset({"--ruid", "--euid", "--rgid", "--egid", "--reuid", "--regid", "--groups", "--securebits",
                          "--pdeathsig", "--selinux-label", "--apparmor-profile", "--inh-caps", "--ambient-caps",
                          "--bounding-set", "--landlock-access", "--landlock-rule", "--seccomp-filter"}),
    "chroot": frozenset({"--userspec", "--groups"}),
}
# wrappers with leading positional operands (timeout DURATION cmd, gosu USER cmd, chroot NEWROOT cmd)
_WRAPPER_POSITIONALS = {"timeout": 1, "gosu": 1, "su-exec": 1, "chroot": 1}

_ASSIGN_RE = lazy(r"[A-Za-z_][A-Za-z0-9_]*\+?=")


# --- wrappers that run their command as another user ---------------------------------------------------------------
# What HOME and the environment become for the command, as seen in real builds (buildah, Debian bookworm: gosu,
# su, su -, runuser -u and runuser USER -c set HOME from the target user's passwd entry and keep the rest of the
# environment, except su -/-l/--login, which resets it; setpriv and chroot --userspec change only the ids, HOME stays
# the caller's) and in the tools' manuals (sudo(8) env_reset: the environment is reset and HOME set to the target's
# unless -E/--preserve-env; doas(1): the environment is reset; setpriv(1) --reset-env: as su --login; su-exec sets
# HOME from passwd like gosu).
_RUNUSER_SU_FORM = frozenset({"-c", "--command", "--session-command"})
_SU_TAKES_ARG = frozenset({"-c", "--command", "--session-command", "-s", "--shell", "-g", "--group", "-G",
                           "--supp-group", "-w", "--whitelist-environment"})
_SU_LOGIN = frozenset({"-", "-l", "--login"})
_SU_PRESERVE = frozenset({"-m", "-p", "--preserve-environment"})


@dataclass(frozen=True, slots=True)
class UserSwitch:
    """A wrapper that runs its command as another user: ``sudo [-u USER]``, ``doas``, ``gosu USER``, ``su-exec
    USER``, ``runuser -u USER --``, ``setpriv --reuid=USER``, ``chroot --userspec=USER:GROUP /``, or ``su``/
    ``runuser`` with the command in a string (``su USER -c SCRIPT``, ``su -c SCRIPT USER``)."""

    wrapper: str
    """The wrapper's name (``sudo``, ``gosu``, ``su``...)."""
    words: tuple[Word, ...]
    """The wrapper's words as written (its name, options and user; for ``su``, the whole command)."""
    user: str | None
    """The target user as written (a name, a uid, ``#uid`` for sudo, ``USER:GROUP``); ``root`` when the wrapper's
    default is root (``sudo``, ``su -c``); None when it is not static (a variable)."""
    home: str | None
    """``"target"``: HOME becomes the target user's (from its passwd entry); ``"kept"``: HOME stays the caller's;
    None: not known (``sudo -E`` follows the sudoers policy)."""
    env: str | None
    """``"kept"``: the caller's environment passes through; ``"reset"``: it is reset (sudo, doas, login shells);
    None: not known."""
    script: Script | None = None
    """``su ... -c SCRIPT``: SCRIPT parsed (its spans are offsets into the string, not the command); None for the
    other wrappers and when the string is not static or does not parse."""

    @property
    def user_name(self) -> str | None:
        """The user part of ``user`` (``app:app`` -> ``app``, sudo's ``#1000`` -> ``1000``)."""
        if self.user is None:
            return None
        name = self.user.partition(":")[0]
        return name[1:] if name.startswith("#") and name[1:].isdigit() else name


def _short_option(v: str | None, letter: str) -> bool:
    """Whether the single-dash word ``v`` is, or clusters, option ``letter`` (``-u``, ``-iu``)."""
    return v is not None and len(v) > 1 and v[0] == "-" and v[1] != "-" and letter in v[1:]


def _option_value(words: tuple[Word, ...], names: tuple[str, ...], short: str | None = None) -> tuple[bool, str | None]:
    """(given?, value) of the last option among ``names`` (``--opt VALUE``, ``--opt=VALUE``, ``-oVALUE``, ``-xo
    VALUE``) in ``words``; the value is None when it is not static."""
    found, value = False, None
    i = 0
    while i < len(words):
        v = words[i].value
        nxt = words[i + 1].value if i + 1 < len(words) else None
        if v is None:
            i += 1
            continue
        if v in names:
            found, value = True, nxt
            i += 2
            continue
        head, eq, rest = v.partition("=")
        if eq and head in names and head.startswith("--"):
            found, value = True, rest
        elif short is not None and len(v) > 2 and v[0] == "-" and v[1] != "-" and short in v[1:]:
            k = v.index(short, 1)
            found, value = True, (v[k + 1:] or nxt)
            if k == len(v) - 1:
                i += 1
        i += 1
    return found, value


def _wrapper_switch(base: str, seg: tuple[Word, ...]) -> UserSwitch | None:
    """The user switch of one stripped wrapper (its words ``seg``), or None when it runs as the caller."""
    opts = seg[1:]
    vals = [w.value for w in opts]
    if base == "sudo":
        given, user = _option_value(opts, ("-u", "--user"), "u")
        keep = any(v is not None and (v in ("-E", "--preserve-env") or v.startswith("--preserve-env=")
                                      or _short_option(v, "E")) for v in vals)
        return UserSwitch(base, seg, user if given else "root", None if keep else "target",
                          "kept" if keep else "reset")
    if base == "doas":
        given, user = _option_value(opts, ("-u",), "u")
        return UserSwitch(base, seg, user if given else "root", "target", "reset")
    if base in ("gosu", "su-exec"):
        return UserSwitch(base, seg, seg[-1].value, "target", "kept")
    if base == "runuser":
        _, user = _option_value(opts, ("-u", "--user"), "u")
        login = any(v in _SU_LOGIN for v in vals)
        return UserSwitch(base, seg, user, "target", "reset" if login else "kept")
    if base == "setpriv":
        user = None
        for names in (("--reuid",), ("--ruid",), ("--euid",)):
            given, value = _option_value(opts, names)
            if given:
                user = value
                break
        else:
            return None  # no uid change (capabilities, groups...)
        reset = "--reset-env" in vals
        return UserSwitch(base, seg, user, "target" if reset else "kept", "reset" if reset else "kept")
    if base == "chroot":
        given, spec = _option_value(opts, ("--userspec",))
        if not given:
            return None
        return UserSwitch(base, seg, spec, "kept", "kept")
    return None


def _su_switch(cmd: SimpleCommand) -> UserSwitch | None:
    """``su [OPTIONS] [-] [USER [ARGS]]`` / ``runuser USER -c SCRIPT``: the user, and the script when ``-c`` gives
    a static one (util-linux su permutes options, so ``-c`` may come after the user)."""
    words = cmd.words
    base = cmd.basename
    user: str | None = "root"
    positional = False
    script_word: Word | None = None
    has_script = False
    login = preserve = False
    shell: str | None = ""
    i = 1
    while i < len(words):
        w = words[i]
        v = w.value
        if v is None:
            if positional:
                i += 1
                continue
            user, positional = None, True  # the user named by a variable
            i += 1
            continue
        if v in _SU_LOGIN:
            login = True
        elif v in _SU_PRESERVE:
            preserve = True
        elif v in _SU_TAKES_ARG or (v.partition("=")[1] and v.partition("=")[0] in _SU_TAKES_ARG
                                    and v.startswith("--")):
            name, eq, rest = v.partition("=")
            arg = rest if eq else (words[i + 1] if i + 1 < len(words) else None)
            if name in ("-c", "--command", "--session-command"):
                has_script = True
                script_word = None if eq else arg  # type: ignore[assignment]
                if eq:
                    script_word = _make_word(w.raw.partition("=")[2], w.span[0] + len(name) + 1, w.substitutions)
            elif name in ("-s", "--shell"):
                shell = rest if eq else (arg.value if isinstance(arg, Word) else None)
            if not eq:
                i += 1
        elif v.startswith("-") and len(v) > 1:
            if v[1] != "-" and "c" in v[1:] and v.index("c") == len(v) - 1:
                has_script = True  # a cluster ending in -c (-lc SCRIPT)
                script_word = words[i + 1] if i + 1 < len(words) else None
                login = login or "l" in v
                i += 1
            else:
                login = login or _short_option(v, "l")
                preserve = preserve or _short_option(v, "m") or _short_option(v, "p")
        elif not positional:
            user, positional = v, True
        i += 1
    if not has_script:
        return None
    script = None
    if script_word is not None and script_word.value is not None and (
            shell == "" or (shell is not None and is_posix_shell([shell]))):
        parsed = parse_shell_cached(script_word.value)
        script = parsed if parsed.ok else None
    home = "kept" if preserve and not login else "target"
    env = "reset" if login else "kept"
    return UserSwitch(base or "su", words, user, home, env, script)


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    raw: str
    span: Span
    assignments: tuple[Assignment, ...] = ()
    words: tuple[Word, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    wrappers: tuple[Word, ...] = ()  # words `effective` stripped (sudo, env, ...), in order
    # memo slots (``basename`` and ``effective`` are asked for ~200k times over the corpus): not compared, not init
    _basename: str | None | bool = field(default=False, init=False, repr=False, compare=False)
    _effective: SimpleCommand | bool | None = field(default=None, init=False, repr=False, compare=False)
    """None: not computed yet; True: this command itself (no reference cycle); else the stripped command."""
    _reading: Any = field(default=None, init=False, repr=False, compare=False)
    """A memo slot for a module that reads the command once (``pkgmgr.parse_package_call``: None, not read yet; else
    what that module keeps, never an object holding the command, which would make a reference cycle)."""

    @property
    def name(self) -> Word | None:
        return self.words[0] if self.words else None

    @property
    def args(self) -> tuple[Word, ...]:
        return self.words[1:]

    @property
    def name_value(self) -> str | None:
        return self.words[0].value if self.words else None

    @property
    def basename(self) -> str | None:
        """Static command name without its directory (``/usr/bin/apt-get`` -> ``apt-get``)."""
        b = self._basename
        if b is False:
            v = self.words[0].value if self.words else None
            b = None if v is None else v.rsplit("/", 1)[-1]
            object.__setattr__(self, "_basename", b)
        return b  # type: ignore[return-value]

    def is_command(self, *names: str) -> bool:
        """Whether this command's basename is one of ``names`` (wrappers are not looked through)."""
        return self.basename in names

    @property
    def arg_values(self) -> tuple[str | None, ...]:
        return tuple(w.value for w in self.words[1:])

    @property
    def effective(self) -> SimpleCommand:
        """This command with wrapper commands (``sudo -E``, ``env A=b``, ``command``...) stripped.

        Assignments given to ``env``/``sudo`` become ``assignments``; stripped words go to ``wrappers``.
        ``command -v``/``-V`` is a lookup, not a wrapper. Returns ``self`` when nothing is stripped, and
        stops at the first word it cannot read statically.
        """
        memo = self._effective
        if memo is None:
            cmd = self
            while True:
                nxt = _strip_wrapper(cmd)
                if nxt is None:
                    break
                cmd = nxt
            object.__setattr__(self, "_effective", True if cmd is self else cmd)
            return cmd
        return self if memo is True else memo  # type: ignore[return-value]

    @property
    def effective_basename(self) -> str | None:
        """``effective.basename``, without stripping wrappers from a command no wrapper runs (a command is its own
        effective command unless its name is one of :data:`WRAPPERS`)."""
        b = self.basename
        return b if b not in WRAPPERS else self.effective.basename

    @property
    def wrapper_segments(self) -> tuple[tuple[Word, ...], ...]:
        """The words ``effective`` strips, one tuple per wrapper (``sudo -E gosu app pip`` -> ``(sudo, -E)``,
        ``(gosu, app)``)."""
        out: list[tuple[Word, ...]] = []
        cmd = self
        while True:
            nxt = _strip_wrapper(cmd)
            if nxt is None:
                return tuple(out)
            out.append(nxt.wrappers[len(cmd.wrappers):])
            cmd = nxt

    @property
    def user_switch(self) -> UserSwitch | None:
        """The wrapper that runs this command as another user (the innermost one: ``sudo gosu app pip`` runs pip
        as ``app``), or, when the command is ``su``/``runuser`` with ``-c SCRIPT``, that switch with the script
        parsed; None when the command runs as the caller. ``sudo`` alone switches to root."""
        found: UserSwitch | None = None
        for seg in self.wrapper_segments:
            sw = _wrapper_switch((seg[0].value or "").rsplit("/", 1)[-1], seg)
            if sw is not None:
                found = sw
        cmd = self.effective
        if cmd.basename in ("su", "runuser"):
            sw = _su_switch(cmd)
            if sw is not None:
                found = sw
        return found


def _strip_wrapper(cmd: SimpleCommand) -> SimpleCommand | None:
    base = cmd.basename
    if base not in WRAPPERS or len(cmd.words) < 2:
        return None
    takes_arg = WRAPPERS[base]
    words = cmd.words
    i = 1
    extra: list[Assignment] = []
    if takes_arg is not None:
        while i < len(words):
            v = words[i].value
            if v is None:
                return None
            if v == "--":
                i += 1
                break
            if base == "command" and v in ("-v", "-V"):
                return None
            if base in ("env", "sudo") and _ASSIGN_RE.match(v):
                extra.append(_assignment_from_word(words[i]))
                i += 1
                continue
            if v == "-" and base == "env":
                i += 1
                continue
            if not v.startswith("-") or v == "-":
                break
            if base == "nice" and v[1:].isdigit():
                i += 1
                continue
            if base == "runuser" and v in _RUNUSER_SU_FORM:
                return None  # `runuser USER -c SCRIPT`: su's form, the command is a string (``UserSwitch.script``)
            if v in takes_arg:
                i += 2
            elif "=" in v and v.split("=", 1)[0] in takes_arg:
                i += 1
            elif not v.startswith("--") and len(v) > 2:
                # clustered short options (getopt): the first one that takes an argument ends the cluster and takes
                # the rest of the word (-uuser) or, at its end, the next word (sudo -iu user)
                k = next((k for k in range(1, len(v)) if "-" + v[k] in takes_arg), None)
                i += 2 if k == len(v) - 1 else 1
            else:
                i += 1
        if base in ("env", "sudo"):
            while i < len(words) and words[i].value is not None and _ASSIGN_RE.match(words[i].value):
                extra.append(_assignment_from_word(words[i]))
                i += 1
        i += _WRAPPER_POSITIONALS.get(base, 0)
        if base == "chroot" and (i > len(words) or words[i - 1].value != "/"):
            return None  # another root: its command runs in a different file system
        if base == "runuser" and not any(w.value in ("-u", "--user") or (w.value or "").startswith("--user=")
                                         or _short_option(w.value, "u") for w in words[1:i]):
            return None  # `runuser USER ...`: su's form
    if i >= len(words):
        return None
    return replace(
        cmd,
        assignments=cmd.assignments + tuple(extra),
        words=words[i:],
        wrappers=cmd.wrappers + words[:i],
    )


def _assignment_from_word(w: Word) -> Assignment:
    raw = w.raw
    eq = raw.index("=")
    op = "+=" if raw[eq - 1] == "+" else "="
    name = raw[: eq - 1] if op == "+=" else raw[:eq]
    start = w.span[0] + eq + 1
    value = _make_word(raw[eq + 1:], start, w.substitutions)
    return Assignment(raw=raw, span=w.span, name=name, op=op, value=value)


@dataclass(frozen=True, slots=True)
class Sequence:
    raw: str
    span: Span
    items: tuple[Node, ...] = ()
    separators: tuple[Separator | None, ...] = ()


@dataclass(frozen=True, slots=True)
class Pipeline:
    raw: str
    span: Span
    commands: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Subshell:
    raw: str
    span: Span
    body: Sequence
    redirects: tuple[Redirect, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    raw: str
    span: Span
    body: Sequence
    redirects: tuple[Redirect, ...] = ()


COMPOUND_KINDS = frozenset(
    {"if", "for", "select", "c-for", "while", "until", "case", "function", "arith", "test"}
)


@dataclass(frozen=True, slots=True)
class Compound:
    raw: str
    span: Span
    kind: str
    parts: tuple[Sequence, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    name: str | None = None
    substitutions: tuple[Sequence, ...] = ()  # in conditions, for-lists, case words, test expressions


Node = SimpleCommand | Pipeline | Subshell | Group | Compound


@dataclass(frozen=True, slots=True)
class CommandSite:
    command: SimpleCommand
    chain_index: int
    in_pipeline: bool = False
    in_subshell: bool = False
    in_group: bool = False
    in_substitution: bool = False
    compound: str | None = None
    conditional: bool = False
    negated: bool = False
    background: bool = False

    @property
    def is_nested(self) -> bool:
        return self.in_subshell or self.in_group or self.in_substitution or self.compound is not None

    @property
    def runs_in_main_shell(self) -> bool:
        """False when the shell runs it in a child process (subshell, pipeline, substitution, ``&``)."""
        return not (self.in_subshell or self.in_pipeline or self.in_substitution or self.background)


STATE_BUILTINS = frozenset(
    {"cd", "pushd", "popd", "export", "set", "unset", "umask", "source", ".", "shopt", "alias", "unalias",
     "ulimit", "eval", "trap", "declare", "typeset", "local", "readonly", "read", "mapfile", "readarray",
     "hash", "enable", "shift", "getopts"}
)
_SPECIAL_BUILTINS = frozenset(
    {":", ".", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return", "set", "shift",
     "times", "trap", "unset"}
)


@dataclass(frozen=True, slots=True)
class StateChange:
    kind: str  # builtin name, "assign" for FOO=bar, "exec", or "function"
    span: Span
    command: SimpleCommand | None  # None for a function definition
    leaks: bool
    site: CommandSite | None = None


@dataclass(frozen=True)
class Script:
    source: str
    ok: bool
    body: Sequence
    error: str | None = None

    @property
    def items(self) -> tuple[Node, ...]:
        return self.body.items

    @property
    def separators(self) -> tuple[Separator | None, ...]:
        return self.body.separators

    @cached_property
    def _collected(self) -> tuple[tuple[CommandSite, ...], tuple[Compound, ...]]:
        after, bg = _chain_flags(self.body)
        if "(" not in self.source and "`" not in self.source:
            # no substitution anywhere (they start with `$(`, `<(`, `>(` or a backquote): a script of commands and
            # pipelines has its sites in source order, without the walk and the sort
            flat = _flat_sites(self.body.items, after, bg)
            if flat is not None:
                return flat, ()
        return _walk_sites(self.body.items, after, bg)

    @property
    def sites(self) -> tuple[CommandSite, ...]:
        return self._collected[0]

    @property
    def commands(self) -> tuple[SimpleCommand, ...]:
        return tuple(s.command for s in self.sites)

    def walk(self) -> Iterator[Node]:
        """Every node, pre-order, substitutions included."""
        yield from _walk_seq(self.body)

    @cached_property
    def state_changes(self) -> tuple[StateChange, ...]:
        out: list[StateChange] = []
        for site in self.sites:
            ch = _state_change(site)
            if ch is not None:
                out.append(ch)
        for node in self._collected[1]:
            out.append(StateChange("function", node.span, None, leaks=True))
        out.sort(key=lambda c: c.span)
        return tuple(out)

    @property
    def has_leaking_state(self) -> bool:
        return any(c.leaks for c in self.state_changes)

    @cached_property
    def _views(self) -> dict[Any, Any]:
        return {}

    def view(self, compute: Callable[[Script], _V]) -> _V:
        """``compute(self)``, computed once per script and kept on it (it lives and dies with the script).

        For views other model modules derive from a script (``pkgmgr.find_package_calls``): ``compute`` must be a
        pure function of the script, which is immutable, and is the key (a function, never a string)."""
        views = self._views
        if compute in views:
            return views[compute]  # type: ignore[no-any-return]
        value = views[compute] = compute(self)
        return value


def _chain_flags(seq: Sequence) -> tuple[list[bool], list[bool]]:
    """(after ``||``, in the background) of every item of ``seq``, in one pass each way.

    An item runs after an ``||`` when the ``&&``/``||`` chain before it has one; it runs in the background when the
    chain it ends in is followed by ``&``. Asked item by item, both walked the chain around the item: quadratic in
    a script of thousands of chained commands."""
    seps = seq.separators
    n = len(seq.items)
    after = [False] * n
    for i in range(1, n):
        sep = seps[i - 1] if i - 1 < len(seps) else None
        if sep is None or sep.text not in ("&&", "||"):
            after[i] = False
        else:
            after[i] = sep.text == "||" or after[i - 1]
    bg = [False] * n
    nxt = False  # _is_bg past the last separator
    for k in range(len(seps) - 1, -1, -1):
        sep = seps[k]
        if sep is None or sep.text not in ("&&", "||"):
            nxt = sep is not None and sep.text == "&"
        if k < n:
            bg[k] = nxt
    return after, bg


# Context while collecting sites: (chain_index, in_pipeline, in_subshell, in_group, in_substitution,
# compound, conditional, negated, background) - a plain tuple, positional, for speed.
if TYPE_CHECKING:
    _Ctx = tuple[Any, ...]


def _walk_sites(items: tuple[Node, ...], after: list[bool], bg: list[bool]
                ) -> tuple[tuple[CommandSite, ...], tuple[Compound, ...]]:
    """Every command site of a script's items (substitutions, subshells, compounds included) in source order, and
    the functions it defines."""
    out: list[CommandSite] = []
    funcs: list[Compound] = []
    for i, node in enumerate(items):
        ctx = (i, False, False, False, False, None, after[i], False, bg[i])
        _collect_sites(node, ctx, out, funcs)
    out.sort(key=lambda s: s.command.span)
    return tuple(out), tuple(funcs)


def _flat_sites(items: tuple[Node, ...], after: list[bool], bg: list[bool]) -> tuple[CommandSite, ...] | None:
    """The sites of a sequence of simple commands and pipelines of them, none holding a substitution (what
    :func:`_collect_sites` gives for them, in the same order), or None for any other node."""
    out: list[CommandSite] = []
    append = out.append
    for i, node in enumerate(items):
        if type(node) is SimpleCommand:
            append(CommandSite(node, i, False, False, False, False, None, after[i], False, bg[i]))
        elif type(node) is Pipeline:
            piped = len(node.commands) > 1
            negated = node.negated
            for c in node.commands:
                if type(c) is not SimpleCommand:
                    return None
                append(CommandSite(c, i, piped, False, False, False, None, after[i], negated, bg[i]))
        else:
            return None
    return tuple(out)


def _collect_seq(seq: Sequence, ctx: _Ctx, out: list[CommandSite], funcs: list[Compound]) -> None:
    seps = seq.separators
    after, bg = _chain_flags(seq)
    for i, node in enumerate(seq.items):
        c = ctx
        if i and (sep := seps[i - 1]) is not None and sep.text == "||" or bg[i] or after[i]:
            c = ctx[:6] + (ctx[6] or after[i], ctx[7], ctx[8] or bg[i])
        _collect_sites(node, c, out, funcs)


def _collect_subs(subs: tuple[Sequence, ...], ctx: _Ctx, out: list[CommandSite], funcs: list[Compound]) -> None:
    if subs:
        c = ctx[:4] + (True,) + ctx[5:]
        for s in subs:
            _collect_seq(s, c, out, funcs)


def _collect_redirect_subs(redirects: tuple[Redirect, ...], ctx: _Ctx, out: list[CommandSite],
                           funcs: list[Compound]) -> None:
    for r in redirects:
        if r.target is not None and r.target.substitutions:
            _collect_subs(r.target.substitutions, ctx, out, funcs)


def _collect_sites(node: Node, ctx: _Ctx, out: list[CommandSite], funcs: list[Compound]) -> None:
    if type(node) is SimpleCommand:
        out.append(CommandSite(node, *ctx))
        for w in node.words:
            if w.substitutions:
                _collect_subs(w.substitutions, ctx, out, funcs)
        for a in node.assignments:
            if a.value is not None and a.value.substitutions:
                _collect_subs(a.value.substitutions, ctx, out, funcs)
        if node.redirects:
            _collect_redirect_subs(node.redirects, ctx, out, funcs)
    elif type(node) is Pipeline:
        c = ctx[:1] + (ctx[1] or len(node.commands) > 1,) + ctx[2:7] + (ctx[7] or node.negated, ctx[8])
        for n in node.commands:
            _collect_sites(n, c, out, funcs)
    elif type(node) is Subshell:
        _collect_seq(node.body, ctx[:2] + (True,) + ctx[3:], out, funcs)
        _collect_redirect_subs(node.redirects, ctx, out, funcs)
    elif type(node) is Group:
        _collect_seq(node.body, ctx[:3] + (True,) + ctx[4:], out, funcs)
        _collect_redirect_subs(node.redirects, ctx, out, funcs)
    elif type(node) is Compound:
        if node.kind == "function":
            funcs.append(node)
        c = ctx[:5] + (node.kind, True) + ctx[7:]
        for part in node.parts:
            _collect_seq(part, c, out, funcs)
        _collect_subs(node.substitutions, c, out, funcs)
        _collect_redirect_subs(node.redirects, ctx, out, funcs)


def _walk_seq(seq: Sequence) -> Iterator[Node]:
    for n in seq.items:
        yield from _walk_node(n)


def _walk_subs(subs: tuple[Sequence, ...]) -> Iterator[Node]:
    for s in subs:
        yield from _walk_seq(s)


def _walk_node(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, SimpleCommand):
        for w in node.words:
            yield from _walk_subs(w.substitutions)
        for a in node.assignments:
            if a.value is not None:
                yield from _walk_subs(a.value.substitutions)
    elif isinstance(node, Pipeline):
        for n in node.commands:
            yield from _walk_node(n)
    elif isinstance(node, (Subshell, Group)):
        yield from _walk_seq(node.body)
    elif isinstance(node, Compound):
        for p in node.parts:
            yield from _walk_seq(p)
        yield from _walk_subs(node.substitutions)
    for r in getattr(node, "redirects", ()):
        if r.target is not None:
            yield from _walk_subs(r.target.substitutions)


def _state_change(site: CommandSite) -> StateChange | None:
    cmd = site.command
    leaks = site.runs_in_main_shell
    name = cmd.name_value
    eff = cmd
    while name in ("command", "builtin") and len(eff.words) > 1:
        eff = replace(eff, words=eff.words[1:])
        name = eff.name_value
    if name is None:
        if not cmd.words:
            if cmd.assignments:
                return StateChange("assign", cmd.span, cmd, leaks, site)
            return None
        return None  # dynamic command name: unknown, but not a recognised state change
    if name == "exec":
        if len(eff.words) == 1 and not eff.redirects:
            return None
        return StateChange("exec", cmd.span, cmd, leaks, site)
    if name in STATE_BUILTINS:
        if name == "set" and len(eff.words) == 1:
            return None  # bare `set` lists variables
        return StateChange(name, cmd.span, cmd, leaks, site)
    if cmd.assignments and name in _SPECIAL_BUILTINS:
        return StateChange("assign", cmd.span, cmd, leaks, site)
    return None


# ---------------------------------------------------------------------------------------------------------
# Word analysis (quote removal on raw text)
# ---------------------------------------------------------------------------------------------------------

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789{(@*#?$!-")
_DQ_ESCAPABLE = frozenset('$`"\\\n')
_ANSI_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
                "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


_SPECIAL = lazy(r"[\\'\"$`*?\[{~]")
# Characters _analyze reads one at a time (quotes, escapes, expansions, globs, braces); runs of the others are
# copied whole. Inside double quotes, only the quote, the escape and the expansions are special.
_WORD_STOP = frozenset("\\'\"$`*?[{}")
_WORD_RUN = lazy(r"[^\\'\"$`*?\[{}]+")
_DQ_STOP = frozenset('"\\$`')
_DQ_RUN = lazy(r'[^"\\$`]+')


def _analyze(raw: str) -> tuple[str | None, bool, bool, bool, bool]:
    """Quote removal of one shell word: (value, has_expansion, has_glob, has_tilde, is_quoted)."""
    if _SPECIAL.search(raw) is None:
        return raw, False, False, False, False
    out: list[str] = []
    expansion = glob = quoted = False
    tilde = raw.startswith("~")
    brace_open = -1
    brace = False
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            quoted = True
            if i + 1 < n:
                if raw[i + 1] != "\n":
                    out.append(raw[i + 1])
                i += 2
            else:
                out.append("\\")
                i += 1
        elif c == "'":
            quoted = True
            j = raw.find("'", i + 1)
            j = n if j < 0 else j
            out.append(raw[i + 1: j])
            i = j + 1
        elif c == '"' or (c == "$" and raw.startswith('$"', i)):
            quoted = True
            i += 2 if c == "$" else 1
            while i < n and raw[i] != '"':
                d = raw[i]
                if d not in _DQ_STOP:  # a run of characters that stand for themselves, in one step
                    j = _DQ_RUN.match(raw, i).end()  # matches at least d
                    out.append(raw[i:j])
                    i = j
                    continue
                if d == "\\" and i + 1 < n and raw[i + 1] in _DQ_ESCAPABLE:
                    if raw[i + 1] != "\n":
                        out.append(raw[i + 1])
                    i += 2
                    continue
                if d == "`" or (d == "$" and i + 1 < n and raw[i + 1] in _NAME_START):
                    expansion = True
                out.append(d)
                i += 1
            i += 1
        elif c == "$" and raw.startswith("$'", i):
            quoted = True
            i = _ansi_c(raw, i + 2, out)
        elif c == "`" or (c == "$" and i + 1 < n and raw[i + 1] in _NAME_START):
            expansion = True
            out.append(c)
            i += 1
        elif c not in _WORD_STOP:  # a run of characters that stand for themselves, in one step
            j = _WORD_RUN.match(raw, i).end()  # matches at least c
            out.append(raw[i:j])
            i = j
        else:
            if c in "*?[":
                glob = True
            elif c == "{":
                brace_open = len(out)
            elif c == "}" and brace_open >= 0:
                inner = "".join(out[brace_open + 1:])
                if "," in inner or ".." in inner:
                    brace = True
                brace_open = -1
            out.append(c)
            i += 1
    if expansion or brace:
        return None, True, glob, tilde, quoted
    return "".join(out), False, glob, tilde, quoted


def _ansi_c(raw: str, i: int, out: list[str]) -> int:
    n = len(raw)
    while i < n and raw[i] != "'":
        c = raw[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = raw[i + 1]
        i += 2
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
        elif e in "01234567":
            j = i - 1
            while j < n and j < i + 2 and raw[j] in "01234567":
                j += 1
            out.append(chr(int(raw[i - 1:j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + width and raw[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                cp = int(raw[i:j], 16)
                out.append(chr(cp) if cp <= 0x10FFFF else "\ufffd")
            i = j
        elif e == "c" and i < n:
            out.append(chr(ord(raw[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return i + 1


def _make_word(raw: str, start: int, subs: tuple[Sequence, ...] = ()) -> Word:
    value, exp, glob, tilde, quoted = _analyze(raw)
    return _fast_word(raw, (start, start + len(raw)), value, exp, glob, tilde, quoted, subs)


# ---------------------------------------------------------------------------------------------------------
# Lowering the tree-sitter tree
# ---------------------------------------------------------------------------------------------------------

_parser = None


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        try:
            ts = _binding("tree_sitter")
            _parser = ts.Parser(ts.Language(_binding("tree_sitter_bash").language()))
        except ImportError as e:  # pragma: no cover - packaging problem
            raise ShellParseError(f"tree-sitter-bash is not available: {e}") from e
    return _parser


def _binding(package: str) -> Any:
    """The compiled ``_binding`` module of ``tree_sitter`` or ``tree_sitter_bash``, without the package ``__init__``.

    The ``__init__`` files import ``typing`` (tree_sitter) and ``importlib.resources`` with ``tempfile``,
    ``shutil``, ``pathlib``, ``zipfile``... (tree_sitter_bash, for query files we never read): together about a
    sixth of ``dockerfix -``'s start-up. The public names we use (``Parser``, ``Language``, ``language``) are the
    binding's own objects, so the package imported normally elsewhere sees the same classes. Any surprise falls
    back to the plain import.
    """
    import sys

    loaded = sys.modules.get(package)
    if loaded is not None:
        return loaded
    try:
        from importlib.machinery import PathFinder

        # no spec, no loader: an AttributeError, caught below like any surprise
        spec: Any = PathFinder.find_spec(package)
        spec = PathFinder.find_spec(f"{package}._binding", spec.submodule_search_locations)
        module = spec.loader.create_module(spec)
        spec.loader.exec_module(module)
        return module
    except Exception:  # pragma: no cover - an unusual installation: take the documented route
        import importlib

        return importlib.import_module(package)


# tree-sitter-bash's external scanner (0.25.1, tree-sitter/tree-sitter-bash#337) reads the character after
# ``{``, after its ASCII digits, and after ``{1..2`` with C ``isdigit``, which glibc implements as a table
# lookup valid only for -1..255: a code point beyond U+00FF there reads far outside the table and can kill the
# process with SIGSEGV (any text can hold one: ``RUN echo {\U0010ffff}``). Before the text goes to tree-sitter
# that one character is replaced by bytes of the same length that the scanner reads safely (a Latin-1 letter,
# then ASCII letters), so every byte offset stays put and the tree is lowered against the original text.
# Both characters are word characters to bash, so the shape of the tree does not change.
_SCANNER_HAZARD = lazy(r"\{[0-9]*(?:\.\.[0-9]*)?([^\x00-\xff])")


def _scanner_safe(src: str, data: bytes) -> bytes:
    """``data`` (``src`` in UTF-8) with every character that would crash the scanner replaced (see above)."""
    if len(data) == len(src) or "{" not in src:
        return data
    parts: list[str] = []
    last = 0
    for m in _SCANNER_HAZARD.finditer(src):
        ch = m.group(1)
        parts.append(src[last:m.start(1)])
        parts.append("\u00e9" + "x" * (len(ch.encode("utf-8", "surrogatepass")) - 2))
        last = m.end(1)
    if not parts:
        return data
    parts.append(src[last:])
    safe = "".join(parts).encode("utf-8", "surrogatepass")
    assert len(safe) == len(data)
    return safe


class _Unsupported(Exception):
    """Internal: a tree shape the model does not understand (the script becomes ok=False)."""

    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.pos = pos


_STATEMENTS = frozenset(
    {"command", "declaration_command", "unset_command", "test_command", "list", "pipeline",
     "negated_command", "redirected_statement", "subshell", "compound_statement", "if_statement",
     "while_statement", "for_statement", "c_style_for_statement", "case_statement", "function_definition",
     "variable_assignment", "variable_assignments"}
)
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_SUBST = frozenset({"command_substitution", "process_substitution"})
_GAP_OK = lazy(r"(?:[ \t]|\\\n)*")

_Frag = tuple[list[Node], list[Separator | None]]  # (items, separators)
_Tail = tuple[str, list[Node], list[Separator | None], Separator | None]  # (kind, items, separators, operator)


class _Lowerer:
    def __init__(self, src: str, data: bytes) -> None:
        self.src = src
        self.data = data
        if len(data) == len(src):
            self.b2c = None
            self.pos = operator.index  # byte offset -> str index: identity for ASCII
        else:
            table: list[int] = []
            for i, ch in enumerate(src):
                table.extend([i] * len(ch.encode("utf-8", "surrogatepass")))
            table.append(len(src))
            self.b2c = table
            self.pos = table.__getitem__

    # offsets ------------------------------------------------------------------------------------------

    def span(self, node: Any) -> Span:
        if self.b2c is None:
            return node.start_byte, node.end_byte
        return self.b2c[node.start_byte], self.b2c[node.end_byte]

    def fail(self, msg: str, node_or_pos: Any) -> _Unsupported:
        p = node_or_pos if isinstance(node_or_pos, int) else self.pos(node_or_pos.start_byte)
        return _Unsupported(msg, p)

    # sequences ----------------------------------------------------------------------------------------
    def sequence(self, children: Any, start: int, end: int) -> Sequence:
        items: list[Node] = []
        seps: list[Separator | None] = []
        prev_end = start
        for ch in children:
            t = ch.type
            if t == "comment":
                prev_end = self.pos(ch.end_byte)
                continue
            if t in (";", "&"):
                if items and seps[-1] is None:
                    seps[-1] = Separator(t, self.span(ch))
                    prev_end = self.pos(ch.end_byte)
                    continue
                raise self.fail(f"unexpected {t!r}", ch)
            if t not in _STATEMENTS:
                raise self.fail(f"unsupported shell construct {t!r}", ch)
            s, _ = self.span(ch)
            if items and seps[-1] is None:
                seps[-1] = self.newline_between(prev_end, s)
            fi, fs = self.lower(ch)
            items.extend(fi)
            seps.extend(fs)
            prev_end = self.pos(ch.end_byte)
            if items and seps[-1] is not None:
                prev_end = max(prev_end, seps[-1].span[1])
        return Sequence(self.src[start:end], (start, end), tuple(items), tuple(seps))

    def newline_between(self, a: int, b: int) -> Separator:
        gap = self.src[a:b]
        k = 0
        while True:
            k = gap.find("\n", k)
            if k < 0:
                raise self.fail("two commands without a separator", b)
            if k == 0 or gap[k - 1] != "\\":
                return Separator("\n", (a + k, a + k + 1))
            k += 1

    def lower(self, node: Any) -> _Frag:
        t = node.type
        if t == "list":
            # tree-sitter-bash nests a chain to the left, ((a && b) && c) && d: the lists are walked from the
            # innermost out, not by one recursive call per operator (a chain of a few hundred commands ran out of
            # stack, and the script was refused as "nesting too deep")
            chain = [node.children]  # each list's children, read once (the binding builds them on every access)
            while True:
                first = next((k for k in chain[-1] if k.type != "comment"), None)
                if first is None or first.type != "list":
                    break
                chain.append(first.children)
            items: list[Node] = []
            seps: list[Separator | None] = []
            for depth in range(len(chain) - 1, -1, -1):
                inner_done = depth + 1 < len(chain)  # its first statement is the list lowered just before
                for ch in chain[depth]:
                    ct = ch.type
                    if ct in ("&&", "||"):
                        if not items or seps[-1] is not None:
                            raise self.fail("dangling operator", ch)
                        seps[-1] = Separator(ct, self.span(ch))
                    elif ct == "comment":
                        continue
                    elif inner_done:
                        inner_done = False
                    elif ct in _STATEMENTS:
                        if items and seps[-1] is None:
                            raise self.fail("list without operator", ch)
                        fi, fs = self.lower(ch)
                        items.extend(fi)
                        seps.extend(fs)
                    else:
                        raise self.fail(f"unsupported shell construct {ct!r} in list", ch)
            return items, seps
        if t == "redirected_statement":
            return self.redirected(node)
        if t == "pipeline":
            return self.pipeline(node)
        if t in ("command", "variable_assignments"):
            cmds = self.commands(node)
            seps = []
            for a, b in zip(cmds, cmds[1:]):
                seps.append(self.newline_between(a.span[1], b.span[0]))
            return cmds, seps + [None]  # type: ignore[return-value]  # simple commands are nodes (list is invariant)
        return [self.single(node)], [None]

    def single_of(self, node: Any) -> Node:
        fi, fs = self.lower(node)
        if len(fi) != 1:
            raise self.fail("command list where one command was expected", node)
        return fi[0]

    def single(self, node: Any) -> Node:
        t = node.type
        if t in ("command", "declaration_command", "unset_command", "variable_assignment",
                 "variable_assignments"):
            return self.command(node)
        if t == "pipeline":
            return self.single_of(node)
        if t == "negated_command":
            kids = [c for c in node.children if c.type not in ("!", "comment")]
            if len(kids) != 1:
                raise self.fail("unsupported negation", node)
            inner = self.single_of(kids[0])
            if isinstance(inner, Pipeline):
                return replace(inner, negated=not inner.negated, raw=self.text(node), span=self.span(node))
            return Pipeline(self.text(node), self.span(node), (inner,), negated=True)
        if t == "subshell":
            return Subshell(self.text(node), self.span(node), self.inner_seq(node, "(", ")"))
        if t == "compound_statement":
            first = node.children[0].type if node.child_count else ""
            if first == "{":
                return Group(self.text(node), self.span(node), self.inner_seq(node, "{", "}"))
            if first == "((":
                return Compound(self.text(node), self.span(node), "arith",
                                substitutions=self.subs_in(node))
            raise self.fail("unsupported compound statement", node)
        if t == "test_command":
            return Compound(self.text(node), self.span(node), "test", substitutions=self.subs_in(node))
        if t in ("if_statement", "while_statement", "for_statement", "c_style_for_statement",
                 "case_statement", "function_definition"):
            return self.compound(node)
        if t == "redirected_statement":
            return self.single_of(node)
        raise self.fail(f"unsupported shell construct {t!r}", node)

    def text(self, node: Any) -> str:
        s, e = self.span(node)
        return self.src[s:e]

    def inner_seq(self, node: Any, open_tok: str, close_tok: str) -> Sequence:
        kids = node.children
        if len(kids) < 2 or kids[0].type != open_tok or kids[-1].type != close_tok:
            raise self.fail(f"unterminated {open_tok!r}", node)
        start = self.pos(kids[0].end_byte)
        end = self.pos(kids[-1].start_byte)
        return self.sequence(kids[1:-1], start, end)

    # pipelines ----------------------------------------------------------------------------------------
    def pipeline(self, node: Any) -> _Frag:
        """Lower a pipeline. tree-sitter-bash sometimes nests a list inside a pipeline
        (``a | list(b && c)``); shell binds ``|`` tighter, so such a list is re-associated:
        ``(a | b) && c``."""
        items: list[Node] = []
        seps: list[Separator | None] = []
        negated = False
        expect_cmd = True
        for ch in node.children:
            ct = ch.type
            if ct in ("|", "|&"):
                if expect_cmd:
                    raise self.fail("dangling pipe", ch)
                expect_cmd = True
            elif ct == "comment":
                continue
            elif ct in _STATEMENTS:
                if not expect_cmd:
                    raise self.fail("pipeline element without '|'", ch)
                if not items and ct == "negated_command":
                    inner = self.single(ch)
                    assert isinstance(inner, Pipeline)
                    if len(inner.commands) != 1:
                        raise self.fail("unsupported negation", ch)
                    negated = True
                    items, seps = [inner.commands[0]], [None]
                elif not items:
                    items, seps = self.lower(ch)
                else:
                    fi, fs = self.lower(ch)
                    self.pipe_join(items, seps, fi, fs)
                expect_cmd = False
            else:
                raise self.fail(f"unsupported shell construct {ct!r} in pipeline", ch)
        if expect_cmd or not items:
            raise self.fail("malformed pipeline", node)
        if negated:
            # `!` applies to the first pipeline of the fragment
            first = items[0]
            items[0] = (replace(first, negated=True) if isinstance(first, Pipeline)
                        else Pipeline(first.raw, first.span, (first,), negated=True))
            s0 = self.pos(node.start_byte)
            items[0] = replace(items[0], raw=self.src[s0:items[0].span[1]], span=(s0, items[0].span[1]))
        return items, seps

    def pipe_join(self, items: list[Node], seps: list[Separator | None], more_items: list[Node],
                  more_seps: list[Separator | None]) -> None:
        """In place: ``items`` + ``|`` + ``more_items``, where ``|`` joins the last and first item."""
        head = items[-1]
        first = more_items[0]
        left = head.commands if isinstance(head, Pipeline) and not head.negated else (head,)
        right = first.commands if isinstance(first, Pipeline) and not first.negated else (first,)
        s, e = head.span[0], first.span[1]
        negated = isinstance(head, Pipeline) and head.negated
        if negated and isinstance(head, Pipeline):  # (negated implies it: the test spelled out for the checker)
            left = head.commands
        items[-1] = Pipeline(self.src[s:e], (s, e), left + right, negated)
        items.extend(more_items[1:])
        seps[-1:] = more_seps

    # redirections -------------------------------------------------------------------------------------
    def redirected(self, node: Any) -> _Frag:
        body = None
        redirects: list[Redirect] = []
        args: list[Any] = []
        tail: _Tail | None = None
        for i, ch in enumerate(node.children):
            fname = node.field_name_for_child(i)
            if fname == "body":
                body = ch
            elif ch.type in _REDIRECTS:
                r, t = self.redirect(ch)
                redirects.append(r)
                redirects.extend(t[0])
                args.extend(t[2])
                if t[1] is not None:
                    if tail is not None:
                        raise self.fail("two heredoc continuations", ch)
                    tail = t[1]
            elif ch.type == "comment":
                continue
            else:
                raise self.fail(f"unsupported shell construct {ch.type!r} in redirection", ch)
        if body is None:
            s = self.span(node)
            items: list[Node] = [SimpleCommand(self.text(node), s, redirects=tuple(redirects),
                                         words=tuple(self.words(args)))]
            seps: list[Separator | None] = [None]
        else:
            items, seps = self.lower(body)
            items[-1] = self.attach(items[-1], tuple(redirects), args)
        if tail is not None:
            kind, frag_items, frag_seps, op = tail
            if kind == "pipe":
                self.pipe_join(items, seps, frag_items, frag_seps)
            else:
                seps[-1] = op
                items.extend(frag_items)
                seps.extend(frag_seps)
        return items, seps

    def attach(self, target: Node, redirects: tuple[Redirect, ...], args: list[Any]) -> Node:
        """Give trailing redirections (and misplaced arguments) to the rightmost command."""
        if not redirects:
            return target
        s = target.span[0]
        e = max(target.span[1], redirects[-1].span[1])
        if args:
            e = max(e, self.pos(args[-1].end_byte))
        raw = self.src[s:e]
        if isinstance(target, Pipeline):
            last = self.attach(target.commands[-1], redirects, args)
            return replace(target, commands=target.commands[:-1] + (last,), raw=raw, span=(s, e))
        if args:
            if not isinstance(target, SimpleCommand):
                raise self.fail("arguments after a compound command", args[0])
            return replace(target, redirects=target.redirects + redirects, raw=raw, span=(s, e),
                           words=target.words + tuple(self.words(args)))
        return replace(target, redirects=target.redirects + redirects, raw=raw, span=(s, e))

    def redirect(self, node: Any) -> tuple[Redirect, tuple[list[Redirect], _Tail | None, list[Any]]]:
        """Return (Redirect, (extra redirects, tail, argument nodes)).

        tree-sitter-bash hangs the rest of a heredoc line on the heredoc redirect, and later arguments
        of the command on a file redirect; the caller puts them back where they belong."""
        t = node.type
        fd = None
        op = ""
        target: Word | None = None
        heredoc: str | None = None
        extra: list[Redirect] = []
        tail: _Tail | None = None
        target_nodes: list[Any] = []
        args: list[Any] = []  # argument nodes tree-sitter misplaced into the redirection
        kids = node.children
        i = 0
        while i < len(kids):
            ch = kids[i]
            ct = ch.type
            fname = node.field_name_for_child(i)
            if ct == "file_descriptor":
                fd = self.text(ch)
            elif not ch.is_named:
                if fname == "operator" and ct in ("&&", "||"):
                    # heredoc continuation: `cat <<EOF && x` -> operator + right
                    right = kids[i + 1] if i + 1 < len(kids) else None
                    if right is None or node.field_name_for_child(i + 1) != "right":
                        raise self.fail("dangling operator after heredoc", ch)
                    fi, fs = self.lower(right)
                    if tail is not None:
                        raise self.fail("two heredoc continuations", ch)
                    tail = ("op", fi, fs, Separator(ct, self.span(ch)))
                    i += 2
                    continue
                if not op:
                    op = ct
                else:
                    raise self.fail(f"unexpected {ct!r} in redirection", ch)
            elif ct == "heredoc_start":
                target = self.word_from(ch, ch)
            elif ct == "heredoc_body":
                heredoc = self.text(ch)
            elif ct == "heredoc_end":
                pass
            elif ct in _REDIRECTS and t == "heredoc_redirect":
                r, more = self.redirect(ch)
                if more[1] is not None or more[2]:
                    raise self.fail("nested heredoc continuation", ch)
                extra.append(r)
                extra.extend(more[0])
            elif ct == "pipeline" and t == "heredoc_redirect":
                pk = [k for k in ch.children if k.type != "comment"]
                if not pk or pk[0].type not in ("|", "|&"):
                    raise self.fail("unsupported pipeline after heredoc", ch)
                fi = []
                fs = []
                for k in pk[1:]:
                    if k.type in ("|", "|&"):
                        continue
                    ki, ks = self.lower(k)
                    if fi:
                        self.pipe_join(fi, fs, ki, ks)
                    else:
                        fi, fs = ki, ks
                if not fi:
                    raise self.fail("unsupported pipeline after heredoc", ch)
                if tail is not None:
                    raise self.fail("two heredoc continuations", ch)
                tail = ("pipe", fi, fs, None)
            elif ct == "comment":
                pass
            elif ct in ("ERROR",):
                raise self.fail("syntax error in redirection", ch)
            else:
                # destination (word, string, number, concatenation, expansion...); tree-sitter-bash
                # hangs the command's later arguments here too (`echo >&2 "msg" x`)
                if target is None:
                    target_nodes.append(ch)
                    target = self.word_from(ch, ch)
                elif (len(target_nodes) == 1 and not args
                      and ch.start_byte == target_nodes[-1].end_byte):
                    target_nodes.append(ch)  # `>"$dir"/x`: one word in two nodes
                    target = self.word_from(target_nodes[0], ch, target_nodes)
                else:
                    args.append(ch)
            i += 1
        s, e = self.span(node)
        heredoc_span = None
        if t == "heredoc_redirect":
            # the Redirect covers `<<EOF` only; the body and closing line are `heredoc_span`
            starts = [k for k in kids if k.type == "heredoc_start"]
            bodies = [k for k in kids if k.type in ("heredoc_body", "heredoc_end")]
            if not starts:
                raise self.fail("heredoc without delimiter", node)
            e = self.pos(starts[0].end_byte)
            if bodies:
                heredoc_span = (self.pos(bodies[0].start_byte), self.pos(bodies[-1].end_byte))
                if bodies[-1].type == "heredoc_end":
                    text = self.src[heredoc_span[0]:self.pos(bodies[-1].start_byte)]
                    heredoc = text[: text.rfind("\n") + 1]  # drop the `<<-` tabs of the closing line
                else:
                    heredoc = self.src[heredoc_span[0]:heredoc_span[1]]
            else:
                heredoc = ""
        if args and target_nodes:
            e = self.pos(target_nodes[-1].end_byte)
        red = Redirect(self.src[s:e], (s, e), op, fd, target, heredoc, heredoc_span)
        return red, (extra, tail, args)

    # commands -----------------------------------------------------------------------------------------
    def command(self, node: Any) -> SimpleCommand:
        cmds = self.commands(node)
        if len(cmds) != 1:
            raise self.fail("command list where one command was expected", node)
        return cmds[0]

    def commands(self, node: Any) -> list[SimpleCommand]:
        """One simple command, or several: tree-sitter-bash glues an assignment-only line to the next
        line (``A=1 B=2<newline>cmd``); such a node is split at the line break."""
        t = node.type
        out: list[SimpleCommand] = []
        kids = [node] if t == "variable_assignment" else node.children
        assignments: list[Assignment] = []
        parts: list[Any] = []  # word parts (nodes), merged later when adjacent
        redirects: list[Redirect] = []
        first = None  # first child of the current command
        last = None
        data = self.data
        for ch in kids:
            ct = ch.type
            if ct == "comment":
                continue
            if last is not None and t != "variable_assignment":
                a, b = last.end_byte, ch.start_byte
                if b - a == 1 and data[a] == 32:
                    gap = ""
                else:
                    gap = self.src[self.pos(a):self.pos(b)]
                if gap and not _GAP_OK.fullmatch(gap):
                    if parts or redirects or "\n" not in gap or gap.strip(" \t\\\n"):
                        raise self.fail("command spans an unescaped line break", ch)
                    out.append(self.simple(first, last, assignments, parts, redirects))
                    assignments, parts, redirects = [], [], []
                    first = None
            if first is None:
                first = ch
            last = ch
            if ct == "variable_assignment" and not parts:
                assignments.append(self.assignment(ch))
            elif ct in _REDIRECTS:
                r, (extra, tail, args) = self.redirect(ch)
                if tail is not None:
                    raise self.fail("heredoc continuation inside a command", ch)
                redirects.append(r)
                redirects.extend(extra)
                parts.extend(args)
            elif ct == "ERROR":
                raise self.fail("syntax error", ch)
            else:
                parts.append(ch)
        if first is None:
            s, e = self.span(node)
            return [SimpleCommand(self.src[s:e], (s, e))]
        out.append(self.simple(first, last, assignments, parts, redirects))
        return out

    def simple(self, first: Any, last: Any, assignments: list[Assignment], parts: list[Any],
               redirects: list[Redirect]) -> SimpleCommand:
        s = self.pos(first.start_byte)
        e = self.pos(last.end_byte)
        return SimpleCommand(self.src[s:e], (s, e), tuple(assignments), tuple(self.words(parts)),
                             tuple(redirects))

    def words(self, parts: list[Any]) -> list[Word]:
        words: list[Word] = []
        group: list[Any] = []
        data = self.data
        for p in parts:
            if group:
                a, b = group[-1].end_byte, p.start_byte
                if a != b and data[a:b].replace(b"\\\n", b""):
                    words.append(self.word_from(group[0], group[-1], group))
                    group = []
            group.append(p)
        if group:
            words.append(self.word_from(group[0], group[-1], group))
        return words

    def word_from(self, first: Any, last: Any, nodes: list[Any] | None = None) -> Word:
        s = self.pos(first.start_byte)
        e = self.pos(last.end_byte)
        raw = self.src[s:e]
        if _SPECIAL.search(raw) is None:  # fast path: a plain word
            return _plain_word(raw, (s, e))
        subs: tuple[Sequence, ...] = ()
        if "$(" in raw or "`" in raw or "<(" in raw or ">(" in raw:
            found: list[Sequence] = []
            for n in nodes or (first,):
                self.find_subs(n, found)
            subs = tuple(found)
        return _make_word(raw, s, subs)

    def assignment(self, node: Any) -> Assignment:
        raw = self.text(node)
        s, e = self.span(node)
        name = op = None
        value: Word | None = None
        kids = node.children
        vparts = []
        for i, ch in enumerate(kids):
            fname = node.field_name_for_child(i)
            if fname == "name" and name is None:
                name = self.text(ch)
            elif ch.type in ("=", "+=") and op is None:
                op = ch.type
            elif fname == "value" or (name is not None and ch.is_named):
                vparts.append(ch)
        m = _ASSIGN_RE.match(raw)
        if m is None:
            # subscripted (a[1]=x) or odd shapes: keep it as a text-level assignment
            eq = raw.find("=")
            if eq <= 0:
                raise self.fail("unsupported assignment", node)
            name = raw[:eq].rstrip("+")
            op = "+=" if raw[eq - 1] == "+" else "="
        else:
            name = m.group(0).rstrip("+=")
            op = "+=" if m.group(0).endswith("+=") else "="
        vstart = s + raw.index("=") + 1
        if any(p.type == "array" for p in vparts):
            value = None
        else:
            subs: list[Sequence] = []
            if "$(" in raw or "`" in raw or "<(" in raw or ">(" in raw:
                for p in vparts:
                    self.find_subs(p, subs)
            value = _make_word(self.src[vstart:e], vstart, tuple(subs))
        return Assignment(raw, (s, e), name, op, value)

    def find_subs(self, node: Any, out: list[Sequence]) -> None:
        if node.type in _SUBST:
            kids = node.children
            if len(kids) >= 2 and kids[0].type in ("$(", "`", "<(", ">(") and kids[-1].type in (")", "`"):
                start = self.pos(kids[0].end_byte)
                end = self.pos(kids[-1].start_byte)
                out.append(self.sequence(kids[1:-1], start, end))
                return
            raise self.fail("unsupported substitution", node)
        for ch in node.children:
            self.find_subs(ch, out)

    def subs_in(self, node: Any) -> tuple[Sequence, ...]:
        out: list[Sequence] = []
        self.find_subs(node, out)
        return tuple(out)

    # compounds ----------------------------------------------------------------------------------------
    def compound(self, node: Any) -> Compound:
        t = node.type
        first = node.children[0].type if node.child_count else ""
        if t == "if_statement":
            kind = "if"
        elif t == "while_statement":
            kind = "until" if first == "until" else "while"
        elif t == "for_statement":
            kind = "select" if first == "select" else "for"
        elif t == "c_style_for_statement":
            kind = "c-for"
        elif t == "case_statement":
            kind = "case"
        else:
            kind = "function"
        parts: list[Sequence] = []
        subs: list[Sequence] = []
        name = None
        redirects: list[Redirect] = []
        if kind == "function":
            for i, ch in enumerate(node.children):
                if node.field_name_for_child(i) == "name":
                    name = self.text(ch)
                elif node.field_name_for_child(i) == "body":
                    body = self.single(ch) if ch.type != "redirected_statement" else self.single_of(ch)
                    s, e = body.span
                    parts.append(Sequence(body.raw, (s, e), (body,), (None,)))
                elif ch.type in _REDIRECTS:
                    r, (extra, tail, args) = self.redirect(ch)
                    if tail is not None or args:
                        raise self.fail("heredoc continuation after function", ch)
                    redirects.append(r)
                    redirects.extend(extra)
        else:
            self.collect_parts(node, parts, subs)
        return Compound(self.text(node), self.span(node), kind, tuple(parts), tuple(redirects), name,
                        tuple(subs))

    def collect_parts(self, node: Any, parts: list[Sequence], subs: list[Sequence]) -> None:
        run: list[Any] = []

        def flush() -> None:
            if run:
                stmts = [r for r in run if r.type in _STATEMENTS]
                if stmts:
                    s = self.pos(stmts[0].start_byte)
                    e = self.pos(run[-1].end_byte)
                    parts.append(self.sequence(run, s, e))
                run.clear()

        for ch in node.children:
            ct = ch.type
            if ct in _STATEMENTS:
                run.append(ch)
            elif ct in (";", "&") and run:
                run.append(ch)
            elif ct in ("do_group", "elif_clause", "else_clause", "case_item", "compound_statement"):
                flush()
                self.collect_parts(ch, parts, subs)
            elif ct == "comment":
                continue
            elif ct == "ERROR":
                raise self.fail("syntax error", ch)
            else:
                flush()
                if ch.is_named:
                    self.find_subs(ch, subs)
        flush()

# ---------------------------------------------------------------------------------------------------------
# Plain scripts without tree-sitter
# ---------------------------------------------------------------------------------------------------------
# Most RUN scripts (about two thirds of the corpus) are chains of simple commands made of plain words, quotes and
# parameter expansions: ``apt-get update && apt-get install -y "$PKG" | tee log; rm -rf /x``. For exactly that
# subset a token-level reader (shell tokens after POSIX 2.3, not a pattern over the command) builds the same
# ``Sequence`` as tree-sitter plus the lowering, at a fraction of the cost; anything outside the subset, and any
# doubt, returns None and takes the tree-sitter route. tests/test_shell_plain.py checks that both routes give
# equal scripts for every script of the corpus and fixtures and for generated ones.
#
# The subset: blanks, newlines, ``&&``, ``||``, ``;``, ``|``; words of unquoted characters other than the shell's
# operators and specials, ``'...'``, ``"..."`` holding no backslash or backquote, and ``$NAME``, ``$1``, ``$@`` and
# friends, ``${...}`` without nested quotes, expansions or braces, inside or outside double quotes; file
# redirections after a command word and a blank (``> f``, ``>> f``, ``< f``, ``2> f``, ``2>&1``, ``>&2``) with one
# plain word as target. Not in it (the reader gives up): comments, other redirections (``<<``, ``<<<``, ``&>``,
# ``>|``, ``<>``, ``>&-``, descriptor 0, a descriptor glued to a word), ``&``, ``( ) { } [ ] !``, backslashes
# outside single quotes, ``$(``, backquotes, ``$'...'``, carriage returns, reserved words and test brackets in
# command position, empty commands.
# ``${...}``: a name or digits, then nothing, or one of bash's operators (``:-`` ``-`` ``:=`` ``=`` ``:?`` ``?``
# ``:+`` ``+`` ``#`` ``##`` ``%`` ``%%`` ``/`` ``//`` ``^`` ``^^`` ``,`` ``,,``) and its word, or a substring (``:N``,
# ``:N:M``, ``: -N``); ``${#name}``, ``${#}`` or one special parameter. Anything else (``${:x}``, ``${a@}``,
# ``${a.}``...) tree-sitter-bash refuses or reads otherwise
_PLAIN_DOLLAR = (r"\$(?:[A-Za-z_][A-Za-z0-9_]*(?![A-Za-z0-9_])|[0-9@*#?$!-]"
                 r"|\{(?:(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?:(?::?[-=?+]|##?|%%?|//?|\^\^?|,,?)"
                 r"[A-Za-z0-9_:#%/+=?.,@*^~ -]*|: ?-?[0-9]+(?::[0-9]+)?)?|#(?:[A-Za-z_][A-Za-z0-9_]*)?|[@*?!$-])\})")
# One token per match, with the blanks before it: (blanks, newline, operator, redirection, word); ``findall`` reads
# the whole script into that list in C. A match of blanks alone (every other group empty) is the end of the script
# or a character no token starts with. Each repetition starts with a character no other branch may start with, so a
# failed match never backtracks through the ways of splitting a run (nested ``(a+)+`` loops are exponential on a
# failed match).
_PLAIN_TOKENS = lazy(
    r"""([ \t]*)(?:(\n)|(&&|\|\||;|\|)|([1-9]?(?:>>|>&|<&|>|<)(?![<>(|&]))"""
    r"""|([^\s'"\\$`&|;<>(){}\[\]#!]*"""
    r"""(?:(?:'[^']*'|"[^"\\$`]*(?:""" + _PLAIN_DOLLAR + r"""[^"\\$`]*)*"|""" + _PLAIN_DOLLAR + r""")"""
    r"""[^\s'"\\$`&|;<>(){}\[\]#!]*)*))"""
)
_PLAIN_COMMAND_NAME = lazy(r"[A-Za-z0-9_./~:$\"'{}-]+\+*")  # `g++`; `a+:` is an error to tree-sitter-bash
# words that are grammar in command position (reserved words, test brackets, declaration builtins whose operands
# tree-sitter reads as assignments; a lone `-`, which tree-sitter-bash drops): those scripts take the tree-sitter
# route
_PLAIN_NOT_A_COMMAND = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in", "function",
     "select", "time", "coproc", "{", "}", "!", "[[", "]]", "[", "((", "declare", "typeset", "export", "local",
     "readonly", "unset", "-"}
)


_PLAIN_FIRST: dict[str, int] = {}
"""A word in command position -> :func:`_plain_first` (a few names start most commands of a file)."""


def _plain_first(raw: str) -> int:
    """What a word in command position is to the reader: 0 a command name, 1 an assignment, 2 a word that sends the
    script to tree-sitter (grammar; or a name tree-sitter-bash reads otherwise: `--x=1` and `1A=2` as assignments,
    `a%`, `A@`, globs as errors). Kept in :data:`_PLAIN_FIRST` (bounded)."""
    if _ASSIGN_RE.match(raw) is not None and raw[:2] != "_=" and raw[:3] != "_+=":
        kind = 1
    elif raw in _PLAIN_NOT_A_COMMAND or _PLAIN_COMMAND_NAME.fullmatch(raw) is None:
        kind = 2
    else:
        kind = 0
    if len(_PLAIN_FIRST) >= 1024:
        _PLAIN_FIRST.clear()
    _PLAIN_FIRST[raw] = kind
    return kind


def _plain_sequence(src: str) -> Sequence | None:
    """The ``Sequence`` of a plain script (see above), or None when ``src`` is not one."""
    tokens = _PLAIN_TOKENS.findall(src)
    ntok = len(tokens)
    n = len(src)
    pos = 0
    k = 0
    items: list[Node] = []
    seps: list[Separator | None] = []
    pipe: list[SimpleCommand] = []  # commands of the pipeline being read
    assignments: list[Assignment] = []
    words: list[Word] = []
    redirects: list[Redirect] = []
    # tree-sitter-bash glues a pipeline of three or more commands that a newline ends to a later `&&`, `||` or
    # redirection, across the line break (`a | b | c<newline>d && e`), and the lowering refuses the result: such
    # scripts are left to it
    long_pipe_nl = False
    cmd_start = cmd_end = newline = -1
    # START: at the start or after `;` | NEED: after `&&`, `||`, `|` (a command must follow; newlines may come
    # first) | IN: inside a command | AFTER_NL: a pipeline ended by a newline (the separator if a command follows)
    START, NEED, IN, AFTER_NL = 0, 1, 2, 3
    state = START
    special = _SPECIAL.search
    while k < ntok:
        blanks, nl, op, redir, raw = tokens[k]
        k += 1
        if blanks:
            pos += len(blanks)
        if raw:
            end = pos + len(raw)
            if state != IN:
                if state == AFTER_NL:
                    seps[-1] = Separator("\n", (newline, newline + 1))
                state = IN
                cmd_start = pos
            if raw[0] == "=":
                return None  # tree-sitter-bash reads `==`, `=~` as test operators, even outside `[[ ]]`
            if not words:
                kind = _PLAIN_FIRST.get(raw)
                if kind is None:
                    kind = _plain_first(raw)
                if kind == 0:  # a command name
                    if assignments and ":" in raw:
                        return None  # `x=y a:b` (a name with a colon after an assignment): an error to tree-sitter
                elif kind == 1:
                    eq = raw.index("=")
                    if eq == len(raw) - 1:
                        return None  # `A= x`: tree-sitter-bash may take the next word as the value, or drop it
                    aop = "+=" if raw[eq - 1] == "+" else "="
                    name = raw[: eq - 1] if aop == "+=" else raw[:eq]
                    assignments.append(Assignment(raw, (pos, end), name, aop, _make_word(raw[eq + 1:], pos + eq + 1)))
                    cmd_end = pos = end
                    continue
                else:
                    return None
            if special(raw) is None:
                words.append(_plain_word(raw, (pos, end)))
            else:
                words.append(_make_word(raw, pos))
            cmd_end = pos = end
            continue
        if redir:
            # `> f`, `>> f`, `< f`, `2> f`, `2>&1`, `>&2` after a word of the command (a blank before it, so a digit
            # glued to a word is never a descriptor; tree-sitter-bash reads a `0` before `<` or `>` as a word, so
            # descriptor 0 is left to it); the target is one plain word on the same line
            if state != IN or not words or not blanks:
                return None
            if words[-1].raw == "-" or long_pipe_nl:
                return None  # tree-sitter-bash's own readings: `a - 2>&1` loses the `-`; `long_pipe_nl` above
            end = pos + len(redir)
            fd = redir[0] if redir[0].isdigit() else None
            rop = redir[1:] if fd is not None else redir
            if k == ntok:
                return None
            tblanks, _, _, _, traw = tokens[k]  # the target, after blanks on the same line
            if not traw:
                return None
            k += 1
            t = end + len(tblanks)
            tend = t + len(traw)
            if rop[-1] == "&" and not traw.isdigit():
                return None  # `>&-`, `>&$fd`, `>&file`: left to tree-sitter
            target = _plain_word(traw, (t, tend)) if special(traw) is None else _make_word(traw, t)
            redirects.append(Redirect(src[pos:tend], (pos, tend), rop, fd, target))
            cmd_end = pos = tend
            continue
        if not nl and not op:
            if pos == n:
                break  # blanks at the end
            return None  # a character no token starts with
        if state == IN:  # a newline or an operator ends the command
            pipe.append(SimpleCommand(src[cmd_start:cmd_end], (cmd_start, cmd_end), tuple(assignments),
                                      tuple(words), tuple(redirects)))
            assignments = []
            words = []
            redirects = []
        if nl:
            if state == IN:
                if len(pipe) >= 3:
                    long_pipe_nl = True
                _plain_close(src, pipe, items, seps)
                state = AFTER_NL
                newline = pos
            pos += 1
            continue
        if state != IN:
            return None  # an operator without a command before it (`&& x`, `;;`, `a<newline>&& b`)
        if long_pipe_nl and op in ("&&", "||"):
            return None  # glued to the pipeline before the line break by tree-sitter-bash (see the redirections)
        end = pos + len(op)
        if op == "|":
            if not pipe[-1].words:
                return None  # `A=1 | b`: tree-sitter-bash wants a word after the assignment
            state = NEED
        else:
            _plain_close(src, pipe, items, seps)
            seps[-1] = Separator(op, (pos, end))
            state = START if op == ";" else NEED
        pos = end
    if pos != n:
        return None  # (not reached: the last match is the end's)
    if state == NEED:
        return None  # ends in `&&`, `||` or `|`
    if state == IN:
        pipe.append(SimpleCommand(src[cmd_start:cmd_end], (cmd_start, cmd_end), tuple(assignments), tuple(words),
                                  tuple(redirects)))
        _plain_close(src, pipe, items, seps)
    if not items:
        return None
    return Sequence(src, (0, n), tuple(items), tuple(seps))


def _plain_close(src: str, pipe: list[SimpleCommand], items: list[Node], seps: list[Separator | None]) -> None:
    """Move the commands read so far into ``items``: one command, or a pipeline of several."""
    if len(pipe) == 1:
        items.append(pipe[0])
    else:
        s, e = pipe[0].span[0], pipe[-1].span[1]
        items.append(Pipeline(src[s:e], (s, e), tuple(pipe)))
    seps.append(None)
    pipe.clear()



def parse_shell(src: str) -> Script:
    """Parse shell text into a ``Script``; see the module docstring. Never raises for a ``str``."""
    if not isinstance(src, str):
        raise ShellParseError(f"parse_shell expects str, got {type(src).__name__}")
    # a command substitution is outside the plain subset (outside single quotes; inside them, tree-sitter reads it
    # as well): such scripts go to tree-sitter without the tokenizer's attempt, which reads about a third of a
    # script before it gives up (5% of the cost of reading the corpus's scripts, for none of them)
    body = _plain_sequence(src) if "$(" not in src and "`" not in src else None
    if body is not None:
        return Script(src, True, body)
    return _parse_tree_sitter(src)



def parse_shell_cached(src: str) -> Script:
    """``parse_shell`` once per distinct command text: scripts are immutable, so the model and every transform of
    every pass share one parse.

    The cache keeps the most recently asked 4,096 texts (the whole corpus has 1,464 distinct scripts; the bound costs
    2 MB of peak memory over it). While the engine fixes a file it also pins the file's scripts (:func:`pin_scripts`):
    a file with more distinct scripts than the bound reads its RUNs in the same order in every pass, which evicted
    each script from the least-recently-used cache just before it was asked again (6,400 lines of `go mod download`
    and `go build` RUNs: 12,798 parses and no hit). Scripts of :data:`SCRIPTS_KEPT_BELOW` characters and more are
    kept apart, where :func:`forget_scripts` can drop the ones an edit replaced (``functools.lru_cache``, which holds
    the others, is the cheaper lookup but cannot drop one key)."""
    if len(src) < SCRIPTS_KEPT_BELOW:
        pinned = _PINNED
        if pinned is None:
            return _parse_short(src)
        got = pinned.get(src)
        if got is None:
            got = pinned[src] = _parse_short(src)
        return got
    got = _LONG.pop(src, None)
    if got is None:
        got = parse_shell(src)
        if len(_LONG) >= 4096:
            del _LONG[next(iter(_LONG))]  # the least recently asked (a dict keeps insertion order)
    _LONG[src] = got  # (re)inserted last: the most recent
    return got


_parse_short = lru_cache(maxsize=4096)(parse_shell)
_LONG: dict[str, Script] = {}
SCRIPTS_KEPT_BELOW = 4096
_PINNED: "dict[str, Script] | None" = None


def pin_scripts() -> bool:
    """Keep every short script :func:`parse_shell_cached` gives from now until :func:`unpin_scripts` (the engine, for
    the passes over one file: what a pass parses is alive until its end anyway, through the pass's instructions).
    Returns whether this call began the pins (a nested call shares the outer ones, and its end leaves them)."""
    global _PINNED
    if _PINNED is not None:
        return False
    _PINNED = {}
    return True


def unpin_scripts(began: bool) -> None:
    """End the pins, if the :func:`pin_scripts` that returned ``began`` began them; the least-recently-used cache
    keeps its share of the scripts for the next file."""
    global _PINNED
    if began:
        _PINNED = None


def forget_scripts(sources: Iterable[str]) -> None:
    """Drop the parses of these texts from :func:`parse_shell_cached`'s cache (the engine's word after a pass: texts
    its edits replaced that no instruction of the new document holds). Nothing asks them again in this file, and a
    long script's tree is megabytes: kept, the next pass's trees took fresh memory (a page fault per 4 KiB) instead
    of reusing theirs. Scripts shorter than :data:`SCRIPTS_KEPT_BELOW` stay (the same short RUN recurs from file to
    file, and its tree is small)."""
    for src in sources:
        _LONG.pop(src, None)


def _cache_clear() -> None:
    _parse_short.cache_clear()
    _LONG.clear()


parse_shell_cached.cache_clear = _cache_clear  # type: ignore[attr-defined]  # as functools' caches spell it


def _parse_tree_sitter(src: str) -> Script:
    """``parse_shell`` through tree-sitter-bash and the lowering above (any script)."""
    parser = _get_parser()
    data = src.encode("utf-8", "surrogatepass")
    empty = Sequence("", (0, 0))
    try:
        tree = parser.parse(_scanner_safe(src, data))
    except Exception as e:  # pragma: no cover - tree-sitter refuses (should not happen)
        return Script(src, False, empty, f"tree-sitter failed: {e}")
    root = tree.root_node
    low = _Lowerer(src, data)
    if root.has_error:
        bad = _first_error(root)
        if bad is None:
            return Script(src, False, empty, "syntax error")
        what = f"missing {bad.type!r}" if bad.is_missing else "syntax error"
        return Script(src, False, empty, f"{what} at {_where(src, low.pos(bad.start_byte))}")
    try:
        body = low.sequence(root.children, 0, len(src))
    except _Unsupported as e:
        return Script(src, False, empty, f"{e} at {_where(src, e.pos)}")
    except RecursionError:
        return Script(src, False, empty, "nesting too deep")
    except Exception as e:  # a bug here must not crash the caller: refuse to model this script
        return Script(src, False, empty, f"internal error: {type(e).__name__}: {e}")
    return Script(src, True, body)


def parse_shell_strict(src: str) -> Script:
    """``parse_shell`` that raises ``ShellParseError`` instead of returning an ``ok=False`` script."""
    script = parse_shell(src)
    if not script.ok:
        raise ShellParseError(script.error or "cannot parse shell")
    return script


def _first_error(root: Any) -> Any:
    stack = [root]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            return n
        if n.has_error:
            stack.extend(reversed(n.children))
    return None


def _where(src: str, pos: int) -> str:
    line = src.count("\n", 0, pos) + 1
    col = pos - (src.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{col}"


# ---------------------------------------------------------------------------------------------------------
# SHELL instruction
# ---------------------------------------------------------------------------------------------------------

_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "pdksh", "busybox", "yash",
                           "posh", "rbash", "lksh", "ksh93", "oksh", "loksh"})


_VERSIONED = lazy(r"([a-z]+)(?:[-.]?[0-9][0-9.]*|\\.distrib)")


def is_posix_shell(shell_argv: list[str]) -> bool:
    """Whether ``SHELL`` argv runs a POSIX-like shell (so this model applies to RUN's shell form).

    ``["/bin/sh", "-c"]``, bash, dash, ash, zsh, ``busybox sh`` -> True; powershell, pwsh, cmd -> False.
    ``env bash`` / ``/usr/bin/env bash -c`` look through ``env``. Windows paths and ``.exe`` are handled.
    """
    argv = [a for a in shell_argv if isinstance(a, str)]
    i = 0
    while i < len(argv):
        base = argv[i].replace("\\", "/").rsplit("/", 1)[-1].lower()
        if base.endswith(".exe"):
            base = base[:-4]
        if base == "env":
            i += 1
            while i < len(argv) and (argv[i].startswith("-") or "=" in argv[i]):
                i += 1
            continue
        if base == "busybox":
            return i + 1 < len(argv) and argv[i + 1] in ("sh", "ash")
        if base in _POSIX_SHELLS:
            return True
        m = _VERSIONED.fullmatch(base)  # bash5, zsh-5.9, sh.distrib
        return bool(m) and m.group(1) in _POSIX_SHELLS
    return False
