"""Every fix that disappeared, appeared or changed class on the corpus since the "Safe must mean safe" change is
explained by one of that issue's rules, and the list of explanations has no stale entries.

``tests/data/corpus_fixes_before.json`` holds the records of the code before the change (commit bdad832), made by
``scripts/corpus_fixes.py dump``; this module makes the same records for the code under test, in-process, and diffs
them. Every difference must be listed, with a rule from :data:`RULES`, in ``tests/data/corpus_fix_changes.tsv``
(``file code key before after rule [note]``; ``-`` is the class of a record that does not exist on that side). See
docs/corpus-fixes.md for regenerating the before dump and annotating new differences.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from tests.corpus import CORPUS, corpus_files, require_corpus

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
BEFORE = DATA / "corpus_fixes_before.json"
CHANGES = DATA / "corpus_fix_changes.tsv"
MORE = DATA / "corpus_changes"
"""Later changes, one list per piece of work (``<topic>.tsv``, same columns). Such a list names its own rules in
lines ``#rule <id><TAB><text>``: one rule per kind of change the work meant to make."""

RULES: dict[str, str] = {
    "R1-cache-filled-earlier": "no safe cache mount on a path an earlier instruction or stage fills, or that a later "
    "one (or a stage built FROM this one) reads back: the mount would hide that content",
    "R2-non-posix-shell": "shell rewrites (merge, appended cleanup, cache flags) only under a POSIX shell: not under "
    "SHELL [powershell/cmd] or on Windows images",
    "R3-recursive-chown-narrowed": "folding RUN chown/chmod -R into COPY --chown/--chmod is unsafe when the folder may "
    "hold files the COPY did not bring (the base image's)",
    "R4-cache-path": "a cache mount needs the tool's cache path for the RUN's user and environment (HOME, uid, cache "
    "variables); unknown is a finding",
    "R5-add-without-context": "ADD -> COPY is safe only when the build context shows the source is no archive ADD "
    "would unpack (no context, or a source missing from it, is unsafe)",
    "R6a-appended-command-missing": "a command appended to a RUN (rm, clean) is unsafe or absent when it may be "
    "missing from the image",
    "R6b-dockerignore-reads": "a .dockerignore entry is unsafe when an instruction may read that path",
    "R6c-strategy-once": "the cleanup/cache-mount strategy is decided once from the input, from BuildKit features "
    "only authors add (not COPY --chmod, which copy-chown adds): a fix no longer switches later passes or runs",
    "R6d-dockerignore-self": ".dockerignore never lists the Dockerfile or itself",
    "R6e-control-flow-ends-merge": "no merge when a RUN's control flow would change (exit, return, exec, set -e "
    "changes, a background job, a second RUN that is not a plain && chain)",
    "R6f-indent-inside-word": "a merge re-indents the lines it moves only when that keeps the command: a line that "
    "starts inside quotes or a word ends the block (added by the annotators: review against the issue)",
    "R7a-merge-expensive-steps": "a merge only where the join has a reason (a later RUN deletes what the block made, "
    "apt-get update with its install, bookkeeping): independent expensive steps keep their layers",
    "R7b-comments-in-chain": "a comment line right above a RUN (or a commented-out instruction) never moves into a "
    "chain: the block ends there",
    "R7c-author-suppression": "no fix that fights the author's own suppression (hadolint ignore pragmas for the rule "
    "a fix answers, explicit keep flags)",
    "R7d-apt-keep-cache-shipping-stage": "an apt cache mount in a stage that ships is unsafe: the image keeps apt's "
    "keep-cache setting and loses /var/lib/apt state",
    "R7e-syntax-line": "a `# syntax=` line is added only when a fix needs it, and an existing one is never changed",
    "R7f-stage-names": "fixes keep every stage's name and index (--target and COPY --from keep working)",
    "R7g-author-mounts": "no cache mount added on, or offered for, a RUN that already has the author's mounts for "
    "that tool",
}
"""The rules of the issue that may explain a difference, one line each (as the annotators understood them: the
issue text is the authority)."""


def _lists() -> list:
    return [CHANGES, *sorted(MORE.glob("*.tsv"))]


def _more_rules() -> dict[str, str]:
    rules = {}
    for path in sorted(MORE.glob("*.tsv")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.startswith("#rule "):
                rid, _, text = raw[len("#rule "):].partition("\t")
                rules[rid.strip()] = text.strip()
    return rules


RULES.update(_more_rules())


def _listed():
    return [e for path in _lists() for e in cf.read_tsv(path)]

CLASSES = ("safe", "unsafe", "finding", "error", "-")


def _script():
    name = "_dockerfix_corpus_fixes"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "corpus_fixes.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


cf = _script()


# ------------------------------------------------------------------ the list itself (no corpus needed)
@pytest.mark.parametrize("path", _lists(), ids=lambda p: p.name)
def test_changes_list_is_well_formed(path):
    listed = cf.read_tsv(path)
    before = cf.load_dump(BEFORE)
    files = set(before["files"])
    problems = []
    seen: dict[tuple[str, ...], int] = {}
    for e in listed:
        where = f"{path.name}:{e.lineno}"
        if e.rule not in RULES:
            problems.append(f"{where}: unknown rule {e.rule!r} (known: {', '.join(RULES)})")
        b, a = e.row[3], e.row[4]
        if b not in CLASSES or a not in CLASSES or b == a:
            problems.append(f"{where}: classes {b!r} -> {a!r} (each one of {', '.join(CLASSES)}, and different)")
        if e.row[0] not in files:
            problems.append(f"{where}: {e.row[0]!r} is not a corpus file of the before dump")
        if e.row in seen:
            problems.append(f"{where}: the same row as line {seen[e.row]}")
        seen.setdefault(e.row, e.lineno)
    assert not problems, "\n".join(problems)


def test_classify_proposes_only_known_rules():
    assert cf.hint_rules() <= set(RULES), cf.hint_rules() - set(RULES)


def test_before_dump_is_small():
    assert BEFORE.stat().st_size < 1_000_000


# ------------------------------------------------------------------ the machinery
def _dump(records: dict[str, dict[str, list]]) -> dict:
    return {"format": cf.FORMAT, "files": sorted(records), "reasons": ["why"], "records": records,
            "transforms": {"DFX101": "merge-runs"}, "context": "parent", "select": ["all"], "source": "test"}


def test_diff_matches_keys_as_multisets():
    before = _dump({"a": {"safe": [
        ["DFX101", 3, "safe", 1, "RUN x", -1],
        ["DFX101", 9, "safe", 1, "RUN x", -1],   # the same key twice
        ["DFX101", 5, "safe", 1, "RUN y", -1],
    ]}})
    after = _dump({"a": {"safe": [
        ["DFX101", 4, "safe", 1, "RUN x", -1],   # moved a line: no difference
        ["DFX101", 10, "unsafe", 0, "RUN x", 0],  # the second one changed class
        ["DFX101", 6, "finding", 0, "RUN z", 0],  # appeared; RUN y disappeared
    ]}})
    got = sorted((d.key, d.before, d.after, d.reason) for d in cf.diff(before, after))
    assert got == [("RUN x", "safe", "unsafe", "why"), ("RUN y", "safe", "-", None), ("RUN z", "-", "finding", "why")]
    assert cf.diff(before, before) == []


@pytest.mark.parametrize("code, before, after, reason, key, modes, rule", [
    ("DFX001", "safe", "unsafe", "'a' is not in the build context, so nothing shows it is not a tar archive ADD would "
     "unpack", "ADD a /", ("safe", "unsafe"), "R5-add-without-context"),
    ("DFX202", "safe", "unsafe", "the image keeps apt's keep-cache setting", "RUN apt-get install -y x",
     ("safe", "unsafe"), "R7d-apt-keep-cache-shipping-stage"),
    ("DFX202", "unsafe", "-", None, "RUN --mount=type=cache,target=/go/pkg/mod go build", ("safe", "unsafe"),
     "R7g-author-mounts"),
    ("DFX202", "unsafe", "-", None, "RUN apt-get install -y x", ("unsafe",), "R6c-strategy-once"),
    ("DFX101", "safe", "-", None, "RUN Remove-Item -Force C:/x", ("safe", "unsafe"), "R2-non-posix-shell"),
    ("DFX107", "safe", "unsafe", None, "RUN pip install x", ("safe", "unsafe"), "?"),
])
def test_classify_proposes_from_code_reason_and_key(code, before, after, reason, key, modes, rule):
    d = cf.Difference(modes[0], "f", code, key, before, after, 1, 1, reason, None)
    assert cf.propose(d, modes)[0] == rule


def test_back_through_maps_offsets_to_the_text_before_the_edits():
    from dockerfix.transforms.base import Edit

    old = "RUN a\n\nRUN b\nRUN c\n"
    merge = Edit(5, 11, " && \\\n    ")  # "\n\nRUN " -> " && \\\n    "
    add = Edit(13, 16, "COPY")  # "RUN" (of RUN c) -> "COPY", as a stand-in for a keyword rewrite
    insert = Edit(17, 17, "X")
    edits = [merge, add, insert]
    from dockerfix.engine import apply_edits

    new = apply_edits(old, edits)
    assert new == "RUN a && \\\n    b\nCOPY Xc\n"
    assert cf._back_through(old, edits, 0) == 0  # before every edit
    assert cf._back_through(old, edits, 6) == 5  # inside the merge's new text: where it starts
    assert cf._back_through(old, edits, new.index("b")) == old.index("b")  # right after an edit
    assert cf._back_through(old, edits, new.index("COPY")) == 13
    assert cf._back_through(old, edits, new.index("X")) == 17  # an insertion maps to its point
    assert cf._back_through(old, edits, new.index("c")) == old.index("c")  # after every edit: shifted back
    # a rewrite that keeps text: the kept characters map to where they were
    joined = Edit(0, len(old), "RUN a && \\\n    b && \\\n    c\n")
    assert cf._back_through(old, [joined], joined.text.index("c")) == old.index("c")


def test_records_are_keyed_by_input_instructions():
    """A fix applied in a later pass (apt-lists-cleanup on the RUN merge-runs made) is reported by the engine at a line
    of that pass's text; the record has the line and the instruction of the input."""
    from dockerfix import engine

    text = "FROM debian:12\n# one\nRUN apt-get update\n\nRUN apt-get install -y curl\nRUN mkdir /a\n"
    inputs = {"FROM debian:12", "RUN apt-get update", "RUN apt-get install -y curl", "RUN mkdir /a"}
    rows = cf.run_file(text, engine.select_transforms(["DFX101", "DFX103"], None), unsafe=False, context=None)
    assert rows, "nothing fired"
    for code, line, cls, applied, key, _ in rows:
        assert key in inputs, (code, line, key)
        assert text.splitlines()[line - 1].startswith(key[:10]), (code, line, key)


# ------------------------------------------------------------------ the corpus
@pytest.fixture(scope="module")
def corpus_diff():
    require_corpus()
    before = cf.load_dump(BEFORE)
    t0 = time.perf_counter()
    after = cf.dump(CORPUS, corpus_files(), context=before["context"], source="under test")
    took = time.perf_counter() - t0
    print(f"corpus dump: {len(after['files'])} files, both runs, {took:.1f}s")
    return before, after, cf.diff(before, after)


def test_same_corpus_files(corpus_diff):
    before, after, _ = corpus_diff
    gone, new = cf.missing_files(before, after)
    assert not gone and not new, (
        f"the corpus changed (only before: {gone[:5]}, only now: {new[:5]}): regenerate {BEFORE.name} from the "
        "before commit (docs/corpus-fixes.md)"
    )


def test_every_difference_is_explained(corpus_diff):
    _, _, differences = corpus_diff
    listed = {e.row for e in _listed()}
    unexplained = [d for d in differences if d.row not in listed]
    if unexplained:
        rows = cf.proposals_tsv(cf.classify(unexplained, CORPUS))
        pytest.fail(
            f"{len({d.row for d in unexplained})} corpus difference(s) since the before dump are not explained in "
            f"tests/data/{CHANGES.name} or tests/data/{MORE.name}/*.tsv. Paste these rows into the list of the work "
            "that made them (a new topic gets its own file with its #rule lines), check each proposed rule (RULES in this module) "
            "against the diff and the reason, and fix the rule or drop the REVIEW note; a difference no rule "
            "explains is a regression:\n" + rows,
            pytrace=False,
        )


def test_no_stale_entries(corpus_diff):
    _, _, differences = corpus_diff
    current = {d.row for d in differences}
    stale = [(path, e) for path in _lists() for e in cf.read_tsv(path) if e.row not in current]
    if stale:
        pytest.fail(
            "listed but no longer a difference (remove them):\n"
            + "\n".join(f"{path.name}:{e.lineno}: " + cf.tsv_line((*e.row, e.rule)) for path, e in stale),
            pytrace=False,
        )
