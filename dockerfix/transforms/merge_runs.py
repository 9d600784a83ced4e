"""DFX101 merge-runs: consecutive RUN instructions of one stage become one ``&&`` chain, when the join has a reason."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

from bisect import bisect_left, insort

from dockerfix._lazyre import lazy
from dockerfix.syntax.nodes import Document, Instruction, Trivia
from dockerfix.transforms._merge import join_refusal, join_runs, nodes_between
from dockerfix.transforms._run import RunShell, Style, instruction_style, run_shell
from dockerfix.transforms.base import Context, Diagnostic, Edit, Fix, Transform

# ------------------------------------------------------------------ when a join earns its place in the diff
REASONS = {
    "cleanup": "the later RUN deletes files this one created",
    "index": "{update} belongs with its install",
    "bookkeeping": "bookkeeping commands need no layer of their own",
    "bookkeeping-above": "the bookkeeping commands above it need no layer of their own",
}
"""Why a RUN joins the block above it, tried in this order. ``cleanup``: it deletes or cleans what the block created
(``rm`` of paths a block RUN wrote, a package manager's clean or cache ``rm`` after that manager ran, ``apt-get purge``
/``remove``/``autoremove`` of packages the block installed): merged, the bytes never land. ``index``: it installs with
the package manager whose index the block refreshed and has not installed from yet (correctness: a cached
``apt-get update`` layer goes stale). ``bookkeeping``: it, or the whole block so far, is only bookkeeping commands
(:data:`BOOKKEEPING`): a layer of its own is pure overhead (and when the block above is the cheap part, a change to
it re-ran the RUN below anyway). Anything else (downloads, installs, compiles, builds,
unknown commands) keeps its own layer, so a change to one step does not re-run the others."""

BOOKKEEPING = {
    "mkdir": "any", "rmdir": "any", "rm": "any", "ln": "any", "touch": "any",
    "chmod": "any", "chown": "any", "chgrp": "any",
    "echo": "any", "printf": "any", "tee": "any", "true": "any", ":": "any", "test": "any", "[": "any",
    "useradd": "any", "groupadd": "any", "adduser": "any", "addgroup": "any", "usermod": "any", "groupmod": "any",
    "chpasswd": "any",
    "cp": "few-files", "mv": "few-files",
    "sed": "in-place",
}
"""Cheap commands (wrappers such as ``sudo`` looked through), and when they count: ``any``; ``few-files``: at most
:data:`FEW_FILES` operands, ``cp`` not recursive; ``in-place``: ``sed -i`` editing a file."""
FEW_FILES = 4
_RECURSIVE = ("-r", "-R", "-a", "--recursive", "--archive")

_FAMILY = {"apt-get": "apt", "dnf": "rpm", "yum": "rpm", "microdnf": "rpm", "mamba": "conda", "micromamba": "conda"}
_REMOVALS = ("remove", "purge", "autoremove")
_INSTALLS = ("upgrade", "dist-upgrade")

_HADOLINT = lazy(r"^#\s*hadolint\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9 ,]+)", 0)


class MergeRuns(Transform):
    code = "DFX101"
    name = "merge-runs"
    after = ("reorder-manifests",)
    joins = True
    answers = ("DL3059",)
    """hadolint rules this transform answers: their ignore pragmas are the author's word and are respected."""
    summary = ("Merge consecutive RUN instructions of a stage into one && chain where a join has a reason (a cleanup, "
               "apt-get update with its install, bookkeeping)")
    safety = "safe"
    effect = "size"
    """Cleanups merged with what they clean keep the bytes out (``index`` joins are correctness, bookkeeping joins
    save a layer); in stages that never ship only the correctness join is made."""
    docs = """\
## What it does
Joins a RUN with the RUNs right below it (comments between them allowed) into one `&&` chain, in the continuation
style of the first one (indent, `&&` at the start or the end of lines, escape character), but only when the join has
a reason. Each join is decided on its own; a block continues while its joins have a reason, and the message names
the reason for each:

- *the later RUN deletes files this one created*: the RUN below deletes (`rm`) paths a RUN of the block wrote,
  cleans up after a package manager the block ran (`apt-get clean`, `rm -rf /var/lib/apt/lists/*`,
  `npm cache clean`...), or purges/removes packages the block installed (`apt-get purge`);
- *apt-get update belongs with its install*: the RUN below installs with the package manager whose index the block
  refreshed (`apt-get update`, `apk update`, `zypper refresh`...) and has not installed from yet;
- *bookkeeping commands*: the RUN below is only cheap bookkeeping (`mkdir`, `ln`, `chmod`, `chown`, `echo > file`,
  `useradd`/`groupadd`, `rm`, `cp`/`mv` of a few files, `sed -i`, ...), or the block so far is.

Independent expensive steps (downloads with `curl`/`wget`/`git clone`, package installs, compiles, `pip install`,
`npm ci`, `go build`, unknown commands) stay in their own RUNs.

## Why
Each RUN makes a layer. Files that one RUN creates and a later RUN deletes still ship in the first layer; an
`apt-get update` cached in its own layer goes stale; a layer for a `mkdir` costs metadata, a pull round-trip and a
cache lookup. hadolint reports consecutive RUNs as DL3059. But merging independent expensive steps works against
the cache: a change to one of them re-runs all of them, so those are left alone.

## Example
```dockerfile
RUN apt-get update
RUN apt-get install -y curl
RUN mkdir -p /app
RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool.tgz
RUN curl -fsSLo /tmp/data.tgz https://example.com/data.tgz
```
becomes
```dockerfile
RUN apt-get update && \\
    apt-get install -y curl && \\
    mkdir -p /app
RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool.tgz
RUN curl -fsSLo /tmp/data.tgz https://example.com/data.tgz
```

## Suppressions
`# hadolint ignore=DL3059` (alone or in a list: `ignore=DL3008,DL3059`) on the comment lines right above a RUN keeps
that RUN a layer of its own: it is not merged into the RUN before it, nor is the RUN after it merged into it.
`# hadolint global ignore=DL3059` anywhere turns merge-runs off for the file, like `# dockerfix: ignore-file=DFX101`.

## Fix safety
Safe: the commands run in the same order, in the same stage, as the same user, with the same environment, and the
build still fails where it failed before. It refuses when that could change: RUNs with different flags or mounts,
heredoc or exec-form RUNs, a non-POSIX `SHELL` or a Windows image, a first RUN that changes shell state a later
command would inherit (`cd`, `export`, `set`, `umask`, `source`, ...), a first RUN ending in a comment or with a
background job (`&`), either RUN using `exit`, `return`, `exec` or changing `set -e` (`RUN foo || exit 0` then
`RUN bar` would skip `bar`), and a second RUN that is not a plain `&&` chain (`a || b` or `a; b` after `&&` would run
when the first part fails). `a || b` or `a; b` in the first RUN is fine: `a || b && c` is `(a || b) && c`.
A comment line right above a RUN (it describes that RUN) and a commented-out instruction (`# COPY ...`) never move
into a chain: the block ends there. Lines the merge moves take the first RUN's indent (deeper lines keep their depth);
when a line starts inside quotes or a word, so its indent cannot change byte for byte, the block ends there.
Never merges across any other instruction.

## Stages that never ship
In a stage other stages only copy from (a builder stage: `COPY --from=build`), the layers end up in no image anyone
pulls: a merge there saves no bytes and only costs cache granularity. There only the correctness join is made
(`apt-get update` with its install); cleanups and bookkeeping keep their layers. The build-state model says which
stages ship (the final stage, a stage another is built `FROM`, a stage nothing refers to). Set
`merge-build-stages = true` (`[tool.dockerfix.settings]`, or `settings={"merge-build-stages": True}`) to merge in
build stages as in any other.
"""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        doc = ctx.document
        if _globally_ignored(doc):
            return
        insts = doc.instructions  # the instruction nodes, in order
        mentions = "hadolint" in doc.text  # once per check, not per RUN (a search of the whole text each time)
        i = 0
        while i + 1 < len(insts):
            first = insts[i]
            if first.keyword != "RUN" or insts[i + 1].keyword != "RUN" \
                    or not ctx.model.state.shell_at(first).is_posix \
                    or _ignored_above(doc, first, insts[i - 1] if i else None, mentions):
                i += 1
                continue
            # The whole block of RUNs that merge one after the other is one fix: one edit, one pass, one entry in
            # the report. Each join is checked on its own: safe (the shared join rules) and with a reason (the block
            # so far against the RUN below); a RUN that cannot join ends the block.
            style = _StyleOf(ctx, first)  # learnt when the first join is made
            only_index: bool | None = None  # whether only the index join is made here: asked at the first pair
            runs = [run_shell(ctx, first)]
            facts = _BlockFacts(ctx)
            facts.add(runs[0])
            joins = []
            reasons: list[tuple[int, str, str]] = []  # (line, kind, text) per join
            while i + len(runs) < len(insts) and insts[i + len(runs)].keyword == "RUN":
                nxt_inst = insts[i + len(runs)]
                if _ignored_above(doc, nxt_inst, runs[-1].inst, mentions):
                    break
                nxt = run_shell(ctx, nxt_inst)
                # the checks, then the reason, then the joined text: most pairs stop at the first two, and the text
                # needs the file's style and a re-indent (the same three tests as before, in the cheaper order); a
                # build stage takes only the index join, so there a stale index is asked first (most pairs have none)
                if only_index is None:
                    only_index = self._build_stage(ctx, first)
                if only_index and _stale_index(facts, nxt) is None:
                    break
                if join_refusal(doc, runs[-1], nxt) is not None:
                    break
                why = join_reason(ctx, runs, nxt, facts)
                if why is None:
                    break
                if only_index and why[0] != "index":
                    break
                join, _ = join_runs(doc, runs[-1], nxt, style, check=False)
                if join is None:
                    break
                runs.append(nxt)
                facts.add(nxt)
                joins.append(join)
                reasons.append((nxt_inst.start_line, why[0], why[1]))
            if not joins:
                i += 1
                continue  # no finding: separate RUNs we cannot (or need not) merge are often deliberate
            last = runs[-1].inst
            # each join replaces the RUN above's tail and line break; the last RUN keeps its own
            parts = [j.text(doc, upto=nj.at) for j, nj in zip(joins, joins[1:])]
            parts.append(joins[-1].text(doc) + last.line_break)
            edit = Edit(joins[0].at, last.end, "".join(parts))
            msg = _message(first, runs, reasons)
            fix = Fix.safe("Merge into a single RUN", edit)
            yield Diagnostic(self.code, self.name, msg, first.keyword_span[0], last.end, fix,
                             extra=(("reasons", tuple((line, kind) for line, kind, _ in reasons)),))
            i += len(runs)

    @staticmethod
    def _build_stage(ctx: Context, inst: Instruction) -> bool:
        """Whether ``inst`` is in a stage that never ships (only copied from; the model says) and the user did not
        ask to merge there (setting ``merge-build-stages``): such a stage's layers are in no image anyone pulls, so
        a merge there saves no bytes and only costs cache granularity; only the correctness join (an index refresh
        with its install) is made."""
        if ctx.setting("merge-build-stages", False) is True:
            return False
        stage = ctx.model.stage_of(inst)
        if stage is None:
            return False
        return not ctx.memo.get_or(_ships, stage.index, _ships, ctx, stage)


class _StyleOf:
    """The continuation style of a block's first RUN (:func:`instruction_style`), learnt on the first call: most
    RUN pairs do not join, and the file's style reads every RUN of the file."""

    __slots__ = ("ctx", "inst", "style")

    def __init__(self, ctx: Context, inst: Instruction) -> None:
        self.ctx: Context | None = ctx
        self.inst = inst
        self.style: Style | None = None

    def __call__(self) -> Style:
        if self.style is None:
            assert self.ctx is not None
            self.style = instruction_style(self.ctx, self.inst)
            self.ctx = None
        return self.style


def _ships(ctx: Context, stage) -> bool:
    """Whether ``stage`` ends up in the image (the model's answer), once per stage and pass."""
    return ctx.model.state.ships(stage)[0]


def _message(first: Instruction, runs: list[RunShell], reasons: list[tuple[int, str, str]]) -> str:
    last = runs[-1].inst
    if len(runs) == 2:
        return (f"RUN on line {last.start_line} makes a separate layer from the RUN on line {first.start_line}: "
                f"{reasons[0][2]}")
    grouped: dict[str, list[int]] = {}
    for line, _, text in reasons:
        grouped.setdefault(text, []).append(line)
    why = "; ".join(f"{text} ({_lines(lines)})" for text, lines in grouped.items())
    return (f"the {len(runs) - 1} RUNs on lines {runs[1].inst.start_line}-{last.start_line} each make their own "
            f"layer after the RUN on line {first.start_line}: {why}")


def _lines(lines: list[int]) -> str:
    """``line 3``, ``lines 3-5``, ``lines 3, 5-6``: consecutive RUN lines as ranges."""
    spans: list[list[int]] = []
    for n in lines:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
    return f"line {text}" if len(lines) == 1 else f"lines {text}"


# ------------------------------------------------------------------ suppressions
def _dl3059(comment: str) -> tuple[bool, bool]:
    """(is a hadolint ignore pragma naming DL3059, is the file-wide form)."""
    m = _HADOLINT.match(comment.strip())
    if m is None:
        return False, False
    codes = {c.strip().upper() for c in m.group(2).split(",")}
    return "DL3059" in codes, m.group(1) is not None


def _globally_ignored(doc: Document) -> bool:
    if "hadolint" not in doc.text:
        return False
    return any(isinstance(n, Trivia) and n.kind == "comment" and _dl3059(n.text) == (True, True) for n in doc.nodes)


def _ignored_above(doc: Document, inst: Instruction, prev: Instruction | None, mentions: bool | None = None) -> bool:
    """Is there a ``# hadolint ignore=DL3059`` on the comment lines right above ``inst``? (``mentions``: whether the
    file names hadolint at all, when the caller knows.)"""
    if not (mentions if mentions is not None else "hadolint" in doc.text):
        return False
    for n in reversed(nodes_between(doc, prev, inst)):
        if not isinstance(n, Trivia) or n.kind == "blank":
            break
        if n.kind == "comment" and _dl3059(n.text)[0]:
            return True
    return False


# ------------------------------------------------------------------ reasons
def join_reason(ctx: Context, block: list[RunShell], nxt: RunShell,
                facts: "_BlockFacts | None" = None) -> tuple[str, str] | None:
    """Why RUN ``nxt`` should join the RUNs of ``block`` above it: (kind, text), or None (it keeps its layer).
    ``facts``: what the block holds, kept by the caller as the block grows (read from ``block`` when not given)."""
    if facts is None:
        facts = _BlockFacts(ctx)
        for run in block:
            facts.add(run)
    why = _cleanup(ctx, block, nxt, facts)
    if why is not None:
        return "cleanup", f"{REASONS['cleanup']} ({why})"
    update = _stale_index(facts, nxt)
    if update is not None:
        return "index", REASONS["index"].format(update=update)
    if is_bookkeeping(nxt):
        return "bookkeeping", REASONS["bookkeeping"]
    if facts.all_bookkeeping:  # cheap steps before it: merged, a change to them re-runs no more
        return "bookkeeping", REASONS["bookkeeping-above"]
    return None


class _BlockFacts:
    """What :func:`join_reason` reads from a block of RUNs, kept up to date one RUN at a time (:meth:`add`) as the
    block grows: read from the whole block for every RUN it asked about, a file whose RUNs all join (a RUN writes
    a file, the next deletes it, repeated) was quadratic.

    ``pending``: index refreshes with no install after them, by manager family (:func:`_stale_index`); ``dirty`` and
    ``installed``: the families whose caches the block left and the packages it installed (:func:`_cleanup`);
    ``all_bookkeeping``; ``named``: the paths the block's RUNs name by static words (:func:`_named_paths`), sorted, with
    the RUN's position."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.runs: list[RunShell] = []
        self._pending: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._installed: dict[str, set[str]] = {}
        self._fold_upto = 0
        self._pending_upto = 0
        self._bookkeeping = True
        self._bk_upto = 0
        self.named: list[tuple[str, int]] = []
        self._named_upto = 0

    def add(self, run: RunShell) -> None:
        self.runs.append(run)

    def _fold_pending(self) -> None:
        """Bring ``pending`` up to the last RUN added (read only when a reason is asked: most RUN pairs are refused
        before; a build stage asks only this)."""
        pending = self._pending
        for run in self.runs[self._pending_upto:]:
            if run.script is None:
                continue
            for fam, words in run.script.view(_refreshes):
                if words is None:
                    pending.pop(fam, None)
                else:
                    pending[fam] = words
        self._pending_upto = len(self.runs)

    def _fold(self) -> None:
        """Bring ``dirty`` and ``installed`` up to the last RUN added (read only when :func:`_cleanup` asks)."""
        for run in self.runs[self._fold_upto:]:
            if run.script is None:
                continue
            events, installs = run.script.view(_cache_events)
            for fam, names in installs:
                self._installed.setdefault(fam, set()).update(names)
            for clean, fam in events:
                (self._dirty.discard if clean else self._dirty.add)(fam)
        self._fold_upto = len(self.runs)

    @property
    def pending(self) -> dict[str, str]:
        self._fold_pending()
        return self._pending

    @property
    def dirty(self) -> set[str]:
        self._fold()
        return self._dirty

    @property
    def installed(self) -> dict[str, set[str]]:
        self._fold()
        return self._installed

    @property
    def all_bookkeeping(self) -> bool:
        """Whether every RUN of the block is bookkeeping (:func:`is_bookkeeping`), read only when asked and only for
        the RUNs added since (most pairs are decided before the question)."""
        runs = self.runs
        while self._bookkeeping and self._bk_upto < len(runs):
            self._bookkeeping = is_bookkeeping(runs[self._bk_upto])
            self._bk_upto += 1
        return self._bookkeeping

    def naming(self, path: str) -> list[RunShell]:
        """The block's RUNs that name ``path`` (normalised, not ``/``) or something inside it by static words
        (:func:`_named_paths`), found by bisect; the RUNs added since the last question are read first (only an rm
        asks, so most blocks never read their words)."""
        for k in range(self._named_upto, len(self.runs)):
            for q in _named_paths(self.ctx, self.runs[k]):
                insort(self.named, (q, k))
        self._named_upto = len(self.runs)
        named = self.named
        ks: set[int] = set()
        lo = bisect_left(named, (path,))
        while lo < len(named) and named[lo][0] == path:
            ks.add(named[lo][1])
            lo += 1
        lo = bisect_left(named, (path + "/",))
        hi = bisect_left(named, (path + "0",))  # "0" follows "/": every path starting with path + "/" is in between
        ks.update(k for _, k in named[lo:hi])
        return [self.runs[k] for k in sorted(ks)]


def _refreshes(script) -> tuple[tuple[str, str | None], ...]:
    """A script's index refreshes and installs, in order, by manager family: ``(family, the refresh's words)`` for
    a refresh, ``(family, None)`` for an install (kept on the script: its text alone decides)."""
    out: list[tuple[str, str | None]] = []
    for call in _pkgmgr().find_package_calls(script):
        if call.action == "update":
            out.append((_family(call), _words(call.invocation + call.action_words)))
        elif call.is_install or call.action in _INSTALLS:
            out.append((_family(call), None))
    return tuple(out)


def _cache_events(script) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[str, frozenset[str]], ...]]:
    """A script's package-manager calls and cleanups in source order, ``(1 for a cleanup else 0, family)``, and the
    packages its installs name by family (kept on the script: its text alone decides)."""
    pkgmgr = _pkgmgr()
    events = [(c.command.span[0], 1, _FAMILY.get(c.manager, c.manager)) for c in pkgmgr.find_cleanups(script)]
    installs = []
    for call in pkgmgr.find_package_calls(script):
        events.append((call.command.span[0], 0, _family(call)))
        if call.is_install:
            installs.append((_family(call), frozenset(_pkg_name(w) for w in call.packages)))
    return tuple((clean, fam) for _, clean, fam in sorted(events)), tuple(installs)


def _family(call) -> str:
    if call.manager == "pip" and call.invocation and call.invocation[0].value == "uv":
        return "uv"
    return _FAMILY.get(call.manager, call.manager)


def _calls(run: RunShell) -> list:
    return _pkgmgr().find_package_calls(run.script) if run.script is not None else []


def _cleanups(run: RunShell) -> list:
    return _pkgmgr().find_cleanups(run.script) if run.script is not None else []


_PKGMGR: list = []


def _pkgmgr():
    """The model's package-manager module, imported on first use and kept (an import statement per RUN pair asked
    cost more than the views it reads)."""
    if not _PKGMGR:
        from dockerfix.model import pkgmgr

        _PKGMGR.append(pkgmgr)
    return _PKGMGR[0]


_MODEL: list = []


def _model():
    """The model's ``(shell, state)`` modules, imported on first use and kept, like :func:`_pkgmgr` (two import
    statements in every RUN pair's cleanup question were a tenth of its cost)."""
    if not _MODEL:
        from dockerfix.model import shell, state

        _MODEL.append((shell, state))
    return _MODEL[0]


def _words(words) -> str:
    return " ".join(w.raw for w in words)


def _stale_index(facts: _BlockFacts, nxt: RunShell) -> str | None:
    """``apt-get update`` (or another manager's index refresh) in the block with no install after it, when ``nxt``
    installs with that manager: the words of the refresh, else None."""
    pending = None  # the block's refreshes, read at nxt's first install (most RUNs asked about install nothing)
    for call in _calls(nxt):
        if call.is_install or call.action in _INSTALLS:
            if pending is None:
                pending = facts.pending
            if _family(call) in pending:
                return pending[_family(call)]
    return None


def _pkg_name(w) -> str:
    v = w.value if w.value is not None else w.raw
    return v.split("=", 1)[0]


def _cleanup(ctx: Context, block: list[RunShell], nxt: RunShell, facts: _BlockFacts) -> str | None:
    """What ``nxt`` deletes or cleans that the block created (a short description), or None."""
    s = nxt.script
    if s is None:
        return None
    calls = _calls(nxt)
    nxt_cleanups = _cleanups(nxt)
    if not nxt_cleanups and not any(call.action in _REMOVALS for call in calls):
        # nothing below can match (most RUN pairs): what the block installed and left is not needed
        return _removed_block_files(ctx, facts, nxt)
    own = [(call.command.span[0], _family(call), call) for call in calls]
    dirty = facts.dirty  # managers whose caches or lists the block left behind
    installed = facts.installed
    # a package manager's own cleanup (or an rm of its cache) of what the block left, not of what nxt made itself
    for c in nxt_cleanups:
        fam = _FAMILY.get(c.manager, c.manager)
        if fam in dirty and not any(at < c.command.span[0] and f == fam and call.action not in _REMOVALS
                                    and not call.is_cleanup for at, f, call in own):
            return c.path if c.path is not None else _words(c.call.invocation + c.call.action_words)
    # removing packages the block installed
    for at, fam, call in own:
        if call.action in _REMOVALS and fam in installed:
            names = {_pkg_name(w) for w in call.packages}
            if names & installed[fam] or (call.action == "autoremove" and not any(
                    a < at and f == fam and (c.is_install or c.action in _INSTALLS) for a, f, c in own)):
                return _words(call.invocation + call.action_words)
    return _removed_block_files(ctx, facts, nxt)


def _under(path: str, root: str) -> bool:
    return path == root or root == "/" or path.startswith(root.rstrip("/") + "/")


def _removed_block_files(ctx: Context, facts: _BlockFacts, nxt: RunShell) -> str | None:
    """The first ``rm`` operand of ``nxt`` that deletes files a RUN of the block wrote, or None. The model says which
    earlier steps may have filled the path; the block RUN must also name it (or something inside it), so that a
    package install that only *may* have written to ``/tmp`` is no reason."""
    s = nxt.script
    assert s is not None
    removed = s.view(_removed_operands)
    if not removed:
        return None
    norm = _model()[1].norm
    state = ctx.model.state
    cwd: str | None = None
    cwd_known = False
    for op, p, path in removed:
        if path is None:  # relative to the working directory
            if not cwd_known:
                cwd, cwd_known = state.workdir_at(nxt.inst), True
            path = norm(p, cwd)
            if path is None or path == "/":
                continue
        # the block's RUNs that name the path (an index kept as the block grows) and that the model says may have
        # put files there (the RUNs before the block do not matter)
        for run in facts.naming(path):
            if state.writes(run.inst, path)[0] is not None:
                return op
    return None


def _removed_operands(s) -> tuple[tuple[str, str, str | None], ...]:
    """The ``rm`` operands of a script that :func:`_removed_block_files` asks about, in order: ``(operand, the path
    it removes something in, that path normalised)``, the last None for a path relative to the working directory
    (not ``~``, nothing relative after a ``cd``, not ``/``). Kept on the script: its text alone decides."""
    removed_paths = _pkgmgr().removed_paths
    norm = _model()[1].norm
    out = []
    for site in s.sites:
        ops = removed_paths(site.command)
        if not ops:
            continue
        moved = any(c.kind in ("cd", "pushd", "popd") and c.span[0] < site.command.span[0] for c in s.state_changes)
        for op in ops:
            p = op
            if p.startswith("~"):
                continue
            cut = min((k for k in (p.find("*"), p.find("?"), p.find("[")) if k >= 0), default=-1)
            if cut >= 0:  # a glob removes something inside the directory before it
                p = p[:p.rfind("/", 0, cut) + 1] if "/" in p[:cut] else ""
                if not p:
                    continue
            if not p.startswith("/"):
                if moved:
                    continue  # relative to a directory the RUN changed to
                out.append((op, p, None))
                continue
            path = norm(p, "/")
            if path is None or path == "/":
                continue
            out.append((op, p, path))
    return tuple(out)


def _named_paths(ctx: Context, run: RunShell) -> list[str]:
    """The normalised paths the static words of ``run`` name (not ``/``), its commands' arguments and the files its
    redirections write (``echo x > /tmp/f``): the RUN names ``path`` or something inside it exactly when one of them
    is ``path`` or inside it (:meth:`_BlockFacts.naming` asks that by bisect)."""
    if run.script is None:
        return []
    absolute, relative = run.script.view(_path_words)
    if not relative:
        return list(absolute)
    norm = _model()[1].norm
    cwd = ctx.model.state.workdir_at(run.inst)
    out = list(absolute)
    for v in relative:
        q = norm(v, cwd)
        if q is not None and q != "/":
            out.append(q)
    return out


def _path_words(s) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The paths a script's static words name, for :func:`_named_paths`: the absolute ones normalised (not ``/``),
    and the relative ones as written (none after a ``cd``). Kept on the script: its text alone decides."""
    shell, state = _model()
    written_targets, norm = shell.written_targets, state.norm
    absolute: list[str] = []
    relative: list[str] = []
    moved = any(c.kind in ("cd", "pushd", "popd") for c in s.state_changes)
    for node in s.walk():
        for w in (getattr(node, "words", ()) or ()) + written_targets(node):
            v = w.value
            if v is None or "/" not in v or w.has_glob or v.startswith("~") or (moved and not v.startswith("/")):
                continue
            if not v.startswith("/"):
                relative.append(v)
                continue
            q = norm(v, "/")
            if q is not None and q != "/":
                absolute.append(q)
    return tuple(absolute), tuple(relative)


def is_bookkeeping(run: RunShell) -> bool:
    """Is the RUN only cheap bookkeeping commands (:data:`BOOKKEEPING`), substitutions and loops included?"""
    s = run.script
    return s is not None and s.view(_bookkeeping)


def _bookkeeping(s) -> bool:
    """:func:`is_bookkeeping` of a script (its text alone: kept on the script)."""
    return bool(s.sites) and all(_is_cheap(site.command.effective) for site in s.sites)


def _is_cheap(cmd) -> bool:
    kind = BOOKKEEPING.get(cmd.basename or "")
    if kind is None:
        return False
    if kind == "any":
        return True
    args = [w.value for w in cmd.args]
    if kind == "few-files":
        ops = [a for a in args if a is None or not a.startswith("-")]
        if len(ops) > FEW_FILES:
            return False
        if cmd.basename == "cp":
            for a in args:
                if a is None:
                    continue
                if a in _RECURSIVE or (a.startswith("-") and not a.startswith("--") and set(a[1:]) & set("rRa")):
                    return False
        return True
    # in-place: `sed -i`, `sed -Ei`, `sed -i.bak`, `sed --in-place`
    for a in args:
        if a is None or a == "--":
            break
        if a.startswith("--in-place"):
            return True
        if a.startswith("-") and not a.startswith("--") and "i" in a[1:].split(".", 1)[0]:
            return True
    return False


TRANSFORMS = (MergeRuns,)
