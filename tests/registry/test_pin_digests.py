"""pin-digests / refresh-digests end to end: a real distribution registry on 127.0.0.1 standing in for docker.io."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.registry.config import RegistryConfig
from tests.registry.registry_harness import build_content

DOCKERFILE = """\
ARG BASE=busybox:index
FROM ${BASE} AS base
FROM busybox:list AS build
COPY --from=busybox:oci /hello.txt /x
RUN --mount=type=bind,from=busybox:v2s2,target=/m cat /m/hello.txt
FROM build
COPY --from=base /a /b
FROM scratch
"""


def expected(tag: str) -> str:
    return build_content("library/busybox")[2][tag].digest


@pytest.mark.registry
def test_pins_from_copy_mount_and_arg_fed_references(plain_registry, make_resolver):
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=plain_registry.url)})
    r = dockerfix.fix(DOCKERFILE, select=["pin-digests"], unsafe=True, services={"resolver": resolver})
    assert not r.errors
    want = DOCKERFILE
    for tag in ("index", "list", "oci", "v2s2"):
        want = want.replace(f"busybox:{tag}", f"busybox:{tag}@{expected(tag)}", 1)
    assert r.text == want
    assert len(r.changes) == 4 and all(c.code == "DFX401" and not c.safe for c in r.changes)
    # idempotent: pinned references are left alone
    again = dockerfix.fix(r.text, select=["pin-digests"], unsafe=True, services={"resolver": resolver})
    assert again.text == r.text and not again.changes


@pytest.mark.registry
def test_refresh_replaces_a_stale_digest(plain_registry, make_resolver):
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=plain_registry.url)})
    stale = "sha256:" + "0" * 64
    text = f"FROM busybox:index@{stale}\n"
    r = dockerfix.fix(text, select=["refresh-digests"], unsafe=True, services={"resolver": resolver})
    assert r.text == f"FROM busybox:index@{expected('index')}\n"


@pytest.mark.registry
def test_unknown_tag_is_a_finding_naming_image_and_registry(plain_registry, make_resolver):
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=plain_registry.url)})
    r = dockerfix.fix("FROM busybox:nope\n", select=["pin-digests"], unsafe=True, services={"resolver": resolver})
    assert r.text == "FROM busybox:nope\n"
    (f,) = r.findings
    assert not f.fixable and "busybox" in f.reason and "could not resolve" in f.reason


def test_without_a_resolver_every_reference_is_a_finding_without_fix():
    r = dockerfix.fix("FROM python:3.12\nFROM scratch\nCOPY --from=0 / /\n", select=["pin-digests"], unsafe=True)
    assert r.text.startswith("FROM python:3.12\n")
    assert [(f.line, f.fixable) for f in r.findings] == [(1, False)]
    assert "registry" in r.findings[0].reason


@pytest.mark.registry
def test_cli_pins_against_the_registry_from_config(plain_registry, tmp_path):
    import subprocess
    import sys

    (tmp_path / ".dockerfix.toml").write_text(f'[registries]\n"docker.io" = "{plain_registry.url}"\n')
    df = tmp_path / "Dockerfile"
    df.write_text("FROM busybox:index\nFROM busybox:nope\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "dockerfix", *a], capture_output=True, text=True,
                                    cwd=tmp_path)
    p = run("--select", "pin-digests", "--unsafe", "--write", "Dockerfile")
    assert p.returncode == 2 and "busybox" in p.stderr
    assert df.read_text() == "FROM busybox:index\nFROM busybox:nope\n", "no partial pins written"
    df.write_text("FROM busybox:index\n")
    p = run("--select", "pin-digests", "--unsafe", "--diff", "Dockerfile")
    assert p.returncode == 1, p.stderr
    assert f"+FROM busybox:index@{expected('index')}" in p.stdout


@pytest.mark.registry
def test_cli_offline_allow_partial_and_refresh(plain_registry, tmp_path):
    import shutil
    import subprocess
    import sys

    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    (tmp_path / ".dockerfix.toml").write_text(f'[registries]\n"docker.io" = "{plain_registry.url}"\n')
    df = tmp_path / "Dockerfile"
    run = lambda *a: subprocess.run([sys.executable, "-m", "dockerfix", *a], capture_output=True, text=True,
                                    cwd=tmp_path, env=env)
    # offline with an empty cache: a finding, exit 2, nothing written
    df.write_text("FROM busybox:index\n")
    p = run("--select", "pin-digests", "--unsafe", "--offline", "--write", "Dockerfile")
    assert p.returncode == 2 and df.read_text() == "FROM busybox:index\n", p.stderr
    # online fills the cache; offline then answers from it
    assert run("--select", "pin-digests", "--unsafe", "--diff", "Dockerfile").returncode == 1
    p = run("--select", "pin-digests", "--unsafe", "--offline", "--diff", "Dockerfile")
    assert p.returncode == 1 and expected("index") in p.stdout, p.stderr
    # allow-partial writes what resolved
    df.write_text("FROM busybox:index\nFROM busybox:nope\n")
    p = run("--select", "pin-digests", "--unsafe", "--allow-partial", "--write", "Dockerfile")
    assert p.returncode == 0, p.stderr
    assert df.read_text() == f"FROM busybox:index@{expected('index')}\nFROM busybox:nope\n"
    # --refresh-digests moves a stale pin
    df.write_text("FROM busybox:list@sha256:" + "0" * 64 + "\n")
    p = run("--select", "pin-digests", "--refresh-digests", "--unsafe", "--write", "Dockerfile")
    assert p.returncode == 0, p.stderr
    assert df.read_text() == f"FROM busybox:list@{expected('list')}\n"
    # the pinned digest is what skopeo reports for the same tag
    if shutil.which("skopeo"):
        out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                              f"docker://{plain_registry.host}/library/busybox:list"], capture_output=True)
        import hashlib
        assert "sha256:" + hashlib.sha256(out.stdout).hexdigest() == expected("list")


# ------------------------------------------------------------------ pins that break other platforms
def platform_digest(tag: str, index: int) -> str:
    return build_content("library/busybox")[2][tag].children[index]


@pytest.mark.registry
@pytest.mark.parametrize("tag", ["index", "list"])
@pytest.mark.parametrize("verify", [True, False])
def test_pin_to_one_platform_of_a_multi_platform_tag_is_a_finding(plain_registry, make_resolver, tag, verify):
    """busybox:index / :list are multi-platform (linux/amd64, linux/arm64/v8) on the real registry; a pin to the
    amd64 manifest (what one machine's docker inspect shows) builds on amd64 only."""
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=plain_registry.url)}, verify=verify, use_cache=False)
    amd64 = platform_digest(tag, 0)
    text = f"FROM busybox:{tag}@{amd64}\nFROM busybox:{tag}@{expected(tag)}\n"
    r = dockerfix.fix(text, select=["pin-digests"], unsafe=True, services={"resolver": resolver})
    assert r.text == text and not r.changes
    (f,) = r.findings
    assert f.line == 1 and not f.fixable
    assert "pinned to the linux/amd64 manifest of a multi-platform tag" in f.message
    assert "refresh-digests" in f.reason
    # refresh-digests re-pins it to the index (the line already on the index is left alone)
    r = dockerfix.fix(text, select=["refresh-digests"], unsafe=True, services={"resolver": resolver})
    assert r.text == f"FROM busybox:{tag}@{expected(tag)}\n" * 2
    (c,) = r.changes
    assert "linux/amd64 manifest of a multi-platform tag" in c.message


@pytest.mark.registry
def test_single_platform_tag_pinned_is_fine(plain_registry, make_resolver):
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=plain_registry.url)})
    text = f"FROM busybox:oci@{expected('oci')}\nFROM busybox:v2s2@{expected('v2s2')}\n"
    r = dockerfix.fix(text, select=["pin-digests"], unsafe=True, services={"resolver": resolver})
    assert r.text == text and not r.findings and not r.changes


def test_pin_message_says_how_pins_stay_fresh():
    from dockerfix.model.imageref import ImageRef
    from dockerfix.registry.interface import Resolved

    class One:
        def resolve(self, ref: ImageRef) -> Resolved:
            return Resolved(ref, "sha256:" + "1" * 64, "application/vnd.oci.image.index.v1+json", (), "docker.io")

    r = dockerfix.fix("FROM python:3.12\n", select=["pin-digests"], unsafe=True, services={"resolver": One()})
    (c,) = r.changes
    assert "--refresh-digests" in c.message and "Renovate" in c.message
