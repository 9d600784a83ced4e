"""SARIF 2.1.0 (one run; ``tool.driver.rules`` from the transform registry).

Each change or finding is a result with ``ruleId``/``ruleIndex``, ``level`` ``warning``, a message, and a location
with a 1-based ``region`` (``startLine``/``startColumn``/``endLine``) in the input file, whichever pass of the fixed
point reported it. Results whose fix is applied (or would be, in report mode) carry ``fixes``: the fix's own edits as
``artifactChanges[].replacements``, ``deletedRegion`` given by ``charOffset``/``charLength`` in the input text and
the ``insertedContent`` text. A fix the engine applied in a later pass, on text an earlier fix wrote, cannot be
stated on the input alone: it is composed with the edits it touches into one replacement of the whole input span
they cover (with the rewritten file's text for it), and every result involved carries that same replacement. So
the distinct replacements never overlap, and applying each once to the input gives the rewritten file
(:func:`dockerfix.positions.input_replacements`). Files that could not be processed become
``toolExecutionNotifications``.
"""

from __future__ import annotations

import json

from dockerfix.outputs import FileReport

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

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


def _fixes(r: FileReport, replacements: list[tuple[int, int, str]], title: str | None) -> list[dict]:
    if not replacements:
        return []
    return [{
        "description": {"text": title or "Apply the fix"},
        "artifactChanges": [{
            "artifactLocation": {"uri": r.path},
            "replacements": [
                {"deletedRegion": {"charOffset": start, "charLength": end - start}, "insertedContent": {"text": text}}
                for start, end, text in replacements
            ],
        }],
    }]


def sarif_log(reports: list[FileReport]) -> dict:
    from dockerfix import __version__
    from dockerfix.positions import by_change

    rule_list = rules()
    index = {r["id"]: i for i, r in enumerate(rule_list)}
    results = []
    notifications = []
    for r in reports:
        if r.error is not None:
            n: dict[str, Any] = {
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
        reps = by_change(r.input_replacements()) if r.changed else {}
        for c in r.all():
            res: dict[str, Any] = {
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
                fixes = _fixes(r, reps.get(id(c), []), c.fix_title)
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
