"""SARIF 2.1.0 (one run; ``tool.driver.rules`` from the transform registry).

Each change or finding is a result with ``ruleId``/``ruleIndex``, ``level`` ``warning``, a message, and a location
with a 1-based ``region`` (``startLine``/``startColumn``/``endLine``). Results whose fix is applied (or would be, in
report mode) carry ``fixes``: the diff hunk(s) of the rewritten file that cover the result's line, as
``artifactChanges[].replacements`` with ``deletedRegion`` given by ``charOffset``/``charLength`` in the original text
and the ``insertedContent`` text. Files that could not be processed become ``toolExecutionNotifications``.
"""

from __future__ import annotations

import difflib
import json

from dockerfix.outputs import FileReport
from dockerfix.outputs.diff import split_lines

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


def rules() -> list[dict]:
    from dockerfix.transforms.registry import all_transforms

    out = []
    for t in all_transforms():
        docs = getattr(t, "docs", "") or t.summary
        out.append({
            "id": t.code,
            "name": t.name,
            "shortDescription": {"text": t.summary},
            "fullDescription": {"text": t.summary},
            "help": {"text": docs, "markdown": docs},
            "defaultConfiguration": {"level": "warning", "enabled": bool(getattr(t, "default_enabled", True))},
            "properties": {"fixSafety": t.safety},
        })
    return out


def _hunks(before: str, after: str) -> list[tuple[int, int, int, int, str]]:
    """(first line, last line (exclusive), charOffset, charLength, inserted text) per changed block, 1-based lines."""
    a, b = split_lines(before), split_lines(after)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        out.append((i1 + 1, i2 + 1, starts[i1], starts[i2] - starts[i1], "".join(b[j1:j2])))
    return out


def _fixes(r: FileReport, line: int, hunks, title: str | None) -> list[dict]:
    mine = [h for h in hunks if h[0] <= line < max(h[1], h[0] + 1)]
    if not mine:
        return []
    return [{
        "description": {"text": title or "Apply the fix"},
        "artifactChanges": [{
            "artifactLocation": {"uri": r.path},
            "replacements": [
                {"deletedRegion": {"charOffset": off, "charLength": length}, "insertedContent": {"text": text}}
                for _, _, off, length, text in mine
            ],
        }],
    }]


def sarif_log(reports: list[FileReport]) -> dict:
    from dockerfix import __version__

    rule_list = rules()
    index = {r["id"]: i for i, r in enumerate(rule_list)}
    results = []
    notifications = []
    for r in reports:
        if r.error is not None:
            n = {
                "level": "error",
                "message": {"text": r.error.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.path}}}],
                "properties": {"kind": r.error.kind},
            }
            if r.error.line is not None:
                n["locations"][0]["physicalLocation"]["region"] = {
                    "startLine": r.error.line, "startColumn": r.error.column or 1,
                }
            notifications.append(n)
            continue
        for e in r.internal_errors:
            notifications.append({
                "level": "error", "message": {"text": e},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.path}}}],
            })
        hunks = _hunks(r.original, r.text) if r.changed else []
        for c in r.all():
            res = {
                "ruleId": c.code,
                "level": "warning",
                "message": {"text": c.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": r.path},
                        "region": {"startLine": c.line, "startColumn": c.column, "endLine": max(c.end_line or c.line, c.line)},
                    }
                }],
                "properties": {"name": c.name, "safe": c.safe, "applied": c.applied, "fix": c.fix_title},
            }
            if c.code in index:
                res["ruleIndex"] = index[c.code]
            if c.applied:
                fixes = _fixes(r, c.line, hunks, c.fix_title)
                if fixes:
                    res["fixes"] = fixes
            results.append(res)
    run = {
        "tool": {"driver": {
            "name": "dockerfix",
            "version": __version__,
            "rules": rule_list,
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{
            "executionSuccessful": not notifications,
            "toolExecutionNotifications": notifications,
        }],
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(reports: list[FileReport]) -> str:
    return json.dumps(sarif_log(reports), indent=2, ensure_ascii=False) + "\n"
