"""Helpers for the lab tests: app contexts, builds shared across a session, timings (see conftest.py)."""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dockerfix.verify.builders import BuildahBuilder, BuildResult
from dockerfix.verify.imagefs import FlatImage, flatten_image

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "fixtures" / "apps"
REWRITES = Path(__file__).resolve().parent / "rewrites"
BASES = ("debian:bookworm-slim", "python:3.11-slim", "node:18-slim", "golang:1.19")
TAG_PREFIX = "localhost/dockerfix-lab"


@dataclass
class Built:
    app: str
    variant: str
    tag: str
    result: BuildResult
    archive: Path
    image: FlatImage


@dataclass
class Lab:
    root: Path
    builder: BuildahBuilder
    workdir: Path
    layer_cache: dict = field(default_factory=dict)
    timings: list[dict] = field(default_factory=list)
    _contexts: dict[str, Path] = field(default_factory=dict)
    _results: dict[tuple[str, str], BuildResult] = field(default_factory=dict)
    _built: dict[tuple[str, str, str], Built] = field(default_factory=dict)
    _edited: dict[tuple[str, str], tuple[BuildResult, BuildResult]] = field(default_factory=dict)

    def context(self, app: str) -> Path:
        """A copy of ``fixtures/apps/<app>`` (without bytecode), shared by every build of that app."""
        if app not in self._contexts:
            dest = self.workdir / "contexts" / app
            shutil.copytree(APPS / app, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
            self._contexts[app] = dest
        return self._contexts[app]

    def fresh_context(self, app: str, name: str) -> Path:
        """A private copy of the app's context, for tests that edit sources."""
        dest = self.workdir / "contexts" / f"{app}-{name}"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(self.context(app), dest)
        return dest

    def tag(self, app: str, variant: str) -> str:
        return f"{TAG_PREFIX}/{app}:{variant}"

    def build(self, app: str, variant: str = "orig", dockerfile: Path | None = None,
              context: Path | None = None) -> BuildResult:
        ctx = context or self.context(app)
        df = dockerfile or ctx / "Dockerfile"
        result = self.builder.build(df, ctx, self.tag(app, variant))
        self.timings.append({"what": f"build {app}:{variant}", "seconds": round(result.seconds, 1),
                             "cached_steps": result.cached_steps, "built_steps": result.built_steps})
        return result

    def original_after_edit(self, app: str, source: str) -> tuple[BuildResult, BuildResult]:
        """The app's own Dockerfile built in a private copy of its context, then built again after ``source`` was
        edited there: (first build, build after the edit), once per session. Every test that compares a rewrite's
        rebuild with the original's shares it (the original re-installs its dependencies after any source edit,
        so one such build per app is enough)."""
        key = (app, source)
        if key not in self._edited:
            ctx = self.fresh_context(app, "orig-edit")
            first = self.build(app, "orig-edit", APPS / app / "Dockerfile", ctx)
            edit_source(ctx / source)
            self._edited[key] = (first, self.build(app, "orig-edit", APPS / app / "Dockerfile", ctx))
        return self._edited[key]

    def built(self, app: str, variant: str = "orig", fmt: str = "docker-archive") -> Built:
        """Build (once per session), export and flatten ``app`` with the Dockerfile of ``variant``:
        ``orig`` is the app's own Dockerfile, anything else is ``tests/lab/rewrites/<app>/Dockerfile.<variant>``.
        docker-archive is uncompressed and about twice as fast as oci-archive, whose sizes are gzip's."""
        if (app, variant) not in self._results:
            dockerfile = None if variant == "orig" else REWRITES / app / f"Dockerfile.{variant}"
            self._results[(app, variant)] = self.build(app, variant, dockerfile)
        key = (app, variant, fmt)
        if key not in self._built:
            tag = self.tag(app, variant)
            t0 = time.monotonic()
            archive = self.builder.export(tag, self.workdir / "images" / f"{app}-{variant}.{fmt}.tar", fmt=fmt)
            t1 = time.monotonic()
            image = flatten_image(archive, layer_cache=self.layer_cache)
            t2 = time.monotonic()
            self.timings.append({"what": f"export {app}:{variant} {fmt}", "seconds": round(t1 - t0, 1),
                                 "compressed_size": image.compressed_size})
            self.timings.append({"what": f"flatten {app}:{variant} {fmt}", "seconds": round(t2 - t1, 1),
                                 "entries": len(image.entries)})
            self._built[key] = Built(app, variant, tag, self._results[(app, variant)], archive, image)
        return self._built[key]


def edit_source(path: Path) -> None:
    """Append a unique comment to a source file (unique: the lab's layer cache outlives a session)."""
    mark = "#" if path.suffix == ".py" else "//"
    with open(path, "a") as f:
        f.write(f"\n{mark} a source edit {uuid.uuid4()}\n")


def why_not(root: str | None) -> str | None:
    if not root:
        return ('DOCKERFIX_LAB is not set: run `bash scripts/lab-setup.sh install bases` then '
                '`eval "$(bash scripts/lab-setup.sh env)"`')
    if not Path(root, "storage").is_dir():
        return f"DOCKERFIX_LAB={root} has no storage: run `bash scripts/lab-setup.sh bases`"
    if shutil.which("buildah") is None:
        return "buildah is not installed: run `bash scripts/lab-setup.sh install`"
    return None
