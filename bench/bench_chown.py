#!/usr/bin/env python3
"""DFX301 copy-chown in the lab: build an app before and after the rewrite with buildah, and report image size,
layer bytes saved, and whether the flattened file trees (owners, modes, contents) are equal.

    eval "$(LAB=/tmp/dockerfix-lab bash scripts/lab-setup.sh env)"
    python bench/bench_chown.py [--app python-chown] [--assets-mb 3] [--json out.json] [--keep]

The app's context is copied to a work directory and, for ``--assets-mb N``, gets N MB of deterministic,
incompressible data at ``app/static/bundle.bin`` (like fonts or images), so the duplicate written by
``chown -R`` is easy to see. The rewrite is ``dockerfix.fix(text, select=["DFX301"])`` (safe fixes only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dockerfix  # noqa: E402
from dockerfix.verify.builders import BuildahBuilder  # noqa: E402
from dockerfix.verify.compare import BUILD_NOISE, compare_images  # noqa: E402
from dockerfix.verify.imagefs import flatten_image  # noqa: E402

TAG = "localhost/dockerfix-lab/bench-chown"


def make_assets(path: Path, mb: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = bytearray()
    h = b"dockerfix-python-chown"
    while len(out) < mb * 1024 * 1024:
        h = hashlib.sha256(h).digest()
        out += h
    path.write_bytes(bytes(out[: mb * 1024 * 1024]))


def human(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", default="python-chown")
    ap.add_argument("--lab", default=os.environ.get("DOCKERFIX_LAB", "/tmp/dockerfix-lab"))
    ap.add_argument("--assets-mb", type=int, default=3)
    ap.add_argument("--json", help="write the report here")
    ap.add_argument("--keep", action="store_true", help="keep the images and the work directory")
    args = ap.parse_args()

    builder = BuildahBuilder(args.lab)
    if not builder.available():
        print(f"lab not usable at {args.lab}: run scripts/lab-setup.sh all", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-chown-", dir=Path(args.lab) / "work"))
    ctx = work / "context"
    shutil.copytree(ROOT / "fixtures" / "apps" / args.app, ctx,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if args.assets_mb:
        make_assets(ctx / "app" / "static" / "bundle.bin", args.assets_mb)
    before = (ctx / "Dockerfile").read_text()
    result = dockerfix.fix(before, select=["DFX301"], context=str(ctx))
    if result.text == before:
        print("DFX301 made no safe change to this Dockerfile", file=sys.stderr)
        return 1
    # both Dockerfiles live outside the context, so the context (and `COPY . /app`) is the same for both builds
    (work / "Dockerfile.before").write_text(before)
    (work / "Dockerfile.after").write_text(result.text)

    report: dict = {"app": args.app, "assets_mb": args.assets_mb,
                    "changes": [f"line {c.line}: {c.message}" for c in result.changes]}
    images = {}
    cache: dict = {}
    for variant in ("before", "after"):
        tag = f"{TAG}:{variant}"
        built = builder.build(work / f"Dockerfile.{variant}", ctx, tag, no_cache=True)
        archive = builder.export(tag, work / f"{variant}.tar", fmt="docker-archive")
        img = flatten_image(archive, layer_cache=cache)
        images[variant] = img
        report[variant] = {"build_seconds": round(built.seconds, 1), "layers": img.layer_count,
                           "image_bytes": img.uncompressed_size,
                           "layer_bytes": [layer.uncompressed_size for layer in img.layers],
                           "archive_bytes": archive.stat().st_size}
        smoke = (ctx / "SMOKE").read_text().strip() if (ctx / "SMOKE").is_file() else ""
        if smoke:
            r = builder.run(tag, smoke)
            report[variant]["smoke"] = "pass" if r.ok else f"FAIL ({r.returncode}): {r.stderr[-500:]}"
    a, b = images["before"], images["after"]
    cmp = compare_images(a, b, BUILD_NOISE)
    app_entries = sorted(p for p in a.entries if p == "app" or p.startswith("app/"))
    owners = {p: (a.entries[p].uid, a.entries[p].gid, oct(a.entries[p].mode)) for p in app_entries}
    report["comparison"] = {"equal": cmp.equal, "summary": cmp.summary(),
                            "violations": [d.to_dict() for d in cmp.violations][:20],
                            "app_entries": len(app_entries),
                            "app_owners_before": sorted({f"{u}:{g}" for u, g, _ in owners.values()}),
                            "app_owners_after": sorted({f"{b.entries[p].uid}:{b.entries[p].gid}"
                                                        for p in app_entries if p in b.entries})}
    saved = a.uncompressed_size - b.uncompressed_size
    report["saved_bytes"] = saved
    report["saved_layers"] = a.layer_count - b.layer_count

    print(f"{args.app}: {len(result.changes)} change(s): " + "; ".join(report["changes"]))
    for variant in ("before", "after"):
        r = report[variant]
        print(f"  {variant:6} {r['layers']:2} layers  {human(r['image_bytes']):>12}  smoke: {r.get('smoke', '-')}"
              f"  (build {r['build_seconds']} s)")
    print(f"  saved  {report['saved_layers']} layer(s), {human(saved)} ({saved:,} bytes of layer tar)")
    print(f"  file trees: {cmp.summary()}; /app entries: {len(app_entries)}, owners before "
          f"{report['comparison']['app_owners_before']} after {report['comparison']['app_owners_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep:
        builder.remove(f"{TAG}:before", f"{TAG}:after")
        shutil.rmtree(work, ignore_errors=True)
    return 0 if cmp.equal else 1


if __name__ == "__main__":
    sys.exit(main())
