#!/usr/bin/env python3
"""Build every real app of ../shared/realapps before and after dockerfix (safe, then --unsafe) and print, per app
and variant: image bytes before → after, layers, steps re-run and seconds after a source edit (one source file of
the app's context copy edited, original and rewrite rebuilt), the verdict and the transforms applied. Then the
build timings (original cold, rewrite on top of the original's layers).

    eval "$(bash scripts/lab-setup.sh env)"; bash ../shared/realapps/setup-bases.sh
    python bench/bench_realapps.py [--apps voting-vote,azure-vote] [--builder docker] [--json out.json]

The builds use a temporary copy of each app folder (third-party code: never copied into this repository).
``--builder docker`` talks to the daemon in DOCKER_HOST with BuildKit (``--docker /usr/bin/docker``: the 20.10 CLI);
without DOCKER_HOST it starts a private dockerd for the run the way the lab tests do (tests/lab/dockerd.py: own
socket and data root under the lab, the lab's bases loaded, stopped at the end).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from dockerfix.verify.builders import BuildahBuilder, BuildError, DockerBuilder  # noqa: E402
from dockerfix.verify.run import pick_source_file  # noqa: E402
from realapps import (  # noqa: E402
    DOCKER_APPS,
    Matrix,
    load_manifest,
    setup_buildah_bases,
    setup_docker_bases,
    why_not,
)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def _violations(out) -> dict[str, list[str]]:
    """The first 50 differences of each kind no allowance covers (one line each)."""
    from realapps import describe

    c = out.comparison
    if c is None:
        return {}
    return {kind: [describe(v.to_dict()) for v in getattr(c, kind)[:50]] + (
        [f"... and {len(getattr(c, kind)) - 50} more"] if len(getattr(c, kind)) > 50 else [])
        for kind in ("only_a", "only_b", "changed", "config") if getattr(c, kind)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", help="comma-separated app names (default: all; with --builder docker: its subset)")
    ap.add_argument("--builder", choices=("buildah", "docker"), default="buildah")
    ap.add_argument("--docker", default="/usr/bin/docker", help="docker CLI speaking to the daemon directly")
    ap.add_argument("--no-rebuild", action="store_true", help="skip the rebuild-after-edit measurement")
    ap.add_argument("--json", help="write the rows and timings here")
    a = ap.parse_args()
    reason = why_not()
    if reason:
        sys.exit(reason)
    if a.builder == "buildah":
        lab = os.environ.get("DOCKERFIX_LAB")
        if not lab:
            sys.exit("set up the lab first: eval \"$(bash scripts/lab-setup.sh env)\"")
        builder = BuildahBuilder(lab)
        setup = lambda: setup_buildah_bases(Path(lab))  # noqa: E731
    elif os.environ.get("DOCKER_HOST"):
        builder = DockerBuilder(program=a.docker, buildkit=True)
        if builder.why_unavailable():
            sys.exit(f"docker cannot build with DOCKER_HOST={os.environ['DOCKER_HOST']}: {builder.why_unavailable()}")
        setup = lambda: setup_docker_bases(builder)  # noqa: E731
    else:
        import dockerd  # tests/lab/dockerd.py
        from labkit import BASES

        lab = os.environ.get("DOCKERFIX_LAB")
        if not lab:
            sys.exit("a private dockerd needs the lab's bases: eval \"$(bash scripts/lab-setup.sh env)\"")
        daemon = dockerd.start(lab)
        atexit.register(daemon.stop)
        daemon.load_images(Path(lab), BASES)
        builder = daemon.builder()
        setup = lambda: setup_docker_bases(builder)  # noqa: E731
    apps = load_manifest()
    if a.apps:
        wanted = a.apps.split(",")
        apps = [x for x in apps if x.name in wanted]
    elif a.builder == "docker":
        apps = [x for x in apps if x.name in DOCKER_APPS]
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="realapps-bench-") as work:
        m = Matrix(builder, Path(work))
        m.note("base tags", setup())
        rows, data = [], []
        for app in apps:
            sys.stderr.write(f"[{time.monotonic() - t_start:6.0f} s] {app.name}\n")
            t0 = time.monotonic()
            try:
                orig = m.original(app)
            except BuildError as exc:
                rows.append((f"{app.name} (original)", "error: " + str(exc).splitlines()[0][:100], "", "", "", "",
                             ""))
                data.append({"app": app.name, "variant": "orig", "builder": m.name, "verdict": "error",
                             "error": str(exc)})
                continue
            edit = None if a.no_rebuild else pick_source_file(app.folder)
            for variant in ("safe", "unsafe"):
                out = m.rewrite(app, variant)
                new = out.image or orig
                before = m.rebuild_after_edit(app, "orig", edit) if edit and not out.error else None
                after = m.rebuild_after_edit(app, variant, edit) if edit and not out.error else None
                label = f"{app.name} ({variant})"
                if out.error:
                    rows.append((label, "error: " + out.error.splitlines()[0][:100], "", "", "", "", ""))
                else:
                    rows.append((
                        label,
                        f"{_mb(orig.flat.compressed_size)} → {_mb(new.flat.compressed_size)} MB",
                        f"{orig.flat.layer_count} → {new.flat.layer_count}",
                        f"{before.built_steps} → {after.built_steps}" if before and after else "-",
                        f"{before.seconds:.1f} → {after.seconds:.1f} s" if before and after else "-",
                        out.verdict + (f" (= {out.same_as})" if out.same_as else ""),
                        ",".join(out.codes) or "-",
                    ))
                data.append({
                    "app": app.name, "variant": variant, "builder": m.name, "verdict": out.verdict,
                    "same_as": out.same_as, "codes": out.codes, "unsafe_codes": out.unsafe_codes,
                    "changes": [f"{c['code']}:{c['line']}{'' if c['safe'] else ' (unsafe)'}" for c in out.changes],
                    "error": out.error, "edited": edit,
                    "bytes": [orig.flat.compressed_size, new.flat.compressed_size],
                    "layers": [orig.flat.layer_count, new.flat.layer_count],
                    "build_seconds": [round(orig.build.seconds, 1) if orig.build else None,
                                      round(out.image.build.seconds, 1) if out.image and out.image.build
                                      and not out.same_as else None],
                    "rebuild_steps": [before.built_steps, after.built_steps] if before and after else None,
                    "rebuild_seconds": [round(before.seconds, 1), round(after.seconds, 1)] if before and after
                    else None,
                    "smoke": [orig.smoke.ok if orig.smoke else None,
                              new.smoke.ok if new.smoke else None],
                    "smoke_detail": new.smoke.detail if new.smoke else None,
                    "violations": _violations(out),
                    "notes": out.notes,
                    "declared_files": out.declared_files,
                    "unexplained": out.unexplained,
                    "summary": out.comparison.summary() if out.comparison else None,
                })
            data[-1]["app_seconds"] = round(time.monotonic() - t0, 1)
        total = time.monotonic() - t_start
    print("| app | image (tar bytes) | layers | steps rebuilt after edit | rebuild time | verdict | transforms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print(f"{m.name}: {len(apps)} apps in {total:.0f} s")
    for t in m.timings:
        extra = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("what", "seconds"))
        print(f"{t['seconds']:7.1f} s  {t['what']}" + (f"  ({extra})" if extra else ""))
    if a.json:
        Path(a.json).write_text(json.dumps({"builder": m.name, "total_seconds": round(total, 1), "rows": data,
                                            "timings": m.timings}, indent=1))


if __name__ == "__main__":
    main()
