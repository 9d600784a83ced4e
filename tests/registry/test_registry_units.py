"""Pure parts: Docker config credentials, registry settings, WWW-Authenticate parsing, lazy imports."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from dockerfix.registry.auth import parse_challenges, pick_challenge
from dockerfix.registry.config import (
    RegistryConfig,
    ResolverConfig,
    is_loopback_host,
    registries_from_mapping,
)
from dockerfix.registry.credentials import (
    Credentials,
    DockerConfigCredentials,
    run_credential_helper,
)
from dockerfix.registry.errors import CredentialsError, RegistryError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ------------------------------------------------------------------------------ credentials
def test_auths_entries_by_exact_and_normalised_key(docker_config):
    docker_config(
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": b64("hub:hubpw")},
                "https://ghcr.io": {"auth": b64("gh:ghpw:with:colons")},
                "registry.local:5000": {"username": "u", "password": "p"},
                "quay.io": {"auth": b64("q:pw"), "identitytoken": "refresh"},
                "empty.io": {},
            }
        }
    )
    creds = DockerConfigCredentials()
    assert creds("registry-1.docker.io") == Credentials("hub", "hubpw")
    assert creds("docker.io") == Credentials("hub", "hubpw")
    assert creds("ghcr.io") == Credentials("gh", "ghpw:with:colons")
    assert creds("registry.local:5000") == Credentials("u", "p")
    assert creds("registry.local") is None  # the port is part of the key
    assert creds("quay.io").identity_token == "refresh"
    assert creds("empty.io") is None
    assert creds("other.io") is None


def test_docker_config_env_is_honoured(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text('{"auths": {"r.io": {"auth": "%s"}}}' % b64("a:b"))
    monkeypatch.setenv("DOCKER_CONFIG", str(elsewhere))
    assert DockerConfigCredentials()("r.io") == Credentials("a", "b")
    assert DockerConfigCredentials(config_dir=tmp_path)("r.io") is None  # explicit dir wins; no file there


def test_missing_config_means_no_credentials():
    assert DockerConfigCredentials()("r.io") is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{broken", "not valid JSON"),
        ("[1]", "not a JSON object"),
        ('{"auths": {"r.io": {"auth": "!!!"}}}', "not base64"),
        ('{"auths": {"r.io": {"auth": "%s"}}}' % b64("nocolon"), "no ':'"),
        ('{"auths": []}', "'auths' is not an object"),
    ],
)
def test_broken_config_is_a_clear_error(_isolated_env: Path, text, match):
    (_isolated_env / "config.json").write_text(text)
    with pytest.raises(CredentialsError, match=match) as info:
        DockerConfigCredentials()("r.io")
    assert str(_isolated_env / "config.json") in str(info.value) or "config.json" in str(info.value)


def test_cred_helpers_win_over_creds_store_and_auths(docker_config):
    docker_config(
        {
            "auths": {"ecr.example.com": {"auth": b64("file:pw")}, "other.io": {"auth": b64("file:pw")}},
            "credsStore": "desktop",
            "credHelpers": {"ecr.example.com": "ecr-login", "index.docker.io": "hub-helper"},
        }
    )
    calls = []

    def helper(name, server):
        calls.append((name, server))
        return {"desktop": {"Username": "d", "Secret": "dpw"}, "ecr-login": {"Username": "AWS", "Secret": "tok"},
                "hub-helper": {"Username": "<token>", "Secret": "idtok"}}[name]

    creds = DockerConfigCredentials(run_helper=helper)
    assert creds("ecr.example.com") == Credentials("AWS", "tok")
    assert creds("other.io") == Credentials("d", "dpw")  # the store answers for everything else
    assert creds("registry-1.docker.io") == Credentials("", identity_token="idtok")
    assert creds("ecr.example.com") == Credentials("AWS", "tok")  # answers are memoised
    assert calls == [("ecr-login", "ecr.example.com"), ("desktop", "other.io"),
                     ("hub-helper", "https://index.docker.io/v1/")]


def test_helper_without_an_answer_is_final(docker_config):
    docker_config({"auths": {"r.io": {"auth": b64("file:pw")}}, "credsStore": "desktop"})
    assert DockerConfigCredentials(run_helper=lambda name, server: None)("r.io") is None


def _fake_helper(tmp_path: Path, monkeypatch, script: str) -> None:
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir(exist_ok=True)
    helper.write_text(f"#!/bin/sh\n{script}\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")


def test_real_helper_subprocess(tmp_path, monkeypatch):
    _fake_helper(tmp_path, monkeypatch, 'read s; [ "$1" = get ] && printf \'{"ServerURL":"%s","Username":"u","Secret":"p"}\' "$s"')
    assert run_credential_helper("fake", "r.io") == {"ServerURL": "r.io", "Username": "u", "Secret": "p"}


def test_real_helper_not_found_and_failures(tmp_path, monkeypatch):
    _fake_helper(tmp_path, monkeypatch, "echo 'credentials not found in native keychain'; exit 1")
    assert run_credential_helper("fake", "r.io") is None
    _fake_helper(tmp_path, monkeypatch, "echo boom >&2; exit 3")
    with pytest.raises(CredentialsError, match="exit 3.*boom"):
        run_credential_helper("fake", "r.io")
    _fake_helper(tmp_path, monkeypatch, "echo not-json")
    with pytest.raises(CredentialsError, match="not JSON"):
        run_credential_helper("fake", "r.io")
    with pytest.raises(CredentialsError, match="not installed"):
        run_credential_helper("absent-helper-xyz", "r.io")


def test_credentials_repr_hides_secrets():
    text = repr(Credentials("u", "s3cret-pw", "s3cret-token"))
    assert "s3cret" not in text and "'u'" in text


# ------------------------------------------------------------------------------ config
def test_registries_from_mapping():
    got = registries_from_mapping(
        {"docker.io": "http://127.0.0.1:5000", "r.io:5443": {"ca_bundle": "ca.pem"}, "lan": {"insecure": True}}
    )
    assert got == {
        "docker.io": RegistryConfig(endpoint="http://127.0.0.1:5000"),
        "r.io:5443": RegistryConfig(ca_bundle="ca.pem"),
        "lan": RegistryConfig(insecure=True),
    }


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"r": 5}, "expected a URL string or a table"),
        ({"r": {"endpont": "x"}}, "unknown key"),
        ({"r": "ftp://x"}, "http:// or https://"),
        ({"r": "127.0.0.1:5000"}, "http:// or https://"),
        ({"r": {"insecure": "yes"}}, "true or false"),
        ({"r": {"ca_bundle": 1}}, "path string"),
    ],
)
def test_registries_from_mapping_errors(mapping, match):
    with pytest.raises(ValueError, match=match):
        registries_from_mapping(mapping)


def test_docker_hub_aliases_share_settings():
    mirror = RegistryConfig(endpoint="http://127.0.0.1:5000")
    for key in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        config = ResolverConfig(registries={key: mirror})
        assert config.registry("docker.io") is mirror
    assert ResolverConfig().registry("ghcr.io") == RegistryConfig()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("localhost:5000", True), ("127.0.0.1", True), ("127.8.9.10:1", True), ("[::1]:5000", True),
     ("::1", False), ("10.0.0.1", False), ("localhost.example.com", False), ("example.com:5000", False)],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


# ------------------------------------------------------------------------------ challenges, errors, imports
def test_parse_challenges():
    (bearer,) = parse_challenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull"'
    )
    assert bearer.scheme == "bearer" and bearer.realm == "https://auth.docker.io/token"
    assert bearer.params["scope"] == "repository:library/python:pull"
    basic, second = parse_challenges('Basic realm="x, y", Bearer realm="r",service=plain,error="insufficient_scope"')
    assert basic.params == {"realm": "x, y"} and second.params["service"] == "plain"
    assert parse_challenges('Bearer realm="a\\"b"')[0].realm == 'a"b'
    assert pick_challenge(['Basic realm="b"', 'Bearer realm="t"']).scheme == "bearer"
    assert pick_challenge(["Negotiate abc"]) is None
    assert pick_challenge([]) is None


def test_error_message_names_image_and_registry():
    exc = RegistryError("boom").in_context(image="python:3", registry="registry-1.docker.io")
    assert str(exc) == "python:3: boom (registry registry-1.docker.io)"
    assert exc.in_context(image="other", registry="other").image == "python:3"


def test_interface_import_stays_off_the_network_stack():
    code = (
        "import sys, dockerfix.registry.interface, dockerfix.registry as r; "
        "bad = [m for m in ('ssl', 'http.client', 'dockerfix.registry.client') if m in sys.modules]; "
        "r.RegistryResolver; assert 'ssl' in sys.modules; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"


def test_lazy_exports_match_all():
    import dockerfix.registry as registry

    assert sorted(registry.__all__) == sorted(registry._EXPORTS)
    for name in registry.__all__:
        assert getattr(registry, name) is not None


def test_fake_resolver_satisfies_the_protocol():
    from dockerfix.model.imageref import parse_image_ref
    from dockerfix.registry.interface import Resolved, Resolver, resolve_many

    class Fake:
        def resolve(self, ref):
            if ref.tag == "bad":
                raise RegistryError("nope", image=ref.familiar, registry="fake")
            return Resolved(ref, "sha256:" + "a" * 64, "application/vnd.oci.image.index.v1+json", (), "fake")

    fake = Fake()
    assert isinstance(fake, Resolver)
    refs = [parse_image_ref("a:1"), parse_image_ref("a:bad"), parse_image_ref("a:1")]
    results = resolve_many(fake, refs, max_workers=2)
    assert list(results) == refs[:2]
    assert results[refs[0]].pinned.familiar == "a:1@sha256:" + "a" * 64
    assert isinstance(results[refs[1]], RegistryError)
