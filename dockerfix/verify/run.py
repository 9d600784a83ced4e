"""``dockerfix verify``: build the original and the rewritten Dockerfile, compare the images, measure rebuilds.

The flow, for one Dockerfile:

1. rewrite it with the selected transforms (``dockerfix.fix``), companion files (``.dockerignore``) included;
2. copy the build context twice (the rewrite's copy gets the companion files); the Dockerfiles live outside both
   copies, so ``COPY . .`` does not pick up the rewritten Dockerfile as a difference;
3. build both with the chosen builder, export, flatten (one shared layer cache), compare with the differences the
   applied transforms declare (``Transform.image_differences``) plus build noise allowed;
4. edit one source file in both copies, rebuild both, and count the steps each had to run again.

Everything that touches processes goes through the injected :class:`~dockerfix.verify.builders.Builder`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dockerfix.verify.builders import BuildError, Builder, BuildResult
from dockerfix.verify.compare import BUILD_NOISE, AllowedDifference, Comparison, compare_images
from dockerfix.verify.imagefs import flatten_image

MANIFESTS = frozenset((
    "requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "setup.py",
    "setup.cfg", "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
    "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "pom.xml", "build.gradle", "settings.gradle", "Gemfile",
    "Gemfile.lock", "composer.json", "composer.lock",
))
SOURCE_SUFFIXES = (".py", ".js", ".ts", ".go", ".rb", ".php", ".java", ".rs", ".cs", ".html", ".css", ".sh")
_COMMENT = {".py": "#", ".rb": "#", ".sh": "#", ".js": "//", ".ts": "//", ".go": "//", ".java": "//", ".rs": "//",
            ".cs": "//", ".php": "//", ".css": "/*", ".html": "<!--"}
_COMMENT_END = {"/*": " */", "<!--": " -->"}


class VerifyError(Exception):
    """Verification could not run (no builder, a build failed, unsupported syntax); the message says why."""


@dataclass
class Side:
    """One of the two builds."""

    build: BuildResult | None = None
    rebuild: BuildResult | None = None
    size: int = 0
    compressed_size: int = 0
    file_bytes: int = 0
    layers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "build_seconds": round(self.build.seconds, 2) if self.build else None,
            "image_bytes": self.size,
            "compressed_bytes": self.compressed_size,
            "file_bytes": self.file_bytes,
            "layers": self.layers,
            "rebuild_seconds": round(self.rebuild.seconds, 2) if self.rebuild else None,
            "rebuild_steps": self.rebuild.built_steps if self.rebuild else None,
            "rebuild_cached_steps": self.rebuild.cached_steps if self.rebuild else None,
        }


@dataclass
class VerifyReport:
    dockerfile: str
    builder: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    before: Side = field(default_factory=Side)
    after: Side = field(default_factory=Side)
    comparison: Comparison | None = None
    edited: str | None = None
    notes: list[str] = field(default_factory=list)
    rewritten: bool = False

    @property
    def equal(self) -> bool:
        return self.comparison is not None and self.comparison.equal

    def to_dict(self) -> dict[str, Any]:
        comp = self.comparison.to_dict() if self.comparison else None
        return {
            "dockerfile": self.dockerfile,
            "builder": self.builder,
            "rewritten": self.rewritten,
            "equal": self.equal,
            "changes": self.changes,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "edited_file": self.edited,
            "comparison": comp,
            "notes": self.notes,
        }


def allowed_for(codes: set[str]) -> list[AllowedDifference]:
    """The differences the applied transforms declare, one allowance per transform."""
    from dockerfix.transforms.registry import all_transforms

    out = []
    for t in all_transforms():
        if t.code in codes and t.image_differences:
            out.append(AllowedDifference(tuple(t.image_differences), t.summary, t.code))
    return out


def unsupported(text: str, builder: Builder) -> list[str]:
    """Why ``builder`` cannot build ``text`` (Dockerfile features it lacks), as readable sentences."""
    from dockerfix.syntax import parse

    caps = builder.capabilities
    doc = parse(text)
    out = []
    for inst in doc.iter_instructions():
        eff = inst.effective
        if eff.heredocs and not caps.heredocs:
            out.append(f"line {inst.start_line}: heredocs need BuildKit (or buildah >= 1.33); {builder.name} "
                       "cannot build them")
        for m in eff.flags_named("mount"):
            if "type=cache" in (m.value or "") and not caps.cache_mounts:
                out.append(f"line {inst.start_line}: cache mounts need BuildKit or buildah")
        if eff.keyword == "COPY" and eff.flag("link") and not caps.copy_link:
            out.append(f"line {inst.start_line}: COPY --link needs BuildKit")
        if eff.keyword in ("COPY", "ADD") and eff.flag("chmod") and not caps.copy_chmod:
            out.append(f"line {inst.start_line}: --chmod needs BuildKit or buildah")
        if eff.keyword == "ADD" and eff.flag("checksum") and not caps.add_checksum:
            out.append(f"line {inst.start_line}: ADD --checksum needs a recent BuildKit")
        if eff.keyword == "RUN" and eff.flag("network") and not caps.run_network:
            out.append(f"line {inst.start_line}: RUN --network needs BuildKit")
    if doc.directive("syntax") and caps.syntax_directive == "pulls":
        out.append("the # syntax= directive makes this builder pull a frontend image, which needs a registry")
    return out


def _literal(path: str) -> str:
    """A path as a pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


def pick_source_file(context: Path, exclude: set[str] | None = None) -> str | None:
    """A source file to edit for the rebuild measurement: the largest file with a source suffix that is not a
    dependency manifest (dot-folders, node_modules and virtualenvs skipped)."""
    best: tuple[int, str] | None = None
    skip_dirs = {".git", "node_modules", ".venv", "venv", "__pycache__", "vendor", "dist", "build", "target"}
    for dirpath, dirnames, files in os.walk(context):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("."))
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(dirpath, f), context).replace(os.sep, "/")
            if f in MANIFESTS or not f.endswith(SOURCE_SUFFIXES) or (exclude and rel in exclude):
                continue
            size = os.path.getsize(os.path.join(dirpath, f))
            if best is None or size > best[0]:
                best = (size, rel)
    return best[1] if best else None


def edit_source(path: Path) -> None:
    """Append a comment that changes the file's content (unique, so no earlier build can have cached it)."""
    c = _COMMENT.get(path.suffix, "#")
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"\n{c} dockerfix verify edit {uuid.uuid4().hex}{_COMMENT_END.get(c, '')}\n")


def verify(
    dockerfile: str | os.PathLike[str],
    builder: Builder,
    *,
    context: str | os.PathLike[str] | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    unsafe: bool = False,
    settings: dict[str, Any] | None = None,
    edit: str | None = None,
    rebuild: bool = True,
    baseline: bool = False,
    workdir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    import dockerfix

    say = progress or (lambda _m: None)
    dockerfile = Path(dockerfile)
    ctx = Path(context) if context else dockerfile.parent
    text = dockerfile.read_bytes().decode("utf-8")
    result = dockerfix.fix(text, select=select, ignore=ignore, unsafe=unsafe, path=str(dockerfile),
                           context=str(ctx), settings=settings)
    report = VerifyReport(str(dockerfile), builder.name)
    report.changes = [c.to_dict() for c in result.changes]
    report.rewritten = result.changed
    if result.errors:
        raise VerifyError("; ".join(result.errors))
    problems = unsupported(text, builder) + [p for p in unsupported(result.text, builder) if p not in
                                                 unsupported(text, builder)]
    if problems:
        raise VerifyError(f"{builder.name} cannot build this pair: " + "; ".join(problems) +
                          ". Use a builder that can (--builder docker with BuildKit) or leave those transforms out.")
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="dockerfix-verify-") if own_tmp else workdir)
    tag = f"dockerfix-verify-{uuid.uuid4().hex[:10]}"
    tags = (f"{tag}-before", f"{tag}-after")
    try:
        ctx_a, ctx_b = work / "context-before", work / "context-after"
        shutil.copytree(ctx, ctx_a, symlinks=True)
        shutil.copytree(ctx, ctx_b, symlinks=True)
        for rel, fc in result.files.items():
            (ctx_b / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx_b / rel).write_text(fc.after, encoding="utf-8")
        df_a, df_b = work / "Dockerfile.before", work / "Dockerfile.after"
        df_a.write_text(text, encoding="utf-8")
        df_b.write_text(result.text, encoding="utf-8")
        sides = (report.before, report.after)
        flats = []
        cache: dict = {}
        for side, df, c, t in zip(sides, (df_a, df_b), (ctx_a, ctx_b), tags):
            say(f"building {'the original' if side is report.before else 'the rewrite'} with {builder.name}")
            try:
                side.build = builder.build(df, c, t)
            except BuildError as exc:
                raise VerifyError(f"the {'original' if side is report.before else 'rewritten'} Dockerfile does "
                                  f"not build: {exc}\n{exc.tail()}") from None
            say("exporting and reading the image")
            archive = builder.export(t, work / f"{t}.tar", fmt="docker-archive")
            flat = flatten_image(archive, layer_cache=cache)
            side.size, side.compressed_size, side.layers = flat.uncompressed_size, flat.compressed_size, \
                flat.layer_count
            side.file_bytes = flat.file_bytes
            flats.append(flat)
            os.unlink(archive)
        codes = {c["code"] for c in report.changes}
        noise: list[AllowedDifference] = []
        if baseline:
            # Build the original once more without the cache: whatever differs between two builds of the same
            # Dockerfile (native compiles, timestamps inside files) is the build's own nondeterminism.
            say("building the original again without cache, to learn what differs between builds anyway")
            t3 = f"{tag}-baseline"
            try:
                builder.build(df_a, ctx_a, t3, no_cache=True)
                archive = builder.export(t3, work / f"{t3}.tar", fmt="docker-archive")
                again = flatten_image(archive, layer_cache=cache)
                os.unlink(archive)
            finally:
                try:
                    builder.remove(t3)
                except Exception:
                    pass
            base = compare_images(flats[0], again, list(BUILD_NOISE))
            paths = tuple(sorted({v.path for v in base.violations if hasattr(v, "path")}))
            if paths:
                noise.append(AllowedDifference(tuple(_literal(p) for p in paths),
                                               "differs between two builds of the original (nondeterministic build)",
                                               "baseline"))
                report.notes.append(f"{len(paths)} paths differ between two builds of the original itself; "
                                    "they are not held against the rewrite")
        report.comparison = compare_images(flats[0], flats[1], [*allowed_for(codes), *BUILD_NOISE, *noise])
        if rebuild:
            target = edit or pick_source_file(ctx)
            if target is None:
                report.notes.append("no source file found to edit: rebuild not measured (pass --edit FILE)")
            else:
                report.edited = target
                for side, df, c, t in zip(sides, (df_a, df_b), (ctx_a, ctx_b), tags):
                    edit_source(c / target)
                    say(f"rebuilding {'the original' if side is report.before else 'the rewrite'} after editing "
                        f"{target}")
                    side.rebuild = builder.build(df, c, t)
        return report
    finally:
        try:
            builder.remove(*tags)
        except Exception:
            pass
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)


def choose_builder(name: str | None, lab_root: str | None) -> Builder:
    """The named builder, or the first that works: buildah, docker (BuildKit), podman."""
    from dockerfix.verify.builders import BuildahBuilder, DockerBuilder, PodmanBuilder

    root = lab_root or os.environ.get("DOCKERFIX_LAB") or os.path.join(tempfile.gettempdir(), "dockerfix-lab")
    candidates = {
        "buildah": lambda: BuildahBuilder(root),
        "docker": lambda: DockerBuilder(buildkit=True),
        "podman": lambda: PodmanBuilder(root),
    }
    if name:
        if name not in candidates:
            raise VerifyError(f"unknown builder {name!r} (choose buildah, docker or podman)")
        b = candidates[name]()
        if not b.available():
            raise VerifyError(f"{name} is not available here (not installed, or no daemon running)")
        return b
    for n in ("buildah", "docker", "podman"):
        b = candidates[n]()
        if b.available():
            return b
    raise VerifyError("no builder found: install buildah (apt-get install buildah), or run a Docker daemon")

