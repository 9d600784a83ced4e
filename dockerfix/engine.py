"""Apply fixes to a fixed point (after Ruff): one snapshot per pass, non-overlapping edits, re-parse, repeat. A pass
whose first transforms join instructions applies those joins before the rest of it runs (:func:`fix_document`).

A pass that yields text which does not parse is reverted and reported; the caller gets the last good text. A final
semantics guard compares stages and the final image's settings before and after; a change no selected transform
declares is an internal error, never a silent write.
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_right, insort

from dockerfix._lazyre import lazy
from dockerfix._record import cached_property, dataclass, field, replace
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence

from dockerfix.model.pragmas import PRAGMA as _PRAGMA, pragma_codes as _pragma_codes
from dockerfix.positions import History, Lines as _Lines
from dockerfix.syntax import DockerfileSyntaxError, Document, Instruction, parse
from dockerfix.transforms import registry
from dockerfix.transforms.base import Applicability, BuildContext, Context, Diagnostic, Edit, FileChange, Transform

MAX_PASSES = 12


class EngineError(RuntimeError):
    """An internal failure (a fix broke the file, a guard tripped, passes did not settle): nothing is written."""


@dataclass(frozen=True)
class Change:
    """A fix applied, or a finding left, at its place in the INPUT text (``line``/``column``/``end_line``, 1-based;
    ``start``/``end`` offsets), whichever pass reported it (:mod:`dockerfix.positions` maps it back)."""

    code: str
    name: str
    line: int
    column: int
    message: str
    safe: bool
    applied: bool
    fix_title: str | None = None
    reason: str | None = None
    end_line: int | None = None
    start: int = 0
    end: int = 0
    edits: tuple[Edit, ...] = ()
    """The fix's edits in the coordinates of the text of step :attr:`pass_index`, which they applied to (an applied
    change); :meth:`FixResult.input_replacements` states them on the input."""
    pass_index: int = 0
    """The step of the engine's history whose text reported it: 0 the input, k the text after k sets of applied
    fixes (a pass applies one set, or two when it joins instructions first: :func:`fix_document`)."""
    files: tuple[FileChange, ...] = ()
    """The changes to other files of the build context its fix makes (:attr:`creates_files`)."""
    output_position: tuple[int, int, int] | None = None
    """A finding's (line, column, end line) in the result text (the file as ``--write`` leaves it)."""
    kind: str | None = None
    """Why there is no (safe) fix, as data: the value of the diagnostic's :class:`~dockerfix.transforms.base.Failure`
    (``needs-network``, ``service-error``...), None when not stated. Frontends act on it, never on ``reason``."""

    @property
    def fixable(self) -> bool:
        return self.fix_title is not None

    @property
    def creates_files(self) -> bool:
        """Whether its fix creates a file of the build context that does not exist yet (a new ``.dockerignore``)."""
        return any(f.before is None for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "line": self.line, "column": self.column,
            "end_line": self.end_line or self.line, "message": self.message, "safe": self.safe,
            "applied": self.applied, "fix": self.fix_title, "reason": self.reason,
        }


@dataclass
class FixResult:
    text: str
    original: str
    changes: list[Change] = field(default_factory=list)
    """Fixes applied to ``text``, in the order they were applied (positions in ``original``)."""
    findings: list[Change] = field(default_factory=list)
    """What remains in ``text``: findings without a fix, unsafe fixes not enabled, display-only fixes."""
    passes: int = 0
    errors: list[str] = field(default_factory=list)
    files: dict[str, FileChange] = field(default_factory=dict)
    """Changes to other files of the build context, by context-relative path (before = as found on disk)."""
    document: Document | None = field(default=None, repr=False)
    """The parsed ``text`` (the engine parsed it anyway)."""
    history: History | None = field(default=None, repr=False)
    """The text of every pass and the edits it applied (positions in later passes map back through it)."""

    def input_replacements(self) -> list[tuple[int, int, str, list[Change]]]:
        """``(start, end, new text, changes)``: the spans of ``original`` the applied fixes replace, sorted and
        disjoint, with the text of ``text`` for each and the changes whose edits it holds. Applied to ``original``
        they give ``text``. A fix of a later pass that edits text an earlier fix wrote is composed with it into
        one replacement of the whole input span they cover (see :func:`dockerfix.positions.input_replacements`)."""
        from dockerfix.positions import input_replacements

        return input_replacements(self.history, self.original, self.text, self.changes)

    @property
    def changed(self) -> bool:
        return self.text != self.original or any(f.before != f.after for f in self.files.values())

    @property
    def cosmetic_only(self) -> bool:
        """Whether the rewrite changes the file and every applied fix is cosmetic (its transform's
        ``Transform.effect_of(title)`` is ``cosmetic``: ADD→COPY of a plain file, dropping ``--chown=root:root``...):
        the image and its build cache behave exactly as before, only the text differs. Fixes are still applied and
        shown; a PR bot or ``--check`` may use this to skip such a file (the frontends decide). A change to another
        file of the build context (a new ``.dockerignore``) is never cosmetic."""
        if not self.changed or not self.changes or any(f.before != f.after for f in self.files.values()):
            return False
        by_code = {t.code: t for t in registry.all_transforms()}
        return all(c.code in by_code and by_code[c.code].effect_of(c.fix_title) == "cosmetic" for c in self.changes)

    @property
    def all(self) -> list[Change]:
        return sorted(self.changes + self.findings, key=lambda c: (c.line, c.column, c.code))


# ------------------------------------------------------------------ pragmas


_HADOLINT = lazy(r"^\s*#\s*hadolint\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9, ]+?)\s*$", re.I)


def lint_rules(transform_code: str) -> tuple[str, ...]:
    """The lint rules (hadolint's DLxxxx) a transform answers: an author's ``# hadolint ignore=`` of one of them
    stops the transform there too (their intent is to keep what the rule is about)."""
    from dockerfix.transforms import registry

    for t in registry.all_transforms():
        if t.code == transform_code:
            return tuple(getattr(t, "answers", ()))
    return ()


@dataclass
class Suppressions:
    file: frozenset[str]
    spans: list[tuple[int, int, frozenset[str]]]

    @classmethod
    def of(cls, doc: Document) -> "Suppressions":
        text = doc.text
        if "hadolint" not in text and text.isascii() and "dockerfix" not in text.lower():
            # no comment can be a pragma (each names ``dockerfix``, in any case: in ASCII text ``lower`` folds case
            # as the pragma's re.I does) or a ``# hadolint ignore=``: nothing is suppressed. Once per pass; the
            # loop below reads every node
            return cls(frozenset(), [])
        file_codes: set[str] = set()
        spans: list[tuple[int, int, frozenset[str]]] = []
        pending: list[tuple[str, frozenset[str]]] = []
        stage_codes: frozenset[str] = frozenset()
        stage_start = -1
        for node in doc.nodes:
            if isinstance(node, Instruction):
                if node.keyword == "FROM":
                    if stage_start >= 0 and stage_codes:
                        spans.append((stage_start, node.start, stage_codes))
                    stage_codes = frozenset()
                    stage_start = node.start
                    for kind, codes in pending:
                        if kind == "ignore-stage":
                            stage_codes = stage_codes | codes
                for kind, codes in pending:
                    if kind == "ignore":
                        spans.append((node.start, node.end, codes))
                pending = []
                continue
            if node.kind == "blank":
                pending = [p for p in pending if p[0] == "ignore-stage"]
                continue
            m = _PRAGMA.match(node.text)
            if not m:
                h = _HADOLINT.match(node.text) if "hadolint" in node.text else None
                if h is not None:
                    rules = frozenset("lint:" + r.strip().lower() for r in h.group(2).split(",") if r.strip())
                    if h.group(1):
                        file_codes |= rules
                    else:
                        pending.append(("ignore", rules))
                continue
            kind, codes = m.group(1).lower(), _pragma_codes(m.group(2))
            if kind == "ignore-file":
                file_codes |= codes
            else:
                pending.append((kind, codes))
        if stage_start >= 0 and stage_codes:
            spans.append((stage_start, len(doc.text), stage_codes))
        return cls(frozenset(file_codes), spans)

    @cached_property
    def has_lint(self) -> bool:
        """Any ``# hadolint ignore=`` in the file (transforms are asked for the rules they answer only then); once per
        file and pass, not per diagnostic."""
        return any(c.startswith("lint:") for c in self.file) or any(
            c.startswith("lint:") for _, _, codes in self.spans for c in codes)

    def is_suppressed(self, d: Diagnostic) -> bool:
        if not self.file and not self.spans:
            return False  # nothing is suppressed in the file (nearly every file): no keys to build per diagnostic
        code = d.code.lower()
        keys = {code, d.name.lower(), "all", *(code[:i] for i in range(3, len(code)))}  # dfx, dfx1, dfx10
        if self.has_lint:
            keys |= {"lint:" + r.lower() for r in lint_rules(d.code)}
        if self.file & keys:
            return True
        lo, hi = d.start, d.end
        if d.fix is not None:
            lo, hi = min(lo, d.fix.start), max(hi, d.fix.end)
        for s, e, codes in self.spans:
            if codes & keys and s < max(hi, lo + 1) and lo < e:
                return True
        return False


def withhold_fixes(diags: list[Diagnostic], transforms: Sequence[Transform], sup: Suppressions,
                   ignored: Iterable[str] = ()) -> list[Diagnostic]:
    """``diags`` with the fixes taken away whose kind of edit belongs to a transform that is ignored there
    (:attr:`Transform.edits_like`): by ``ignored`` (``--ignore``, the config) or by a pragma at the fix's place.
    Ignoring a transform stops that rewrite whichever transform would make it; the diagnostic stays, as a finding
    that says why. Suppressed diagnostics are expected to be filtered out already."""
    keys = {k.strip().lower() for k in ignored if k and k.strip()}
    out = diags
    by_code: dict[str, tuple[str, ...]] = {}  # a transform's own edits_like, read once per code (a lazy transform
    # answers it through __getattr__)
    for i, d in enumerate(diags):
        if d.fix is None:
            continue
        own = by_code.get(d.code)
        if own is None:
            t = next((t for t in transforms if t.code == d.code), None)
            own = by_code[d.code] = tuple(getattr(t, "edits_like", ())) if t is not None else ()
        likes = own + tuple(d.edits_like) if d.edits_like else own
        if not likes:
            continue
        for name in likes:
            other = _by_name(name)
            if other is None:
                continue
            why = None
            if keys and _matches(other, keys):
                why = "ignored"
            elif sup.file or sup.spans:  # (else nothing is suppressed: no probe to build per diagnostic)
                probe = replace(d, code=other.code, name=other.name)
                if sup.is_suppressed(probe):
                    why = "suppressed here"
            if why is not None:
                if out is diags:
                    out = list(diags)
                out[i] = replace(d, fix=None, reason=(
                    f"not fixed: the fix would {_EDIT_KIND.get(other.name, 'make the edit of')} {other.code} "
                    f"{other.name}, which is {why}"))
                break
    return out


_EDIT_KIND = {"merge-runs": "merge RUNs like"}


def withhold_unmet(diags: list[Diagnostic], text: str, unsafe: bool | None = None) -> list[Diagnostic]:
    """``diags`` with the fixes taken away that need another fix of their transform (:attr:`Fix.requires`) that has
    none here: suppressed, withheld by :func:`withhold_fixes`, itself withheld by this rule, or (``unsafe`` given)
    not applied in this run. The diagnostic stays, as a finding that says which line's fix it needs."""
    if not any(d.fix is not None and d.fix.requires for d in diags):
        return diags  # (nearly every file: no fix needs another)
    fixed: set[tuple[str, int]] = set()
    out = list(diags)
    for i in sorted(range(len(out)), key=lambda k: out[k].start):  # requirements point back: earlier first
        d = out[i]
        if d.fix is None or (unsafe is not None and not _is_applicable(d, unsafe)):
            continue
        missing = [s for s in d.fix.requires if (d.code, s) not in fixed]
        if missing:
            line = text.count("\n", 0, missing[0]) + 1
            out[i] = replace(d, fix=None, reason=(
                f"not fixed: the fix goes with the {d.code} fix on line {line}, which is not applied here "
                "(suppressed, ignored, or unsafe in a safe run)"))
            continue
        fixed.add((d.code, d.start))
    return out


def _by_name(name: str) -> Transform | None:
    for t in registry.all_transforms():
        if t.name == name:
            return t
    return None


def _matches(t: Transform, keys: set[str]) -> bool:
    return "all" in keys or t.code.lower() in keys or t.name.lower() in keys or any(
        t.code.lower().startswith(k) for k in keys if k.startswith("dfx") and len(k) < len(t.code)
    )


# ------------------------------------------------------------------ selection
_SELECTED: dict[tuple[tuple[str, ...] | None, tuple[str, ...] | None], tuple[list[Transform], list[Transform]]] = {}
"""(select, ignore) -> (the registry list it was computed from, the ordered choice): every ``fix`` call asks, with
the same arguments in a run over many files (the topological sort alone was ~2% of a median file's time)."""


def select_transforms(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> list[Transform]:
    everything = registry.all_transforms()
    select = None if select is None else tuple(select)  # a generator is read once
    ignore = None if ignore is None else tuple(ignore)
    key = (select, ignore)
    hit = _SELECTED.get(key)
    # the same transforms as last time (tests swap the registry); all_transforms() hands out a new list per call, so
    # compare the members, not the list (an identity test of the list missed every time: a topological sort per file)
    if hit is not None and len(hit[0]) == len(everything) and all(map(operator.is_, hit[0], everything)):
        return list(hit[1])
    chosen = _select(everything, select, ignore)
    if len(_SELECTED) >= 64:
        _SELECTED.clear()
    _SELECTED[key] = (everything, chosen)
    return list(chosen)


def _select(everything: list[Transform], select: Iterable[str] | None, ignore: Iterable[str] | None) -> list[Transform]:
    matches = _matches

    if select:
        keys = {s.strip().lower() for s in select if s.strip()}
        unknown = [k for k in keys if k != "all" and not any(matches(t, {k}) for t in everything)]
        if unknown:
            raise ValueError(f"unknown transform: {', '.join(sorted(unknown))}")
        chosen = [t for t in everything if matches(t, keys)]
    else:
        chosen = [t for t in everything if t.default_enabled]
    if ignore:
        keys = {s.strip().lower() for s in ignore if s.strip()}
        chosen = [t for t in chosen if not matches(t, keys)]
    return _order(chosen)


def _order(ts: list[Transform]) -> list[Transform]:
    """Stable topological order by each transform's ``after`` metadata."""
    by_name = {t.name: t for t in ts}
    out: list[Transform] = []
    seen: set[str] = set()
    for t in ts:
        _visit(t, (), by_name, seen, out)
    return out


def _visit(t: Transform, stack: tuple[str, ...], by_name: dict[str, Transform], seen: set[str],
           out: list[Transform]) -> None:
    # a module function, not a closure: a recursive closure is a reference cycle left to the cyclic collector
    if t.name in seen or t.name in stack:
        return
    for dep in t.after:
        if dep in by_name:
            _visit(by_name[dep], stack + (t.name,), by_name, seen, out)
    seen.add(t.name)
    out.append(t)


# ------------------------------------------------------------------ the loop
def _change(lines: _Lines, d: Diagnostic, applied: bool, history: History, k: int,
            result_lines: _Lines | None = None) -> Change:
    """``d``, reported by pass ``k``, as a :class:`Change` at its place in the input (``lines`` are the input's);
    ``result_lines``: the text ``d`` was found on, for a finding's :attr:`Change.output_position`."""
    start = history.to_input(d.start, k) if k else d.start
    end = max(start, history.to_input(d.end, k)) if k else d.end
    line, col = lines.line_col(start)
    end_line = lines.line_col(max(start, end - 1))[0]
    fix = d.fix
    out = None
    if result_lines is not None:
        out_line, out_col = result_lines.line_col(d.start)
        out = (out_line, out_col, result_lines.line_col(max(d.start, d.end - 1))[0])
    return Change(  # (positional: in field order; keywords cost a microsecond per record)
        d.code, d.name, line, col, d.message,
        fix is not None and fix.applicability is Applicability.SAFE, applied,
        fix.title if fix is not None else None, d.reason, end_line,
        start, end, fix.edits if (applied and fix is not None) else (), k,
        fix.files if fix is not None else (), out,
        d.kind.value if d.kind is not None else None,
    )


def _is_applicable(d: Diagnostic, unsafe: bool) -> bool:
    if d.fix is None or not (d.fix.edits or d.fix.files):
        return False
    a = d.fix.applicability
    return a is Applicability.SAFE or (unsafe and a is Applicability.UNSAFE)


def reparse_after(doc: Document, new_text: str, edits: Sequence[Edit]) -> Document:
    """The document of ``new_text`` (``doc`` with ``edits`` applied): only the touched nodes are parsed again when
    that is provably the same as a full parse (see :mod:`dockerfix.syntax.incremental`), else the whole text."""
    if 3 * len(edits) > len(doc.instructions):
        return parse(new_text)  # edits in most instructions: shifting the rest costs more than parsing them
    from dockerfix.syntax.incremental import reparse

    new_doc = reparse(doc, new_text, [(e.start, e.end, len(e.text)) for e in sorted(edits)])
    return new_doc if new_doc is not None else parse(new_text)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    out = []
    pos = 0
    for e in sorted(edits):
        out.append(text[pos : e.start])
        out.append(e.text)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


class _Taken:
    """The spans of the edits chosen so far in a pass, sorted by start, for :meth:`overlaps` in logarithmic time
    (a list scanned per edit was quadratic in files with thousands of fixes: 0.5 s of 1,600 lines of apt blocks)."""

    __slots__ = ("spans", "longest")

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []
        self.longest = 0  # no span is longer, so one that starts before ``start - longest`` ends before ``start``

    def add(self, start: int, end: int) -> None:
        insort(self.spans, (start, end))
        if end - start > self.longest:
            self.longest = end - start

    def overlaps(self, edits: Sequence[Edit]) -> bool:
        spans = self.spans
        for e in edits:
            # candidates start at or before e.end; those starting before e.start - longest end before e.start
            k = bisect_right(spans, (e.end, e.end))
            lo = e.start - self.longest
            while k > 0:
                k -= 1
                s, t = spans[k]
                if s < lo:
                    break
                # Touching is fine, except two insertions at one point (their order would be arbitrary).
                if e.start < t and s < e.end:
                    return True
                if e.start == e.end == s == t or (e.start == e.end and s < e.start < t):
                    return True
                if s == t and e.start < s < e.end:
                    return True
        return False


class _InstructionSpans:
    """Which instructions of a document a fix's edits touch (by index), and whether one edit crosses an instruction
    boundary."""

    def __init__(self, doc: Document) -> None:
        insts = doc.instructions
        self.starts = [i.start for i in insts]
        self.ends = [i.end for i in insts]

    def touched(self, edits: Sequence[Edit]) -> tuple[set[int], bool]:
        starts, ends = self.starts, self.ends
        out: set[int] = set()
        joins = False
        for e in edits:
            k = max(bisect_right(starts, e.start) - 1, 0)
            mine = []
            while k < len(starts) and starts[k] <= e.end:
                if (starts[k] <= e.start < ends[k]) if e.start == e.end else (starts[k] < e.end and e.start < ends[k]):
                    mine.append(k)
                k += 1
            if len(mine) > 1:
                joins = True
            out.update(mine)
        return out, joins


def run_transforms(ts: Sequence[Transform], ctx: Context) -> tuple[list[Diagnostic], list[str]]:
    diags: list[Diagnostic] = []
    errors: list[str] = []
    text = ctx.document.text
    for t in ts:
        triggers = getattr(t, "triggers", ())
        if triggers:
            for s in triggers:
                if s in text:
                    break
            else:
                continue  # the file names nothing this transform is about (see Transform.triggers)
        try:
            diags.extend(t.check(ctx))
        except Exception as exc:  # a transform bug must not take the file down: report it, skip the transform
            errors.append(f"internal error in {t.code} ({t.name}): {type(exc).__name__}: {exc}")
    return diags, errors


def _ordered(diags: list[Diagnostic], unsafe: bool, order: dict[str, int]) -> list[Diagnostic]:
    return sorted(
        (d for d in diags if _is_applicable(d, unsafe)),
        key=lambda d: (order.get(d.code, 0), d.fix.start, d.fix.end),  # type: ignore[union-attr]
    )


def _choose(applicable: list[Diagnostic], doc: Document, *,
            joined: bool = False) -> tuple[list[Diagnostic], list[Edit], set[int]]:
    """The fixes of one pass, taken in order: each one whose edits overlap no fix taken before it (an edit equal to
    a taken one is shared); a fix that joins instructions only on instructions no other fix touched, and no other
    fix on instructions a join took. Returns the chosen fixes, their edits, and the indices of the instructions a
    chosen join covers (always with ``joined``; otherwise only when there is more than one fix, the only case in
    which the choice needs them). The choice among a prefix of ``applicable`` does not depend on what follows it."""
    chosen: list[Diagnostic] = []
    edits: list[Edit] = []
    taken = _Taken()
    taken_edits: set[tuple[int, int, str]] = set()  # (start, end, text): a tuple hashes in C, an Edit in Python
    taken_files: set[str] = set()
    spans = _InstructionSpans(doc) if len(applicable) > 1 or joined else None
    touched: set[int] = set()
    structural: set[int] = set()
    needed: set[tuple[str, int]] = set()  # (code, start) of the chosen fixes, for Fix.requires
    for d in applicable:
        assert d.fix is not None
        if d.fix.requires and any((d.code, s) not in needed for s in d.fix.requires):
            continue  # a fix it needs was not chosen (an overlap): both wait for a pass that takes them together
        # An edit equal to one already chosen (the same `# syntax=` line every cache-mount fix adds at the
        # top) is shared, not a conflict: applied once, it gives both fixes what they asked for. Without
        # this, a file with k such fixes took k passes.
        own = [e for e in d.fix.edits if (e.start, e.end, e.text) not in taken_edits]
        if taken.overlaps(own) or any(f.path in taken_files for f in d.fix.files):
            continue
        if spans is not None:
            # A fix that joins instructions (one edit across an instruction boundary: a merge) is applied
            # alone on the instructions it touches, and another fix on those waits a pass: each is then
            # checked against the text the other left (a cleanup appended to a RUN that a merge joins to the
            # next would land in the middle of the chain, before an install that needs what it deletes).
            mine, joins = spans.touched(own)
            if mine & structural or (joins and mine & touched):
                continue
            touched |= mine
            if joins:
                structural |= mine
        chosen.append(d)
        needed.add((d.code, d.start))
        edits.extend(own)
        for e in own:
            taken.add(e.start, e.end)
        taken_edits.update((e.start, e.end, e.text) for e in own)
        taken_files.update(f.path for f in d.fix.files)
    return chosen, edits, structural


def _run_sources(inst: Any) -> list[str]:
    """The texts the model parses as shell for an instruction (a RUN's command or heredoc bodies, ONBUILD's RUN)."""
    out = []
    for i in (inst, inst.sub) if inst.sub is not None else (inst,):
        if i.keyword == "RUN" and not i.json:
            out.append(i.rest)
            out.extend(h.content for h in i.heredocs)
    return out


def _forget_replaced(doc: Document, new_doc: Document, edits: Sequence[Edit]) -> None:
    """Drop from the shell cache the long scripts of the instructions ``edits`` touched whose text no instruction of
    ``new_doc`` holds (:func:`dockerfix.model.shell.forget_scripts`): the next pass then reuses their memory."""
    from dockerfix.model.shell import SCRIPTS_KEPT_BELOW as LONG, forget_scripts

    insts = doc.instructions
    starts = [i.start for i in insts]
    old: set[str] = set()
    for e in edits:
        k = max(bisect_right(starts, e.start) - 1, 0)
        while k < len(insts) and insts[k].start <= e.end:
            inst = insts[k]
            # (a script is part of its instruction's text: a short instruction holds no long script)
            if inst.end >= e.start and inst.end - inst.start >= LONG:
                old.update(s for s in _run_sources(inst) if len(s) >= LONG)
            k += 1
    if old:
        for inst in new_doc.instructions:
            if (inst.keyword == "RUN" or inst.sub is not None) and inst.end - inst.start >= LONG:
                old.difference_update(_run_sources(inst))
        forget_scripts(old)


def _step(doc: Document, new_text: str, chosen: list[Diagnostic], edits: list[Edit], result: FixResult,
          history: History, input_lines: _Lines, step: int) -> Document | None:
    """Record the ``chosen`` fixes, found on history step ``step`` (``doc``), whose ``edits`` give ``new_text``, in
    ``result`` and ``history``: the new document, or None when ``new_text`` does not parse (reverted, reported in
    ``result.errors``)."""
    try:
        new_doc = reparse_after(doc, new_text, edits)
    except DockerfileSyntaxError as exc:
        codes = ", ".join(sorted({d.code for d in chosen}))
        result.errors.append(f"fixes from {codes} produced a file that does not parse ({exc}); reverted")
        return None
    _forget_replaced(doc, new_doc, edits)
    result.changes.extend(_change(input_lines, d, True, history, step) for d in chosen)
    for d in chosen:
        for fc in d.fix.files:  # type: ignore[union-attr]
            first = result.files.get(fc.path)
            result.files[fc.path] = FileChange(fc.path, first.before if first else fc.before, fc.after)
    history.add(edits, new_text)
    return new_doc


def fix_document(
    doc: Document,
    transforms: Sequence[Transform],
    *,
    unsafe: bool = False,
    path: str | None = None,
    build_context: Any = None,
    settings: dict[str, Any] | None = None,
    services: dict[str, Any] | None = None,
    max_passes: int = MAX_PASSES,
    ignored: Iterable[str] = (),
) -> FixResult:
    """Fix ``doc`` to a fixed point. ``ignored``: what the user ignored (``--ignore``, config), for the fixes of other
    transforms that make an ignored transform's kind of edit (:func:`withhold_fixes`). The file's shell scripts stay
    parsed from pass to pass (:func:`dockerfix.model.shell.pin_scripts`)."""
    from dockerfix.model.shell import pin_scripts, unpin_scripts

    began = pin_scripts()
    try:
        return _fix_document(doc, transforms, unsafe=unsafe, path=path, build_context=build_context,
                             settings=settings, services=services, max_passes=max_passes, ignored=ignored)
    finally:
        unpin_scripts(began)


def _fix_document(
    doc: Document,
    transforms: Sequence[Transform],
    *,
    unsafe: bool,
    path: str | None,
    build_context: Any,
    settings: dict[str, Any] | None,
    services: dict[str, Any] | None,
    max_passes: int,
    ignored: Iterable[str],
) -> FixResult:
    ignored = tuple(ignored or ())
    settings = dict(settings or {})
    if settings.get("strategy") not in ("cache-mount", "clean-layer"):
        # decided once, from the input: a fix that adds BuildKit-only syntax (``--chmod``) in one pass must not flip
        # the cleanup/cache-mount strategy of the passes after it
        from dockerfix.model.manifests import cache_strategy

        settings["strategy"] = cache_strategy(settings, doc)
    services = dict(services or {})
    original = doc.to_text()
    history = History(original)
    result = FixResult(text=original, original=original, history=history)
    input_lines = _Lines(original)
    text = original
    order = {t.code: i for i, t in enumerate(transforms)}
    overlay = OverlayContext(build_context, result.files) if build_context is not None else None
    # The transforms up to the last one that joins instructions run first. When they have joins to apply, the pass
    # applies their chosen fixes before the rest of the transforms run, which then read the joined text: a fix on an
    # instruction a join covers is checked against the text the join left, in the same pass (a pass that only
    # joined, and a second one for the fixes on the joined RUNs, took a whole pass more: a third of a file whose
    # every stage joins). Each set of applied edits is one step of the history (a joining pass makes two).
    last_join = max((i for i, t in enumerate(transforms) if getattr(t, "joins", False)), default=-1)
    head, tail = transforms[:last_join + 1], transforms[last_join + 1:]
    join_codes = {t.code for t in head if getattr(t, "joins", False)}
    step = 0  # the history step ``text`` is: 0 the input, k after k sets of applied edits

    def fixes_of(diags: list[Diagnostic], sup: Suppressions) -> list[Diagnostic]:
        diags = withhold_fixes([d for d in diags if not sup.is_suppressed(d)], transforms, sup, ignored)
        return withhold_unmet(diags, text, unsafe)

    def context(doc: Document) -> Context:
        return Context(doc, path=path, build_context=overlay, settings=settings, services=services)

    def findings(diags: list[Diagnostic]) -> list[Change]:
        """``diags``, found on the current text, as the result's findings."""
        here = _Lines(text) if step else input_lines
        return [_change(input_lines, d, False, history, step, here) for d in diags]

    def all_findings(doc: Document, sup: Suppressions) -> list[Change]:
        """The findings of ``doc`` with every transform (after a reverted step, whose pass read part of it only)."""
        ctx = context(doc)
        diags = run_transforms(transforms, ctx)[0]
        ctx.close()
        return findings(fixes_of(diags, sup))

    for n in range(max_passes):
        result.passes = n + 1
        sup = Suppressions.of(doc)
        ctx = context(doc)
        diags, errors = run_transforms(head, ctx)
        joined = False
        if tail and any(d.fix is not None and d.code in join_codes for d in diags):
            chosen, edits, structural = _choose(_ordered(fixes_of(diags, sup), unsafe, order), doc, joined=True)
            new_text = apply_edits(text, edits) if structural else text
            if new_text != text:  # apply the joins (and the fixes chosen with them); the rest of the pass reads it
                ctx.close()
                result.errors.extend(e for e in errors if e not in result.errors)
                new_doc = _step(doc, new_text, chosen, edits, result, history, input_lines, step)
                if new_doc is None:
                    result.findings = all_findings(doc, sup)
                    break
                text, doc = new_text, new_doc
                step += 1
                joined = True
                sup = Suppressions.of(doc)
                ctx = context(doc)
                diags, errors = [], []
        more, errors2 = run_transforms(tail, ctx)
        diags.extend(more)
        errors.extend(errors2)
        ctx.close()  # the pass's memo and model point back at it: free them now, not in the cyclic collector
        result.errors.extend(e for e in errors if e not in result.errors)
        diags = fixes_of(diags, sup)
        chosen, edits, _ = _choose(_ordered(diags, unsafe, order), doc)
        if not chosen:
            if joined:
                continue  # the transforms before the join have not read the joined text: the next pass does
            result.findings = findings(diags)
            break
        new_text = apply_edits(text, edits)
        new_doc = _step(doc, new_text, chosen, edits, result, history, input_lines, step)
        if new_doc is None:
            # (after a join, the transforms before it read the text before it: the findings need all of them)
            result.findings = all_findings(doc, sup) if joined else findings(diags)
            break
        if new_text == text and not any(d.fix.files for d in chosen):  # type: ignore[union-attr]
            break
        text, doc = new_text, new_doc
        step += 1
    else:
        result.errors.append(f"fixes did not settle after {max_passes} passes; the last result is kept")
    result.text = text
    result.document = doc
    return result


class OverlayContext:
    """The build context as the fixes so far left it: files changed by applied fixes read as their new content."""

    def __init__(self, base: BuildContext, files: dict[str, FileChange]) -> None:
        self.base = base
        self.files = files

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def exists(self, rel: str) -> bool:
        return rel.lstrip("/") in self.files or self.base.exists(rel)

    def read_bytes(self, rel: str, limit: int | None = None) -> bytes:
        fc = self.files.get(rel.lstrip("/"))
        if fc is not None:
            data = fc.after.encode("utf-8")
            return data if limit is None else data[:limit]
        return self.base.read_bytes(rel, limit)


# ------------------------------------------------------------------ semantics guard
GUARDED_FINAL_CONFIG = ("ENTRYPOINT", "CMD", "USER", "WORKDIR", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK")


def _without_digest(ref: str) -> str:
    # pin-digests/refresh-digests add or replace ``@sha256:...`` on purpose; the image named stays the same
    return ref.split("@", 1)[0]


def signature(doc: Document) -> dict[str, Any]:
    """What no fix may change unless a selected transform declares it.

    ``stages``: per stage in order, its index, name (lower case, as BuildKit resolves it), base image without digest
    and ``--platform``; so renaming, reordering, adding, dropping or rebasing a stage shows. ``final-config``: the final
    stage's ENTRYPOINT, CMD, USER, STOPSIGNAL and HEALTHCHECK (the last one counts) and every WORKDIR and EXPOSE, as
    (JSON form, flags, arguments). A transform declares ``stages``, ``final-config`` or one key such as ``final-config.CMD``.
    """
    from dockerfix.model.stages import Model

    m = Model(doc)
    sig: dict[str, Any] = {
        "stages": [(s.index, s.name, _without_digest(s.base), s.platform) for s in m.stages],
    }
    final = m.final_stage()
    conf: dict[str, Any] = {}
    if final is not None:
        for inst in final.instructions:
            key = inst.keyword
            if key in GUARDED_FINAL_CONFIG:
                val = (inst.json, tuple(f.raw for f in inst.flags), tuple(inst.args))
                if key in ("WORKDIR", "EXPOSE"):
                    conf.setdefault(key, []).append(val)
                else:
                    conf[key] = val
    sig["final-config"] = conf
    return sig


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    out = []
    if a["stages"] != b["stages"]:
        out.append(("stages", a["stages"], b["stages"]))
    ca, cb = a["final-config"], b["final-config"]
    for key in GUARDED_FINAL_CONFIG:
        if ca.get(key) != cb.get(key):
            out.append((f"final-config.{key}", ca.get(key), cb.get(key)))
    return out


def guard(before: Document, after: Document, transforms: Sequence[Transform], unsafe: bool) -> None:
    """Raise :class:`EngineError` when ``after`` differs from ``before`` in its :func:`signature` and no selected
    transform that may apply its fixes (a safe one, or any with ``unsafe``) declares that part."""
    if before.to_text() == after.to_text():
        return
    declared: set[str] = set()
    for t in transforms:
        if unsafe or t.safety == "safe":
            declared |= set(t.declares)
    for key, old, new in _differences(signature(before), signature(after)):
        if key in declared or key.split(".", 1)[0] in declared:
            continue
        raise EngineError(
            f"semantics guard: the rewrite changes {key} ({old!r} -> {new!r}) and no selected transform "
            "declares that; nothing was written. This is a dockerfix bug: please report it."
        )
