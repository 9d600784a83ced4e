"""Issue 19 (apt part): unsafe rewrites that used to break the build, built for real.

``apt-recommends-https``
    ``apt-get install -y curl`` then an https download on a base without ca-certificates. The old
    apt-no-install-recommends rewrite (``Dockerfile.buggy``: the flag only) drops ca-certificates (libcurl4
    Recommends it) and the download fails; the new rewrite names ca-certificates and builds.
``apt-mount-parent-child``
    Stage ``app`` (FROM ``base``) runs ``apt-get install`` without ``apt-get update``. The old cache-mounts rewrite
    (``Dockerfile.mounted``) put the lists in a mount in both stages: it builds while the mount is warm and fails on
    a builder whose layers are cached but whose mounts are cold (``Dockerfile.mounted-edit``: the child's install
    list edited, built with an empty cache-mount folder). dockerfix now refuses (a finding). The controls leave out
    ``sharing=locked``: the lab's buildah 1.28 unlocks only the last locked mount of a RUN, so the child's RUN waits
    for ever on the parent's first lock (containers/buildah#4342, fixed by #4349); the hazard does not depend on it.
"""

from __future__ import annotations

import dockerfix
import pytest

from test_safety_cases import CASES, cases  # noqa: F401  (the session's builds)

pytestmark = pytest.mark.lab

HTTPS = "apt-recommends-https"
MOUNT = "apt-mount-parent-child"


def _unsafe_rewrite(case: str, select: list[str]):
    path = CASES / case / "Dockerfile"
    return dockerfix.fix(path.read_text(encoding="utf-8"), path=str(path), context=str(CASES / case),
                         select=select, unsafe=True)


def test_no_install_recommends_keeps_ca_certificates_for_https(cases, tmp_path):
    cases.require(HTTPS, "orig")
    buggy = cases.build(HTTPS, "buggy")
    assert not buggy.ok, "the flag-only rewrite was expected to fail the https download"
    assert "certificate" in buggy.error.tail(25).lower(), buggy.why()  # curl: (77)/(60), no CA bundle
    fixed = _unsafe_rewrite(HTTPS, ["DFX113"])
    assert "--no-install-recommends" in fixed.text and "ca-certificates" in fixed.text
    (CASES / HTTPS / "Dockerfile.new").write_text(fixed.text, encoding="utf-8")
    try:
        out = cases.build(HTTPS, "new")
    finally:
        (CASES / HTTPS / "Dockerfile.new").unlink()
    assert out.ok, out.why()


def test_apt_mount_in_parent_with_child_install_is_refused(cases):
    cases.require(MOUNT, "orig")
    warm = cases.build(MOUNT, "mounted")
    assert warm.ok, warm.why()
    # an edit of the child's install list on a builder whose layers are cached (the parent's RUN is not run again)
    # but whose cache mounts are cold: the lists the child reads were only ever in the mount
    cold = cases.build(MOUNT, "mounted-edit", builder=cases.cold_builder(MOUNT), label="mounted-edit-cold")
    assert not cold.ok, "the child's install was expected to fail with a cold cache mount"
    assert cases.build(MOUNT, "mounted-edit").ok, "the same edit builds while the mount is warm"
    assert "Unable to locate package" in str(cold.error) + cold.error.tail(25)
    fixed = dockerfix.fix((CASES / MOUNT / "Dockerfile").read_text(encoding="utf-8"), select=["DFX202"],
                          unsafe=True, settings={"strategy": "cache-mount"})
    assert "--mount=type=cache" not in fixed.text
    assert [f for f in fixed.findings if f.code == "DFX202"]
