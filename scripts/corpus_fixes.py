#!/usr/bin/env python
"""The fixes dockerfix makes on the shared corpus, per transform and class, and how they moved between two versions.

Modes (``--help`` on each):

  dump      run every transform over every corpus file, with the corpus sweep's selection and build context, once in
            the default (safe) mode and once with ``--unsafe``; write one record per applied fix and per finding
  table     a Markdown table per transform: safe fixes, unsafe fixes and findings, before -> after, and the files
            the default run changes only cosmetically or only in stages that never ship ("noise-only files")
  diff      every record that disappeared, appeared or changed class between two dumps, as TSV rows
  classify  the diff rows with a proposed rule each (a heuristic from the code and the after-state reason text; a
            developer reviews every proposal before it goes into ``tests/data/corpus_fix_changes.tsv``)

``table``, ``diff`` and ``classify`` take BEFORE and AFTER dumps; without AFTER the dump is computed in-process with
the importable dockerfix. Another checkout is measured by putting it first on the path (the venv's editable install
comes after ``PYTHONPATH``)::

    PYTHONPATH=/tmp/dfx-before .venv/bin/python scripts/corpus_fixes.py dump -o before.json

A record's line is in the INPUT file: an engine that keeps its passes (``FixResult.history``) maps every offset
back itself (:mod:`dockerfix.positions`); for an older checkout, whose engine reported a change applied in a later
pass at its line in that pass's text, the same mapping runs here, through the edits every earlier pass applied. Records are matched across versions by
(mode, file, code, key), where the key is the first 80 characters of the input instruction at that place, whitespace
collapsed; so a fix still matches when the lines above it moved. A key may repeat (two identical RUN lines, or two
findings of one transform on one instruction): matching compares the classes of each key as a multiset.

Classes: ``safe`` and ``unsafe`` are the applicability of the diagnostic's fix (applied or not: in the default run an
unsafe fix is offered, not applied), ``finding`` is a diagnostic without a fix or with a display-only one, ``error``
an engine error for the file (code ``ERROR``, the key is the message). The engine runs untouched: each transform is
wrapped so that its diagnostics lead back to the pass that reported them (see :class:`_Probe`).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import subprocess
import sys
from bisect import bisect_right
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
FORMAT = 1
SELECT = ("all",)
"""The corpus sweep's selection (tests/test_corpus_sweep.py): every transform, the registry ones with no services."""
KEY_CHARS = 80
MODES = ("safe", "unsafe")
CLASSES = ("safe", "unsafe", "finding", "error")
NONE = "-"
"""The class of a record that does not exist on one side of a difference (appeared: before is ``-``)."""
TSV_COLUMNS = ("file", "code", "key", "before", "after", "rule")


# ------------------------------------------------------------------ the corpus
def _corpus_module() -> Any:
    """``tests/corpus.py`` of this checkout (the one owner of which corpus files count), loaded by path: run against
    another checkout, ``import tests.corpus`` would find that checkout's copy, whose corpus path is relative to it."""
    name = "_dockerfix_tests_corpus"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "corpus.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


def default_corpus() -> Path:
    return Path(_corpus_module().CORPUS)


def corpus_paths(corpus: Path) -> list[Path]:
    """The files the corpus sweep runs on (``tests.corpus.corpus_files()``: the negative section excluded)."""
    mod = _corpus_module()
    saved = mod.CORPUS
    mod.CORPUS = Path(corpus)
    try:
        return mod.corpus_files()
    finally:
        mod.CORPUS = saved


# ------------------------------------------------------------------ running one file
def _key(text: str) -> str:
    return " ".join(text.split())[:KEY_CHARS]


def _positions_module() -> Any:
    """``dockerfix/positions.py`` of this checkout (the one implementation of the offset mapping the engine uses),
    loaded by path like :func:`_corpus_module`: measuring an older checkout (``PYTHONPATH``), whose engine reports
    positions per pass and has no such module, maps its changes back with this one. The module imports nothing from
    dockerfix at run time."""
    name = "_dockerfix_positions"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "dockerfix" / "positions.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


def _back_through(text: str, edits: list[Any], offset: int) -> int:
    """:func:`dockerfix.positions.back_through` (this checkout's)."""
    return int(_positions_module().back_through(text, edits, offset))


def _back_by_lines(old: str, new: str, offset: int) -> int:
    """A fallback for :func:`_back_through` when a pass's edits are not known: the start of the line of ``old`` that
    the line of ``offset`` came from, by a line diff (a rewritten region maps line by line, then to its last line)."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    line = new.count("\n", 0, offset)
    target = len(a)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if j1 <= line < j2:
            target = i1 + (line - j1 if tag == "equal" else min(line - j1, max(i2 - i1 - 1, 0)))
            break
    return sum(len(x) for x in a[:target])


class _Input:
    """The input file's instructions by offset, for lines and keys."""

    def __init__(self, text: str, doc: Any) -> None:
        self.text = text
        self.spans = sorted(
            (node.start, node.end, node.line) for node in doc.nodes if getattr(node, "start_line", None) is not None
        )
        self.starts = [s for s, _, _ in self.spans]

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def key(self, offset: int) -> str:
        """The instruction at ``offset``, else the line there (a comment, or the end of the file)."""
        i = bisect_right(self.starts, offset) - 1
        if i >= 0 and offset < self.spans[i][1]:
            return _key(self.spans[i][2])
        lo = self.text.rfind("\n", 0, offset) + 1
        hi = self.text.find("\n", offset)
        return _key(self.text[lo : hi if hi >= 0 else len(self.text)])


_TAG = "\x00corpus-fixes:"


class _Probe:
    """A transform as the engine sees it (every attribute is the wrapped one's), whose diagnostics carry an id at the
    end of their message; the engine copies the message into each ``Change``, so every change and finding leads back
    to its diagnostic (with the fix's applicability) and to the text of the pass that reported it. The engine's loop
    runs untouched."""

    def __init__(self, transform: Any, seen: "_Seen") -> None:
        self._transform = transform
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transform, name)

    def check(self, ctx: Any) -> list[Any]:
        return [self._seen.tag(ctx.document, d) for d in self._transform.check(ctx)]


class _Seen:
    def __init__(self) -> None:
        self.docs: list[Any] = []
        self.texts: list[str] = []
        self.diags: list[tuple[int, Any]] = []

    def tag(self, doc: Any, d: Any) -> Any:
        from dockerfix._record import replace

        if not self.docs or self.docs[-1] is not doc:
            self.docs.append(doc)
            self.texts.append(doc.to_text())
        self.diags.append((len(self.texts) - 1, d))
        return replace(d, message=f"{d.message}{_TAG}{len(self.diags) - 1}")

    def diagnostic(self, change: Any) -> tuple[int, Any]:
        return self.diags[int(change.message.rsplit(_TAG, 1)[1])]


def _class(d: Any) -> str:
    from dockerfix.transforms.base import Applicability

    if d.fix is None or d.fix.applicability is Applicability.DISPLAY:
        return "finding"
    return "safe" if d.fix.applicability is Applicability.SAFE else "unsafe"


OLD_EFFECTS: dict[tuple[str, str | None], str] = {
    ("DFX001", None): "cosmetic", ("DFX301", "Remove --chown"): "cosmetic", ("DFX202", None): "cache",
    ("DFX102", None): "correctness", ("DFX401", None): "correctness", ("DFX402", None): "correctness",
}
"""The cosmetic fixes of versions before ``Transform.effect`` (issue 19), to measure a before checkout the same way:
(code, fix title or None for any) -> effect."""


def fix_effect(transform: Any, code: str, title: str | None) -> str:
    """``cosmetic``, ``size``...: the transform's own class for the fix (``Transform.effect_of``), else
    :data:`OLD_EFFECTS`."""
    of = getattr(transform, "effect_of", None) if transform is not None else None
    if of is not None:
        return of(title)
    return OLD_EFFECTS.get((code, title), OLD_EFFECTS.get((code, None), "size"))


def _noise(doc: Any, transforms: list[Any], changes: list[tuple[Any, int]]) -> list[list]:
    """``[code, 1 or 0]`` per applied fix: 1 when the fix is cosmetic, or is about size and lies in a stage that
    never ships (only copied from; the build-state model says), so it saves no bytes in any image anyone pulls. A
    cache or correctness fix earns its place in a build stage too."""
    from dockerfix.model.stages import Model

    by_code = {t.code: t for t in transforms}
    model = Model(doc)
    insts = list(doc.instructions)
    out = []
    for d, line in changes:
        effect = fix_effect(by_code.get(d.code), d.code, d.fix.title)
        noise = effect == "cosmetic"
        if effect == "size" and not d.fix.files and insts:
            at = [i for i in insts if i.start_line <= line]
            stage = model.stage_of(at[-1]) if at else None
            noise = stage is not None and not model.state.ships(stage)[0]
        out.append([d.code, int(noise)])
    return out


def run_file(text: str, transforms: list[Any], *, unsafe: bool, context: str | None,
             noise: list | None = None) -> list[tuple]:
    """The records of one file in one mode: ``(code, input line, class, applied, key, reason)``, sorted.

    ``noise``: a list that gets ``[code, 0/1]`` per applied fix (see :func:`_noise`).

    What ``dockerfix.fix`` does (the engine's fixed point, then the semantics guard), with every transform wrapped in a
    :class:`_Probe` so that each change's line can be mapped from the text of the pass that applied it back to the
    input."""
    from dockerfix import engine
    from dockerfix.syntax import DockerfileSyntaxError, parse

    try:
        doc = parse(text)
    except DockerfileSyntaxError as exc:
        return [("ERROR", 0, "error", False, _key(str(exc)), None)]
    bc = None
    if context is not None:
        from dockerfix.io.context import DirectoryContext

        bc = DirectoryContext(context)
    seen = _Seen()
    probes = [_Probe(t, seen) for t in transforms]
    result = engine.fix_document(doc, probes, unsafe=unsafe, build_context=bc)
    errors = list(result.errors)
    if result.changed:
        try:
            engine.guard(doc, result.document or parse(result.text), transforms, unsafe)
        except engine.EngineError as exc:
            errors.append(str(exc))

    texts = seen.texts
    history = getattr(result, "history", None)
    if history is not None:
        def input_offset(k: int, offset: int) -> int:
            return int(history.to_input(offset, k))
    else:  # an engine before dockerfix.positions: rebuild each pass's edits from the diagnostics it applied
        passes: dict[int, set[Any]] = {}
        for c in result.changes:
            k, d = seen.diagnostic(c)
            passes.setdefault(k, set()).update(d.fix.edits)
        # the edits pass k applied take texts[k] to texts[k + 1] (an edit two fixes share is applied once)
        edits = {k: sorted(v) for k, v in passes.items()}
        exact = {
            k: k + 1 >= len(texts) or engine.apply_edits(texts[k], e) == texts[k + 1] for k, e in edits.items()
        }

        def input_offset(k: int, offset: int) -> int:
            for j in range(k - 1, -1, -1):
                if exact.get(j, False):
                    offset = _back_through(texts[j], edits[j], offset)
                else:
                    offset = _back_by_lines(texts[j], texts[j + 1], offset)
            return offset

    inp = _Input(text, doc)
    if noise is not None:
        applied_fixes = []
        for c in result.changes:
            k, d = seen.diagnostic(c)
            applied_fixes.append((d, inp.line(input_offset(k, d.start))))
        noise.extend(_noise(doc, transforms, applied_fixes))
    out = []
    for changes, applied in ((result.changes, True), (result.findings, False)):
        for c in changes:
            k, d = seen.diagnostic(c)
            o = input_offset(k, d.start)
            out.append((d.code, inp.line(o), _class(d), applied, inp.key(o), d.reason))
    out.extend(("ERROR", 0, "error", False, _key(e), None) for e in errors)
    out.sort(key=lambda r: (r[0], r[1], r[4], r[2], r[3], r[5] or ""))
    return out


# ------------------------------------------------------------------ the dump
def source_version() -> str:
    """Which dockerfix ran: ``git describe --always --dirty`` of its checkout, else its path."""
    import dockerfix

    where = Path(dockerfix.__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return rev or str(where)


def dump(corpus: Path, paths: Iterable[Path] | None = None, *, context: str = "parent",
         source: str | None = None) -> dict[str, Any]:
    """Run both modes over ``paths`` (the corpus sweep's files when None); the dump as a JSON-ready dict.

    ``context``: ``parent`` gives each file its folder as the build context (as the corpus sweep does), ``none``
    gives none."""
    import dockerfix
    from dockerfix import engine

    if context not in ("parent", "none"):
        raise ValueError(f"context must be parent or none, not {context!r}")
    corpus = Path(corpus)
    paths = corpus_paths(corpus) if paths is None else list(paths)
    transforms = engine.select_transforms(list(SELECT), None)
    reasons: dict[str, int] = {}
    files: list[str] = []
    records: dict[str, dict[str, list]] = {}
    noise: dict[str, dict[str, list]] = {}
    with dockerfix.batch():
        for p in paths:
            rel = p.relative_to(corpus).as_posix()
            files.append(rel)
            text = p.read_bytes().decode("utf-8")
            ctx = str(p.parent) if context == "parent" else None
            per_mode = {}
            for mode in MODES:
                applied: list = []
                rows = run_file(text, transforms, unsafe=mode == "unsafe", context=ctx, noise=applied)
                if applied:
                    noise.setdefault(rel, {})[mode] = applied
                if rows:
                    per_mode[mode] = [
                        [code, line, cls, int(app), key, -1 if why is None else reasons.setdefault(why, len(reasons))]
                        for code, line, cls, app, key, why in rows
                    ]
            if per_mode:
                records[rel] = per_mode
    return {
        "format": FORMAT,
        "source": source if source is not None else source_version(),
        "select": list(SELECT),
        "context": context,
        "transforms": {t.code: t.name for t in dockerfix.transforms()},
        "files": files,
        "reasons": list(reasons),
        "records": records,
        "noise": noise,
    }


def write_dump(data: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def load_dump(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise SystemExit(f"{path}: dump format {data.get('format')!r}, this script reads {FORMAT}")
    return data


class Record(NamedTuple):
    mode: str
    file: str
    code: str
    line: int
    cls: str
    applied: bool
    key: str
    reason: str | None


def records(data: dict[str, Any]) -> Iterable[Record]:
    reasons = data["reasons"]
    for file, per_mode in data["records"].items():
        for mode, rows in per_mode.items():
            for code, line, cls, app, key, why in rows:
                yield Record(mode, file, code, line, cls, bool(app), key, None if why < 0 else reasons[why])


# ------------------------------------------------------------------ table
def counts(data: dict[str, Any]) -> dict[str, Counter]:
    """Per code: ``safe`` = safe fixes applied by the default run, ``unsafe`` = unsafe fixes applied with --unsafe,
    ``finding`` = findings without a fix in the default run, ``error`` = engine errors (either run)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for r in records(data):
        if r.cls == "error":
            out[r.code]["error"] += 1
        elif r.mode == "safe" and r.cls == "safe" and r.applied:
            out[r.code]["safe"] += 1
        elif r.mode == "unsafe" and r.cls == "unsafe" and r.applied:
            out[r.code]["unsafe"] += 1
        elif r.mode == "safe" and r.cls == "finding":
            out[r.code]["finding"] += 1
    return out


def _cell(a: int | None, b: int | None) -> str:
    a_, b_ = ("?" if a is None else a), ("?" if b is None else b)
    return str(a_) if a_ == b_ else f"{a_} → {b_}"


def noise_files(data: dict[str, Any], mode: str = "safe") -> dict[str, int] | None:
    """Per code, the files the ``mode`` run changes only with noise (every applied fix cosmetic or in a stage that
    never ships) that this code took part in; ``"total"``: all such files. None for a dump without noise data."""
    if "noise" not in data:
        return None
    out: Counter = Counter()
    for per_mode in data["noise"].values():
        fixes = per_mode.get(mode) or []
        if fixes and all(n for _, n in fixes):
            out["total"] += 1
            out.update({code for code, _ in fixes})
    return out


def table(before: dict[str, Any], after: dict[str, Any]) -> str:
    cb, ca = counts(before), counts(after)
    names = {**before.get("transforms", {}), **after.get("transforms", {})}
    codes = sorted(set(cb) | set(ca) | set(names))
    cols = ["safe", "unsafe", "finding"]
    with_errors = any(c["error"] for c in (*cb.values(), *ca.values()))
    if with_errors:
        cols.append("error")
    heads = {"safe": "safe fixes", "unsafe": "unsafe fixes", "finding": "findings", "error": "errors",
             "noise": "noise-only files"}
    nb, na = noise_files(before), noise_files(after)
    cols.append("noise")

    def cell(code: str, col: str, b: Counter, a: Counter) -> str:
        if col == "noise":
            return _cell(None if nb is None else nb.get(code, 0), None if na is None else na.get(code, 0))
        return _cell(b[col], a[col])

    lines = [
        "| transform | " + " | ".join(heads[c] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    total_b: Counter = Counter()
    total_a: Counter = Counter()
    for code in codes:
        b, a = cb.get(code, Counter()), ca.get(code, Counter())
        total_b.update(b)
        total_a.update(a)
        label = f"{code} {names[code]}" if code in names else code
        lines.append(f"| {label} | " + " | ".join(cell(code, c, b, a) for c in cols) + " |")
    lines.append("| **total** | " + " | ".join(f"**{cell('total', c, total_b, total_a)}**" for c in cols) + " |")
    lines.append("")
    lines.append("noise-only files: files the default run changes only cosmetically (Transform.effect) or only in "
                 "stages that never ship; per transform, those it took part in.")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ diff
class Difference(NamedTuple):
    mode: str
    file: str
    code: str
    key: str
    before: str
    after: str
    line_before: int
    line_after: int
    reason: str | None
    """The after-state diagnostic's reason (None for a record that disappeared)."""
    reason_before: str | None

    @property
    def row(self) -> tuple[str, str, str, str, str]:
        """What ``tests/data/corpus_fix_changes.tsv`` lists (modes merged: one rule explains both runs)."""
        return (self.file, self.code, self.key, self.before, self.after)


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """Every record that disappeared (after ``-``), appeared (before ``-``) or changed class, per mode. Within one
    (mode, file, code, key) the classes are compared as multisets: equal classes cancel, the rest pair up in order
    as class changes, and what is left over disappeared or appeared."""
    groups: dict[tuple[str, str, str, str], tuple[list[Record], list[Record]]] = defaultdict(lambda: ([], []))
    for side, data in ((0, before), (1, after)):
        for r in records(data):
            groups[(r.mode, r.file, r.code, r.key)][side].append(r)
    out: list[Difference] = []
    for (mode, file, code, key), (bs, as_) in sorted(groups.items()):
        bs = sorted(bs, key=lambda r: (CLASSES.index(r.cls), r.line))
        as_ = sorted(as_, key=lambda r: (CLASSES.index(r.cls), r.line))
        left = list(bs)
        right = []
        for r in as_:
            match = next((i for i, b in enumerate(left) if b.cls == r.cls), None)
            if match is None:
                right.append(r)
            else:
                del left[match]
        for i in range(max(len(left), len(right))):
            b = left[i] if i < len(left) else None
            a = right[i] if i < len(right) else None
            out.append(Difference(
                mode, file, code, key,
                b.cls if b else NONE, a.cls if a else NONE,
                b.line if b else 0, a.line if a else 0,
                a.reason if a else None, b.reason if b else None,
            ))
    return out


def missing_files(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Corpus files scanned by only one dump (the corpus changed: regenerate the before dump)."""
    fb, fa = set(before["files"]), set(after["files"])
    return sorted(fb - fa), sorted(fa - fb)


def _tsv_field(s: str) -> str:
    return s.replace("\t", " ").replace("\n", " ")


def tsv_line(row: Iterable[str]) -> str:
    return "\t".join(_tsv_field(str(c)) for c in row)


def rows(differences: Iterable[Difference]) -> list[tuple[str, ...]]:
    """The distinct TSV rows (file, code, key, before, after) of ``differences``, sorted."""
    return sorted({d.row for d in differences})


class Listed(NamedTuple):
    row: tuple[str, ...]
    """(file, code, key, before, after)"""
    rule: str
    note: str
    lineno: int


def read_tsv(path: Path) -> list[Listed]:
    """The entries of a changes list: tab-separated ``file code key before after rule [note]``; blank lines, ``#``
    lines and the header are skipped."""
    out = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cells = raw.split("\t")
        if tuple(cells[: len(TSV_COLUMNS)]) == TSV_COLUMNS:
            continue
        if len(cells) not in (len(TSV_COLUMNS), len(TSV_COLUMNS) + 1):
            raise ValueError(f"{path}:{n}: {len(cells)} columns, expected {len(TSV_COLUMNS)} (and a note): {raw!r}")
        note = cells[len(TSV_COLUMNS)] if len(cells) > len(TSV_COLUMNS) else ""
        out.append(Listed(tuple(cells[:5]), cells[5], note, n))
    return out


# ------------------------------------------------------------------ classify
_WINDOWS = ("c:\\", "c:/", "$env:", "-item ", "powershell", "cmd /", "start /w")
_CLEANUPS = ("DFX103", "DFX104", "DFX105", "DFX106", "DFX107", "DFX108", "DFX109", "DFX110", "DFX111", "DFX202")

_HINTS: tuple[tuple[tuple[str, ...], str, tuple[str, ...], str], ...] = (
    # (codes, or () for any; where to look: "reason" (after state), "key", or "gone" (the key of a record that
    # disappeared); words, any of which matches; rule). The first match wins. Every rule id must be in RULES of
    # tests/test_corpus_fix_changes.py (a test checks).
    ((), "reason", ("posix shell", "powershell", "windows", "cmd.exe", "shell is not"), "R2-non-posix-shell"),
    (("DFX101", *_CLEANUPS), "key", _WINDOWS, "R2-non-posix-shell"),
    (("DFX001",), "reason", ("build context", "archive", "onbuild"), "R5-add-without-context"),
    (("DFX301",), "reason", ("may ship files", "chown -r", "chmod -r", "recursive"), "R3-recursive-chown-narrowed"),
    ((), "reason", ("keep-cache",), "R7d-apt-keep-cache-shipping-stage"),
    (("DFX202",), "gone", ("--mount=",), "R7g-author-mounts"),
    ((), "reason", ("reads it back", "read back", " fills ", "cannot be read", "writes to", "back; with a cache mount"),
     "R1-cache-filled-earlier"),
    ((), "reason", ("not at a known place", "unknown home", "uid", "user the run runs as"), "R4-cache-path"),
    (("DFX101",), "reason", ("comment",), "R7b-comments-in-chain"),
    (("DFX101",), "reason", ("exit", "exec", "background", "set +e", "||"), "R6e-control-flow-ends-merge"),
    ((), "reason", ("syntax",), "R7e-syntax-line"),
    ((), "reason", ("stage name", "renam"), "R7f-stage-names"),
    ((), "reason", ("hadolint", "pragma", "suppress", "ignore="), "R7c-author-suppression"),
    (("DFX203",), "reason", ("itself", "dockerfile"), "R6d-dockerignore-self"),
    (("DFX203",), "reason", (), "R6b-dockerignore-reads"),
    ((), "reason", ("missing", "not installed", "may not exist", "not on the path"), "R6a-appended-command-missing"),
)

_EXPENSIVE = (
    r"apt(-get)? (\S+ )*(install|update)", r"apk (\S+ )*add", r"(yum|dnf|microdnf|zypper) (\S+ )*(install|in)\b",
    r"pip3? (\S+ )*install", r"npm (install|ci)\b", r"yarn( install| add|$)", r"pnpm install", r"gem install",
    r"bundle install", r"go (build|install|mod download)", r"cargo (build|install|fetch)", r"\bc?make\b", r"\bmvn\b",
    r"\bgradlew?\b", r"dotnet (restore|publish|build)", r"composer install", r"conda install", r"\bcurl\b",
    r"\bwget\b", r"git clone", r"\./configure",
)
"""Steps whose layer is worth keeping on its own (a heuristic for R7a)."""
_FLOW_ENDS = (r"(^|[;&|(]\s*|\s)exit\b", r"\bexec\s", r"set \+e", r"\|\|", r"(?<![&>|<])&(?![&>])")
"""Shell that ends or hides the control flow of what follows: exit, exec, set +e, ``||``, a background job (R6e)."""


def _first(patterns: tuple[str, ...], *texts: str) -> str | None:
    import re

    for pat in patterns:
        for t in texts:
            m = re.search(pat, t)
            if m:
                return m.group(0).strip()
    return None


def _join_rule(first: Any, between: list[str], second: Any) -> tuple[str, str]:
    """Why merge-runs may now refuse to join RUN ``first`` with RUN ``second`` (``between``: the comment and blank
    lines between them), with the evidence."""
    comments = [t for t in between if t.lstrip().startswith("#")]
    if any("hadolint" in t and "DL3059" in t for t in comments):
        return "R7c-author-suppression", "a hadolint ignore of DL3059 above the second RUN"
    if comments or "\n#" in first.source or "\n#" in second.source.lstrip():
        return "R7b-comments-in-chain", "a comment between or inside the RUNs"
    if _first((r"\S\\\r?\n\S",), first.source, second.source):
        return "R6f-indent-inside-word", "a continuation line starts inside a word"
    end = _first(_FLOW_ENDS, first.line)
    if end:
        return "R6e-control-flow-ends-merge", f"the first RUN has {end!r}"
    step = _first(_EXPENSIVE, first.line, second.line)
    if step:
        return "R7a-merge-expensive-steps", f"an expensive step ({step!r})"
    return "R7a-merge-expensive-steps", "no reason for the join in sight (no cleanup, update+install, bookkeeping)"


def _merge_rule(corpus: Path | None, d: Difference) -> tuple[str, str]:
    """For a merge (DFX101) that disappeared: a rule from the RUN of its key and the RUN below (the join the merge
    began with); for one that appeared: from the RUN above and the RUN of its key (the join that now ends the block
    above, so a new block starts here). Read from the corpus file."""
    if corpus is None:
        return "?", ""
    try:
        from dockerfix.syntax import parse

        doc = parse((Path(corpus) / d.file).read_bytes().decode("utf-8"))
    except Exception:  # the corpus moved or the file no longer parses: no proposal
        return "?", ""
    nodes = list(doc.nodes)
    appeared = d.before == NONE
    found = "?", "the key's RUN is not in the corpus file"
    for i, node in enumerate(nodes):  # a key may name several RUNs (80 characters): the first that joins a RUN
        if getattr(node, "keyword", None) != "RUN" or _key(node.line) != d.key:
            continue
        between: list[str] = []
        other = None
        for near in (reversed(nodes[:i]) if appeared else nodes[i + 1 :]):
            if getattr(near, "keyword", None) is None:
                between.append(getattr(near, "text", ""))
                continue
            other = near
            break
        if other is None or other.keyword != "RUN":
            found = ("R7a-merge-expensive-steps", "a merge block that starts here now") if appeared else (
                "?", "the next instruction is no RUN")
            continue
        return _join_rule(other, between[::-1], node) if appeared else _join_rule(node, between, other)
    return found


def propose(d: Difference, modes: Iterable[str] = MODES, corpus: Path | None = None) -> tuple[str, str]:
    """A rule for ``d`` and the evidence: from its code, the after-state reason text and key, and for a merge that
    disappeared, the corpus file. ``?`` when nothing fits. ``modes``: the runs in which this row differs. A proposal
    for a developer to review, never a verdict."""
    if d.code == "ERROR":
        return "?", ""
    reason = (d.reason or "").lower()
    key = d.key.lower()
    for codes, where, words, rule in _HINTS:
        if codes and d.code not in codes:
            continue
        if where == "gone" and d.after != NONE:
            continue
        text = reason if where == "reason" else key
        if words and not any(w in text for w in words):
            continue
        if not words and not reason:
            continue
        return rule, ""
    if d.code == "DFX202" and d.after == NONE and set(modes) == {"unsafe"}:
        return "R6c-strategy-once", ("gone only with --unsafe: another unsafe fix (COPY --chmod) made the file need "
                                     "BuildKit, which used to switch the later passes to cache mounts")
    if d.code == "DFX101" and NONE in (d.before, d.after):
        return _merge_rule(corpus, d)
    return "?", ""


def hint_rules() -> set[str]:
    """Every rule id :func:`propose` can return."""
    return {rule for _, _, _, rule in _HINTS} | {
        "R6c-strategy-once", "R7b-comments-in-chain", "R6e-control-flow-ends-merge", "R7a-merge-expensive-steps",
        "R7c-author-suppression", "R6f-indent-inside-word",
    }


class Proposal(NamedTuple):
    row: tuple[str, ...]
    rule: str
    note: str


def classify(differences: list[Difference], corpus: Path | None = None) -> list[Proposal]:
    """Each distinct TSV row with a proposed rule and a note for the reviewer: the runs it differs in, the reason
    text or evidence the proposal came from. A row no hint fits, in a file where merges (DFX101) changed, takes the
    file's merge proposal: the fixes of a RUN follow which RUNs were merged (a cleanup appended to each RUN instead
    of the merged one, a finding about the split)."""
    modes: dict[tuple[str, ...], list[str]] = defaultdict(list)
    first: dict[tuple[str, ...], Difference] = {}
    for d in differences:
        first.setdefault(d.row, d)
        if d.mode not in modes[d.row]:
            modes[d.row].append(d.mode)
    proposed = {row: propose(first[row], modes[row], corpus) for row in first}
    merges: dict[str, Counter] = defaultdict(Counter)
    for row, (rule, _) in proposed.items():
        if row[1] == "DFX101" and rule != "?":
            merges[row[0]][rule] += 1
    out = []
    for row in sorted(first):
        d = first[row]
        rule, evidence = proposed[row]
        if rule == "?" and merges.get(row[0]):
            rule = merges[row[0]].most_common(1)[0][0]
            evidence = "follows the merge changes (DFX101) in this file"
        runs = "both runs" if len(modes[row]) == len(MODES) else f"{modes[row][0]} run only"
        parts = [runs]
        if evidence:
            parts.append(evidence)
        if d.reason:
            parts.append(f"reason: {d.reason}")
        if d.reason_before and d.reason_before != d.reason:
            parts.append(f"before: {d.reason_before}")
        out.append(Proposal(row, rule, "REVIEW proposed by classify (" + "; ".join(parts) + ")"))
    return out


def proposals_tsv(proposals: Iterable[Proposal]) -> str:
    """The rows to paste into the changes list, with the header; the note column is optional there."""
    lines = [tsv_line((*TSV_COLUMNS, "note"))]
    lines.extend(tsv_line((*p.row, p.rule, p.note)) for p in proposals)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ command line
def _after(args: argparse.Namespace) -> dict[str, Any]:
    if args.after is not None:
        return load_dump(args.after)
    before = load_dump(args.before)
    return dump(args.corpus, context=before.get("context", "parent"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("dump", help="run both modes over the corpus and write the records as JSON")
    d.add_argument("-o", "--output", type=Path, help="the JSON file (default: stdout)")
    d.add_argument("--context", choices=("parent", "none"), default="parent",
                   help="build context per file: its folder, as the corpus sweep does (default), or none")
    for name, text in (
        ("table", "Markdown table per transform: safe fixes, unsafe fixes, findings, before -> after"),
        ("diff", "TSV of every record that disappeared, appeared or changed class"),
        ("classify", "the diff with a proposed rule per row (review before use)"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("before", type=Path, help="the before dump")
        s.add_argument("after", type=Path, nargs="?", help="the after dump (default: compute it now)")
        if name == "diff":
            s.add_argument("--modes", action="store_true", help="one row per mode, with lines and the reason text")
    for s in sub.choices.values():
        s.add_argument("--corpus", type=Path, default=None, help="the corpus (default: tests/corpus.py's)")
    args = p.parse_args(argv)
    if args.corpus is None:
        args.corpus = default_corpus()
    if args.mode == "dump":
        if not args.corpus.is_dir():
            p.error(f"corpus not found at {args.corpus}")
        write_dump(dump(args.corpus, context=args.context), args.output)
        return 0
    before = load_dump(args.before)
    after = _after(args)
    gone, new = missing_files(before, after)
    for f in gone:
        print(f"# only in before: {f}", file=sys.stderr)
    for f in new:
        print(f"# only in after: {f}", file=sys.stderr)
    if args.mode == "table":
        sys.stdout.write(table(before, after))
        return 0
    differences = diff(before, after)
    if args.mode == "diff":
        if args.modes:
            print(tsv_line(("mode", "file", "code", "key", "before", "after", "line-before", "line-after", "reason",
                            "reason-before")))
            for x in differences:
                print(tsv_line((x.mode, x.file, x.code, x.key, x.before, x.after, x.line_before, x.line_after,
                                x.reason or "", x.reason_before or "")))
        else:
            print(tsv_line(TSV_COLUMNS[:-1]))
            for row in rows(differences):
                print(tsv_line(row))
        return 0
    sys.stdout.write(proposals_tsv(classify(differences, args.corpus)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
