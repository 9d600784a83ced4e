"""A hand-written safe rewrite of python-flask compares equal to the original (apart from the caches it drops),
a deliberately wrong one is caught, and the safe one keeps its dependency layer cached when a source changes."""

from __future__ import annotations

import uuid

import pytest

from labkit import APPS, REWRITES
from dockerfix.verify.compare import BUILD_NOISE, KNOWN_CACHES, AllowedDifference, compare_images
from dockerfix.verify.imagefs import flatten_image

pytestmark = pytest.mark.lab

APP = "python-flask"
FMT = "oci-archive"  # gzip layers, so compressed sizes are real (the app tests use the faster docker-archive)

# What the good rewrite declares (in dockerfix these come from the transforms that made the rewrite).
DECLARED = (
    AllowedDifference(KNOWN_CACHES["apt-lists"], "apt package lists are deleted after the install", "test:apt-clean"),
    AllowedDifference(KNOWN_CACHES["pip"], "pip runs with --no-cache-dir", "test:pip-no-cache"),
)
ALLOWED = (*DECLARED, *BUILD_NOISE)


# The mirror's index, not the build: the original is built once per lab and kept (a local lab reuses it for days),
# the second build here downloads the index as it is now. Seen: the original 14 hours older, the bookworm-security
# and bookworm-updates InRelease and Packages files differed, nothing else. Contents only: a list file that appears or
# disappears is still a difference.
MIRROR_INDEX = AllowedDifference(KNOWN_CACHES["apt-lists"], "the mirror republished its index between the two builds",
                                 "test:mirror-index", kinds=("changed",))


def test_same_dockerfile_rebuilt_without_cache_differs_only_in_build_noise(lab):
    """Calibrates BUILD_NOISE: two cold builds of one Dockerfile."""
    orig = lab.built(APP)  # docker-archive, as in test_apps: no sizes are compared here
    ctx = lab.context(APP)
    again = lab.builder.build(ctx / "Dockerfile", ctx, lab.tag(APP, "again"), no_cache=True)
    lab.timings.append({"what": f"build {APP}:again (--no-cache)", "seconds": round(again.seconds, 1)})
    assert again.cached_steps == 0
    archive = lab.builder.export(lab.tag(APP, "again"), lab.workdir / "images" / "again.tar", fmt="docker-archive")
    result = compare_images(orig.image, flatten_image(archive, layer_cache=lab.layer_cache),
                            [*BUILD_NOISE, MIRROR_INDEX])
    assert result.equal, result.summary() + "\n" + str(result.to_dict())


def test_good_rewrite_is_equal_apart_from_declared_caches(lab):
    orig, good = lab.built(APP, fmt=FMT), lab.built(APP, "good", fmt=FMT)
    result = compare_images(orig.image, good.image, ALLOWED)
    assert result.equal, result.summary() + "\n" + str(result.to_dict())
    declared = {d.allowed_by.code for d in result.allowed}
    assert "test:apt-clean" in declared  # the original kept /var/lib/apt/lists
    assert result.sizes["compressed_size"][1] < result.sizes["compressed_size"][0]
    smoke = (APPS / APP / "SMOKE").read_text().strip()
    assert lab.builder.run(good.tag, smoke).ok


def test_wrong_rewrite_is_caught_with_the_right_violations(lab):
    # no sizes are compared here: docker-archive (test_apps' export of the original, and no gzip for the bad one)
    orig, bad = lab.built(APP), lab.built(APP, "bad")
    result = compare_images(orig.image, bad.image, ALLOWED)
    assert not result.equal
    # --no-install-recommends dropped packages: their files and their dpkg records are gone
    dropped = {d.path.rsplit("/", 1)[1][: -len(".list")] for d in result.only_a
               if d.path.startswith("var/lib/dpkg/info/") and d.path.endswith(".list")}
    assert dropped, result.summary()
    assert dropped <= {"libsasl2-modules:amd64", "libldap-common", "publicsuffix", "libsasl2-modules-db:amd64"}
    assert any(d.path.startswith("usr/") for d in result.only_a)
    changed = {d.path: d.attributes for d in result.changed}
    assert "sha256" in changed["var/lib/dpkg/status"]
    # the sources are no longer owned by the app user
    assert changed["app/app.py"] == ("uid", "gid")
    assert changed["app"] == ("uid", "gid")
    assert not result.only_b and not result.config


def test_good_rewrite_keeps_the_dependency_install_cached_after_a_source_edit(lab):
    ctx = lab.fresh_context(APP, "edited")
    first = lab.build(APP, "good-edit", REWRITES / APP / "Dockerfile.good", ctx)
    assert first.step("pip install").cached  # same contents as the session's earlier build
    with open(ctx / "app.py", "a") as f:
        f.write(f"\n# a source edit {uuid.uuid4()}\n")  # unique: the lab's layer cache outlives a session
    good = lab.build(APP, "good-edit", REWRITES / APP / "Dockerfile.good", ctx)
    assert good.step("pip install").cached
    assert not good.step("COPY --chown=app:app . .").cached
    _, orig = lab.original_after_edit(APP, "app.py")  # the same edit in a context of its own (shared)
    assert not orig.step("pip install").cached  # the original re-installs every dependency
    assert good.cached_steps > orig.cached_steps
