"""DFX501 in the lab: build each app before and after the multi-stage split, smoke-test both, compare sizes.

    eval "$(bash scripts/lab-setup.sh env)"      # DOCKERFIX_LAB and buildah settings
    python bench/bench_multistage.py [app ...]   # default: go-http node-build python-native

The lab has no registry: distroless images cannot be pulled, so the Go runtime base is overridden with the
``runtime-base`` setting (``debian:bookworm-slim``). Builds are sequential (2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dockerfix  # noqa: E402
from dockerfix.verify.builders import BuildahBuilder, BuildError  # noqa: E402

APPS = {
    "go-http": {"runtime-base": "debian:bookworm-slim"},
    "node-build": {},
    "python-native": {},
}
PREFIX = "localhost/dockerfix-lab"


def size_of(builder: BuildahBuilder, tag: str) -> int:
    """The image size ``buildah images`` reports (uncompressed layers, decimal units), in bytes."""
    r = builder._buildah("images", "--json", tag, timeout=120)
    try:
        text = json.loads(r.stdout)[0]["size"]
    except Exception:
        return -1
    num, unit = text.split()
    return int(float(num) * {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}[unit])


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 0 else "?"


def main(argv: list[str]) -> int:
    lab = os.environ.get("DOCKERFIX_LAB")
    if not lab or not Path(lab, "storage").is_dir() or shutil.which("buildah") is None:
        print("no lab: run scripts/lab-setup.sh and eval its env first", file=sys.stderr)
        return 2
    builder = BuildahBuilder(lab)
    apps = argv or list(APPS)
    work = Path(tempfile.mkdtemp(prefix="bench-ms-", dir=os.path.join(lab, "work")))
    rows = []
    for app in apps:
        src = REPO / "fixtures" / "apps" / app
        ctx = work / app
        shutil.copytree(src, ctx, ignore=shutil.ignore_patterns("__pycache__", "node_modules", "dist"))
        smoke = (src / "SMOKE").read_text().strip()
        text = (src / "Dockerfile").read_text()
        res = dockerfix.fix(text, select=["DFX501"], unsafe=True, context=str(ctx), settings=APPS.get(app, {}))
        if not res.changed:
            print(f"{app}: DFX501 did not fire ({[c.reason for c in res.findings]})")
            continue
        (ctx / "Dockerfile.ms").write_text(res.text)
        row = {"app": app}
        for variant, df in (("before", "Dockerfile"), ("after", "Dockerfile.ms")):
            tag = f"{PREFIX}/{app}:ms-{variant}"
            t0 = time.monotonic()
            try:
                builder.build(ctx / df, ctx, tag)
            except BuildError as exc:
                print(f"{app} {variant}: build failed\n{exc.tail(30)}")
                row[variant] = None
                continue
            secs = time.monotonic() - t0
            run = builder.run(tag, smoke)
            row[variant] = {"size": size_of(builder, tag), "seconds": round(secs, 1), "smoke": run.ok}
            if not run.ok:
                print(f"{app} {variant}: smoke failed: {(run.stdout + run.stderr)[-800:]}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(f"{'app':<16}{'before':>12}{'after':>12}{'saved':>8}  smoke before/after")
    for r in rows:
        b, a = r.get("before"), r.get("after")
        if not b or not a:
            print(f"{r['app']:<16}  build failed")
            continue
        saved = 100 * (1 - a["size"] / b["size"]) if b["size"] > 0 else 0
        print(f"{r['app']:<16}{mb(b['size']):>12}{mb(a['size']):>12}{saved:>7.0f}%  "
              f"{'ok' if b['smoke'] else 'FAIL'}/{'ok' if a['smoke'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
