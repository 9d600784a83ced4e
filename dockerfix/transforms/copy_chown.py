"""DFX301 copy-chown: ``COPY`` followed by ``RUN chown/chgrp/chmod`` of what it copied becomes ``COPY --chown/--chmod``.

Analysis ("where") first: :func:`_parse_change` reads one ``chown``/``chgrp``/``chmod`` command, :class:`_Stage`
replays the stage (and the stages it is built ``FROM``) up to the RUN to learn WORKDIR, USER, which COPY/ADD wrote
where and which RUNs may have put files somewhere; :meth:`CopyChown._judge` decides safe / unsafe / finding.
Edits ("how") last: :func:`_flag_edit` adds or replaces the flag on a COPY, :func:`_removal` drops the command
from the RUN (one ``&&`` with it) or the whole RUN.
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_left
from dockerfix._lazyre import lazy
from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

    from dockerfix.model.stages import Stage

from dockerfix.syntax.nodes import Document, Instruction
from dockerfix.transforms._run import RunShell
from dockerfix.model.paths import PathIndex
from dockerfix.model.shell import written_targets
from dockerfix.model.sources import is_remote, looks_like_archive_name
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

# Directories every Linux base image with a shell has (FHS); a chown of one of them is not "what the COPY brought",
# and a COPY into one of them never creates it.
KNOWN_DIRS = frozenset((
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/local",
    "/usr/local/bin", "/usr/local/etc", "/usr/local/include", "/usr/local/lib", "/usr/local/sbin",
    "/usr/local/share", "/usr/local/src", "/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/cache", "/var/lib",
    "/var/log", "/var/opt", "/var/tmp", "/var/spool", "/var/run",
))
USER_TOOLS = ("useradd", "adduser", "groupadd", "addgroup", "usermod", "groupmod")
ROOT_USERS = ("", "root", "0", "root:root", "0:0", "root:0", "0:root")
_OCTAL = lazy(r"[0-7]{3,4}")
_CLAUSE = r"[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+"
_SYMBOLIC = lazy(rf"{_CLAUSE}(?:,{_CLAUSE})*")
_NAME = lazy(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?")
_LABS = lazy(r"docker/dockerfile(?::[\w.-]*labs|-upstream:.*labs)", re.I)


# --------------------------------------------------------------------------------------------------- analysis
@dataclass
class _Change:
    """One ``chown``/``chgrp``/``chmod`` command of a RUN."""

    kind: str  # "owner" | "mode"
    user: str | None = None
    group: str | None = None
    mode: str | None = None
    recursive: bool = False
    targets: list[str] = field(default_factory=list)
    problem: str | None = None
    via_variable: bool = False


def _parse_change(cmd, resolve) -> _Change | None:
    """``resolve(word)`` gives a word's value (variables expanded when known) or None."""
    name = cmd.basename
    if name not in ("chown", "chgrp", "chmod"):
        return None
    ch = _Change("mode" if name == "chmod" else "owner")
    operands: list[str] = []
    for w in cmd.args:
        v = w.value
        if v is None:
            v = resolve(w.raw)
            if v is None:
                if operands or not w.raw.startswith("-"):
                    operands.append("\0")  # unknown
                    continue
                ch.problem = f"the option {w.raw!r} is not static"
                return ch
            ch.via_variable = True
        if w.has_glob:
            ch.problem = f"{w.raw!r} is a glob"
            return ch
        if v.startswith("-") and not operands and not (name == "chmod" and _SYMBOLIC.fullmatch(v)):
            if v in ("-R", "--recursive"):
                ch.recursive = True
            elif v in ("-v", "-c", "-f", "--verbose", "--changes", "--silent", "--quiet", "-h",
                       "--no-dereference", "-P", "--preserve-root", "--no-preserve-root"):
                pass
            elif re.fullmatch(r"-[Rvcfh]+", v) and name != "chmod" or re.fullmatch(r"-[Rvcf]+", v):
                ch.recursive = ch.recursive or "R" in v
            else:
                ch.problem = f"{name} {v} is not something COPY flags express"
                return ch
            continue
        operands.append(v)
    if len(operands) < 2:
        return None
    spec, ch.targets = operands[0], operands[1:]
    if spec == "\0":
        ch.problem = f"the {'mode' if name == 'chmod' else 'owner'} comes from a variable whose value is unknown"
        return ch
    if name == "chmod":
        ch.mode = spec
    elif name == "chgrp":
        ch.group = spec
    else:
        if ":" in spec:
            u, _, g = spec.partition(":")
            if not g:
                ch.problem = f"`{spec}` takes the login group of {u}, which COPY --chown does not look up"
                return ch
            ch.user, ch.group = (u or None), g
        elif "." in spec:
            ch.problem = f"`{spec}` is the old user.group form (ambiguous with a dotted user name)"
            return ch
        else:
            ch.user = spec
        for part in (ch.user, ch.group):
            if part is not None and not _NAME.fullmatch(part):
                ch.problem = f"{part!r} is not a user or group name COPY --chown accepts"
                return ch
    return ch


def _norm(path: str, cwd: str | None) -> str | None:
    if path == "\0":
        return None
    if not path.startswith("/"):
        if cwd is None:
            return None
        path = posixpath.join(cwd, path)
    out = posixpath.normpath(path)
    return "/" if out == "//" else out


def _under(path: str, root: str) -> bool:
    """``path`` is ``root`` or inside it."""
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass
class _Copy:
    inst: Instruction
    dest: str | None
    """Absolute, normalized destination; None when it cannot be resolved."""
    is_dir: bool
    """The destination is a directory the sources land in (trailing slash, several sources or a glob)."""
    sources: tuple[str, ...]
    from_stage: bool
    kind: str | None = None
    """For one source: ``file`` or ``dir`` when known."""
    archive: bool = False
    cwd: str | None = None

    def outputs_in(self, target: str) -> bool:
        return self.dest is not None and _under(self.dest, target)

    def file_at(self, target: str) -> bool:
        """The COPY writes exactly one file, at ``target``."""
        if self.dest is None or len(self.sources) != 1:
            return False
        if self.is_dir:
            return self.kind == "file" and posixpath.join(self.dest, posixpath.basename(
                self.sources[0].rstrip("/"))) == target
        return self.dest == target and self.kind == "file"

    def may_touch(self, target: str) -> bool:
        """Anything it writes could be ``target`` or inside it, or create it."""
        if self.dest is None:
            return True
        return _under(self.dest, target) or _under(target, self.dest)


@dataclass
class _Event:
    inst: Instruction
    kind: str  # copy | workdir | run | user
    copy: _Copy | None = None
    cwd: str | None = None
    user: str = ""
    paths: tuple[str, ...] = ()
    unreadable: bool = False
    makes_users: bool = False
    changes: tuple[tuple[str, str | None, str | None, str | None, tuple[str, ...], bool], ...] | None = None
    """For a RUN that only runs ``chown``/``chgrp``/``chmod`` commands (a plain ``&&`` chain of static words, no
    redirection): each one's (kind, user, group, mode, absolute targets, recursive). It writes no file, so a later
    chown setting the same owner or mode over the same files is not undone by it (:meth:`CopyChown._judge`)."""


_EVENT_KEYWORDS = frozenset(("WORKDIR", "USER", "COPY", "ADD", "RUN"))


class _Replay:
    """A stage (and the stages it is built ``FROM``) replayed into events once per pass, as far as a RUN with a chown
    asks (:meth:`upto`): every such RUN sees a prefix of it (:class:`_Stage`). Parent stages come first in the file,
    so event numbers follow instruction starts. The questions :meth:`CopyChown._judge` asks about one path go
    through :class:`~dockerfix.model.paths.PathIndex` indexes that file the events as the replay grows (reading
    every earlier event for every chown was quadratic in a file of COPY + ``chown -R`` pairs)."""

    def __init__(self, ctx: Context, stage: Stage | None) -> None:
        self.ctx = ctx
        self.events: list[_Event] = []
        self.starts: list[int] = []
        model = ctx.model
        chain = model.stage_chain(stage) if stage is not None else ()
        # the base image's working directory: "/" for a known base, unknown (None) otherwise (the model's answer)
        cwd: str | None = model.state.workdir_at(chain[-1].from_inst) if chain else None
        self.cwds: list[str | None] = [cwd]
        """The working directory before each event (and after the last)."""
        self.users: list[str] = [""]
        # the parent stages replay whole (every RUN of the stage comes after them), the stage itself as asked
        for st in reversed(chain[1:]):
            for i in st.instructions[1:]:
                self._replay(i)
        self.own_start = len(self.events)
        """The number of the first event of the stage being replayed now (the tail: see :meth:`extend`)."""
        self.tail = stage
        self._own = stage.instructions[1:] if stage is not None else []
        self._next = 0  # the next instruction of the stage to replay
        self._writers = PathIndex()
        self._copies = PathIndex()
        self._copies_from = self.own_start  # COPYs are filed from here on (the stages' own; each asks from its own)
        self._parents = PathIndex()
        self._makers: list[int] = []
        self._changers: dict[str, list[int]] = {}  # a target -> the RUNs that only change owners or modes, with it
        self._filed = 0  # events filed in the indexes so far

    def extend(self, stage: Stage) -> None:
        """Go on into ``stage``, a stage built FROM the tail: the rest of the tail replays, then ``stage`` as asked.

        A child's replay is its parent's followed by its own events, numbered alike: stages each built FROM the one
        before (a chain as deep as the file) replay every stage once, not every stage's whole chain again (quadratic
        in the depth). Every question takes the number of events before the asking RUN (and a stage's own COPYs
        from its own start), so the tail's earlier questions are answered the same after it."""
        own = self._own
        for k in range(self._next, len(own)):
            self._replay(own[k])
        self.own_start = len(self.events)
        self.tail = stage
        self._own = stage.instructions[1:]
        self._next = 0

    def upto(self, inst: Instruction) -> int:
        """Replay the tail's instructions before ``inst``; the number of events before it."""
        own = self._own
        k = self._next
        while k < len(own) and own[k].start < inst.start:
            self._replay(own[k])
            k += 1
        self._next = k
        return bisect_left(self.starts, inst.start)

    def _replay(self, i: Instruction) -> None:
        # an instruction's event depends only on it, the working directory and the user: a parent stage's events
        # are shared by its children's replays (``ctx.memo``; events are never changed)
        if i.keyword == "ONBUILD":
            return  # runs in children only
        if i.keyword not in _EVENT_KEYWORDS or (i.keyword == "WORKDIR" and not i.args):
            return
        cwd, user = self.cwds[-1], self.users[-1]
        ev = self.ctx.memo.get_or(_Event, (i.start, cwd, user), self._event, i, cwd, user)
        if ev.kind == "workdir":
            cwd = ev.cwd
        elif ev.kind == "user":
            user = ev.user
        self.events.append(ev)
        self.starts.append(i.start)
        self.cwds.append(cwd)
        self.users.append(user)

    def _file(self) -> None:
        """File the events replayed since the last question in the indexes."""
        for n in range(self._filed, len(self.events)):
            ev = self.events[n]
            writers, parents = self._writers, self._parents
            if ev.kind == "workdir":
                if ev.cwd is None:
                    writers.always(n)
                else:
                    writers.inside(ev.cwd, n)
                    parents.inside(ev.cwd, n)
            elif ev.kind == "copy":
                c = ev.copy
                if c is None or c.dest is None:
                    writers.always(n)
                else:
                    writers.around(c.dest, n)
                    parents.inside(posixpath.dirname(c.dest), n)
                    if c.is_dir:
                        parents.inside(c.dest, n)
                if c is not None and n >= self._copies_from:
                    if c.dest is None:
                        self._copies.always(n)
                    else:
                        self._copies.around(c.dest, n)
            elif ev.kind == "run":
                if ev.makes_users:
                    self._makers.append(n)
                for *_, targets, recursive in ev.changes or ():
                    for x in targets if recursive else ():
                        got = self._changers.setdefault(x, [])
                        if not got or got[-1] != n:
                            got.append(n)
                for p in ev.paths:
                    parents.inside(p, n)
                if ev.unreadable or ev.cwd is None:
                    writers.always(n)
                    continue
                writers.inside(ev.cwd, n)
                for p in ev.paths:
                    writers.inside(p, n)
        self._filed = len(self.events)

    def _event(self, i: Instruction, cwd: str | None, user: str) -> _Event:
        model = self.ctx.model
        env = model.scope_at(i)
        if i.keyword == "WORKDIR":
            v = model.expand(i.args[0], env)
            return _Event(i, "workdir", cwd=_norm(v, cwd) if v is not None else None, user=user)
        if i.keyword == "USER":
            v = model.expand(i.args[0], env) if i.args else ""
            return _Event(i, "user", user="?" if v is None else v)
        if i.keyword in ("COPY", "ADD"):
            return _Event(i, "copy", copy=self._copy(i, env, cwd), cwd=cwd, user=user)
        return self._run(i, env, cwd, user)

    def _copy(self, i: Instruction, env, cwd) -> _Copy:
        model = self.ctx.model
        args = list(i.args)
        if i.heredocs:
            names = {"<<" + h.name for h in i.heredocs} | {"<<-" + h.name for h in i.heredocs}
            srcs = args[:-1]
            kinds = ["file" if a.lstrip("0123456789").rstrip("'\"") in names or a.startswith("<<") else None
                     for a in srcs]
        else:
            srcs = args[:-1]
            kinds = [None] * len(srcs)
        raw_dest = args[-1] if args else ""
        dest_v = model.expand(raw_dest, env)
        dest = _norm(dest_v, cwd) if dest_v else None
        from_stage = i.flag("from") is not None
        exp = [model.expand(s, env) for s in srcs]
        is_dir = (dest_v or "").endswith("/") or len(srcs) != 1 or any(
            s is None or any(c in s for c in "*?[") for s in exp)
        archive = i.keyword == "ADD" and any(
            s is None or (not is_remote(s) and looks_like_archive_name(s)) or s.endswith(".git") or
            s.startswith("git@") for s in exp)
        kind = kinds[0] if len(kinds) == 1 else None
        if kind is None and len(exp) == 1 and exp[0] is not None:
            kind = self._source_kind(i, exp[0], from_stage)
        return _Copy(i, dest, is_dir, tuple(s or "\0" for s in exp), from_stage, kind, archive, cwd)

    def _source_kind(self, i: Instruction, src: str, from_stage: bool) -> str | None:
        if is_remote(src):
            return "file"
        if from_stage:
            return None
        bc = self.ctx.build_context
        if bc is None:
            return None
        rel = src.lstrip("/") or "."
        try:
            if bc.is_dir(rel):
                return "dir"
            if bc.exists(rel):
                return "file"
        except OSError:
            return None
        return None

    def _run(self, i: Instruction, env, cwd, user) -> _Event:
        ev = _Event(i, "run", cwd=cwd, user=user)
        run = RunShell(self.ctx.document, i)
        if run.script is None:
            ev.unreadable = True
            return ev
        paths: list[str] = []
        for node in run.script.walk():
            name = getattr(node, "basename", None)
            if name in USER_TOOLS:
                ev.makes_users = True
                paths.extend(_home_dirs(node))
            for w in (getattr(node, "words", ()) or ()) + written_targets(node):
                v = w.value if w.value is not None else self.ctx.model.expand(w.raw, env)
                if v is None:
                    if w.raw.startswith(("$", "`", "\"$")) or "/" in w.raw:
                        ev.unreadable = True
                    continue
                if v.startswith("/") or (cwd is not None and ("/" in v or v in (".", ".."))):
                    p = _norm(v.split("*", 1)[0] or "/", cwd)
                    if p is not None:
                        paths.append(p)
        ev.paths = tuple(paths)
        if not ev.unreadable:
            ev.changes = _only_changes(run, env, cwd, self.ctx)
        return ev

    def number(self, inst: Instruction) -> int:
        """The number of the first event at or after ``inst`` (the count of events before it)."""
        return bisect_left(self.starts, inst.start)

    # ------------------------------------------------------------------ questions about a path
    def first_writer(self, t: str, lo: int, hi: int, skip: list[_Copy] | None = None,
                     same: _Change | None = None) -> str | None:
        """:meth:`CopyChown._writes` of the first event in ``[lo, hi)`` that may write ``t`` (COPYs in ``skip``
        left out, and RUNs that only make the change ``same`` makes, :func:`_same_change`)."""
        self._file()
        left_out = {id(c) for c in skip} if skip else ()
        for n in self._writers.forward(t, lo, hi):
            ev = self.events[n]
            if left_out and ev.kind == "copy" and id(ev.copy) in left_out:
                continue
            if same is not None and ev.kind == "run" and _same_change(ev, same, t):
                continue
            why = CopyChown._writes(ev, t)
            if why:
                return why
        return None

    def copies_back(self, t: str, own_start: int, hi: int):
        """The stage's own COPYs (from event ``own_start``) before event ``hi`` that may write ``t``, the last first
        (the others neither write exactly ``t`` nor may touch it)."""
        self._file()
        for n in self._copies.backward(t, own_start, hi):
            c = self.events[n].copy
            assert c is not None
            yield c

    def copies_into(self, t: str, own_start: int, hi: int, lo: int = 0) -> list[_Copy]:
        """The stage's own COPYs (from event ``own_start``) in ``[lo, hi)`` whose destination is ``t`` or inside it,
        in order."""
        self._file()
        out = []
        for n in self._copies.below(t, max(lo, own_start), hi):
            c = self.events[n].copy
            assert c is not None
            out.append(c)
        return out

    def makes_parent(self, d: str, hi: int) -> bool:
        """Does an event before ``hi`` make directory ``d`` (:meth:`_Stage.exists`)?"""
        self._file()
        for n in self._parents.forward(d, 0, hi):
            ev = self.events[n]
            if ev.kind == "workdir" and ev.cwd and _under(ev.cwd, d):
                return True
            if ev.kind == "copy" and ev.copy and ev.copy.dest and (
                    _under(posixpath.dirname(ev.copy.dest), d) or (ev.copy.is_dir and _under(ev.copy.dest, d))):
                return True
            if ev.kind == "run" and any(_under(p, d) and p != d or p == d for p in ev.paths):
                return True
        return False

    def last_cover(self, t: str, ch: _Change, hi: int) -> int | None:
        """The number of the last event before ``hi`` that :func:`_covers` ``t`` for ``ch``."""
        self._file()
        numbers = self._changers.get(t, ())
        k = bisect_left(numbers, hi)
        while k:
            k -= 1
            if _covers(self.events[numbers[k]], ch, t):
                return numbers[k]
        return None

    def first_maker(self, lo: int, hi: int) -> _Event | None:
        """The first RUN in ``[lo, hi)`` that creates users or groups."""
        self._file()
        makers = self._makers
        k = bisect_left(makers, lo)
        return self.events[makers[k]] if k < len(makers) and makers[k] < hi else None


def _replay_of(ctx: Context, stage: Stage | None) -> _Replay:
    """The replay of ``stage``: the replay of its nearest ancestor that has one, extended through the stages between
    (when that replay's tail is the ancestor: no other child took it over), else a new one. Each stage of a chain is
    then replayed once in a pass (see :meth:`_Replay.extend`)."""
    if stage is None:
        return _Replay(ctx, None)
    tails: dict[int, _Replay] = ctx.memo.get_or(_replay_of, None, dict)  # stage index -> its replay, if the tail
    chain = ctx.model.stage_chain(stage)
    for k in range(1, len(chain)):
        r = tails.pop(chain[k].index, None)
        if r is not None and r.tail is chain[k]:
            for st in reversed(chain[:k]):
                r.extend(st)
            break
    else:
        r = _Replay(ctx, stage)
    tails[stage.index] = r
    return r


class _Stage:
    """The instructions before a RUN (parent stages first): a prefix of the stage's :class:`_Replay`."""

    def __init__(self, ctx: Context, inst: Instruction) -> None:
        self.ctx = ctx
        stage = ctx.model.stage_of(inst)
        self.from_stage = stage
        self.replay = r = ctx.memo.get_or(_Replay, stage.index if stage is not None else None, _replay_of, ctx, stage)
        if r.tail is not stage:  # asked after a child took the replay over (not in document order): a replay of its own
            r = self.replay = _Replay(ctx, stage)
        self.own_start = r.own_start
        self.n = n = r.upto(inst)
        self.cwd = r.cwds[n]
        self.user = r.users[n]

    def exists(self, d: str, before: Instruction) -> bool:
        """Is directory ``d`` known to exist before ``before``?"""
        if d in KNOWN_DIRS:
            return True
        return self.replay.makes_parent(d, self.replay.number(before))

def _only_changes(run: RunShell, env, cwd: str | None, ctx: Context):
    """:attr:`_Event.changes` of ``run``, or None when it runs anything else (or anything not plain)."""
    script = run.script
    assert script is not None
    sites = script.sites
    if not sites or len(sites) != len(script.items) or any(
            sep is not None and sep.text not in ("&&", ";") for sep in script.separators):
        return None
    out = []
    for site in sites:
        cmd = site.command
        if site.is_nested or site.in_pipeline or site.conditional or site.background or cmd.redirects or \
                cmd.assignments or cmd.wrappers or cmd.basename not in ("chown", "chgrp", "chmod"):
            return None
        ch = _parse_change(cmd, lambda raw: ctx.model.expand(raw, env))
        if ch is None or ch.problem or ch.via_variable:
            return None
        targets = tuple(_norm(t, cwd) for t in ch.targets)
        if any(t is None for t in targets):
            return None
        out.append((ch.kind, ch.user, ch.group, ch.mode, targets, ch.recursive))
    return tuple(out)


def _same_change(ev: _Event, ch: _Change, t: str) -> bool:
    """``ev`` is a RUN that only sets the owner (or mode) ``ch`` sets, on ``t`` or inside it: it creates nothing
    and changes nothing ``ch`` would not set again, so it does not stand between the COPYs and ``ch``."""
    return bool(ev.changes) and all(
        kind == ch.kind and user == ch.user and group == ch.group and mode == ch.mode and
        all(_under(x, t) for x in targets) for kind, user, group, mode, targets, _ in ev.changes or ())


def _covers(ev: _Event, ch: _Change, t: str) -> bool:
    """``ev`` only makes the change ``ch`` makes (:func:`_same_change`), and makes it recursively on ``t`` itself: after
    it, everything in ``t`` has the owner (or mode) ``ch`` sets."""
    return _same_change(ev, ch, t) and any(
        recursive and t in targets for *_, targets, recursive in ev.changes or ())


def _home_dirs(cmd) -> list[str]:
    """Home directories ``useradd -m`` / ``adduser`` create (static words only)."""
    vals = [w.value for w in cmd.args]
    if any(v is None for v in vals) or not vals:
        return []
    for i, v in enumerate(vals[:-1]):
        if v in ("-d", "--home-dir", "--home", "-h") and cmd.basename != "addgroup":
            return [vals[i + 1]]
    creates = cmd.basename == "adduser" and "--no-create-home" not in vals and "-H" not in vals or any(
        v in ("-m", "--create-home") for v in vals)
    last = vals[-1]
    if creates and not last.startswith("-") and _NAME.fullmatch(last):
        return ["/home/" + last]
    return []


def _is_root(user: str) -> bool:
    return user in ROOT_USERS or user.startswith(("root:", "0:"))


def _wants_labs(doc: Document) -> bool:
    syntax = doc.directive("syntax") or ""
    return bool(_LABS.search(syntax))


def _apply_symbolic(mode: str, base: int, is_dir: bool) -> int | None:
    """The octal mode ``chmod MODE`` gives a file of mode ``base`` (umask 022 for clauses without who)."""
    bits = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}
    who_bits = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}
    cur = base
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)((?:[-+=][rwxXst]*)+)", clause)
        if not m:
            return None
        who = m.group(1)
        mask = 0
        for c in who or "a":
            mask |= who_bits[c]
        if not who:
            mask &= ~0o022
        for op, perms in re.findall(r"([-+=])([rwxXst]*)", m.group(2)):
            val = 0
            for p in perms:
                if p == "X":
                    if is_dir or cur & 0o111:
                        val |= 0o111
                else:
                    val |= bits[p]
            val &= mask
            if op == "+":
                cur |= val
            elif op == "-":
                cur &= ~val
            else:
                cur = (cur & ~(mask & 0o7777 & ~(0o6000 if is_dir else 0))) | val
    return cur


# --------------------------------------------------------------------------------------------------- edits
def _flag_edit(doc: Document, inst: Instruction, name: str, value: str) -> Edit:
    f = inst.flag(name)
    if f is not None:
        return Edit(f.start, f.end, f"--{name}={value}")
    return Edit.insert(inst.keyword_span[1], f" --{name}={value}")


def _comment_lines(doc: Document, inst: Instruction, a: int, b: int) -> list[str]:
    """Comment lines inside a continuation that lie wholly within ``[a, b)`` of the document."""
    out = []
    text = doc.text
    pos = text.find("\n", a) + 1 if text[a - 1:a] != "\n" else a
    while 0 < pos < b:
        nl = text.find("\n", pos)
        end = min(b, len(text) if nl < 0 else nl + 1)
        line = text[pos:end]
        if line.lstrip().startswith("#"):
            out.append(line.strip())
        pos = end
    return out


def _removal(doc: Document, run: RunShell, index: int) -> tuple[list[Edit] | None, str | None]:
    """Edits removing chain item ``index`` and one ``&&`` next to it (the whole RUN when it is the only item)."""
    s = run.script
    inst = run.inst
    assert s is not None
    items, seps = s.items, s.separators
    if run.heredoc is not None:
        return None, "the command sits in a heredoc"
    if any(sep is not None and sep.text != "&&" for sep in seps[:-1]) or (
            seps and seps[-1] is not None and seps[-1].text not in (";",)):
        return None, "the RUN is not a plain && chain, so removing a command could change what runs on failure"
    nl = inst.line_break or doc.newline
    if len(items) == 1:
        comments = _comment_lines(doc, inst, inst.start, inst.end)
        return [Edit(inst.start, inst.end, "".join(c + nl for c in comments))], None
    if index == 0:
        a = run.doc_span(items[0].span)[0]
        b = run.doc_span(items[1].span)[0]
    else:
        a = run.doc_span(items[index - 1].span)[1]
        b = run.doc_span(items[index].span)[1]
    edits = [Edit.delete(a, b)]
    comments = _comment_lines(doc, inst, a, b)
    if comments:
        ind = re.match(r"[ \t]*", doc.text[inst.start:]).group(0)  # type: ignore[union-attr]
        edits.append(Edit.insert(inst.start, "".join(ind + c + nl for c in comments)))
    return edits, None


# --------------------------------------------------------------------------------------------------- transform
@dataclass
class _Verdict:
    copies: list[_Copy] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    nofix: str | None = None
    skip: bool = False


ROOT_FLAG_TITLE = "Remove --chown"
POLICY_TITLE = "Remove --chown (keep the files root-owned)"


class CopyChown(Transform):
    code = "DFX301"
    triggers = ("chown", "chmod", "chgrp")
    name = "copy-chown"
    summary = "Set owner and mode in COPY (--chown/--chmod) instead of a later RUN chown/chmod"
    safety = "mixed"
    effect = "size"
    """Moving a chown into COPY drops the layer that duplicated the files; dropping ``--chown=root:root`` (the
    default) is cosmetic, and dropping ``--chown`` under ``chown-policy = "root-owned"`` a correctness choice (see
    :meth:`effect_of`)."""

    def effect_of(self, title: str | None) -> str:
        if title == ROOT_FLAG_TITLE:
            return "cosmetic"
        if title == POLICY_TITLE:
            return "correctness"
        return self.effect
    docs = """\
## What it does
Finds a `RUN chown`, `chgrp` or `chmod` (with or without `-R`) of exactly what a COPY/ADD earlier in the stage
brought in, moves the owner or mode into the COPY as `--chown=user:group` / `--chmod=MODE`, and drops the command
from the RUN (with one `&&`), or the RUN when nothing else is left. Several COPYs into one directory followed by
one `chown -R` of it each get the flag. `COPY --from=stage` counts like any COPY.

## Why
A `chown`/`chmod` in a later RUN copies every file it touches into a new layer: the image carries the bytes twice
(a `chown -R` of a 300 MB tree adds 300 MB), and the RUN reruns whenever the COPY changes. The flag sets owner and
mode as the files are written, in the COPY's own layer.

## Example
```dockerfile
COPY . /app
RUN chown -R app:app /app
```
becomes
```dockerfile
COPY --chown=app:app . /app
```

## Fix safety
Safe only when the result is the same file tree:
- the path is the COPY destination (after WORKDIR and ENV/ARG expansion), or the one file it writes;
- the destination did not exist before the COPY: `chown -R /app` also changes `/app` itself and anything already
  in it, while `COPY --chown` leaves older content alone, and builders disagree on an existing destination
  directory itself (a `WORKDIR /app` made it, root-owned): BuildKit keeps its owner, while buildah 1.28 (measured
  in the lab) gives it the new owner when the source is a directory such as `.`. Those cases are unsafe fixes: on
  BuildKit the directory stays root-owned, so the runtime user can change the copied files but cannot create new
  files directly in it;
- the parent of the destination exists already (a standard directory, or one the stage made): `COPY --chown`
  also gives the directories it creates on the way to the new owner, a later `chown` does not (unsafe otherwise);
- no RUN after the COPY (or before the chown in its RUN) may have written into the destination, and no user or
  group is created between the COPY and the chown (the COPY looks names up in `/etc/passwd` as it runs). A RUN
  that only runs the same change (the same owner or mode, on the destination or inside it: a chown after each
  COPY into one directory) is not in the way: it creates nothing and sets what the later chown sets again, so
  every such chown moves into its COPY in the same pass (lab: buildah and BuildKit build the same image). After
  such a RUN that makes the change recursively on the destination itself (an earlier `chown -R` of it, fixed or
  kept), everything there already has the owner or mode, so a later chown moves only into the COPYs after it;
- a `chown user` without a group becomes `--chown=user:0` (the group of copied files is root), since builders
  differ on the group of a bare `--chown=user` (BuildKit: the user's primary group; the classic builder: the
  group named like the user);
- the mode is octal. Symbolic modes (`+x`, `u=rwX,go=rX`) are accepted by BuildKit's Dockerfile frontend only
  with `# syntax=docker/dockerfile:1-labs` (moby/buildkit#5380, documented in #6430) and rejected by buildah
  (containers/buildah#6938): with that directive and `builder = "buildkit"` they are kept, otherwise a one-file
  `chmod +x` becomes an octal mode computed from 0644 (what git checks out) as an unsafe fix, and a recursive
  symbolic change is a finding;
- values read from variables are expanded, but the fix is unsafe (an ARG can be overridden at build time).

With `builder = "classic"` (no `COPY --chmod` there) only `--chown` is used; a chmod is a finding. A chown run
after a non-root `USER`, of `/` or a standard directory, of a path a RUN made, or through `find -exec` is left
alone.

## Policy: `chown-policy`
`"copy-flag"` (the default) does the above. Scanners (KICS "Chown Flag Exists", Sonar S6504) flag `COPY --chown`
for a different reason: files owned by the runtime user can be modified by a compromised process at runtime.
`"root-owned"` takes their side: a `chown` of copied files is dropped instead of moved, and `--chown` is dropped
from COPYs of the final stage, leaving the files root-owned and read-only to the runtime user. That is unsafe: an
application that writes into its own directory (uploads, caches, SQLite files, compiled assets) breaks, so the
fix is opt-in and only right for files the runtime user only reads; give such an app a separate writable
directory (a volume or a `mkdir` + `chown` of just that path). `--chown=root:root` is the default and is dropped
as a safe fix under either policy.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        doc = ctx.document
        policy = ctx.setting("chown-policy", "copy-flag")
        builder = ctx.setting("builder", "buildkit")
        yield from self._existing_flags(ctx, policy)

        for inst in doc.iter_instructions():
            if inst.keyword != "RUN" or inst.json:
                continue
            run = None
            for site, cmd in self._sites(doc, inst):
                if run is None:
                    run = RunShell(doc, inst)
                    if not ctx.model.state.shell_at(inst).is_posix:
                        break
                    stage = _Stage(ctx, inst)
                    env = ctx.model.scope_at(inst)
                if not _is_root(stage.user):
                    break
                resolve = lambda raw: ctx.model.expand(raw, env)  # noqa: E731, B023 - used in this iteration only
                ch = _parse_change(cmd, resolve)
                if ch is None:
                    continue
                yield from self._one(ctx, run, stage, site, ch, policy, builder)

    @staticmethod
    def _sites(doc: Document, inst: Instruction):
        if "chown" not in inst.line and "chmod" not in inst.line and "chgrp" not in inst.line and not (
                inst.heredocs and any(k in h.content for h in inst.heredocs for k in ("chown", "chmod", "chgrp"))):
            return
        run = RunShell(doc, inst)
        if run.script is None:
            return
        for site in run.script.sites:
            cmd = site.command.effective
            if cmd.basename in ("chown", "chgrp", "chmod"):
                yield site, cmd

    def _one(self, ctx, run: RunShell, stage: _Stage, site, ch: _Change, policy: str, builder: str):
        doc = ctx.document
        inst = run.inst
        what = {"owner": "ownership", "mode": "mode"}[ch.kind]
        normed = [_norm(t, stage.cwd) for t in ch.targets]
        if any(t is None for t in normed):
            return  # a path we cannot read: not recognisably this pattern
        targets = [t for t in normed if t is not None]  # all of them (checked above)
        v = self._judge(stage, inst, targets, ch)
        if v.skip:
            return
        cmd_text = site.command.raw
        msg = (f"`{cmd_text}` changes the {what} of files a COPY brought in, in a new layer that repeats their "
               "bytes")
        s, e = run.doc_span(site.command.span)
        span = (s, e)
        if ch.problem:
            v.nofix = ch.problem
        if site.is_nested or site.in_pipeline or site.conditional or site.background:
            v.nofix = v.nofix or "the command runs inside a condition, pipeline or subshell"
        if v.nofix is None and ch.kind == "mode" and builder == "classic":
            v.nofix = "the classic builder has no COPY --chmod (setting builder = \"classic\")"
        # the flag value
        value: str | None
        flag, value = "chown", ""
        if v.nofix is None and ch.kind == "owner":
            if policy == "root-owned":
                flag = ""
            else:
                value, why = self._owner_value(v.copies, ch)
                if value is None:
                    v.nofix = why
        elif v.nofix is None:
            flag = "chmod"
            value, unsafe_why, why = self._mode_value(doc, v.copies, ch, builder)
            if value is None:
                v.nofix = why
            elif unsafe_why:
                v.unsafe.append(unsafe_why)
        if v.nofix is None and ch.kind == "owner" and policy != "root-owned" and (ch.user or "").strip("0123456789"):
            ev = stage.replay.first_maker(stage.replay.number(v.copies[0].inst) + 1, stage.n)
            if ev is not None:
                v.nofix = (f"the RUN on line {ev.inst.start_line} creates users or groups after the COPY, "
                           "which looks the names up as it runs")
        if v.nofix is None:
            assert run.script is not None  # the site is one of its commands (_sites)
            earlier = [it for it in run.script.items[:site.chain_index]]
            for it in earlier:
                if any(getattr(n, "basename", None) in USER_TOOLS for n in _walk(it)) and flag == "chown":
                    v.nofix = "users are created in the same RUN, after the COPY ran"
                    break
                if self._touches(it, targets, stage.cwd):
                    v.unsafe.append("an earlier command of the same RUN writes there too, and those files would "
                                    "keep their old owner/mode")
                    break
        if ch.via_variable:
            v.unsafe.append("a value comes from a variable (an ARG can be overridden at build time)")
        if v.nofix is None:
            edits, why = _removal(doc, run, site.chain_index)
            if edits is None:
                v.nofix = why
        if v.nofix is not None:
            yield self.diagnostic(inst, msg, None, reason=v.nofix, span=span)
            return
        assert edits is not None
        assert value is not None  # a None value came with a reason, now in v.nofix
        copies = v.copies
        if flag:
            edits = edits + [_flag_edit(doc, c.inst, flag, value) for c in copies]
        lines = ", ".join(str(c.inst.start_line) for c in copies)
        if flag:
            title = f"Move into COPY --{flag}={value} (line {lines})"
        else:
            title = f"Drop the chown: keep the files from line {lines} root-owned"
            v.unsafe.append("chown-policy = \"root-owned\": the runtime user can no longer write these files")
        fix = Fix.unsafe(title, *edits) if v.unsafe else Fix.safe(title, *edits)
        reason = "; ".join(dict.fromkeys(v.unsafe)) or None
        yield self.diagnostic(inst, msg + (f" (unsafe: {reason})" if reason else ""), fix, reason=reason, span=span)

    @staticmethod
    def _touches(node, targets: list[str], cwd: str | None) -> bool:
        for n in _walk(node):
            for w in (getattr(n, "words", ()) or ()) + written_targets(n):
                val = w.value
                if val is None:
                    if "/" in w.raw or w.raw.startswith("$"):
                        return True
                    continue
                if getattr(n, "basename", None) in ("cd", "pushd"):
                    return True
                p = _norm(val, cwd) if ("/" in val or val == ".") else None
                if p and any(_under(p, t) for t in targets):
                    return True
            if cwd is not None and any(_under(cwd, t) for t in targets) and bool(getattr(n, "words", ())):
                return True
        return False

    def _judge(self, stage: _Stage, inst: Instruction, targets: list[str], ch: _Change) -> _Verdict:
        v = _Verdict()
        r = stage.replay
        for t in targets:
            if t in KNOWN_DIRS:
                v.skip = True
                return v
            # a file target: the last COPY writing exactly that file (the COPYs that are not candidates neither
            # write exactly t nor may touch it)
            file_copy = None
            for c in r.copies_back(t, stage.own_start, stage.n):
                if c.file_at(t) or (c.dest == t and not c.is_dir and c.kind is None and ch.recursive is False
                                    and len(c.sources) == 1):
                    file_copy = c
                    break
                if c.may_touch(t):
                    break
            if file_copy is not None:
                if file_copy.kind != "file":
                    v.unsafe.append(f"it is not known whether {file_copy.sources[0]} is a file or a directory")
                if file_copy.archive:
                    v.nofix = "ADD may unpack an archive, whose entries keep their own owners and modes"
                self._after(stage, file_copy, t, ch, v)
                if not self._parent_known(stage, file_copy, posixpath.dirname(t)) and ch.kind == "owner":
                    v.unsafe.append(f"COPY --chown would also give {posixpath.dirname(t)} to the owner if the "
                                    "COPY creates it")
                v.copies.append(file_copy)
                continue
            # a RUN that already set this owner (or mode) on all of t since the stage began (an earlier chown of the
            # same kind): the COPYs before it are its business, this chown's are the ones after it
            cover = r.last_cover(t, ch, stage.n) if ch.recursive else None
            mine = r.copies_into(t, stage.own_start, stage.n, cover + 1) if cover is not None else []
            if not mine:
                cover = None  # nothing copied since: every COPY into t is this chown's, as without it
                mine = r.copies_into(t, stage.own_start, stage.n)
            if not mine:
                v.skip = True  # nothing this stage copied lands there: not this pattern
                return v
            first = mine[0]
            if not ch.recursive:
                if len(mine) == 1 and not first.is_dir and first.dest == t:
                    v.unsafe.append(f"{first.sources[0]} may be a directory, and a chown without -R changes "
                                    "only the directory itself")
                else:
                    v.nofix = v.nofix or f"without -R only {t} itself changes, while the flag would change every " \
                                         "copied file"
            if any(c.archive for c in mine):
                v.nofix = "ADD may unpack an archive, whose entries keep their own owners and modes"
            # what was there before the first contribution: the model knows the base image and package installs
            # (after a covering chown, everything there already has the owner or mode)
            held = stage.ctx.model.state.contents(t, first.inst) if cover is None else None
            if held is not None and not held.is_empty and ch.recursive:
                cmd = "chmod" if ch.kind == "mode" else "chown"
                v.unsafe.append(f"{held.reason}; `{cmd} -R {t}` also changes those files, while "
                                "COPY --chown/--chmod changes only the copied ones")
            # and what the instructions before it wrote (since the covering chown)
            at = r.number(first.inst)
            why = r.first_writer(t, 0, at) if cover is None else r.first_writer(t, cover + 1, at, same=ch)
            if why:
                v.unsafe.append(why + f"; {t} existed before the COPY on line {first.inst.start_line}, and "
                                "COPY --chown/--chmod leaves an existing directory and its content as they are")
            # between the contributions and the RUN
            why = r.first_writer(t, at + 1, stage.n, skip=mine, same=ch)
            if why:
                v.unsafe.append(why + ", and those files would keep their old owner/mode")
            if ch.kind == "owner" and not self._parent_known(stage, first, posixpath.dirname(t)):
                v.unsafe.append(f"{posixpath.dirname(t)} may not exist yet, and COPY --chown also gives the "
                                "directories it creates to the owner")
            have = {id(c) for c in v.copies}  # each COPY has one _Copy (the replay's): identity is enough
            v.copies.extend(c for c in mine if id(c) not in have)
        return v

    @staticmethod
    def _after(stage: _Stage, copy: _Copy, t: str, ch: _Change, v: _Verdict) -> None:
        r = stage.replay
        why = r.first_writer(t, r.number(copy.inst) + 1, stage.n, same=ch)
        if why:
            v.unsafe.append(why + " after the COPY")

    @staticmethod
    def _writes(ev: _Event, t: str) -> str | None:
        line = ev.inst.start_line
        if ev.kind == "workdir":
            if ev.cwd is None or _under(ev.cwd, t):
                return f"WORKDIR on line {line} creates it"
        elif ev.kind == "copy":
            if ev.copy is None or ev.copy.may_touch(t):
                return f"the COPY/ADD on line {line} writes there"
        elif ev.kind == "run":
            if ev.unreadable:
                return f"the RUN on line {line} uses words it cannot read"
            if ev.cwd is None or _under(ev.cwd, t):
                return f"the RUN on line {line} runs in it and may create files there"
            if any(_under(p, t) for p in ev.paths):
                return f"the RUN on line {line} writes there"
        return None

    @staticmethod
    def _parent_known(stage: _Stage, copy: _Copy, parent: str) -> bool:
        return stage.exists(parent, copy.inst)

    @staticmethod
    def _owner_value(copies: list[_Copy], ch: _Change) -> tuple[str | None, str | None]:
        values = set()
        for c in copies:
            f = c.inst.flag("chown")
            old_u, old_g = "0", "0"
            if f is not None:
                if f.value is None or "$" in f.value or ":" not in f.value:
                    return None, f"the COPY on line {c.inst.start_line} already has --chown={f.value}"
                old_u, _, old_g = f.value.partition(":")
            values.add(f"{ch.user or old_u}:{ch.group or old_g}")
        if len(values) != 1:
            return None, "the COPYs have different --chown values"
        return values.pop(), None

    @staticmethod
    def _mode_value(doc: Document, copies: list[_Copy], ch: _Change, builder: str):
        mode = ch.mode or ""
        if any(c.inst.flag("chmod") is not None for c in copies) and not _OCTAL.fullmatch(mode):
            return None, None, "the COPY already has --chmod and the new mode is relative to it"
        if _OCTAL.fullmatch(mode):
            return mode, None, None
        if not _SYMBOLIC.fullmatch(mode):
            return None, None, f"`{mode}` is not a mode COPY --chmod accepts"
        # a clause without who (`+w`) is masked by the umask in chmod; keep only the ones the umask cannot change
        umask_safe = all(re.match(r"[ugoa]", c) or not re.search(r"[wst]", c) for c in mode.split(","))
        if builder == "buildkit" and _wants_labs(doc) and umask_safe:
            return mode, None, None
        single_file = len(copies) == 1 and copies[0].kind == "file" and (
            copies[0].file_at(copies[0].dest or "") or not copies[0].is_dir)
        if single_file:
            octal = _apply_symbolic(mode, 0o644, False)
            if octal is not None:
                return f"{octal:o}".zfill(3 if octal < 0o1000 else 4), (
                    f"buildah and stable BuildKit take only octal --chmod, so `{mode}` becomes {octal:o} assuming "
                    "the file is 0644 in the build context (0755 there gives a different result)"), None
        what = ("it is not known whether the source is a file (no build context)" if not ch.recursive else
                "for a tree of files and directories no single octal mode matches")
        return None, None, (f"symbolic mode `{mode}` needs `# syntax=docker/dockerfile:1-labs` on BuildKit and is "
                            f"rejected by buildah; {what}")

    def _existing_flags(self, ctx: Context, policy: str) -> Iterable[Diagnostic]:
        """`--chown=root:root` is the default; under ``root-owned``, `--chown` of the final stage is dropped."""
        model = ctx.model
        final = model.final_stage()
        for stage in model.stages:
            for inst in stage.instructions:
                if inst.keyword not in ("COPY", "ADD"):
                    continue
                f = inst.flag("chown")
                if f is None or f.value is None:
                    continue
                value = f.value
                end = f.end
                text = ctx.document.text
                while end < len(text) and text[end] in " \t":
                    end += 1
                edit = Edit.delete(f.start, end)
                if value in ROOT_USERS:
                    yield self.diagnostic(inst, f"--chown={value} is what COPY does anyway",
                                          Fix.safe(ROOT_FLAG_TITLE, edit), span=(f.start, f.end))
                elif policy == "root-owned" and stage is final:
                    reason = ("chown-policy = \"root-owned\": the files become root-owned; the runtime user can "
                              "still read them (modes are kept) but no longer write them")
                    yield self.diagnostic(
                        inst, f"--chown={value} makes the copied files writable by {value.split(':')[0]} at "
                        "runtime (KICS \"Chown Flag Exists\", Sonar S6504)",
                        Fix.unsafe(POLICY_TITLE, edit), reason=reason,
                        span=(f.start, f.end))


def _walk(node):
    from dockerfix.model.shell import _walk_node

    return _walk_node(node)


TRANSFORMS = (CopyChown,)
