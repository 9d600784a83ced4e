"""Rebuild after a source-only edit, before and after dockerfix: layers rebuilt, seconds, image size.

    eval "$(LAB=/tmp/dockerfix-lab bash scripts/lab-setup.sh env)"
    python bench/bench_rebuild.py [app ...]        # default: python-flask node-express go-http

For each app: two private copies of ``fixtures/apps/<app>`` (the rewrite's ``.dockerignore``, if any, goes only into
the "after" copy); the original Dockerfile builds in one, ``dockerfix --unsafe --select DFX1,DFX2`` (RUN hygiene and cache-friendly builds, default
strategy) in the other; one source file gets a comment appended in both; both rebuild. Printed per app and
variant: steps rebuilt / cached on the rebuild, its seconds, whether the dependency install was reused, and the
image size. Builds run one after another with buildah in the lab (2 shared cores: numbers are indicative).
"""

from __future__ import annotations

import os
import uuid
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dockerfix  # noqa: E402
from dockerfix.verify.builders import BuildahBuilder  # noqa: E402

APPS = REPO / "fixtures" / "apps"
EDITS = {"python-flask": ("app.py", "pip install"), "node-express": ("server.js", "npm install"),
         "go-http": ("main.go", "go mod download"), "python-native": ("worker.py", "pip install")}
# RUN hygiene and cache-friendly builds; not DFX3xx-DFX5xx (multi-stage rewrites name bases the offline lab lacks)
SELECT = ["DFX1", "DFX2"]
TAG = "localhost/dockerfix-lab/bench-{app}:{variant}"


def rewrite(ctx: Path) -> str:
    text = (ctx / "Dockerfile").read_text()
    result = dockerfix.fix(text, select=SELECT, unsafe=True, context=str(ctx), path="Dockerfile")
    for rel, fc in result.files.items():
        (ctx / rel).write_text(fc.after)
    (ctx / "Dockerfile.dockerfix").write_text(result.text)
    return result.text


def image_size(builder: BuildahBuilder, tag: str) -> str:
    r = builder._buildah("images", "--format", "{{.Size}}", tag, timeout=60)
    return r.stdout.strip().splitlines()[0] if r.ok and r.stdout.strip() else "?"


def bench(builder: BuildahBuilder, app: str, work: Path) -> list[dict]:
    rows = []
    source, install = EDITS[app]
    for variant in ("before", "after"):
        ctx = work / f"{app}-{variant}"
        shutil.copytree(APPS / app, ctx, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
        dockerfile = ctx / "Dockerfile"
        if variant == "after":
            rewrite(ctx)
            dockerfile = ctx / "Dockerfile.dockerfix"
        tag = TAG.format(app=app, variant=variant)
        first = builder.build(dockerfile, ctx, tag)
        with open(ctx / source, "a") as f:
            f.write(f"\n// a source edit {uuid.uuid4()}\n" if not source.endswith(".py") else f"\n# a source edit {uuid.uuid4()}\n")
        again = builder.build(dockerfile, ctx, tag)
        try:
            reused = again.step(install).cached
        except KeyError:
            reused = None
        rows.append({"app": app, "variant": variant, "first_s": round(first.seconds, 1),
                     "rebuilt": again.built_steps, "cached": again.cached_steps, "rebuild_s": round(again.seconds, 1),
                     "install_reused": reused, "size": image_size(builder, tag)})
    return rows


def main(argv: list[str]) -> int:
    lab = os.environ.get("DOCKERFIX_LAB")
    if not lab:
        print("DOCKERFIX_LAB is not set: eval \"$(bash scripts/lab-setup.sh env)\"", file=sys.stderr)
        return 2
    builder = BuildahBuilder(lab)
    if not builder.available():
        print(f"buildah cannot use {lab}", file=sys.stderr)
        return 2
    apps = argv or ["python-flask", "node-express", "go-http"]
    rows = []
    with tempfile.TemporaryDirectory(dir=os.path.join(lab, "work")) as tmp:
        for app in apps:
            rows.extend(bench(builder, app, Path(tmp)))
    head = ("app", "variant", "rebuilt", "cached", "rebuild_s", "install_reused", "first_s", "size")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(str(r[h]) for h in head) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
