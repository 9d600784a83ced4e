"""``dockerfix verify PATH [--context DIR] [--builder buildah|docker|podman] [--select ..] [--unsafe]``.

Exit codes: 0 the images are equal apart from what the applied transforms declare (or nothing to rewrite),
1 they differ in a way no transform declares, 2 verification could not run (no builder, a build failed, the builder
cannot build this syntax, bad arguments). ``--json FILE`` (or ``-`` for stdout) writes the report for the PR bot.
Progress goes to stderr on a terminal only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dockerfix verify",
        description="Build the original and the rewritten Dockerfile and compare the images.",
        epilog="Exit codes: 0 equal apart from declared differences, 1 undeclared differences, 2 error.",
    )
    p.add_argument("path", help="the Dockerfile")
    p.add_argument("--context", help="build context (default: the Dockerfile's folder)")
    p.add_argument("--builder", choices=("buildah", "docker", "podman"), help="default: the first that works")
    p.add_argument("--lab", help="buildah/podman storage root (default: $DOCKERFIX_LAB or /tmp/dockerfix-lab)")
    p.add_argument("--select", action="append", help="transforms to apply (codes or names, comma-separated)")
    p.add_argument("--ignore", action="append", help="transforms to leave out")
    p.add_argument("--unsafe", action="store_true", help="apply unsafe fixes too")
    p.add_argument("--edit", metavar="FILE", help="context-relative source file to edit for the rebuild measurement")
    p.add_argument("--no-rebuild", action="store_true", help="skip the rebuild-after-edit measurement")
    p.add_argument("--baseline", action="store_true",
                   help="build the original twice (once without cache) and do not hold its own nondeterminism "
                        "(native compiles, embedded timestamps) against the rewrite")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE ('-' for stdout)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    return p


def _codes(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def render_table(report: Any, color: bool) -> str:
    """The human summary (a rich table on a terminal, plain text otherwise)."""
    d = report.to_dict()
    b, a = d["before"], d["after"]
    rows = [
        ("image size", _mb(b["image_bytes"]), _mb(a["image_bytes"])),
        ("compressed", _mb(b["compressed_bytes"]), _mb(a["compressed_bytes"])),
        ("file bytes", _mb(b["file_bytes"]), _mb(a["file_bytes"])),
        ("layers", str(b["layers"]), str(a["layers"])),
        ("build seconds", str(b["build_seconds"]), str(a["build_seconds"])),
    ]
    if b["rebuild_steps"] is not None:
        rows.append(("steps rebuilt after edit", str(b["rebuild_steps"]), str(a["rebuild_steps"])))
        rows.append(("rebuild seconds", str(b["rebuild_seconds"]), str(a["rebuild_seconds"])))
    comp = report.comparison
    verdict = "EQUAL apart from declared differences" if report.equal else "DIFFERENT"
    lines = []
    if color:
        from io import StringIO

        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        buf = StringIO()
        con = Console(file=buf, force_terminal=True, width=100)
        t = Table(title=Text(f"dockerfix verify {d['dockerfile']} ({d['builder']})"))
        for col in ("", "before", "after"):
            t.add_column(col)
        for r in rows:
            t.add_row(*(Text(x) for x in r))
        con.print(t)
        con.print(Text(verdict, style="bold green" if report.equal else "bold red"))
        lines.append(buf.getvalue())
    else:
        lines.append(f"dockerfix verify {d['dockerfile']} ({d['builder']})\n")
        w = max(len(r[0]) for r in rows)
        lines.append(f"{'':{w}}  {'before':>12}  {'after':>12}\n")
        for r in rows:
            lines.append(f"{r[0]:{w}}  {r[1]:>12}  {r[2]:>12}\n")
        lines.append(verdict + "\n")
    if d["edited_file"]:
        lines.append(f"rebuild measured after editing {d['edited_file']}\n")
    if comp is not None:
        lines.append(comp.summary().rstrip("\n") + "\n")
        for v in comp.violations[:40]:
            lines.append("  " + describe(v.to_dict()) + "\n")
        if len(comp.violations) > 40:
            lines.append(f"  ... and {len(comp.violations) - 40} more (see --json)\n")
        allowed_codes = sorted({x.allowed_by.code for x in comp.allowed if x.allowed_by is not None})
        if comp.allowed:
            lines.append(f"allowed: {len(comp.allowed)} differences declared by {', '.join(allowed_codes)}\n")
    for n in d["notes"]:
        lines.append(f"note: {n}\n")
    return "".join(lines)


def describe(v: dict[str, Any]) -> str:
    """One violation as a line a reviewer can read."""
    if "field" in v:
        return f"config {v['field']}: {v['a']!r} -> {v['b']!r}"
    kind = {"only_a": "removed", "only_b": "added", "changed": "changed"}.get(v["kind"], v["kind"])
    if v["kind"] == "changed":
        attrs = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in v["attributes"].items())
        return f"{kind} /{v['path']}: {attrs}"
    return f"{kind} /{v['path']} ({v.get('type', '?')})"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from dockerfix.syntax import DockerfileSyntaxError
    from dockerfix.verify.run import VerifyError, choose_builder, verify

    tty = sys.stderr.isatty()
    progress = (lambda m: sys.stderr.write(f"dockerfix verify: {m}\n")) if tty else None
    settings: dict[str, Any] = {}
    try:
        from dockerfix.config import Finder

        cfg = Finder().for_file(args.path)
        settings = cfg.fix_settings()
        select = _codes(args.select) or (list(cfg.select) if cfg.select else None)
        ignore = _codes(args.ignore) or (list(cfg.ignore) if cfg.ignore else None)
        unsafe = args.unsafe or bool(cfg.unsafe)
        builder = choose_builder(args.builder, args.lab)
        report = verify(args.path, builder, context=args.context, select=select, ignore=ignore, unsafe=unsafe,
                        settings=settings, edit=args.edit, rebuild=not args.no_rebuild, baseline=args.baseline,
                        progress=progress)
    except (VerifyError, DockerfileSyntaxError, OSError, ValueError) as exc:
        sys.stderr.write(f"dockerfix verify: error: {exc}\n")
        return 2
    data = json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n"
    if args.json == "-":
        sys.stdout.write(data)
    else:
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                f.write(data)
        color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get(
            "NO_COLOR"))
        sys.stdout.write(render_table(report, color))
    return 0 if report.equal else 1
