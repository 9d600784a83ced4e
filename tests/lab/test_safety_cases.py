"""Safety cases built for real: rewrites that look harmless in the text but change the build or the image.

Each case is a folder under ``tests/lab/cases/``: the user's ``Dockerfile``, its build context, and hand-written
controls (``Dockerfile.<variant>``) that show what goes wrong when dockerfix makes the dangerous fix. For each case
the tests

- build the original (it must build);
- run ``dockerfix.fix`` in safe mode with the case folder as build context, build the rewrite (its context copy
  gets the companion files dockerfix proposes) and compare it with the original: equal apart from the
  differences the applied transforms declare, plus build noise, as ``dockerfix verify`` compares;
- check that dockerfix refused the dangerous fix;
- build the controls and show the hazard is real (the build fails, or the image differs where it should not).

Cases:

``npm-offline-after-fetch``
    ``npm ci`` in stage ``base`` fills ``/root/.npm``; stage ``builder`` (FROM base) runs ``npm ci --offline``,
    which reads only that cache. A cache mount on the offline step hides the cache the parent left in its layer
    (``Dockerfile.buggy``: ENOTCACHED). Mounting on both steps (``Dockerfile.mounted``, what cache-mounts writes
    before the fix) moves the cache out of the layer into the mount: it builds while the mount is warm and fails
    after a source edit on a builder whose mount is cold but whose layers are cached.
``npm-offline-same-stage``
    The same in one stage: ``npm ci``, then ``COPY index.js`` and ``npm ci --offline``. dockerfix mounts neither
    (before issue 20 it mounted the first in one pass and the offline one in the next, ``Dockerfile.mounted``, which
    fails on a cold builder after a source edit).
``go-download-then-build``
    ``go mod download``, then ``go build`` in a build stage: both get a mount on ``/go/pkg/mod`` in the first pass
    (the build's fix requires the download's). The rewrite builds, keeps the image, and builds after a source edit
    on a cold builder.
``npm-cache-copied-out``
    ``npm ci`` in ``deps``; ``build`` copies ``/root/.npm`` out of ``deps`` and installs offline. A cache mount on the
    npm ci of ``deps`` (``Dockerfile.buggy``, what cache-mounts wrote before it asked what later stages copy out)
    keeps the cache out of the layers of ``deps``: the build fails on any builder (buildah: the COPY finds no
    ``/root/.npm``; BuildKit: an empty directory, and the offline install fails).
``npm-home-copied-out``
    The same with ``COPY --from=deps /root /root``: a folder holding the cache, copied to carry it along.
``pip-wheels-offline``
    ``pip download -d /wheels`` in ``base``, ``pip install --no-index --find-links /wheels`` in ``builder``. No
    hazard: ``/wheels`` is not a package-manager cache, so whatever dockerfix does must build and keep the image.
    (A variant that reads pip's own cache offline is not possible: pip cannot install from its cache without an
    index, and through the lab's proxy ``pip download`` leaves its HTTP cache empty anyway.)
``privoxy-recursive-chown``
    ``COPY privoxy.conf /etc/privoxy/config`` then ``RUN chown -R privoxy /etc/privoxy``: the chown covers the
    50 files the package installed too, so ``COPY --chown=privoxy`` (``Dockerfile.buggy``) leaves them root-owned.

Builds are shared across the session (:class:`SafetyCases`) and their times go to the lab timings summary.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import dockerfix
from dockerfix.engine import FixResult
from dockerfix.syntax import parse
from dockerfix.verify.builders import BuildahBuilder, BuildError, BuildResult
from dockerfix.verify.compare import BUILD_NOISE, Comparison, PathDifference, compare_images
from dockerfix.verify.imagefs import FlatImage, flatten_image
from dockerfix.verify.run import allowed_for, edit_source

pytestmark = pytest.mark.lab

CASES = Path(__file__).resolve().parent / "cases"
TAG_PREFIX = "localhost/dockerfix-lab/safety"

NPM = "npm-offline-after-fetch"
PIP = "pip-wheels-offline"
PRIVOXY = "privoxy-recursive-chown"


# ------------------------------------------------------------------------------------------------------ plumbing


class ColdCacheBuildah(BuildahBuilder):
    """The lab's buildah with the same image storage (so layers come from the cache) but an empty directory for
    ``RUN --mount=type=cache``: a builder whose cache mounts were pruned, or a CI runner that imported layers."""

    def __init__(self, lab_root: Path, tmp: Path):
        super().__init__(lab_root)
        self.tmp = tmp

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        self.tmp.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(self.tmp)  # buildah keeps cache mounts in $TMPDIR/buildah-cache
        return env


@dataclass
class Outcome:
    """One build of a case variant: the result, or the error when the build failed."""

    case: str
    variant: str
    tag: str
    dockerfile: str
    result: BuildResult | None = None
    error: BuildError | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def why(self) -> str:
        return "" if self.ok else f"{self.error}\n{self.error.tail(25)}"


class SafetyCases:
    """Builds of the cases, each made once per session: ``orig`` (the case's Dockerfile), ``rewrite`` (what
    dockerfix makes of it) and the controls ``Dockerfile.<variant>``."""

    def __init__(self, lab):
        self.lab = lab
        self.work = lab.workdir / "safety"
        self.cold = f"cold-{uuid.uuid4().hex[:12]}"  # a cache-mount id no build has used before
        self._fixed: dict[str, FixResult] = {}
        self._outcomes: dict[tuple[str, str], Outcome] = {}
        self._images: dict[tuple[str, str], FlatImage] = {}

    def _time(self, what: str, seconds: float, **extra) -> None:
        self.lab.timings.append({"what": what, "seconds": round(seconds, 1), **extra})

    def fixed(self, case: str) -> FixResult:
        """dockerfix's safe rewrite of the case, with the case folder as build context."""
        if case not in self._fixed:
            path = CASES / case / "Dockerfile"
            t0 = time.monotonic()
            self._fixed[case] = dockerfix.fix(path.read_text(encoding="utf-8"), path=str(path),
                                              context=str(CASES / case))
            self._time(f"dockerfix.fix {case}", time.monotonic() - t0)
        return self._fixed[case]

    def text(self, case: str, variant: str) -> str:
        if variant == "rewrite":
            return self.fixed(case).text
        name = "Dockerfile" if variant == "orig" else f"Dockerfile.{variant}"
        return (CASES / case / name).read_text(encoding="utf-8").replace("@COLD@", self.cold)

    def context(self, case: str, variant: str, name: str | None = None) -> Path:
        """A copy of the case's context (Dockerfiles left out; they are passed with -f); the rewrite's copy gets
        the companion files dockerfix proposes (.dockerignore), as ``dockerfix verify`` does."""
        dest = self.work / "contexts" / f"{case}.{name or variant}"
        if not dest.exists():
            shutil.copytree(CASES / case, dest, ignore=shutil.ignore_patterns("Dockerfile*"))
            if variant == "rewrite":
                for rel, fc in self.fixed(case).files.items():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    (dest / rel).write_text(fc.after, encoding="utf-8")
        return dest

    def build(self, case: str, variant: str, *, builder: BuildahBuilder | None = None,
              context: Path | None = None, label: str | None = None) -> Outcome:
        """Build once per (case, label); a failed build is an outcome, not an exception."""
        label = label or variant
        key = (case, label)
        if key not in self._outcomes:
            text = self.text(case, variant)
            df = self.work / "dockerfiles" / f"{case}.{label}"
            df.parent.mkdir(parents=True, exist_ok=True)
            df.write_text(text, encoding="utf-8")
            out = Outcome(case, label, f"{TAG_PREFIX}/{case}:{label}", text)
            t0 = time.monotonic()
            try:
                out.result = (builder or self.lab.builder).build(df, context or self.context(case, variant),
                                                                 out.tag)
            except BuildError as exc:
                out.error = exc
            extra = ({"cached_steps": out.result.cached_steps, "built_steps": out.result.built_steps}
                     if out.ok else {"failed": True})
            self._time(f"build {case}:{label}", time.monotonic() - t0, **extra)
            self._outcomes[key] = out
        return self._outcomes[key]

    def require(self, case: str, variant: str) -> Outcome:
        out = self.build(case, variant)
        assert out.ok, f"{case}:{variant} does not build:\n{out.why()}\n--- Dockerfile\n{out.dockerfile}"
        return out

    def image(self, case: str, variant: str) -> FlatImage:
        key = (case, variant)
        if key not in self._images:
            out = self.require(case, variant)
            t0 = time.monotonic()
            archive = self.lab.builder.export(out.tag, self.work / "images" / f"{case}.{variant}.tar",
                                              fmt="docker-archive")
            t1 = time.monotonic()
            self._images[key] = flatten_image(archive, layer_cache=self.lab.layer_cache)
            archive.unlink()
            self._time(f"export+flatten {case}:{variant}", time.monotonic() - t0, export_s=round(t1 - t0, 1))
        return self._images[key]

    def compare(self, case: str, variant: str, codes: set[str]) -> Comparison:
        """The original against ``variant``, allowing what the transforms ``codes`` declare plus build noise."""
        return compare_images(self.image(case, "orig"), self.image(case, variant),
                              [*allowed_for(codes), *BUILD_NOISE])

    def applied(self, case: str) -> set[str]:
        return {c.code for c in self.fixed(case).changes}

    def cold_builder(self, name: str) -> ColdCacheBuildah:
        return ColdCacheBuildah(self.lab.root, self.work / "cold-tmp" / name)

    def cold_after_edit(self, case: str, variant: str, source: str) -> Outcome:
        """``variant`` built again after an edit of ``source`` in a copy of its context, on a builder whose layers come
        from the cache but whose cache mounts are empty (one cache folder per case and variant): label
        ``<variant>-cold``."""
        edited = self.context(case, variant, name=f"{variant}-edited")
        edit_source(edited / source)
        return self.build(case, variant, builder=self.cold_builder(f"{case}-{variant}"), context=edited,
                          label=f"{variant}-cold")


@pytest.fixture(scope="session")
def cases(lab) -> SafetyCases:
    return SafetyCases(lab)


def _explain(comparison: Comparison, limit: int = 25) -> str:
    lines = [comparison.summary()]
    for v in comparison.violations[:limit]:
        lines.append(str(v.to_dict()))
    return "\n".join(lines)


def _runs(text: str) -> list:
    return [i.effective for i in parse(text).iter_instructions() if i.effective.keyword == "RUN"]


def _cache_targets(run) -> list[str]:
    """The targets of the RUN's cache mounts."""
    out = []
    for flag in run.flags_named("mount"):
        opts = dict(part.partition("=")[::2] for part in (flag.value or "").split(","))
        if opts.get("type") == "cache":
            out.append(opts.get("target") or opts.get("dst") or opts.get("destination") or "")
    return out


# ---------------------------------------------------------------------- case 1: npm cache filled by a parent stage


def test_npm_original_builds(cases):
    cases.require(NPM, "orig")
    assert any(p.startswith("root/.npm/_cacache/") for p in cases.image(NPM, "orig").entries), \
        "npm ci in `base` leaves its cache in the image (the offline step in `builder` reads it)"


def test_npm_control_empty_cache_mount_on_the_offline_step_fails(cases):
    """The hazard is real: an empty cache over the /root/.npm the parent stage filled breaks `npm ci --offline`."""
    cases.require(NPM, "orig")  # same base layers: only the mount differs
    out = cases.build(NPM, "buggy")
    assert not out.ok, "the offline install should not find is-number in an empty cache mount"
    assert "ENOTCACHED" in out.error.log, out.why()


def test_npm_control_mounts_on_both_steps_fail_on_a_cold_builder(cases):
    """Mounts on both npm RUNs build while the mount is warm; after a source edit on a builder whose layers are
    cached but whose cache mount is empty, the offline step re-runs against the empty mount and fails. The
    original survives the same edit on the same cold builder: it reads the cache from the parent's layer."""
    warm = cases.build(NPM, "mounted")
    assert warm.ok, "with the shared cache mount warm from `base`, the offline step finds the packages\n" + warm.why()
    cold = cases.cold_after_edit(NPM, "mounted", "index.js")
    assert not cold.ok and "ENOTCACHED" in cold.error.log, cold.why() or "built on a cold cache mount"
    assert cold.error.log.count("Using cache") >= 3, "the layers of `base` should come from the layer cache"

    cases.require(NPM, "orig")
    orig_cold = cases.cold_after_edit(NPM, "orig", "index.js")
    assert orig_cold.ok, "the original reads the cache from the parent's layer, not a mount\n" + orig_cold.why()


def test_npm_dockerfix_refuses_a_cache_mount_on_the_offline_step(cases):
    """Fails at b866cc1: cache-mounts does not yet ask what a parent stage left in the cache directory."""
    runs = _runs(cases.fixed(NPM).text)
    offline = [r for r in runs if "--offline" in r.line]
    assert len(offline) == 1, [r.line for r in runs]
    assert "/root/.npm" not in _cache_targets(offline[0]), offline[0].line


def test_npm_dockerfix_keeps_the_fetched_cache_in_the_parent_layer(cases):
    """A cache that `builder` reads offline must stay in the layer of `base`, so its `npm ci` gets no cache mount
    either: with one, the cache lives only in the mount (see the cold-builder control). Fails at b866cc1."""
    runs = _runs(cases.fixed(NPM).text)
    fetch = [r for r in runs if "npm ci" in r.line and "--offline" not in r.line]
    assert len(fetch) == 1, [r.line for r in runs]
    assert "/root/.npm" not in _cache_targets(fetch[0]), fetch[0].line


def test_npm_safe_rewrite_builds_and_keeps_the_image(cases):
    """Fails at b866cc1: its rewrite (mounts on both npm RUNs) builds on the lab's warm cache, but the cache is no
    longer in the image and cache-mounts declares no image differences (root/.npm/* only in the original)."""
    cases.require(NPM, "orig")
    cases.require(NPM, "rewrite")
    result = cases.compare(NPM, "rewrite", cases.applied(NPM))
    assert result.equal, _explain(result)


def test_npm_safe_rewrite_survives_a_cold_builder(cases):
    """The refusal as behaviour, whatever the rewrite looks like: build it warm, edit the source, build again on
    a cold builder. Fails at b866cc1, whose rewrite is ``Dockerfile.mounted``."""
    cases.require(NPM, "rewrite")
    cold = cases.cold_after_edit(NPM, "rewrite", "index.js")
    assert cold.ok, cold.why()


# --------------------------------------------------------------------- case 1b: pip wheels fetched by a parent stage


def test_pip_wheels_safe_rewrite_builds_and_keeps_the_image(cases):
    cases.require(PIP, "orig")
    cases.require(PIP, "rewrite")
    result = cases.compare(PIP, "rewrite", cases.applied(PIP))
    assert result.equal, _explain(result)
    assert any(p.startswith("wheels/six-1.16.0") for p in cases.image(PIP, "rewrite").entries)


# ------------------------------------------------------------------ case 3: a recursive chown wider than the COPY


def _root_owned_after(result: Comparison) -> list[PathDifference]:
    return [d for d in result.changed if d.path.startswith("etc/privoxy") and "uid" in d.attributes
            and d.a.uid != 0 and d.b.uid == 0]


def test_privoxy_control_copy_chown_leaves_the_package_files_root_owned(cases):
    """The hazard is real: with `COPY --chown=privoxy:0` instead of `chown -R`, only the copied file changes
    owner; the package's files in /etc/privoxy stay root's."""
    cases.require(PRIVOXY, "orig")
    cases.require(PRIVOXY, "buggy")
    result = cases.compare(PRIVOXY, "buggy", {"DFX301"})
    assert not result.equal
    narrowed = _root_owned_after(result)
    assert len(narrowed) >= 40, _explain(result)  # /etc/privoxy holds 50 entries
    assert "etc/privoxy/config" not in {d.path for d in narrowed}
    assert {"etc/privoxy", "etc/privoxy/default.action", "etc/privoxy/templates"} <= {d.path for d in narrowed}
    assert all(d.path.startswith("etc/privoxy") for d in result.violations if isinstance(d, PathDifference))


def test_privoxy_dockerfix_refuses_copy_chown(cases):
    """The chown covers files the COPY did not bring in. Fails at b866cc1 (it writes ``Dockerfile.buggy``)."""
    text = cases.fixed(PRIVOXY).text
    copies = [i.effective for i in parse(text).iter_instructions() if i.effective.keyword == "COPY"]
    assert len(copies) == 1 and copies[0].flag("chown") is None, copies[0].line
    assert any("chown -R privoxy /etc/privoxy" in r.line for r in _runs(text)), text


def test_privoxy_safe_rewrite_builds_and_keeps_the_image(cases):
    """Fails at b866cc1, whose rewrite is the control (46 entries of /etc/privoxy go from uid 100 to 0)."""
    cases.require(PRIVOXY, "orig")
    cases.require(PRIVOXY, "rewrite")
    result = cases.compare(PRIVOXY, "rewrite", cases.applied(PRIVOXY))
    assert result.equal, _explain(result)


# ------------------------------------------------------------- case 1c: npm cache filled earlier in the same stage

SAME = "npm-offline-same-stage"


def test_npm_same_stage_dockerfix_refuses_both_mounts(cases):
    """`npm ci` then `npm ci --offline` in one stage: neither RUN gets a cache mount. Fails at 5cc4435, which wrote
    ``Dockerfile.mounted`` (the first RUN's mount in one pass, the offline RUN's in the next, both safe)."""
    fixed = cases.fixed(SAME)
    npm = [r for r in _runs(fixed.text) if "npm ci" in r.line]
    assert len(npm) == 2 and all("/root/.npm" not in _cache_targets(r) for r in npm), [r.line for r in npm]
    reasons = [f.reason or "" for f in fixed.findings if f.code == "DFX202"]
    assert any("reads /root/.npm back offline" in r for r in reasons), reasons


def test_npm_same_stage_control_mounts_on_both_fail_on_a_cold_builder(cases):
    """The hazard is real in one stage too: with mounts on both RUNs the offline install reads the builder's cache
    mount; after a source edit on a builder whose layers are cached but whose mount is empty it fails, where the
    original, reading the cache from the first RUN's layer, builds."""
    warm = cases.build(SAME, "mounted")
    assert warm.ok, "with the cache mount warm from the first npm ci, the offline install finds the packages\n" + \
        warm.why()
    cold = cases.cold_after_edit(SAME, "mounted", "index.js")
    assert not cold.ok and "ENOTCACHED" in cold.error.log, cold.why() or "built on a cold cache mount"
    assert cold.error.log.count("Using cache") >= 3, "the first npm ci should come from the layer cache"

    cases.require(SAME, "orig")
    orig_cold = cases.cold_after_edit(SAME, "orig", "index.js")
    assert orig_cold.ok, "the original reads the cache from the first RUN's layer, not a mount\n" + orig_cold.why()


def test_npm_same_stage_safe_rewrite_builds_keeps_the_image_and_survives_a_cold_builder(cases):
    cases.require(SAME, "orig")
    cases.require(SAME, "rewrite")
    result = cases.compare(SAME, "rewrite", cases.applied(SAME))
    assert result.equal, _explain(result)
    cold = cases.cold_after_edit(SAME, "rewrite", "index.js")
    assert cold.ok, cold.why()


# ------------------------------------------------- case 1d: Go modules read back under mounts taken in one pass

GO = "go-download-then-build"


def test_go_mounts_taken_together_build_warm_and_cold(cases):
    """`go mod download`, then `go build` in a build stage: the build's mount requires the download's and both come
    in the first pass. The rewrite builds, keeps the image, and builds again after a source edit on a builder whose
    cache mounts are empty (``go build`` fetches what a cold mount lacks; this module has no dependencies, so the
    cold build shows the mounts themselves do not break it)."""
    fixed = cases.fixed(GO)
    runs = {r.line.split(" go ", 1)[-1].split()[0]: r for r in _runs(fixed.text) if " go " in r.line}
    assert "/go/pkg/mod" in _cache_targets(runs["mod"]) and "/go/pkg/mod" in _cache_targets(runs["build"]), \
        fixed.text
    assert {c.pass_index for c in fixed.changes if c.code == "DFX202"} == {0}
    cases.require(GO, "orig")
    cases.require(GO, "rewrite")
    result = cases.compare(GO, "rewrite", cases.applied(GO))
    assert result.equal, _explain(result)
    cold = cases.cold_after_edit(GO, "rewrite", "main.go")
    assert cold.ok, cold.why()


# ------------------------------------------------------- case 1e: npm's cache copied out of the stage that fills it

COPIED = "npm-cache-copied-out"


def test_npm_copied_out_control_mount_on_the_filling_stage_fails(cases):
    """The hazard is real: with a cache mount on the npm ci of `deps`, /root/.npm is not in its layers, and the build
    fails on any builder: buildah leaves no mount point behind, so the COPY finds no /root/.npm (BuildKit leaves an
    empty directory, and the offline install fails with ENOTCACHED)."""
    cases.require(COPIED, "orig")
    out = cases.build(COPIED, "buggy")
    assert not out.ok, "built with the cache copied out of a mount"
    log = out.error.log
    assert "ENOTCACHED" in log or ('"/root/.npm": no such file or directory' in log and "COPY --from=deps" in log), \
        out.why()


def test_npm_copied_out_dockerfix_refuses_and_its_rewrite_builds(cases):
    """dockerfix mounts no cache over what a later stage copies out (BuildState.copied_out). Fails at 5cc4435,
    whose rewrite is ``Dockerfile.buggy``."""
    fixed = cases.fixed(COPIED)
    assert all("/root/.npm" not in _cache_targets(r) for r in _runs(fixed.text)), fixed.text
    assert any("copies /root/.npm out of this stage" in (f.reason or "") for f in fixed.findings)
    cases.require(COPIED, "rewrite")
    result = cases.compare(COPIED, "rewrite", cases.applied(COPIED))
    assert result.equal, _explain(result)


# ------------------------------------------- case 1f: a folder holding npm's cache copied out of the filling stage

HOME = "npm-home-copied-out"


def test_npm_home_copied_out_control_fails_and_dockerfix_refuses(cases):
    """``COPY --from=deps /root /root`` carries npm's cache: with a mount on the npm ci of `deps` the offline install
    of `build` fails (the copied home has no usable cache); dockerfix refuses the mount (round 8: a copied folder
    above the cache counts, not only the cache itself), and its rewrite builds and keeps the image."""
    cases.require(HOME, "orig")
    out = cases.build(HOME, "buggy")
    assert not out.ok, "built with the cache carried out of a mount"
    assert "ENOTCACHED" in out.error.log, out.why()
    fixed = cases.fixed(HOME)
    assert all("/root/.npm" not in _cache_targets(r) for r in _runs(fixed.text)), fixed.text
    assert any("copies /root out of this stage" in (f.reason or "") for f in fixed.findings)
    cases.require(HOME, "rewrite")
    result = cases.compare(HOME, "rewrite", cases.applied(HOME))
    assert result.equal, _explain(result)
