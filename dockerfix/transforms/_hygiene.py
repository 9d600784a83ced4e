"""The machinery the RUN-hygiene transforms (DFX103-DFX114) share: walking the RUNs of each
stage with the shell that runs them, reading their package-manager calls, deciding when a RUN cannot be read, and
the two fix shapes (append a cleanup command, insert a flag after the action word).
"""

from __future__ import annotations

from functools import lru_cache

from dockerfix._lazyre import lazy
from dockerfix._record import dataclass
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import ClassVar, Iterable, Iterator

    from dockerfix.model.stages import Stage
    from dockerfix.syntax.nodes import Instruction

from dockerfix.model import tools
from dockerfix.model.manifests import cache_strategy
from dockerfix.model.pkgmgr import Cleanup, PackageCall, find_cleanups, find_package_calls, parse_package_call
from dockerfix.model.shell import Script, Word, is_posix_shell
from dockerfix.transforms._run import (
    RunShell,
    append_command,
    insert_after_word,
    parse_mount,
    run_shell,
)
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

# =====================================================================================================================
# Shared by the RUN-hygiene transforms
# =====================================================================================================================

CLEANUP_STRATEGY_NOTE = """\
Under the `cache-mount` strategy this transform does not fire: DFX202 `cache-mounts` moves the cache to a BuildKit
cache mount instead, and a cleanup in the same RUN would empty the mount and defeat it. The strategy is the
`strategy` setting when it is `cache-mount` or `clean-layer`; when it is not set, files that already need BuildKit
(a `# syntax=` directive, `RUN --mount`, heredocs, `COPY --link`...; not `--chmod`, which copy-chown adds) use cache mounts and the others
in-layer cleanup."""

_TOKEN_SPLIT = lazy(r"[\s;&|()`'\"]+")
_PLAIN_WRAPPERS = frozenset({"command", "time", "nice", "eatmydata", "nohup"})


def norm_path(p: str) -> str:
    p = p.strip()
    while "//" in p:
        p = p.replace("//", "/")
    while len(p) > 1 and p.endswith("/"):
        p = p[:-1]
    return p


@dataclass
class RunSite:
    """One RUN (or ONBUILD RUN) with what the hygiene transforms need to know about it."""

    ctx: Context
    stage: Stage
    inst: Instruction  # the RUN instruction (for ONBUILD, the wrapped one)
    run: RunShell | None
    reason: str | None
    """Why the shell cannot be read (non-POSIX SHELL, exec form, parse failure); None when ``run`` is usable."""
    onbuild: bool = False

    @property
    def script(self) -> Script:
        assert self.run is not None and self.run.script is not None
        return self.run.script

    def calls(self) -> list[PackageCall]:
        return find_package_calls(self.script) if self.run is not None and self.run.ok else []

    def cleanups(self) -> list[Cleanup]:
        return find_cleanups(self.script) if self.run is not None and self.run.ok else []

    def cache_targets(self) -> list[str]:
        """Targets of cache and tmpfs mounts: both keep their content out of the layer."""
        key = tuple(f.value for f in self.inst.flags_named("mount"))
        if not key:
            return []
        return list(_cache_targets(key))

    def tokens(self) -> list[str]:
        """Rough words of the RUN, for findings on RUNs whose shell cannot be read (never for fixes)."""
        if self.inst.json:
            return [a.replace("\\", "/").rsplit("/", 1)[-1] for a in self.inst.args]
        text = self.inst.line if not self.inst.heredocs else self.inst.line + " " + " ".join(
            h.content for h in self.inst.heredocs)
        return [t.replace("\\", "/").rsplit("/", 1)[-1].lower() for t in _TOKEN_SPLIT.split(text) if t]


@lru_cache(maxsize=1024)
def _cache_targets(values: tuple[str | None, ...]) -> tuple[str, ...]:
    """Targets of the cache and tmpfs mounts among ``--mount`` values. Pure (a function of the strings), so shared
    by every RUN, transform, pass and file that has them."""
    return tuple(norm_path(m.get("target", "")) for m in map(parse_mount, values) if m.get("type") in ("cache", "tmpfs"))


def stage_instructions(ctx: Context, stage, keyword: str) -> tuple:
    """The instructions of ``stage`` with ``keyword`` (SHELL, USER...), in order; once per stage and pass, since
    the per-RUN questions (which SHELL, which USER) would otherwise scan the stage chain again for every RUN."""
    return ctx.memo.get_or(stage_instructions, (stage.index, keyword), _with_keyword, stage, keyword)


def _with_keyword(stage, keyword: str) -> tuple:
    return tuple(i for i in stage.instructions if i.keyword == keyword)


def stage_chain(ctx: Context, stage) -> tuple:
    """``stage`` and the stages it is built FROM, nearest first (the model computes it once per stage; not copied:
    a copy per RUN was quadratic in a chain as deep as the file)."""
    return ctx.model.stage_chain(stage)


def descendant_stages(ctx: Context, stage) -> list:
    """Stages built FROM ``stage`` (directly or through other stages), in stage order. Built per call from the
    pass's :class:`_Family` (a walk of them is as long as they are); the questions that must not walk them (is one
    stage a descendant of another, the first of them, how many) ask the family."""
    fam = _family(ctx)
    out: list = []
    todo = list(reversed(fam.children.get(stage.index, ())))
    while todo:
        s = todo.pop()
        out.append(s)
        todo.extend(reversed(fam.children.get(s.index, ())))
    out.sort(key=lambda s: s.index)
    return out


class _Family:
    """The stages' family in one pass: each stage's children (stages built FROM it, in order), how many
    descendants it has, and an interval per stage such that a stage's descendants are exactly the stages whose
    ``enter`` falls in its ``(enter, leave]``. Built in one walk of the stages, so asking it for every RUN stays
    linear in files whose stages each build FROM the one before (a table of every stage's descendants is quadratic
    in the depth of such a chain)."""

    __slots__ = ("children", "count", "enter", "leave")

    def __init__(self, ctx: Context) -> None:
        model = ctx.model
        self.children: dict[int, list] = {}
        roots = []
        for s in model.stages:
            p = model.parent_stage(s)
            if p is not None and p.index < s.index:
                self.children.setdefault(p.index, []).append(s)
            else:
                roots.append(s)
        self.count: dict[int, int] = {}
        for s in reversed(model.stages):  # children come after their parent
            self.count[s.index] = sum(1 + self.count[c.index] for c in self.children.get(s.index, ()))
        self.enter: dict[int, int] = {}
        self.leave: dict[int, int] = {}
        clock = 0
        for root in roots:  # a walk without recursion (a chain may be as deep as the file)
            todo = [(root, False)]
            while todo:
                s, done = todo.pop()
                if done:
                    self.leave[s.index] = clock
                    continue
                clock += 1
                self.enter[s.index] = clock
                todo.append((s, True))
                todo.extend((c, False) for c in reversed(self.children.get(s.index, ())))

    def is_descendant(self, stage_index: int, of: int) -> bool:
        e = self.enter.get(stage_index)
        return e is not None and self.enter[of] < e <= self.leave[of]

    def first(self, stage_index: int):
        """The descendant of the stage that comes first (its first child), or None."""
        kids = self.children.get(stage_index)
        return kids[0] if kids else None


def _family(ctx: Context) -> _Family:
    return ctx.memo.get_or(_Family, None, _Family, ctx)


def shell_reason(ctx: Context, stage, inst) -> str | None:
    """Why RUN's shell form is not a POSIX shell here (the model's answer: SHELL, lint pragmas, Windows bases)."""
    return ctx.model.state.shell_at(inst).reason


def _shebang_reason(run: RunShell) -> str | None:
    if run.heredoc is None:
        return None
    first = run.heredoc.content.lstrip("\r\n").split("\n", 1)[0].strip()
    if first.startswith("#!"):
        argv = first[2:].split()
        if not argv or not is_posix_shell(argv):
            return f"the heredoc script runs under {first!r}"
    return None


def iter_run_sites(ctx: Context, *, onbuild: bool = False) -> Iterator[RunSite]:
    """Every RUN of every stage, in order (ONBUILD RUNs too when asked), with the reason it cannot be read.

    Computed once per pass and shared by every hygiene transform (``ctx.memo``)."""
    return iter(ctx.memo.get_or(iter_run_sites, onbuild, _run_site_list, ctx, onbuild))


def _run_site_list(ctx: Context, onbuild: bool) -> list[RunSite]:
    return list(_run_sites(ctx, onbuild))


def _run_sites(ctx: Context, onbuild: bool) -> Iterator[RunSite]:
    for stage in ctx.model.stages:
        for outer in stage.instructions:
            inst = outer
            is_onbuild = False
            if outer.keyword == "ONBUILD":
                if not onbuild or outer.sub is None:
                    continue
                inst = outer.sub
                is_onbuild = True
            if inst.keyword != "RUN":
                continue
            reason = shell_reason(ctx, stage, outer)
            run = None
            if reason is None:
                run = run_shell(ctx, inst)
                if not run.ok:
                    reason = run.reason or "the shell parser does not understand this command"
                    run = None
                else:
                    reason = _shebang_reason(run)
                    if reason is not None:
                        run = None
            yield RunSite(ctx, stage, inst, run, reason, is_onbuild)


def later_sites(ctx: Context, site: RunSite, *, own_stage: bool = True) -> Iterator[RunSite]:
    """RUNs whose layer sits on top of ``site``'s: later RUNs of its stage, RUNs of stages built FROM it, and the
    ONBUILD RUNs of all of those (they run in images built from this one). ``own_stage=False``: without the later
    plain RUNs of ``site``'s own stage (the same sequence with those left out, in time proportional to what is left:
    a caller that skipped them one by one read the whole stage for every RUN).

    In the order of :func:`iter_run_sites`, read from the RUN on (a scan from the top for every RUN was quadratic:
    the callers stop at the first later RUN that matters, usually the next one)."""
    table = _sites_by_stage(ctx)
    p = table[2].get(id(site.inst)) if not site.onbuild else None
    if p is None:  # an ONBUILD RUN (its instruction has no offset of its own), or a site from elsewhere
        for other in _later_sites_scan(ctx, site):
            if own_stage or other.onbuild or other.stage is not site.stage:
                yield other
        return
    own = site.stage.index
    for q, other in table[1].get(own, ()):  # the stage's ONBUILD RUNs before this RUN run later too
        if q >= p:
            break
        yield other
    if own_stage:
        mine = table[0][own]
        for k in range(p + 1, len(mine)):
            yield mine[k]
    else:
        for q, other in table[1].get(own, ()):  # the ONBUILD RUNs among the later ones, in the same order
            if q > p:
                yield other
    for d in descendant_stages(ctx, site.stage):
        yield from table[0].get(d.index, ())


def later_sites_among(ctx: Context, site: RunSite, candidates: Iterable[RunSite]) -> list[RunSite]:
    """The sites of ``candidates`` that :func:`later_sites` yields for ``site``, in its order, without reading the
    others: a caller that keeps an index of the few RUNs that can matter (by the paths they name) asks this instead
    of walking every later RUN for every question, which is quadratic in a file of many."""
    table = _sites_by_stage(ctx)
    p = table[2].get(id(site.inst)) if not site.onbuild else None
    wanted = {id(c): c for c in candidates}
    if p is None:  # an ONBUILD RUN, or a site from elsewhere: the plain walk (rare)
        return [o for o in later_sites(ctx, site) if id(o) in wanted]
    where = ctx.memo.get_or(later_sites_among, None, _site_positions, table)
    own = site.stage.index
    fam = _family(ctx)
    keyed = []
    for c in wanted.values():
        st, k = where[id(c)]
        if st == own:
            if k > p:
                keyed.append(((1, 0, k), c))  # a later RUN of the stage (an ONBUILD one among them too)
            elif k < p and c.onbuild:
                keyed.append(((0, 0, k), c))  # the stage's ONBUILD RUNs before this RUN run later too
        elif fam.is_descendant(st, own):
            keyed.append(((2, st, k), c))  # descendants in stage order
    keyed.sort(key=lambda kc: kc[0])
    return [c for _, c in keyed]


def _site_positions(table: tuple[dict, dict, dict]) -> dict[int, tuple[int, int]]:
    """id of every site (ONBUILD ones too) -> (its stage's index, its position in the stage's list)."""
    return {id(s): (st, k) for st, lst in table[0].items() for k, s in enumerate(lst)}


def fold_later(ctx: Context, site: RunSite, of_site) -> dict:
    """``of_site(other)`` (a small dict) of every RUN of :func:`later_sites`, merged in that order, the first value of
    each key kept: what ``for other in later_sites(...): for k, v in of_site(other).items(): out.setdefault(k, v)``
    gives, keys in the same order. ``of_site`` (a module-level function: it is the memo's key) is called once per RUN
    and pass, and each stage's merge from every RUN to its end is built once, so asking it for every RUN is linear,
    not quadratic."""
    return _fold(ctx, site, of_site, of_site)


def _fold(ctx: Context, site: RunSite, name: object, of_site) -> dict:
    """:func:`fold_later`, with ``name`` the object that identifies ``of_site`` in the memo."""
    table = _sites_by_stage(ctx)
    p = table[2].get(id(site.inst)) if not site.onbuild else None
    out: dict = {}
    if p is None:
        for other in later_sites(ctx, site):
            for k, v in _of_site(ctx, name, of_site, other):
                out.setdefault(k, v)
        return out
    own = site.stage.index
    for q, other in table[1].get(own, ()):
        if q >= p:
            break
        for k, v in _of_site(ctx, name, of_site, other):
            out.setdefault(k, v)
    for part in (_suffixes(ctx, name, of_site, own)[p + 1], _below(ctx, name, of_site, site.stage)):
        for k, v in part:
            out.setdefault(k, v)
    return out


def _below(ctx: Context, name: object, of_site, stage) -> tuple:
    """The first-wins merge of ``of_site`` over every RUN of the stage's descendants, in stage order; once per stage
    and pass. A stage whose descendants are its first one and that one's descendants (a chain: one child) takes
    the child's merge, so a chain as deep as the file merges each stage once, not its whole tail for every RUN."""
    table: dict = ctx.memo.get_or(_below, name, dict)  # stage index -> merge
    got = table.get(stage.index)
    if got is not None:
        return got
    fam = _family(ctx)
    path = []
    s = stage
    while True:  # down the chain of only children, to a merge known or made here (no recursion: chains are deep)
        got = table.get(s.index)
        if got is not None:
            break
        c = fam.first(s.index)
        if c is not None and fam.count[s.index] == 1 + fam.count[c.index]:
            path.append(s)
            s = c
            continue
        got = ()
        for d in descendant_stages(ctx, s):
            got = _first_wins(got, _suffixes(ctx, name, of_site, d.index)[0])
        table[s.index] = got
        break
    for st in reversed(path):
        got = table[st.index] = _first_wins(_suffixes(ctx, name, of_site, fam.first(st.index).index)[0], got)
    return got


def _first_wins(a: tuple, b: tuple) -> tuple:
    """``a`` then the items of ``b`` whose keys ``a`` lacks."""
    if not b:
        return a
    if not a:
        return b
    seen = {k for k, _ in a}
    return a + tuple(kv for kv in b if kv[0] not in seen)


def first_later(ctx: Context, site: RunSite, answer) -> str | None:
    """The first answer that is not None of ``answer(other)`` over :func:`later_sites` (``answer``, a module-level
    function, is the memo's key): the loop ``for other in later_sites(...)`` that stops at the first hit, in linear
    time over a file (that loop reads every later RUN when none answers)."""
    return _fold(ctx, site, (first_later, answer), lambda other: _answer_dict(answer(other))).get("answer")


def first_below(ctx: Context, site: RunSite, name: object, answer) -> object:
    """The first answer that is not None of ``answer(other)`` over ``later_sites(ctx, site, own_stage=False)``: the
    stage's ONBUILD RUNs, then the RUNs of the stages built FROM it, in stage order. ``name`` identifies ``answer`` in
    the memo (``answer`` may close over values of the asking RUN: ``name`` then says which), so each RUN is asked once
    per pass and name, and a chain of stages merges each stage once (:func:`_below`): linear where the walk for every
    RUN was quadratic in a chain as deep as the file."""
    table = _sites_by_stage(ctx)
    p = table[2].get(id(site.inst)) if not site.onbuild else None
    if p is None:  # an ONBUILD RUN, or a site from elsewhere: the walk (rare)
        for other in later_sites(ctx, site, own_stage=False):
            got = answer(other)
            if got is not None:
                return got
        return None
    key = (first_below, name)
    of_site = lambda other: _answer_dict(answer(other))  # noqa: E731 - memoised per (key, RUN) by _of_site
    for _, other in table[1].get(site.stage.index, ()):  # the stage's ONBUILD RUNs, before and after this one
        for k, v in _of_site(ctx, key, of_site, other):
            return v
    return dict(_below(ctx, key, of_site, site.stage)).get("answer")


def _answer_dict(why: object) -> dict:
    return {} if why is None else {"answer": why}


def _of_site(ctx: Context, name: object, of_site, other: RunSite) -> tuple:
    return ctx.memo.get_or(_of_site, (name, id(other.inst)), _items_of, of_site, other)


def _items_of(of_site, other: RunSite) -> tuple:
    return tuple(of_site(other).items())


def _suffixes(ctx: Context, name: object, of_site, stage_index: int) -> list[tuple]:
    """For each position k of the stage's RUN list, the first-wins merge of ``of_site`` over the RUNs from k on."""
    return ctx.memo.get_or(_suffixes, (name, stage_index), _suffix_merges, ctx, name, of_site, stage_index)


def _suffix_merges(ctx: Context, name: object, of_site, stage_index: int) -> list[tuple]:
    lst = _sites_by_stage(ctx)[0].get(stage_index, [])
    got: list[tuple] = [()] * (len(lst) + 1)
    acc: tuple = ()
    for k in range(len(lst) - 1, -1, -1):
        mine = _of_site(ctx, name, of_site, lst[k])
        if mine:
            seen = {k2 for k2, _ in mine}
            acc = mine + tuple(kv for kv in acc if kv[0] not in seen)
        got[k] = acc
    return got


def _sites_by_stage(ctx: Context) -> tuple[dict, dict, dict]:
    """(stage index -> its RUN sites in order, stage index -> (position, site) of its ONBUILD RUNs, id of a plain
    RUN's instruction -> its position in its stage's list); once per pass."""
    return ctx.memo.get_or(_sites_by_stage, None, _index_sites, ctx)


def _index_sites(ctx: Context) -> tuple[dict, dict, dict]:
    by_stage: dict[int, list[RunSite]] = {}
    onbuild: dict[int, list[tuple[int, RunSite]]] = {}
    pos: dict[int, int] = {}
    for other in iter_run_sites(ctx, onbuild=True):
        lst = by_stage.setdefault(other.stage.index, [])
        if other.onbuild:
            onbuild.setdefault(other.stage.index, []).append((len(lst), other))
        else:
            pos[id(other.inst)] = len(lst)
        lst.append(other)
    return by_stage, onbuild, pos


def _later_sites_scan(ctx: Context, site: RunSite) -> Iterator[RunSite]:
    stages = {site.stage.index} | {s.index for s in descendant_stages(ctx, site.stage)}
    for other in iter_run_sites(ctx, onbuild=True):
        if other.stage.index not in stages:
            continue
        if other.stage.index == site.stage.index and not other.onbuild and other.inst.start <= site.inst.start:
            continue
        if other.inst is site.inst:
            continue
        yield other


def has_errexit(script: Script) -> bool:
    for ch in script.state_changes:
        if ch.kind != "set" or not ch.leaks or ch.command is None:
            continue
        args = [w.value or "" for w in ch.command.args]
        for k, a in enumerate(args):
            if a.startswith("-") and not a.startswith("--") and "e" in a[1:] and a[1:].isalpha():
                return True
            if a == "-o" and k + 1 < len(args) and args[k + 1] == "errexit":
                return True
    return False


def append_cleanup(ctx: Context, run: RunShell, command: str) -> Edit | None:
    """``&& command`` after everything else in the RUN, in the file's style (None when that is not safe).

    In a ``RUN <<EOF`` script without ``set -e``, a new last line would replace the script's exit status, so the
    command is chained to the last command with ``&&`` instead."""
    if run.heredoc is not None and run.script is not None and not has_errexit(run.script):
        if not run.tail_is_clean():
            return None
        at = run.doc_span((0, run.last_end()))[1]
        return Edit.insert(at, f" && {command}")
    return append_command(ctx, run, command)


_ASSIGN_WORD = lazy(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
CACHE_HOME_ENV = ("HOME", "XDG_CACHE_HOME")


def invocation_prefix(call: PackageCall, sensitive: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """(prefix for a follow-up command of the same manager, reason when there is none).

    The cleanup runs the way the install ran: a plain ``sudo`` is kept, and so is a wrapper that runs the install
    as another user (``sudo -u app``, ``gosu app``, ``runuser -u app --``...: the model's ``user_switch``), copied
    as written, since a cache is per user (the RUN's user cleaning its own cache would leave the install's in the
    layer); ``env``/prefix assignments are fine unless they set one of the ``sensitive`` variables (those that move
    the cache)."""
    raw = call.command
    cmd = raw.effective
    switch = raw.user_switch if cmd.wrappers else None
    prefix = ""
    for seg in raw.wrapper_segments:
        words = [w.value for w in seg]
        base = (words[0] or "").rsplit("/", 1)[-1]
        if base in _PLAIN_WRAPPERS and len(seg) == 1:
            continue
        if base == "sudo" and len(seg) == 1:
            prefix += "sudo "
            continue
        if base == "env" and all(w is not None and _ASSIGN_WORD.match(w) for w in words[1:]):
            continue
        if switch is not None and seg is switch.words or (switch is not None and seg == switch.words):
            if any(w is None for w in words):
                return None, f"the install runs as a user named by a variable ({' '.join(w.raw for w in seg)!r})"
            prefix += " ".join(w.raw for w in seg) + " "
            continue
        shown = " ".join(x.raw for x in cmd.wrappers)
        return None, f"the install runs under {shown!r}, which the cleanup cannot copy safely"
    names = {a.name for a in cmd.assignments} & set(sensitive)
    if names:
        return None, f"the install sets {', '.join(sorted(names))} for itself, which moves the cache the cleanup would clear"
    return prefix, None


def runs_as(command, run_user: str | None) -> str | None:
    """The user ``command`` runs as: the one a wrapper switches to (``gosu app``, ``sudo`` -> root; the model's
    ``user_switch``), else the RUN's user (its name part; None when unknown)."""
    sw = command.user_switch
    if sw is not None:
        return sw.user_name
    return None if run_user is None else run_user.partition(":")[0]


def manager_word(call: PackageCall) -> tuple[str | None, str | None]:
    w = call.invocation[0]
    v = w.value
    if v is None:
        return None, "the package manager is named by a variable"
    if "/" in v and not v.startswith("/"):
        return None, f"the package manager is run by the relative path {v!r}"
    if v != w.raw:
        return None, "the package manager's name is quoted"
    return w.raw, None


def manager_command(call: PackageCall, args: str, sensitive: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """``<wrappers><manager> <args>`` run the way the install ran (``sudo``, an absolute path kept), or (None, why)."""
    prefix, reason = invocation_prefix(call, sensitive)
    if reason is not None:
        return None, reason
    word, reason = manager_word(call)
    if reason is not None:
        return None, reason
    return f"{prefix}{word} {args}", None


def covers(targets: Iterable[str], *paths: str) -> bool:
    """Whether a mount target is one of ``paths`` or a parent of one (``/var/lib/apt`` covers its lists)."""
    for t in targets:
        if not t:
            continue
        for p in paths:
            if p == t or p.startswith(t.rstrip("/") + "/"):
                return True
    return False


class RunHygiene(Transform):
    """Base for the RUN-hygiene transforms: one RUN at a time, readable shells only."""

    is_cleanup: ClassVar[bool] = True
    """Cleanup transforms (DFX103-DFX111) stand down under ``strategy = cache-mount``."""
    hint_names: ClassVar[frozenset[str]] = frozenset()
    hint_actions: ClassVar[frozenset[str]] = frozenset({"install"})
    hint_done: ClassVar[frozenset[str]] = frozenset()

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        if self.is_cleanup and cache_strategy(ctx.settings, ctx.document) == "cache-mount":
            return
        for site in iter_run_sites(ctx):
            if site.reason is not None:
                if self.hinted(site.tokens()):
                    yield self.diagnostic(site.inst, self.unread_message, None, reason=site.reason)
                continue
            yield from self.check_run(ctx, site)

    unread_message: ClassVar[str] = "this RUN may need the fix, but its shell cannot be read"

    def hinted(self, tokens: list[str]) -> bool:
        ts = set(tokens)
        return bool(ts & self.hint_names) and bool(ts & self.hint_actions) and not ts & self.hint_done

    def check_run(self, ctx: Context, site: RunSite) -> Iterable[Diagnostic]:  # pragma: no cover - interface
        raise NotImplementedError

    def call_span(self, site: RunSite, call: PackageCall) -> tuple[int, int]:
        assert site.run is not None  # a call was found in its shell
        return site.run.doc_span(call.command.span)


class AppendCleanup(RunHygiene):
    """Cleanup transforms: a matching call without a later cleanup in the same RUN gets one appended."""

    fix_title: ClassVar[str]
    message: ClassVar[str]

    def is_target(self, call: PackageCall) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def is_cleaned(self, cleanup: Cleanup) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def is_cleaned_at(self, ctx: Context, site: RunSite, call: PackageCall, cleanup: Cleanup) -> bool:
        """``is_cleaned`` for the install ``call`` of this RUN (override when the answer depends on the base image
        or the environment, e.g. which directory an ``rm`` must clear)."""
        return self.is_cleaned(cleanup)

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        return False

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:  # pragma: no cover
        raise NotImplementedError

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        """A reason to report without a fix (checked after the cleanup and mount checks)."""
        return None

    def unsafe_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        return None

    def check_run(self, ctx: Context, site: RunSite) -> Iterable[Diagnostic]:
        calls = [c for c in site.calls() if self.is_target(c)]
        if not calls:
            return
        last = calls[-1]
        end = last.command.span[1]
        user = ctx.model.state.user_at(site.inst)
        if any(self.is_cleaned_at(ctx, site, last, cl) and cl.command.span[0] >= end
               and runs_as(cl.command, user) == runs_as(last.command, user) for cl in site.cleanups()):
            # (a cache is per user: root's `npm cache clean` after `gosu app npm ci` leaves app's cache)
            return
        if self.mount_covers(ctx, site, site.cache_targets()):
            return
        span = self.call_span(site, last)
        reason = self.no_fix_reason(ctx, site, calls)
        if reason is None:
            bg = [c for c in calls if c.site is not None and c.site.background]
            if bg:
                reason = "the install runs in the background, so a cleanup appended after it could race it"
        command = None
        if reason is None:
            command, reason = self.cleanup_command(last)
        if reason is None:
            # a command appended to the chain must still exist there (``... && apt-get purge npm`` then npm: 127)
            gone = _tool_removal()(site.script, last.manager, end)
            if gone is not None:
                what = last.manager if gone.via == last.manager else f"{gone.via}, which {last.manager} runs on"
                reason = (f"the RUN removes {what} after the install ({gone.how}), so an appended `{command}` "
                          "would fail (exit 127)")
        edit = None
        if reason is None:
            assert site.run is not None and command is not None  # calls were found; no reason came with a command
            edit = append_cleanup(ctx, site.run, command)
            if edit is None:
                reason = "the RUN ends with a comment or a background job, so nothing can be appended safely"
        if reason is not None:
            yield self.diagnostic(site.inst, self.message, None, reason=reason, span=span)
            return
        assert edit is not None  # no reason: the edit was made
        unsafe = self.unsafe_reason(ctx, site, calls)
        title = self.fix_title.format(command=command)
        fix = Fix.unsafe(title, edit) if unsafe else Fix.safe(title, edit)
        yield self.diagnostic(site.inst, self.message, fix, reason=unsafe, span=span)


_CHAIN: list = []


def _tool_removal():
    """:func:`dockerfix.model.chain.tool_removal`, imported on first use and kept (an import statement per fix)."""
    if not _CHAIN:
        from dockerfix.model.chain import tool_removal

        _CHAIN.append(tool_removal)
    return _CHAIN[0]


class InsertFlag(RunHygiene):
    """Flag transforms: each matching call without the flag gets it right after its action word."""

    flag: ClassVar[str]
    message: ClassVar[str]
    fix_title: ClassVar[str]
    unsafe_fix: ClassVar[bool] = False
    unsafe_why: ClassVar[str | None] = None

    def is_target(self, call: PackageCall) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:  # pragma: no cover
        raise NotImplementedError

    def flag_for(self, call: PackageCall) -> str:
        return self.flag

    def unsafe_reason(self, ctx: Context, site: RunSite, call: PackageCall) -> str | None:
        return self.unsafe_why if self.unsafe_fix else None

    def no_fix_reason(self, ctx: Context, site: RunSite, call: PackageCall) -> str | None:
        """Why the flag would break the build (the tool does not take it, a later step needs what it drops): a
        finding with that reason, never a fix, not even an unsafe one."""
        return None

    def check_run(self, ctx: Context, site: RunSite) -> Iterable[Diagnostic]:
        for call in site.calls():
            if not self.is_target(call) or not call.action_words:
                continue
            if self.is_satisfied(ctx, site, call):
                continue
            span = self.call_span(site, call)
            broken = self.no_fix_reason(ctx, site, call)
            if broken is not None:
                yield self.diagnostic(site.inst, self.message, None, reason=broken, span=span)
                continue
            anchor: Word = call.action_words[-1]
            flag = self.flag_for(call)
            assert site.run is not None  # the call was found in its shell
            edit = insert_after_word(site.run, anchor, flag)
            why = self.unsafe_reason(ctx, site, call)
            title = self.fix_title.format(flag=flag, manager=call.manager)
            fix = Fix.unsafe(title, edit) if why else Fix.safe(title, edit)
            yield self.diagnostic(site.inst, self.message, fix, reason=why, span=span)


def env_in_scope(ctx: Context, site: RunSite, call: PackageCall | None, *names: str) -> bool:
    """Whether one of ``names`` is set for the call: ENV/ARG in scope, a prefix assignment, or an earlier
    ``export`` in the same RUN."""
    scope = ctx.model.scope_at(site.inst)
    if any(n in scope for n in names):
        return True
    if call is not None:
        for cmd in (call.command, call.command.effective):
            if any(a.name in names for a in cmd.assignments):
                return True
        before = call.command.span[0]
        for s in site.script.sites:
            c = s.command
            if c.span[0] >= before or c.basename not in ("export", "declare", "typeset"):
                continue
            for w in c.args:
                v = w.value or w.raw
                if v.split("=", 1)[0] in names:
                    return True
    return False


def scope_value(ctx: Context, site: RunSite, name: str) -> str | None:
    return ctx.model.scope_at(site.inst).get(name)


def config_written(ctx: Context, site: RunSite, is_path, needle: str) -> bool:
    """Whether the Dockerfile writes a config file (path matching ``is_path``) that contains ``needle``, before
    this RUN in its stage chain, or in this RUN before it ends. COPY/ADD to such a path counts (its content is
    unknown, so the transform stands down)."""
    for inst in _config_writers(ctx, site.stage, is_path, needle):
        # the writers of each stage in order, found once per stage and pass (a walk of the chain for every RUN was
        # quadratic); the RUN itself is read with its own site's shell
        if inst.start > site.inst.start:
            break
        if inst is not site.inst:
            return True
    if not site.onbuild and site.run is not None and site.run.script is not None:  # .ok
        if _script_writes(site.run.script, is_path, needle):
            return True
    return _written_above(ctx, site.stage, is_path, needle)


def _written_above(ctx: Context, stage, is_path, needle: str) -> bool:
    """Whether a stage ``stage`` is built FROM writes such a config file; once per stage and pass, each stage from
    its parent's answer (the chain walked for every RUN was quadratic in a chain as deep as the file)."""
    table: dict = ctx.memo.get_or(_written_above, (is_path, needle), dict)  # stage index -> answer
    got = table.get(stage.index)
    if got is not None:
        return got
    parent, todo = ctx.model.unanswered(stage, lambda s: s.index in table)
    above = table[parent.index] if parent is not None else False  # the root: nothing above it
    for st in todo:
        if parent is not None:
            above = above or bool(_config_writers(ctx, parent, is_path, needle))
        table[st.index] = above
        parent = st
    return above


def _config_writers(ctx: Context, stage, is_path, needle: str) -> list:
    """The instructions of ``stage`` that write a config file matching ``is_path`` with ``needle`` (see
    :func:`config_written`), each RUN read on its own."""
    return ctx.memo.get_or(_config_writers, (stage.index, is_path, needle), _find_config_writers, ctx, stage,
                           is_path, needle)


def _find_config_writers(ctx: Context, stage, is_path, needle: str) -> list:
    return [i for i in stage.instructions if _writes_config(ctx, i, is_path, needle)]


def _writes_config(ctx: Context, inst, is_path, needle: str) -> bool:
    if inst.keyword in ("COPY", "ADD") and inst.args:
        if not is_path(norm_path(inst.args[-1])):
            return False
        return not inst.heredocs or any(needle in h.content for h in inst.heredocs)
    if inst.keyword != "RUN":
        return False
    run = run_shell(ctx, inst)
    return run.script is not None and _script_writes(run.script, is_path, needle)  # run.ok and ...


def _script_writes(script: Script, is_path, needle: str) -> bool:
    """Whether the script writes a config file matching ``is_path`` with ``needle`` in it. ``config_written`` asks
    this for every earlier RUN of every RUN (quadratic without a memo): see :func:`_source_writes`."""
    return _source_writes(script.source, is_path, needle)


@lru_cache(maxsize=8192)
def _source_writes(source: str, is_path, needle: str) -> bool:
    """:func:`_script_writes` of the script with this source. Pure: a script is a function of its source (the parse
    is ``parse_shell_cached``, a cache of strings), ``is_path`` a module-level predicate of a string."""
    from dockerfix.transforms._run import parse_shell_cached

    return _script_writes_uncached(parse_shell_cached(source), is_path, needle)


def _script_writes_uncached(script: Script, is_path, needle: str) -> bool:
    # first whether a command writes such a file (most scripts write none: the needle is then not looked for)
    sites = script.sites
    writes = False
    for s in sites:
        c = s.command
        for r in c.redirects:
            if r.op in (">", ">>", ">|") and r.target is not None and r.target.value is not None:
                if is_path(norm_path(r.target.value)):
                    writes = True
        if c.effective_basename == "tee":
            if any(w.value is not None and is_path(norm_path(w.value)) for w in c.effective.args):
                writes = True
        if writes:
            break
    if not writes:
        return False
    for s in sites:
        c = s.command
        for r in c.redirects:
            if r.heredoc and needle in r.heredoc:
                return True
        if any(needle in (w.value or w.raw) for w in c.words):
            return True
    return False


# =====================================================================================================================
# apt package lists (DFX103, DFX113, DFX202)
# =====================================================================================================================

APT = frozenset({"apt-get", "apt"})
APT_INSTALLS = tools.tool_named("apt").installs
_APT_NEEDS_LISTS = tools.tool_named("apt").reads_index
LISTS = "/var/lib/apt/lists"
RM_LISTS = "rm -rf /var/lib/apt/lists/*"


def _is_lists_cleanup(cl: Cleanup) -> bool:
    if cl.manager != "apt":
        return False
    if cl.call is not None:
        return cl.call.action == "dist-clean"
    return cl.cache == LISTS


def relies_on_apt_lists(site: RunSite) -> str | None:
    """Why this RUN would read package lists an earlier layer left behind (None when it does not).

    Once per RUN and pass: every earlier RUN that installs asks it of the RUNs after it."""
    return site.ctx.memo.get_or(relies_on_apt_lists, id(site.inst), _relies_on_apt_lists, site)


def _relies_on_apt_lists(site: RunSite) -> str | None:
    if covers(site.cache_targets(), LISTS):
        return None
    if site.run is None:
        toks = set(site.tokens())
        if toks & {"apt-get", "apt", "apt-cache", "aptitude"}:
            return f"line {site.inst.start_line} uses apt in a RUN dockerfix cannot read ({site.reason})"
        return None
    updated = False
    for s in site.script.sites:
        eff = s.command.effective
        if eff.basename in ("apt-cache", "aptitude") and not updated:
            return f"line {site.inst.start_line} runs {eff.basename} without its own apt-get update"
        if eff.basename not in APT:
            continue
        call = parse_package_call(s.command, s)
        if call is None:
            continue
        if call.action == "update":
            updated = True
        elif call.action in _APT_NEEDS_LISTS and not updated:
            return f"line {site.inst.start_line} runs apt-get {call.action} without its own apt-get update"
    return None
