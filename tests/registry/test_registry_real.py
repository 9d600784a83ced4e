"""The resolver against CNCF distribution 2.8 (Debian's docker-registry) on 127.0.0.1: plain HTTP,
TLS with our own CA plus htpasswd, and Bearer tokens from our own token server."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
from registry_harness import (
    ALL_FOUR,
    DOCKER_LIST,
    DOCKER_V2,
    OCI_INDEX,
    OCI_MANIFEST,
    PASSWORD,
    USER,
    Registry,
    raw_manifest_request,
    sha256,
)

from dockerfix.model.imageref import parse_image_ref
from dockerfix.registry import (
    MANIFEST_ACCEPT,
    NotFoundError,
    RegistryConfig,
    Resolved,
    Resolver,
    TLSError,
    UnauthorizedError,
)

pytestmark = pytest.mark.registry

TAGS = ("oci", "v2s2", "index", "list")
MEDIA_TYPES = {"oci": OCI_MANIFEST, "v2s2": DOCKER_V2, "index": OCI_INDEX, "list": DOCKER_LIST}


def settings_for(registry: Registry, **kw) -> dict[str, RegistryConfig]:
    if registry.mode == "tls":
        kw.setdefault("ca_bundle", str(registry.ca))
    return {registry.host: RegistryConfig(**kw)}


def basic_auth_config(docker_config) -> None:
    docker_config({"auths": {"127.0.0.1": {}, "https://example.invalid/v1/": {"auth": "eDp5"}}})


def creds_for(docker_config, registry: Registry) -> None:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    docker_config({"auths": {registry.host: {"auth": auth}}})


def skopeo_digest(registry: Registry, reference: str) -> str:
    cmd = ["skopeo", "inspect", "--retry-times", "0", "--tls-verify=false"]
    if registry.mode == "tls":
        cmd += ["--creds", f"{USER}:{PASSWORD}"]
    out = subprocess.run(cmd + [f"docker://{registry.host}/{reference}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["Digest"]


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("repository", ["library/busybox", "team/app/nested"])
def test_resolves_the_digest_of_what_the_tag_points_to(any_registry, tag, repository, make_resolver, docker_config):
    if any_registry.mode == "tls":
        creds_for(docker_config, any_registry)
    pushed = any_registry.pushed[f"{repository}:{tag}"]
    resolver = make_resolver(settings_for(any_registry))
    assert isinstance(resolver, Resolver)

    got = resolver.resolve(parse_image_ref(f"{any_registry.host}/{repository}:{tag}"))

    assert got.digest == pushed.digest == sha256(pushed.body)
    assert got.media_type == MEDIA_TYPES[tag]
    assert got.registry == any_registry.host
    assert not got.from_cache
    if tag in ("index", "list"):
        assert got.is_index
        assert [str(p) for p in got.platforms] == ["linux/amd64", "linux/arm64/v8"]
        assert tuple(p.digest for p in got.platforms) == pushed.children
        assert got.digest not in pushed.children  # never one platform's digest
    else:
        assert got.platforms == ()
    if repository == "library/busybox" and shutil.which("skopeo"):
        assert skopeo_digest(any_registry, f"{repository}:{tag}") == got.digest


def test_mirror_endpoint_for_docker_hub(plain_registry, make_resolver):
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=plain_registry.url)})
    got = resolver.resolve(parse_image_ref("busybox:index"))
    assert got.digest == plain_registry.pushed["library/busybox:index"].digest
    assert got.registry == plain_registry.host
    assert got.pinned.familiar == f"busybox:index@{got.digest}"


def test_loopback_without_config_falls_back_from_https_to_http(plain_registry, make_resolver):
    resolver = make_resolver()
    ref = parse_image_ref(f"{plain_registry.host}/library/busybox:list")
    assert resolver.resolve(ref).digest == plain_registry.pushed["library/busybox:list"].digest
    # second lookup of another tag goes straight to http (remembered)
    ref2 = parse_image_ref(f"{plain_registry.host}/library/busybox:oci")
    assert resolver.resolve(ref2).digest == plain_registry.pushed["library/busybox:oci"].digest


def test_resolve_by_digest_and_tag_plus_digest(plain_registry, make_resolver):
    pushed = plain_registry.pushed["library/busybox:index"]
    resolver = make_resolver(use_cache=False)
    by_digest = resolver.resolve(parse_image_ref(f"{plain_registry.host}/library/busybox@{pushed.digest}"))
    assert by_digest.digest == pushed.digest and by_digest.is_index
    # with tag and (stale) digest, the tag is resolved: that is what pin updates need
    stale = "sha256:" + "0" * 64
    both = resolver.resolve(parse_image_ref(f"{plain_registry.host}/library/busybox:index@{stale}"))
    assert both.digest == pushed.digest
    assert both.pinned.digest == pushed.digest and both.pinned.tag == "index"


def test_verify_false_trusts_the_head(plain_registry, make_resolver):
    resolver = make_resolver(verify=False, use_cache=False)
    got = resolver.resolve(parse_image_ref(f"{plain_registry.host}/library/busybox:index"))
    assert got.digest == plain_registry.pushed["library/busybox:index"].digest
    assert got.media_type == OCI_INDEX and got.platforms is None


def test_not_found_names_image_and_registry(any_registry, make_resolver, docker_config):
    if any_registry.mode == "tls":
        creds_for(docker_config, any_registry)
    resolver = make_resolver(settings_for(any_registry))
    with pytest.raises(NotFoundError) as info:
        resolver.resolve(parse_image_ref(f"{any_registry.host}/library/busybox:nope"))
    message = str(info.value)
    assert f"{any_registry.host}/library/busybox:nope" in message
    assert f"(registry {any_registry.host})" in message
    assert "manifest unknown" in message
    with pytest.raises(NotFoundError):
        resolver.resolve(parse_image_ref(f"{any_registry.host}/no/such/repo:latest"))


# ------------------------------------------------------------------------------ TLS + Basic
def test_tls_unknown_ca_is_a_tls_error(tls_registry, make_resolver, docker_config):
    creds_for(docker_config, tls_registry)
    resolver = make_resolver()  # loopback, https, but no CA configured: never falls back to http
    with pytest.raises(TLSError, match="certificate verify failed|verification failed") as info:
        resolver.resolve(parse_image_ref(f"{tls_registry.host}/library/busybox:oci"))
    assert tls_registry.host in str(info.value)


def test_tls_insecure_skips_verification(tls_registry, make_resolver, docker_config):
    creds_for(docker_config, tls_registry)
    resolver = make_resolver({tls_registry.host: RegistryConfig(insecure=True)})
    got = resolver.resolve(parse_image_ref(f"{tls_registry.host}/library/busybox:list"))
    assert got.digest == tls_registry.pushed["library/busybox:list"].digest


def test_tls_ca_bundle_directory(tls_registry, make_resolver, docker_config, tmp_path):
    creds_for(docker_config, tls_registry)
    certs = tmp_path / "certs.d"
    certs.mkdir()
    shutil.copy(tls_registry.ca, certs / "ca.crt")
    resolver = make_resolver({tls_registry.host: RegistryConfig(ca_bundle=str(certs))})
    got = resolver.resolve(parse_image_ref(f"{tls_registry.host}/library/busybox:oci"))
    assert got.digest == tls_registry.pushed["library/busybox:oci"].digest


def test_basic_auth_without_credentials(tls_registry, make_resolver):
    resolver = make_resolver(settings_for(tls_registry))
    with pytest.raises(UnauthorizedError, match="no credentials") as info:
        resolver.resolve(parse_image_ref(f"{tls_registry.host}/library/busybox:oci"))
    assert tls_registry.host in str(info.value)


def test_basic_auth_wrong_password(tls_registry, make_resolver, docker_config):
    docker_config({"auths": {f"https://{tls_registry.host}": {"auth": base64.b64encode(b"testuser:wrong").decode()}}})
    resolver = make_resolver(settings_for(tls_registry))
    with pytest.raises(UnauthorizedError, match="401"):
        resolver.resolve(parse_image_ref(f"{tls_registry.host}/library/busybox:oci"))


def test_basic_auth_from_creds_store_helper(tls_registry, make_resolver, docker_config):
    docker_config({"credsStore": "fake"})
    calls = []

    def helper(name, server):
        calls.append((name, server))
        return {"ServerURL": server, "Username": USER, "Secret": PASSWORD}

    resolver = make_resolver(settings_for(tls_registry), resolver_kw={"run_helper": helper})
    got = resolver.resolve(parse_image_ref(f"{tls_registry.host}/library/busybox:index"))
    assert got.digest == tls_registry.pushed["library/busybox:index"].digest
    assert calls == [("fake", tls_registry.host)]


# ------------------------------------------------------------------------------ Bearer tokens
def test_token_auth_anonymous(token_registry, make_resolver):
    server = token_registry.token_server
    before = len(server.requests)
    resolver = make_resolver(use_cache=False)
    ref = parse_image_ref(f"{token_registry.host}/team/app/nested:index")
    assert resolver.resolve(ref).digest == token_registry.pushed["team/app/nested:index"].digest
    resolver.resolve(ref)  # the token is reused
    new = server.requests[before:]
    assert len(new) == 1
    assert new[0]["authorization"] is None
    assert new[0]["query"]["scope"] == ["repository:team/app/nested:pull"]


def test_token_auth_with_credentials(token_registry, make_resolver, docker_config):
    creds_for(docker_config, token_registry)
    server = token_registry.token_server
    before = len(server.requests)
    got = make_resolver().resolve(parse_image_ref(f"{token_registry.host}/library/busybox:v2s2"))
    assert got.digest == token_registry.pushed["library/busybox:v2s2"].digest
    (request,) = server.requests[before:]
    assert request["authorization"].startswith("Basic ")
    assert request["query"]["account"] == [USER]


def test_token_auth_with_identity_token(token_registry, make_resolver, docker_config):
    from registry_harness import REFRESH_TOKEN

    docker_config({"auths": {token_registry.host: {"identitytoken": REFRESH_TOKEN}}})
    server = token_registry.token_server
    before = len(server.requests)
    got = make_resolver().resolve(parse_image_ref(f"{token_registry.host}/library/busybox:oci"))
    assert got.digest == token_registry.pushed["library/busybox:oci"].digest
    (request,) = server.requests[before:]
    assert request["method"] == "POST" and request["form"]["grant_type"] == ["refresh_token"]


def test_token_server_rejects_wrong_password(token_registry, make_resolver, docker_config):
    docker_config({"auths": {token_registry.host: {"username": USER, "password": "wrong"}}})
    with pytest.raises(UnauthorizedError, match="token server .* refused") as info:
        make_resolver().resolve(parse_image_ref(f"{token_registry.host}/library/busybox:oci"))
    assert token_registry.host in str(info.value)


# ------------------------------------------------------------------------------ many at once
def test_resolve_many_across_registries(plain_registry, token_registry, make_resolver):
    refs = [
        parse_image_ref(f"{plain_registry.host}/library/busybox:{t}") for t in TAGS
    ] + [parse_image_ref(f"{token_registry.host}/team/app/nested:{t}") for t in TAGS] + [
        parse_image_ref(f"{plain_registry.host}/library/busybox:missing")
    ]
    results = make_resolver(max_workers=3).resolve_many(refs + refs[:2])
    assert list(results) == refs
    for ref, result in results.items():
        if ref.tag == "missing":
            assert isinstance(result, NotFoundError)
        else:
            registry = plain_registry if ref.domain == plain_registry.host else token_registry
            assert isinstance(result, Resolved)
            assert result.digest == registry.pushed[f"{ref.path}:{ref.tag}"].digest


def test_cache_then_offline(plain_registry, make_resolver, tmp_path):
    ref = parse_image_ref(f"{plain_registry.host}/library/busybox:list")
    online = make_resolver().resolve(ref)
    offline = make_resolver(offline=True).resolve(ref)
    assert offline.from_cache and offline.digest == online.digest and offline.platforms == online.platforms
    assert make_resolver().resolve(ref).from_cache


# ------------------------------------------------------------------------------ Accept header: negative material
def test_client_accept_header_lists_all_four_types():
    assert [t.strip() for t in MANIFEST_ACCEPT.split(",")] == list(ALL_FOUR)


@pytest.mark.parametrize(
    ("tag", "accept"),
    [
        ("index", f"{DOCKER_LIST}, {DOCKER_V2}"),
        ("index", OCI_MANIFEST),
        ("index", "*/*"),
        ("oci", f"{DOCKER_LIST}, {DOCKER_V2}"),
        ("oci", "*/*"),
    ],
)
def test_incomplete_accept_gets_404_for_oci_content(plain_registry, tag, accept):
    status, _, _, body = raw_manifest_request(plain_registry, "library/busybox", tag, accept)
    assert status == 404
    assert b"MANIFEST_UNKNOWN" in body and b"accept header does not support" in body


@pytest.mark.parametrize(
    ("accept", "what"),
    [
        (DOCKER_V2, "one platform's manifest"),
        (OCI_MANIFEST, "a schema1 rewrite"),
        ("*/*", "a schema1 rewrite"),
        (None, "a schema1 rewrite"),
    ],
)
def test_incomplete_accept_gets_a_wrong_digest_for_a_docker_list(plain_registry, make_resolver, accept, what):
    pushed = plain_registry.pushed["library/busybox:list"]
    status, content_type, digest, body = raw_manifest_request(plain_registry, "library/busybox", "list", accept)
    assert status == 200
    assert digest != pushed.digest and sha256(body) != pushed.digest
    if what == "one platform's manifest":
        assert digest == pushed.children[0] and content_type == DOCKER_V2
    else:
        assert "v1+prettyjws" in content_type
    # ... while the client's Accept gets the list itself
    got = make_resolver(use_cache=False).resolve(parse_image_ref(f"{plain_registry.host}/library/busybox:list"))
    assert got.digest == pushed.digest


def test_full_accept_matches_the_pushed_bytes(any_registry):
    for tag in TAGS:
        pushed = any_registry.pushed[f"library/busybox:{tag}"]
        status, content_type, digest, body = raw_manifest_request(any_registry, "library/busybox", tag, MANIFEST_ACCEPT)
        assert (status, content_type, digest, body) == (200, pushed.media_type, pushed.digest, pushed.body)
