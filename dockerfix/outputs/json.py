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
              "message": str, "safe": bool, "applied": bool, "fix": str|null, "reason": str|null}

Lines and columns are 1-based; columns count characters. They are positions in the input file, whichever pass of
the fixed point reported them; a finding in ``write`` mode (of a file that was rewritten) is at its position in the
file as written. Keys are emitted in this order; new keys may be added, existing keys keep their meaning within a
version.
"""

from __future__ import annotations

import json

from dockerfix.outputs import FileReport

SCHEMA_VERSION = 1


def _change_dict(r: FileReport, c, mode: str) -> dict:
    d = c.to_dict()
    d["line"], d["column"], d["end_line"] = r.position(c, mode)
    return d


def file_dict(r: FileReport, mode: str = "report") -> dict:
    return {
        "path": r.path,
        "changed": r.changed,
        "written": r.written,
        "error": r.error.to_dict() if r.error is not None else None,
        "internal_errors": list(r.internal_errors),
        "changes": [_change_dict(r, c, mode) for c in r.changes],
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
