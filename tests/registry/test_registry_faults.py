"""The resolver against a misbehaving registry of our own: every case ends in a correct digest or a
clear error, never a wrong digest."""

from __future__ import annotations

import base64
import email.utils
import json
import time

import pytest
from registry_harness import (
    ALL_FOUR,
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    FaultServer,
    Reply,
    error_reply,
    manifest_reply,
    sha256,
)

from dockerfix.model.imageref import parse_image_ref
from dockerfix.registry import (
    DigestMismatchError,
    ForbiddenError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RegistryConfig,
    RegistryConfigError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    Resolved,
    ServerError,
    UnauthorizedError,
)

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "1" * 64, "size": 2},
        "layers": [],
    }
).encode()
INDEX = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha256(MANIFEST), "size": len(MANIFEST),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "2" * 64, "size": 9,
             "platform": {"os": "unknown", "architecture": "unknown"}},
        ],
    }
).encode()
WRONG = "sha256:" + "b" * 64
PATH = "/v2/app/manifests/v1"
REF = parse_image_ref("fault.test/app:v1")
LABEL = "fault.test/app:v1"


@pytest.fixture
def resolver_for(fault_server: FaultServer, make_resolver):
    def make(**kw):
        kw.setdefault("use_cache", False)
        return make_resolver({"fault.test": RegistryConfig(endpoint=fault_server.url)}, **kw)

    return make


def assert_names_image_and_registry(exc: RegistryError, server: FaultServer) -> None:
    text = str(exc)
    assert LABEL in text
    assert f"(registry 127.0.0.1:{server.port})" in text


# ------------------------------------------------------------------------------ happy paths through the fake
def test_head_then_get_with_all_four_media_types(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(INDEX, OCI_INDEX))
    got = resolver_for().resolve(REF)
    assert got.digest == sha256(INDEX)
    assert [str(p) for p in got.platforms] == ["linux/amd64", "unknown/unknown"]
    assert [m for m, _, _ in fault_server.requests] == ["HEAD", "GET"]
    for _, _, headers in fault_server.requests:
        assert [t.strip() for t in headers["accept"].split(",")] == list(ALL_FOUR)
        assert headers["user-agent"] == "dockerfix"


def test_verify_false_is_one_head(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST))
    got = resolver_for(verify=False).resolve(REF)
    assert (got.digest, got.media_type, got.platforms) == (sha256(MANIFEST), OCI_MANIFEST, None)
    assert fault_server.count() == 1


def test_head_without_digest_header_falls_back_to_get(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST, digest=None))
    got = resolver_for(verify=False).resolve(REF)
    assert got.digest == sha256(MANIFEST) and got.platforms == ()
    assert [m for m, _, _ in fault_server.requests] == ["HEAD", "GET"]


def test_head_not_allowed_falls_back_to_get(fault_server, resolver_for):
    fault_server.script(PATH, Reply(405), method="HEAD")
    fault_server.script(PATH, manifest_reply(MANIFEST), method="GET")
    assert resolver_for(verify=False).resolve(REF).digest == sha256(MANIFEST)


def test_redirect_is_followed_without_leaking_credentials_across_hosts(fault_server, resolver_for, docker_config):
    docker_config({"auths": {f"127.0.0.1:{fault_server.port}": {"username": "u", "password": "p"}}})
    other = FaultServer()
    try:
        other.script(PATH, manifest_reply(MANIFEST))

        def gate(handler):
            if not handler.headers.get("Authorization"):
                return Reply(401, {"WWW-Authenticate": 'Basic realm="fake"'})
            return Reply(307, {"Location": f"http://localhost:{other.port}{PATH}"})

        fault_server.script(PATH, gate)
        assert resolver_for().resolve(REF).digest == sha256(MANIFEST)
        assert other.count("HEAD") == other.count("GET") == 1
        assert all("authorization" not in h for _, _, h in other.requests)
        assert sum("authorization" in h for _, _, h in fault_server.requests) == 2
    finally:
        other.stop()


# ------------------------------------------------------------------------------ faults
def test_stall_times_out_with_bounded_retries(fault_server, resolver_for, sleeps):
    fault_server.script(PATH, Reply(stall=True))
    start = time.monotonic()
    with pytest.raises(RegistryTimeoutError) as info:
        resolver_for(timeout=0.3, retries=2).resolve(REF)
    assert time.monotonic() - start < 3
    assert "within 0.3s" in str(info.value) and "after 3 attempts" in str(info.value)
    assert_names_image_and_registry(info.value, fault_server)
    assert fault_server.count("HEAD") == 3
    assert sleeps == [0.5, 1.0]


def test_429_then_200_honours_retry_after(fault_server, resolver_for, sleeps):
    fault_server.script(PATH, error_reply(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "2"}), manifest_reply(INDEX, OCI_INDEX))
    assert resolver_for().resolve(REF).digest == sha256(INDEX)
    assert sleeps == [2.0]


def test_retry_after_is_capped_and_accepts_http_dates(fault_server, resolver_for, sleeps):
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    fault_server.script(
        PATH,
        Reply(429, {"Retry-After": "86400"}),
        Reply(503, {"Retry-After": later}),
        Reply(503, {"Retry-After": "soon"}),
        manifest_reply(MANIFEST),
    )
    assert resolver_for(retry_after_cap=7.0).resolve(REF).digest == sha256(MANIFEST)
    assert sleeps == [7.0, 7.0, 2.0]  # capped, capped, unparsable -> exponential backoff (3rd attempt)


def test_429_forever_is_rate_limited(fault_server, resolver_for, sleeps):
    fault_server.script(PATH, Reply(429, {"Retry-After": "1"}))
    with pytest.raises(RateLimitedError, match="429") as info:
        resolver_for(retries=2).resolve(REF)
    assert_names_image_and_registry(info.value, fault_server)
    assert sleeps == [1.0, 1.0]


def test_500_always_is_a_server_error_after_exponential_backoff(fault_server, resolver_for, sleeps):
    fault_server.script(PATH, error_reply(500, "UNKNOWN", "disk on fire"))
    with pytest.raises(ServerError) as info:
        resolver_for(retries=3, backoff_base=0.25, backoff_max=0.75).resolve(REF)
    assert "HTTP 500" in str(info.value) and "after 4 attempts" in str(info.value)
    assert_names_image_and_registry(info.value, fault_server)
    assert sleeps == [0.25, 0.5, 0.75]
    assert fault_server.count() == 4  # HEAD only: retries are not doubled by a GET


def test_wrong_digest_header_on_get_is_a_mismatch(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST, digest=WRONG))
    with pytest.raises(DigestMismatchError) as info:
        resolver_for().resolve(REF)
    assert sha256(MANIFEST) in str(info.value) and WRONG in str(info.value)
    assert_names_image_and_registry(info.value, fault_server)


def test_wrong_digest_header_on_head_only_gives_the_verified_digest(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST, digest=WRONG), method="HEAD")
    fault_server.script(PATH, manifest_reply(MANIFEST), method="GET")
    assert resolver_for().resolve(REF).digest == sha256(MANIFEST)


def test_malformed_digest_header_is_not_trusted(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST, digest="sha256:nothex"))
    with pytest.raises(MalformedResponseError, match="not a valid digest"):
        resolver_for(verify=False).resolve(REF)


def test_by_digest_answer_must_hash_to_that_digest(fault_server, resolver_for):
    other = "sha256:" + "c" * 64
    fault_server.script(f"/v2/app/manifests/{other}", manifest_reply(MANIFEST, digest=None))
    with pytest.raises(DigestMismatchError, match="hashes to"):
        resolver_for().resolve(parse_image_ref(f"fault.test/app@{other}"))


def test_connection_closed_mid_response_then_ok(fault_server, resolver_for, sleeps):
    fault_server.script(PATH, manifest_reply(MANIFEST), method="HEAD")
    fault_server.script(PATH, manifest_reply(MANIFEST, truncate=10), manifest_reply(MANIFEST), method="GET")
    assert resolver_for().resolve(REF).digest == sha256(MANIFEST)
    assert fault_server.count("GET") == 2 and sleeps == [0.5]


def test_connection_closed_mid_response_always(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST, truncate=10))
    with pytest.raises(RegistryConnectionError, match="closed mid-response") as info:
        resolver_for(retries=1).resolve(REF)
    assert_names_image_and_registry(info.value, fault_server)


def test_connection_refused(make_resolver, fault_server):
    port = fault_server.port
    fault_server.stop()
    resolver = make_resolver({"fault.test": RegistryConfig(endpoint=f"http://127.0.0.1:{port}")}, use_cache=False)
    with pytest.raises(RegistryConnectionError, match="refused"):
        resolver.resolve(REF)


def test_malformed_json(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(b'{"schemaVersion": 2, "mediaType": '))
    with pytest.raises(MalformedResponseError, match="not JSON") as info:
        resolver_for().resolve(REF)
    assert_names_image_and_registry(info.value, fault_server)


@pytest.mark.parametrize(
    ("body", "content_type", "match"),
    [
        (b"[]", OCI_MANIFEST, "not a JSON object"),
        (json.dumps({"schemaVersion": 1, "name": "app"}).encode(), "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(), DOCKER_LIST, "does not match"),
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": "x"}]}).encode(), OCI_INDEX, "valid digest"),
        (json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json"}).encode(),
         "application/vnd.oci.artifact.manifest.v1+json", "unsupported media type"),
        (json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(), OCI_MANIFEST, "config"),
    ],
)
def test_unusable_manifests(fault_server, resolver_for, body, content_type, match):
    fault_server.script(PATH, manifest_reply(body, content_type))
    with pytest.raises(MalformedResponseError, match=match):
        resolver_for().resolve(REF)


def test_oversized_manifest(fault_server, resolver_for):
    fault_server.script(PATH, manifest_reply(MANIFEST + b" " * 5000))
    with pytest.raises(MalformedResponseError, match="limit"):
        resolver_for(max_manifest_bytes=4096).resolve(REF)


def test_missing_media_type_is_inferred(fault_server, resolver_for):
    body = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    fault_server.script(PATH, manifest_reply(body, "application/json"))
    got = resolver_for().resolve(REF)
    assert got.media_type == OCI_INDEX and got.platforms == ()


# ------------------------------------------------------------------------------ status codes and auth
def test_404_carries_the_registry_message(fault_server, resolver_for):
    fault_server.script(PATH, error_reply(404, "MANIFEST_UNKNOWN", "manifest unknown"))
    with pytest.raises(NotFoundError, match="manifest unknown") as info:
        resolver_for().resolve(REF)
    assert_names_image_and_registry(info.value, fault_server)
    assert info.value.status == 404


def test_403_is_forbidden(fault_server, resolver_for):
    fault_server.script(PATH, error_reply(403, "DENIED", "requested access to the resource is denied"))
    with pytest.raises(ForbiddenError, match="denied"):
        resolver_for().resolve(REF)


def test_basic_challenge_uses_docker_config_auth(fault_server, resolver_for, docker_config):
    docker_config({"auths": {f"127.0.0.1:{fault_server.port}": {"auth": base64.b64encode(b"u:p").decode()}}})

    def gate(handler):
        if handler.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
            return Reply(401, {"WWW-Authenticate": 'Basic realm="fake"'})
        return manifest_reply(MANIFEST)

    fault_server.script(PATH, gate)
    resolver = resolver_for()
    assert resolver.resolve(REF).digest == sha256(MANIFEST)
    assert resolver.resolve(REF).digest == sha256(MANIFEST)
    # first HEAD is challenged; later requests send the remembered header straight away
    assert fault_server.count() == 5


def test_docker_hub_credentials_never_go_to_a_mirror(fault_server, make_resolver, docker_config):
    docker_config({"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:secret").decode()}}})
    fault_server.script("/v2/library/python/manifests/3", Reply(401, {"WWW-Authenticate": 'Basic realm="mirror"'}))
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint=fault_server.url)}, use_cache=False)
    with pytest.raises(UnauthorizedError, match="no credentials"):
        resolver.resolve(parse_image_ref("python:3"))
    assert all("authorization" not in h for _, _, h in fault_server.requests)


def test_bearer_challenge_with_token_from_fake_realm(fault_server, resolver_for):
    def token(handler):
        return Reply(200, {"Content-Type": "application/json"}, json.dumps({"token": "t0k", "expires_in": 60}).encode())

    def gate(handler):
        if handler.headers.get("Authorization") != "Bearer t0k":
            realm = f"{fault_server.url}/token"
            return Reply(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:app:pull"'})
        return manifest_reply(MANIFEST)

    fault_server.script("/token", token)
    fault_server.script(PATH, gate)
    assert resolver_for().resolve(REF).digest == sha256(MANIFEST)
    (token_request,) = [p for m, p, _ in fault_server.requests if p.startswith("/token")]
    assert "service=fake" in token_request and "scope=repository%3Aapp%3Apull" in token_request


def test_token_answer_without_token_is_malformed(fault_server, resolver_for):
    fault_server.script("/token", Reply(200, {}, b'{"nothing": 1}'))
    fault_server.script(PATH, Reply(401, {"WWW-Authenticate": f'Bearer realm="{fault_server.url}/token"'}))
    with pytest.raises(MalformedResponseError, match="without a token"):
        resolver_for().resolve(REF)


def test_missing_ca_bundle_is_a_tls_error(make_resolver, tmp_path):
    from dockerfix.registry import TLSError

    missing = tmp_path / "nope.pem"
    resolver = make_resolver({"fault.test": RegistryConfig(endpoint="https://127.0.0.1:9", ca_bundle=str(missing))}, use_cache=False)
    with pytest.raises(TLSError, match="cannot load CA bundle") as info:
        resolver.resolve(REF)
    assert str(missing) in str(info.value) and LABEL in str(info.value)


def test_plain_http_to_a_remote_host_is_refused_without_network(make_resolver):
    resolver = make_resolver({"docker.io": RegistryConfig(endpoint="http://mirror.example.com")}, use_cache=False)
    with pytest.raises(RegistryConfigError, match="refusing plain HTTP") as info:
        resolver.resolve(parse_image_ref("python:3"))
    assert "python:3" in str(info.value) and "mirror.example.com" in str(info.value)


# ------------------------------------------------------------------------------ concurrency, cache, offline
def test_resolve_many_is_concurrent_but_bounded(fault_server, make_resolver):
    refs = [parse_image_ref(f"fault.test/app:t{i}") for i in range(12)]
    for ref in refs:
        fault_server.script(f"/v2/app/manifests/{ref.tag}", manifest_reply(MANIFEST, delay=0.05))
    fault_server.script("/v2/app/manifests/t3", error_reply(404, "MANIFEST_UNKNOWN", "gone"))
    resolver = make_resolver({"fault.test": RegistryConfig(endpoint=fault_server.url)}, max_workers=3, use_cache=False)
    results = resolver.resolve_many(refs)
    assert list(results) == refs
    assert isinstance(results[refs[3]], NotFoundError)
    assert all(isinstance(results[r], Resolved) and results[r].digest == sha256(MANIFEST) for r in refs if r.tag != "t3")
    assert 2 <= fault_server.max_in_flight <= 3


def test_cache_ttl_and_offline(fault_server, tmp_path, make_resolver):
    now = [1000.0]
    fault_server.script(PATH, manifest_reply(MANIFEST))
    cache = tmp_path / "c" / "cache.json"

    def make(**kw):
        return make_resolver({"fault.test": RegistryConfig(endpoint=fault_server.url)}, cache_path=cache,
                             cache_ttl=60, resolver_kw={"clock": lambda: now[0]}, **kw)

    first = make().resolve(REF)
    assert not first.from_cache and fault_server.count() == 2
    assert json.loads(cache.read_text())["version"] == 1
    second = make().resolve(REF)
    assert second.from_cache and second.digest == first.digest and fault_server.count() == 2
    now[0] += 61  # stale: asks again
    assert not make().resolve(REF).from_cache and fault_server.count() == 4
    now[0] += 10_000  # offline ignores age
    assert make(offline=True).resolve(REF).from_cache
    with pytest.raises(RegistryError, match="offline mode") as info:
        make(offline=True).resolve(parse_image_ref("fault.test/app:other"))
    assert "fault.test/app:other" in str(info.value) and str(cache) in str(info.value)
    assert fault_server.count() == 4


def test_default_cache_path_is_under_xdg_cache_home(fault_server, tmp_path):
    from dockerfix.registry import RegistryResolver, ResolverConfig

    fault_server.script(PATH, manifest_reply(MANIFEST))
    RegistryResolver(ResolverConfig(registries={"fault.test": RegistryConfig(endpoint=fault_server.url)})).resolve(REF)
    assert (tmp_path / "xdg-cache" / "dockerfix" / "registry-digests.json").is_file()


def test_corrupt_cache_file_is_ignored(fault_server, resolver_for, tmp_path):
    cache = tmp_path / "bad.json"
    cache.write_text("{not json")
    fault_server.script(PATH, manifest_reply(MANIFEST))
    assert resolver_for(use_cache=True, cache_path=cache).resolve(REF).digest == sha256(MANIFEST)
    assert json.loads(cache.read_text())["entries"]
