"""Real open-source apps (``../shared/realapps``) built before and after dockerfix, with any builder.

``../shared/realapps`` holds 20 third-party build contexts (test data only: nothing from there is ever copied into
this repository; builds use a temporary copy of each folder). ``MANIFEST.tsv`` says, per app, which Dockerfile to
build, the base tags it needs, a smoke command and notes (``bud_flags=--target X``).

:class:`Matrix` drives one builder through the apps the way ``dockerfix verify`` does (rewrite with
``dockerfix.fix``, lay the rewrite out as ``--write`` leaves it, compare the flattened images allowing what the
applied transforms declare, build noise, the rewritten files and, when only regenerated files differ, what a second
build of the original shows), with these differences for a whole matrix:

- each app's original is built, exported, flattened and smoke-tested once per builder and session; the safe and the
  unsafe rewrite compare against it, and the builder's layer cache gives each rewrite the original's unchanged
  layers (and with them the pip/npm downloads of every step the rewrite leaves alone);
- a rewrite identical to one already built (the unsafe one often equals the safe one) is not built again; a rewrite
  that changes nothing is the original;
- ``--target`` comes from the manifest's ``bud_flags``; the second build of the original (the baseline) is made
  exactly when ``dockerfix verify`` would make it (``explain_for_baseline``), once per app;
- an unsafe rewrite is also compared with the safe one, so every difference the original and the unsafe rewrite
  show can be put down to the opted-in unsafe fixes (or not);
- the smoke command runs in both images; an app without a shell (``(no shell)`` in the manifest) gets its binary
  checked (an ELF file, and it starts: serves HTTP when its port is free).
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dockerfix
from dockerfix.verify.builders import BuildahBuilder, BuildError, Builder, BuildResult, DockerBuilder
from dockerfix.verify.compare import (
    BUILD_NOISE,
    AllowedDifference,
    Comparison,
    baseline_allowances,
    compare_images,
    explain_for_baseline,
    rewritten_files,
)
from dockerfix.verify.imagefs import FlatImage, flatten_image
from dockerfix.verify.run import allowed_for, edit_source, lay_out, unsupported

REPO = Path(__file__).resolve().parents[2]
REALAPPS = Path(os.environ.get("DOCKERFIX_REALAPPS") or REPO.parent / "shared" / "realapps")
TAG_PREFIX = "localhost/dockerfix-realapps"

DOCKER_APPS = tuple(os.environ.get("DOCKERFIX_REALAPPS_DOCKER", "").split(",")) if os.environ.get(
    "DOCKERFIX_REALAPPS_DOCKER") else ("azure-vote", "compose-nodejs-redis-web", "skaffold-getting-started",
                                       "voting-vote", "skaffold-debug-npm")
"""The docker (BuildKit) subset: python, node, Go, multi-stage and manifest reordering at the lowest build cost
(``DOCKERFIX_REALAPPS_DOCKER=a,b`` picks others). docs/realapps.md says why these and not the others."""

KNOWN_BUGS: dict[tuple[str, str], str] = {}
"""(app, variant) -> the dockerfix bug that makes the rewrite differ (the test is expected to fail, strictly: it
fails the run once the bug is fixed, so the entry gets removed)."""


# ----------------------------------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class App:
    name: str
    dockerfile: str
    smoke: str
    build_seconds: float
    notes: str
    base_tags: str

    @property
    def folder(self) -> Path:
        return REALAPPS / self.name

    @property
    def target(self) -> str | None:
        m = re.search(r"bud_flags=--target[= ](\S+?)[).,;]?(?:\s|$)", self.notes)
        return m.group(1) if m else None

    @property
    def has_shell(self) -> bool:
        return not self.smoke.startswith("(no shell)")


def load_manifest(root: Path = REALAPPS) -> list[App]:
    with open(root / "MANIFEST.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [App(r["app"], r["dockerfile"], r["smoke_command"], float(r["build_seconds_here"] or 0), r["notes"],
                r["base_tags_needed"]) for r in rows]


def why_not(root: Path = REALAPPS) -> str | None:
    if not (root / "MANIFEST.tsv").is_file():
        return f"the real apps are not here: {root}/MANIFEST.tsv is missing (set DOCKERFIX_REALAPPS)"
    missing = [a.name for a in load_manifest(root) if not (a.folder / a.dockerfile).is_file()]
    if missing:
        return f"realapps folders missing from {root}: {', '.join(missing)}"
    return None


def manifest_or_empty() -> list[App]:
    """The apps, or none when ``../shared/realapps`` is absent (the tests then skip with the reason)."""
    return load_manifest() if why_not() is None else []


def base_tag_map(root: Path = REALAPPS) -> list[tuple[str, str]]:
    """(name a Dockerfile uses, lab image) pairs, read from setup-bases.sh (the one list of them)."""
    text = (root / "setup-bases.sh").read_text(encoding="utf-8")
    m = re.search(r"<<'TAGS'\n(.*?)\nTAGS\n", text, re.S)
    pairs = []
    for line in (m.group(1) if m else "").splitlines():
        parts = line.split()
        if len(parts) == 2 and not parts[0].startswith("#"):
            pairs.append((parts[0], parts[1]))
    return pairs


DERIVED_BASE = ("localhost/realapps-base/python-buster-netcat:v2", "_bases/python-buster-netcat")


def setup_buildah_bases(lab_root: Path) -> float:
    """Run setup-bases.sh (adds tags only, builds the netcat stand-in once); returns the seconds it took."""
    t0 = time.monotonic()
    env = {**os.environ, "DOCKERFIX_LAB": str(lab_root)}
    r = subprocess.run(["bash", str(REALAPPS / "setup-bases.sh")], env=env, capture_output=True, text=True,
                       timeout=900)
    if r.returncode:
        raise RuntimeError(f"setup-bases.sh failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return time.monotonic() - t0


def setup_docker_bases(builder: DockerBuilder) -> float:
    """The same names in a docker daemon: build the netcat stand-in, then tag each name from its lab image
    (existing names are left alone)."""
    t0 = time.monotonic()

    def docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run([builder.program, *args], env=builder.env, capture_output=True, text=True,
                              timeout=timeout)

    def have(ref: str) -> bool:
        return docker("image", "inspect", ref, timeout=60).returncode == 0

    tag, folder = DERIVED_BASE
    if not have(tag):
        builder.build(REALAPPS / folder / "Dockerfile", REALAPPS / folder, tag)
    for want, src in base_tag_map():
        if not have(want):
            r = docker("tag", src, want, timeout=60)
            if r.returncode:
                raise RuntimeError(f"docker tag {src} {want} failed: {r.stderr.strip()}")
    return time.monotonic() - t0


# ------------------------------------------------------------------------------------------------------ results


@dataclass
class Smoke:
    ok: bool
    detail: str


@dataclass
class Image:
    tag: str
    build: BuildResult | None
    flat: FlatImage
    export_seconds: float
    flatten_seconds: float
    smoke: Smoke | None = None


@dataclass
class Outcome:
    """One rewrite of one app on one builder."""

    app: str
    variant: str
    """``safe`` or ``unsafe``."""
    builder: str
    changes: list[dict[str, Any]]
    text: str
    files: dict[str, str]
    image: Image | None = None
    """None when the rewrite changed nothing (the original stands for it)."""
    comparison: Comparison | None = None
    same_as: str | None = None
    """``safe`` when the unsafe rewrite equals the safe one (so it was not built again); ``original`` when it
    changes nothing."""
    declared_files: dict[str, list[str]] = field(default_factory=dict)
    """The rewritten files (Dockerfile, ``.dockerignore``) found in the images: context path -> image paths."""
    notes: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    """For the unsafe variant: violations that the safe and unsafe rewrites do not differ in (so the unsafe-only
    fixes do not explain them)."""
    error: str | None = None

    @property
    def codes(self) -> list[str]:
        return sorted({c["code"] for c in self.changes})

    @property
    def unsafe_codes(self) -> list[str]:
        return sorted({c["code"] for c in self.changes if not c.get("safe", True)})

    @property
    def equal(self) -> bool:
        return self.error is None and (self.comparison is None or self.comparison.equal)

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        if self.same_as == "original":
            return "unchanged"
        if self.comparison is None:
            return "?"
        if self.comparison.equal:
            return "equal"
        return f"DIFFERENT ({len(self.comparison.violations)})"

    def violations(self, limit: int = 25) -> list[str]:
        if self.comparison is None:
            return []
        return [describe(v.to_dict()) for v in self.comparison.violations[:limit]]


def describe(v: dict[str, Any]) -> str:
    from dockerfix.verify.cli import describe as one_line

    return one_line(v)


# ------------------------------------------------------------------------------------------------------- matrix


@dataclass
class Matrix:
    """One builder's run through the apps (one per builder and session)."""

    builder: Builder
    workdir: Path
    timings: list[dict[str, Any]] = field(default_factory=list)
    _originals: dict[str, Image] = field(default_factory=dict)
    _outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    _by_text: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    _layouts: dict[tuple[str, str], Any] = field(default_factory=dict)
    _baselines: dict[str, tuple[list[AllowedDifference], int, list[str]]] = field(default_factory=dict)
    _rebuilds: dict[tuple[str, str], BuildResult] = field(default_factory=dict)
    _layer_cache: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.builder.name

    def note(self, what: str, seconds: float, **extra: Any) -> None:
        self.timings.append({"what": f"[{self.name}] {what}", "seconds": round(seconds, 1), **extra})

    def tag(self, app: App, variant: str) -> str:
        return f"{TAG_PREFIX}/{app.name}:{variant}"

    def _build(self, app: App, variant: str, dockerfile: Path, context: Path, *, no_cache: bool = False,
               like: Image | None = None, smoke: bool = True) -> Image:
        """Build, export, flatten (and smoke-test) one image. ``like``: an image whose flattened tree this build
        reuses when the builder returns the very same image (every step cached)."""
        tag = self.tag(app, variant)
        try:
            result = self.builder.build(dockerfile, context, tag, target=app.target, no_cache=no_cache)
        except BuildError as exc:
            raise BuildError(f"{app.name}:{variant} does not build with {self.name}: {exc}\n{exc.tail(25)}",
                             exc.log, exc.returncode) from None
        self.note(f"build {app.name}:{variant}", result.seconds, built_steps=result.built_steps,
                  cached_steps=result.cached_steps)
        if like is not None and like.build is not None and result.image_id and \
                result.image_id == like.build.image_id:
            return Image(tag, result, like.flat, 0.0, 0.0, like.smoke)
        t0 = time.monotonic()
        archive = self.builder.export(tag, self.workdir / app.name / f"{variant}.tar", fmt="docker-archive")
        t1 = time.monotonic()
        flat = flatten_image(archive, layer_cache=self._layer_cache)
        t2 = time.monotonic()
        image = Image(tag, result, flat, t1 - t0, t2 - t1)
        self.note(f"export+flatten {app.name}:{variant}", t2 - t0, entries=len(flat.entries))
        try:
            if smoke:
                t3 = time.monotonic()
                image.smoke = self.smoke(app, image, archive)
                self.note(f"smoke {app.name}:{variant}", time.monotonic() - t3, ok=image.smoke.ok)
        finally:
            archive.unlink()
        return image

    def original(self, app: App) -> Image:
        """The app's own Dockerfile at its own path in a copy of its folder (as ``dockerfix verify`` builds the
        original), built, exported, flattened and smoke-tested once per session."""
        if app.name not in self._originals:
            ctx = self.workdir / app.name / "orig" / "context"
            shutil.rmtree(ctx, ignore_errors=True)
            shutil.copytree(app.folder, ctx, symlinks=True)
            self._originals[app.name] = self._build(app, "orig", ctx / app.dockerfile, ctx)
        return self._originals[app.name]

    def baseline(self, app: App) -> tuple[list[AllowedDifference], int, list[str]]:
        """The original built again without cache (``dockerfix verify --baseline``), once per app: what it allows
        a rewrite (``baseline_allowances``), how many paths differed, which REGENERATED rows it confirmed."""
        if app.name not in self._baselines:
            orig = self.original(app)
            ctx = self.workdir / app.name / "baseline" / "context"
            shutil.rmtree(ctx, ignore_errors=True)
            shutil.copytree(app.folder, ctx, symlinks=True)
            again = self._build(app, "baseline", ctx / app.dockerfile, ctx, no_cache=True, smoke=False)
            base = compare_images(orig.flat, again.flat, list(BUILD_NOISE))
            noise, rows = baseline_allowances(base)
            paths = sum(1 for v in base.violations if hasattr(v, "path"))
            self._baselines[app.name] = (noise, paths, rows)
            try:
                self.builder.remove(again.tag)
            except Exception:
                pass
        return self._baselines[app.name]

    def rewrite(self, app: App, variant: str) -> Outcome:
        """``dockerfix.fix`` with the app folder as context (``unsafe`` for the unsafe variant), laid out as
        ``dockerfix --write`` leaves it (``lay_out``), built on top of the original's layers and compared with the
        original the way ``dockerfix verify`` compares (declared differences, build noise, the rewritten files,
        and an automatic baseline when only regenerated files or files of re-run steps differ)."""
        key = (app.name, variant)
        if key in self._outcomes:
            return self._outcomes[key]
        orig = self.original(app)
        path = app.folder / app.dockerfile
        original = path.read_bytes()
        res = dockerfix.fix(original.decode("utf-8"), unsafe=variant == "unsafe", path=str(path),
                            context=str(app.folder))
        files = {rel: fc.after for rel, fc in res.files.items() if fc.after != fc.before}
        out = Outcome(app.name, variant, self.name, [c.to_dict() for c in res.changes], res.text, files)
        self._outcomes[key] = out
        if res.errors:
            out.error = "; ".join(res.errors)
            return out
        refused = unsupported(original.decode("utf-8"), self.builder, app.target)
        refused += [p for p in unsupported(res.text, self.builder, app.target) if p not in refused]
        if refused:  # the same gate as dockerfix verify's
            out.error = f"dockerfix verify --builder {self.name} would refuse this pair: " + "; ".join(refused)
            return out
        if not res.changed:
            out.same_as = "original"
            return out
        fingerprint = json.dumps([app.name, res.text, files], sort_keys=True)
        twin = self._by_text.get(fingerprint)
        if twin is not None:
            out.same_as, out.image, out.comparison, out.error = twin.variant, twin.image, twin.comparison, twin.error
            out.notes, out.declared_files = twin.notes, twin.declared_files
            return out
        self._by_text[fingerprint] = out
        work = self.workdir / app.name / variant
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        layout = lay_out(path, app.folder, original, res, work)
        self._layouts[key] = layout
        try:
            out.image = self._build(app, variant, layout.dockerfiles[1], layout.contexts[1], like=orig)
        except BuildError as exc:
            out.error = str(exc)
            return out
        t0 = time.monotonic()
        codes = {c["code"] for c in out.changes}
        declared, out.declared_files = rewritten_files(orig.flat, out.image.flat, layout.declared)
        allowed = [*allowed_for(codes), *BUILD_NOISE, *declared]
        out.comparison = compare_images(orig.flat, out.image.flat, allowed)
        why = None
        if not out.comparison.equal:  # dockerfix verify's decision: no app gets a baseline it did not earn
            explained, rest = explain_for_baseline(out.comparison, orig.flat, out.image.flat)
            if explained and not rest:
                why = "automatic: only files builds regenerate differ (" + \
                    ", ".join(sorted(set(explained.values()))) + ")"
        if why is not None:
            noise, paths, rows = self.baseline(app)
            out.comparison = compare_images(orig.flat, out.image.flat, [*allowed, *noise])
            out.notes.append(f"baseline ({why}): {paths} paths differ between two builds of the original"
                             + (f"; rows confirmed: {', '.join(rows)}" if rows else ""))
        if variant == "unsafe" and not out.comparison.equal:
            safe = self.rewrite(app, "safe")
            safe_flat = safe.image.flat if safe.image is not None else orig.flat
            between = compare_images(safe_flat, out.image.flat, list(BUILD_NOISE))
            caused = {_where(v) for v in between.violations}
            out.unexplained = [describe(v.to_dict()) for v in out.comparison.violations if _where(v) not in caused]
        self.note(f"compare {app.name}:{variant}", time.monotonic() - t0)
        return out

    def rebuild_after_edit(self, app: App, variant: str, rel: str) -> BuildResult:
        """Edit ``rel`` in the context ``variant`` was built from and build it again (for the bench: how many steps
        a source edit re-runs). A variant that was not built on its own shares its twin's measurement."""
        key = (app.name, variant)
        if key not in self._rebuilds:
            out = self._outcomes.get(key) if variant != "orig" else None
            if out is not None and out.same_as is not None:
                twin = "orig" if out.same_as == "original" else out.same_as
                self._rebuilds[key] = self.rebuild_after_edit(app, twin, rel)
            else:
                if variant == "orig":
                    ctx = self.workdir / app.name / "orig" / "context"
                    df = ctx / app.dockerfile
                else:
                    layout = self._layouts[key]
                    df, ctx = layout.dockerfiles[1], layout.contexts[1]
                edit_source(ctx / rel)
                r = self.builder.build(df, ctx, self.tag(app, variant), target=app.target)
                self.note(f"rebuild after edit {app.name}:{variant}", r.seconds, built_steps=r.built_steps)
                self._rebuilds[key] = r
        return self._rebuilds[key]

    # -- smoke
    def smoke(self, app: App, image: Image, archive: Path) -> Smoke:
        if app.has_shell:
            r = self.builder.run(image.tag, app.smoke)
            tail = (r.stdout + r.stderr).strip()[-1500:]
            return Smoke(r.ok, f"exit {r.returncode}: {tail}")
        return self.smoke_binary(app, image, archive)

    def smoke_binary(self, app: App, image: Image, archive: Path) -> Smoke:
        """For an image without a shell: the binary the manifest names is an ELF file, and it starts (and
        answers HTTP on its port when that port is free here)."""
        m = re.search(r"<mounted image>(/\S+)", app.smoke)
        if not m:
            return Smoke(False, f"cannot tell which binary to check from the smoke text: {app.smoke}")
        binary = m.group(1)
        head = read_file(archive, binary.lstrip("/"), 4)
        if head != b"\x7fELF":
            return Smoke(False, f"{binary} is not an ELF file (starts with {head!r})")
        port_m = re.search(r"serves on :(\d+)", app.smoke)
        port = int(port_m.group(1)) if port_m else None
        log = self.workdir / app.name / f"smoke-{uuid.uuid4().hex[:8]}.log"
        if isinstance(self.builder, BuildahBuilder):
            return _start_with_buildah(self.builder, image.tag, binary, port, log)
        if isinstance(self.builder, DockerBuilder):
            return _start_with_docker(self.builder, image.tag, binary, port)
        return Smoke(True, f"{binary} is an ELF file (starting it is not implemented for {self.name})")


def _where(v: Any) -> str:
    return getattr(v, "path", None) or f"@config/{v.field}"


def read_file(archive: Path, path: str, n: int) -> bytes | None:
    """The first ``n`` bytes of ``path`` in a docker-archive (the topmost layer holding it), or None."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for layer in reversed(manifest[0]["Layers"]):
            with tarfile.open(fileobj=outer.extractfile(layer)) as inner:  # type: ignore[arg-type]
                for member in inner:
                    if _member_path(member.name) == path:
                        if not member.isfile():
                            return None
                        return inner.extractfile(member).read(n)  # type: ignore[union-attr]
    return None


def _member_path(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _http_get(host: str, port: int, deadline: float) -> tuple[int, str] | None:
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection(host, port, timeout=2)
            c.request("GET", "/")
            r = c.getresponse()
            return r.status, r.read(200).decode(errors="replace")
        except OSError:
            time.sleep(0.2)
    return None


def _start_with_buildah(builder: BuildahBuilder, tag: str, binary: str, port: int | None, log: Path) -> Smoke:
    made = subprocess.run(builder.command("from", "--pull=never", "--quiet", tag), env=builder.env,
                          capture_output=True, text=True, timeout=120)
    if made.returncode:
        return Smoke(False, f"buildah from failed: {made.stderr.strip()}")
    ctr = made.stdout.strip().splitlines()[-1]
    free = port is not None and _port_free(port)
    proc = None
    try:
        with open(log, "w") as out:
            proc = subprocess.Popen(builder.command("run", "--isolation", builder.isolation, ctr, "--", binary),
                                    env=builder.env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        if free:
            got = _http_get("127.0.0.1", port, time.monotonic() + 10)  # type: ignore[arg-type]
            if got is None:
                return Smoke(False, f"{binary} did not answer on :{port}: {log.read_text()[-500:]}")
            return Smoke(got[0] == 200, f"{binary} answered HTTP {got[0]} on :{port}")
        time.sleep(2)
        text = log.read_text()
        if proc.poll() is None or "address already in use" in text:
            return Smoke(True, f"{binary} starts (port {port} is taken here, so serving was not checked)")
        return Smoke(False, f"{binary} exited {proc.returncode}: {text[-500:]}")
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        subprocess.run(builder.command("rm", ctr), env=builder.env, capture_output=True, timeout=120)
        log.unlink(missing_ok=True)


def _start_with_docker(builder: DockerBuilder, tag: str, binary: str, port: int | None) -> Smoke:
    """``docker run -d --network host`` (as :meth:`DockerBuilder.run`): answers on its port when that is free here,
    else at least starts."""
    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([builder.program, *args], env=builder.env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    free = port is not None and _port_free(port)
    r = docker("run", "-d", "--network=host", tag, binary)
    if r.returncode:
        return Smoke(False, f"docker run failed: {r.stderr.strip()}")
    cid = r.stdout.strip().splitlines()[-1]
    try:
        if free:
            got = _http_get("127.0.0.1", port, time.monotonic() + 10)  # type: ignore[arg-type]
            if got is None:
                logs = docker("logs", cid)
                return Smoke(False, f"{binary} did not answer on :{port}: {(logs.stdout + logs.stderr)[-500:]}")
            return Smoke(got[0] == 200, f"{binary} answered HTTP {got[0]} on :{port}")
        time.sleep(2)
        running = docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "true"
        logs = docker("logs", cid)
        text = logs.stdout + logs.stderr
        if running or "address already in use" in text:
            return Smoke(True, f"{binary} starts (port {port} is taken here, so serving was not checked)")
        return Smoke(False, f"{binary} exited: {text[-500:]}")
    finally:
        docker("rm", "-f", cid)
