"""The JSON report (schema version 1, documented in ``docs/cli.md``).

::

    {
      "version": 1,
      "tool": {"name": "dockerfix", "version": "0.1.0"},
      "mode": "report" | "write" | "stdin",
      "files": [
        {
          "path": "app/Dockerfile",            # display path, "/"-separated
          "changed": true,                     # the fixes change the text (report: would; write: did)
          "written": false,                    # the file was rewritten on disk
          "error": null | {"kind": "io|syntax|config|engine|internal", "message": str,
                           "line": int|null, "column": int|null},
          "internal_errors": [str],
          "changes":  [Change],                # fixes applied (report mode: that --write would apply)
          "side_files": [{"path", "created", "written"}],  # other files the fixes change (.dockerignore)
          "findings": [Change]                 # not applied: no fix, unsafe without --unsafe, display-only
        }
      ],
      "summary": {"files": int, "changed": int, "changes": int, "findings": int, "errors": int}
    }

    Change = {"code": "DFX001", "name": "add-local-to-copy", "line": 1, "column": 1, "end_line": 1,
              "message": str, "safe": bool, "applied": bool, "fix": str|null, "reason": str|null,
              "kind": str|null,                # why there is no (safe) fix, as data: "needs-network", ...
              "start": int, "end": int,        # the reported span as character offsets in the input
              "edits": [Edit],                 # an applied change's fix on the input ([] otherwise)
              "files": [str]}                  # other files its applied fix changes, relative to the build
                                               # context (their diffs: side_files)

    Edit = {"start": int, "end": int, "text": str}  # replace input[start:end] with text

Lines and columns are 1-based; columns count characters. They are positions in the input file, whichever pass of
the fixed point reported them; a finding in ``write`` mode (of a file that was rewritten) is at its position in the
file as written. ``start``/``end`` and the edits are always 0-based character offsets in the input (the file as it
was read), like SARIF's ``charOffset``. The edits of all applied changes, taken once each, are disjoint and applying
them to the input gives the output; a fix of a later pass that edits text an earlier fix wrote is composed with it
into one edit, which both changes list. Keys are emitted in this order; new keys may be added, existing keys keep
their meaning within a version.
"""

from __future__ import annotations

import json

from dockerfix.outputs import FileReport

SCHEMA_VERSION = 1


def _change_dict(r: FileReport, c, mode: str, replacements: dict | None = None) -> dict:
    d = c.to_dict()
    d["line"], d["column"], d["end_line"] = r.position(c, mode)
    d["kind"] = c.kind
    d["start"], d["end"] = c.start, max(c.start, c.end)
    d["edits"] = [{"start": s, "end": e, "text": t} for s, e, t in (replacements or {}).get(id(c), ())]
    d["files"] = [f.path for f in c.files] if c.applied else []
    return d


def file_dict(r: FileReport, mode: str = "report") -> dict:
    from dockerfix.positions import by_change

    reps = by_change(r.input_replacements()) if r.changed and r.changes else {}
    return {
        "path": r.path,
        "changed": r.changed,
        "written": r.written,
        "error": r.error.to_dict() if r.error is not None else None,
        "internal_errors": list(r.internal_errors),
        "changes": [_change_dict(r, c, mode, reps) for c in r.changes],
        "side_files": [
            {"path": f.display, "created": f.before is None, "written": f.written} for f in r.side_files
        ],
        "findings": [_change_dict(r, c, mode) for c in r.findings],
    }


def report_dict(reports: list[FileReport], *, mode: str) -> dict:
    from dockerfix import __version__

    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "dockerfix", "version": __version__},
        "mode": "report" if mode in ("report", "diff", "check") else mode,
        "files": [file_dict(r, mode) for r in reports],
        "summary": {
            "files": len(reports),
            "changed": sum(1 for r in reports if r.changed),
            "changes": sum(len(r.changes) for r in reports),
            "findings": sum(len(r.findings) for r in reports),
            "errors": sum(1 for r in reports if r.failed),
        },
    }


def render_json(reports: list[FileReport], *, mode: str = "report") -> str:
    return json.dumps(report_dict(reports, mode=mode), indent=2, ensure_ascii=False) + "\n"
