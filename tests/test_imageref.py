from __future__ import annotations

import pytest

from dockerfix.model.imageref import (
    ImageRef,
    InvalidReference,
    is_valid_digest,
    parse_image_ref,
)

D = "sha256:" + "a" * 64
D2 = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest"),
    (
        ("python", "docker.io", "library/python", None, None),
        ("python:3.12-slim", "docker.io", "library/python", "3.12-slim", None),
        ("library/python", "docker.io", "library/python", None, None),
        ("docker.io/python", "docker.io", "library/python", None, None),
        ("index.docker.io/python:3", "docker.io", "library/python", "3", None),
        ("index.docker.io/user/app", "docker.io", "user/app", None, None),
        ("user/app:v1", "docker.io", "user/app", "v1", None),
        ("a/b@" + D, "docker.io", "a/b", None, D),
        ("ubuntu:22.04@" + D, "docker.io", "library/ubuntu", "22.04", D),
        ("localhost/a", "localhost", "a", None, None),
        ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", None),
        ("127.0.0.1:5000/library/busybox:latest", "127.0.0.1:5000", "library/busybox", "latest", None),
        ("[::1]:5000/x/y", "[::1]:5000", "x/y", None, None),
        ("ghcr.io/owner/repo/sub:1.0.0", "ghcr.io", "owner/repo/sub", "1.0.0", None),
        ("registry.example.com:443/a_b/c__d/e-f/g--h/i.j:T_a.g-1", "registry.example.com:443", "a_b/c__d/e-f/g--h/i.j", "T_a.g-1", None),
        ("Example.COM/x", "Example.COM", "x", None, None),   # upper case first component is a domain
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),  # as distribution does
        ("python@" + D2, "docker.io", "library/python", None, D2),
        ("x@sha512:" + "f" * 128, "docker.io", "library/x", None, "sha512:" + "f" * 128),
        ("a:" + "t" * 128, "docker.io", "library/a", "t" * 128, None),
    ),
)
def test_parse(text, domain, path, tag, digest):
    ref = parse_image_ref(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    # the long and short forms parse back to the same reference
    assert parse_image_ref(ref.fully_qualified) == ref
    assert parse_image_ref(ref.familiar) == ref


@pytest.mark.parametrize(
    ("text", "reason"),
    (
        ("", "empty"),
        ("Python", "must be lowercase"),
        ("docker.io/Library/python", "must be lowercase"),
        ("localhost:5000/A/b", "must be lowercase"),
        ("${BASE}", "variable"),
        ("python:${TAG}", "variable"),
        ("$REGISTRY/app", "variable"),
        ("python:", "not followed by a tag"),
        ("python@", "not followed by a digest"),
        ("python:-bad", "tag"),
        ("python:.bad", "tag"),
        ("a:" + "t" * 129, "longer than 128"),
        ("python@sha256:abc", "64 lower-case hex"),
        ("python@sha256:" + "A" * 64, "64 lower-case hex"),
        ("python@md5:" + "a" * 32, "not supported"),
        ("python@" + "a" * 64, "algorithm:hex"),
        ("a@" + D + "@" + D, "more than one"),
        ("a" * 64, "image ID"),
        ("a//b", "empty path component"),
        ("a/b/", "empty path component"),
        ("/a", "invalid"),
        ("a-/b", "component 'a-'"),
        ("a/_b", "component '_b'"),
        ("a/b___c", "component"),
        ("-host.io/a", "domain"),
        ("host.io:port/a", "domain"),
        ("python 3", "whitespace"),
        (" python", "whitespace"),
        ("x/" + "a" * 260, "longer than 255"),
    ),
)
def test_parse_rejects(text, reason):
    with pytest.raises(InvalidReference) as info:
        parse_image_ref(text)
    assert reason in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "familiar", "fully_qualified"),
    (
        ("python", "python", "docker.io/library/python"),
        ("docker.io/library/python:3", "python:3", "docker.io/library/python:3"),
        ("docker.io/library/a/b", "library/a/b", "docker.io/library/a/b"),
        ("user/app@" + D, "user/app@" + D, "docker.io/user/app@" + D),
        ("ghcr.io/o/r:1", "ghcr.io/o/r:1", "ghcr.io/o/r:1"),
        ("localhost:5000/a:t@" + D, "localhost:5000/a:t@" + D, "localhost:5000/a:t@" + D),
    ),
)
def test_forms(text, familiar, fully_qualified):
    ref = parse_image_ref(text)
    assert ref.familiar == familiar == str(ref)
    assert ref.fully_qualified == fully_qualified


def test_api_host_and_manifest_reference():
    assert parse_image_ref("python").api_host == "registry-1.docker.io"
    assert parse_image_ref("index.docker.io/python").api_host == "registry-1.docker.io"
    assert parse_image_ref("ghcr.io/a/b").api_host == "ghcr.io"
    assert parse_image_ref("localhost:5000/a").api_host == "localhost:5000"
    assert parse_image_ref("python").manifest_reference == "latest"
    assert parse_image_ref("python:3").manifest_reference == "3"
    assert parse_image_ref("python@" + D).manifest_reference == D
    assert parse_image_ref("python:3@" + D).manifest_reference == "3"


def test_with_digest_keeps_tag_and_validates():
    ref = parse_image_ref("python:3.12")
    pinned = ref.with_digest(D)
    assert pinned.familiar == "python:3.12@" + D
    assert pinned.with_digest(None) == ref
    assert ref.with_tag(None).familiar == "python"
    with pytest.raises(InvalidReference, match="64 lower-case hex"):
        ref.with_digest("sha256:1234")


def test_constructor_normalises_and_is_hashable():
    assert ImageRef("index.docker.io", "python") == parse_image_ref("python")
    assert len({ImageRef("docker.io", "python", "3"), parse_image_ref("python:3")}) == 1
    with pytest.raises(InvalidReference):
        ImageRef("docker.io", "Bad")
    with pytest.raises(InvalidReference):
        ImageRef("docker.io", "ok", tag="")
    with pytest.raises(AttributeError):
        parse_image_ref("python").tag = "x"  # type: ignore[misc]


def test_is_valid_digest():
    assert is_valid_digest(D)
    assert not is_valid_digest("sha256:" + "a" * 63)
    assert not is_valid_digest("sha1:" + "a" * 40)
    assert not is_valid_digest(D.upper())


def test_import_is_lean():
    import subprocess
    import sys

    code = "import sys, dockerfix.model.imageref; print(sorted(m for m in ('ssl', 'socket', 'http.client', 'urllib.request') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
