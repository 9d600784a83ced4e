"""``dockerfix verify PATH [--context DIR] [--target STAGE] [--builder buildah|docker|podman] [--select ..] [--unsafe]
[--smoke CMD]... [--smoke-timeout SECONDS] [--healthcheck]``.

Exit codes: 0 the images are equal apart from what the applied transforms declare (or nothing to rewrite) and every
smoke check agrees, 1 they differ in a way no transform declares or a smoke check (or ``--healthcheck``) gives a
different exit status or output, 2 verification could not run (no builder, a build failed, the builder cannot build
this syntax, a smoke command could not be started, bad arguments). ``--json FILE`` (or ``-`` for stdout) writes the
report for the PR bot. Progress goes to stderr on a terminal only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _parser() -> argparse.ArgumentParser:
    from dockerfix._cliargs import ArgumentParser

    p = ArgumentParser(
        prog="dockerfix verify",
        description="Build the original and the rewritten Dockerfile and compare the images.",
        epilog="Exit codes: 0 equal apart from declared differences (and every smoke check agrees), 1 undeclared "
               "differences or a smoke/healthcheck mismatch, 2 error.",
    )
    p.add_argument("path", help="the Dockerfile")
    p.add_argument("--context", help="build context (default: the Dockerfile's folder)")
    p.add_argument("--target", metavar="STAGE",
                   help="build and compare this stage of both Dockerfiles (like docker build --target; default: "
                        "the last stage)")
    p.add_argument("--builder", choices=("buildah", "docker", "podman"), help="default: the first that works")
    p.add_argument("--lab", help="storage root of a lab for buildah/podman (default: $DOCKERFIX_LAB)")
    from dockerfix.verify.run import pull_policies

    p.add_argument("--pull", choices=pull_policies(),
                   help="base-image pull policy (default: the builder's; see dockerfix.verify.builders)")
    p.add_argument("--select", action="append", help="transforms to apply (codes or names, comma-separated)")
    p.add_argument("--ignore", action="append", help="transforms to leave out")
    p.add_argument("--unsafe", action="store_true", help="apply unsafe fixes too")
    p.add_argument("--edit", metavar="FILE", help="context-relative source file to edit for the rebuild measurement")
    p.add_argument("--no-rebuild", action="store_true", help="skip the rebuild-after-edit measurement")
    p.add_argument("--baseline", action="store_true",
                   help="build the original twice (once without cache) and do not hold its own nondeterminism "
                        "(native compiles, embedded timestamps) against the rewrite")
    p.add_argument("--no-auto-baseline", action="store_true",
                   help="do not build the baseline automatically when the images differ only in files builds "
                        "regenerate (fontconfig caches, snakeoil keys, machine-id...)")
    p.add_argument("--smoke", metavar="CMD", action="append", default=[],
                   help="run CMD (sh -c, as the image's user, in its working directory and environment) in both "
                        "images and compare exit status and output; repeatable")
    p.add_argument("--smoke-ignore", metavar="REGEX", action="append", default=[],
                   help="mask matches of REGEX in smoke output before comparing (timestamps, durations, PIDs and "
                        "memory addresses are masked already); repeatable")
    from dockerfix.verify.builders import RUN_TIMEOUT

    p.add_argument("--smoke-timeout", metavar="SECONDS", type=_seconds, default=None,
                   help="end a smoke command or healthcheck still running after SECONDS in an image; its check then "
                        f"fails (default: {RUN_TIMEOUT:g})")
    p.add_argument("--healthcheck", action="store_true",
                   help="run each image's HEALTHCHECK command once and compare exit status")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE ('-' for stdout)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    return p


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0")
    return seconds


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
    if report.equal:
        verdict = "EQUAL apart from declared differences"
    elif report.images_equal:
        verdict = "DIFFERENT behaviour: a smoke check or the healthcheck disagrees"
    else:
        verdict = "DIFFERENT"
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
    for rel, paths in d["declared_files"].items():
        shown = ", ".join("/" + p for p in paths)
        lines.append(f"declared: {rel} as the rewrite leaves it, copied into the image at {shown}\n")
    base = d["baseline"]
    if base["built"]:
        why = ("automatic: the differences were all in files builds regenerate"
               if base["why"] == "automatic" else "requested")
        lines.append(f"baseline: the original built a second time ({why}); "
                     f"{base['nondeterministic_paths']} paths differ between its two builds\n")
    lines += _checks(report)
    for n in d["notes"]:
        lines.append(f"note: {n}\n")
    return "".join(lines)


OUTPUT_LINES = 40
"""Lines of each output shown for a failed smoke check (all of it is in ``--json``)."""


def _checks(report: Any) -> list[str]:
    """Smoke and healthcheck results, then which checks the unsafe transforms passed."""
    lines = []
    for c in report.checks:
        what = f"smoke `{c.command}`" if c.kind == "smoke" else f"healthcheck `{c.command}`"
        if c.passed:
            compared = "exit status and output" if c.compare_output else "exit status"
            lines.append(f"{what}: passed (same {compared}: exit {c.before.exit_code})\n")
            continue
        lines.append(f"{what}: FAILED ({'; '.join(c.differences)})\n")
        for side, out in (("original", c.before), ("rewrite", c.after)):
            lines.append(f"  --- {side}: exit {out.exit_code}\n")
            for name in ("stdout", "stderr") if c.compare_output else ("stderr",):
                text = getattr(out, name)
                if not text:
                    continue
                rows = text.splitlines()
                lines.append(f"  {name}:\n")
                lines += [f"    {r}\n" for r in rows[:OUTPUT_LINES]]
                if len(rows) > OUTPUT_LINES:
                    lines.append(f"    ... {len(rows) - OUTPUT_LINES} more lines (see --json)\n")
    if report.checks:
        summary = report.smoke_summary()
        for ch in report.changes:
            if ch.get("safe") is False:
                passed = ", ".join(f"`{x}`" for x in summary["passed"]) or "none"
                failed = (", failed: " + ", ".join(f"`{x}`" for x in summary["failed"])) if summary["failed"] else ""
                lines.append(f"unsafe {ch['code']} (line {ch['line']}): smoke checks passed: {passed}{failed}\n")
    return lines


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
        builder = choose_builder(args.builder, args.lab, **({"pull": args.pull} if args.pull else {}))
        report = verify(args.path, builder, context=args.context, target=args.target, select=select,
                        ignore=ignore, unsafe=unsafe, settings=settings, edit=args.edit, rebuild=not args.no_rebuild, baseline=args.baseline,
                        auto_baseline=not args.no_auto_baseline, smoke=args.smoke, healthcheck=args.healthcheck,
                        smoke_ignore=args.smoke_ignore, smoke_timeout=args.smoke_timeout, progress=progress)
    except (VerifyError, DockerfileSyntaxError, OSError, ValueError) as exc:
        sys.stderr.write(f"dockerfix: error: verify: {exc}\n")
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
