"""Test-only machinery: a real CNCF distribution registry on 127.0.0.1 (plain, TLS + htpasswd, token auth),
a token server of our own, pushing through the registry HTTP API, and a programmable faulty registry.

Everything binds 127.0.0.1 only; every wait is bounded; every process is ours and is stopped by pid.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
ALL_FOUR = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_V2)

USER, PASSWORD = "testuser", "testpass"
SERVICE, ISSUER = "dockerfix-test-registry", "dockerfix-test-issuer"
REFRESH_TOKEN = "test-refresh-token"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, timeout=60, **kw)


# ---------------------------------------------------------------------------------------------- certificates
def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it: (ca.pem, cert.pem, key.pem)."""
    ca_key, ca_cert = directory / "ca-key.pem", directory / "ca.pem"
    key, csr, cert, ext = directory / "key.pem", directory / "server.csr", directory / "cert.pem", directory / "ext.cnf"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=dockerfix test CA",
         "-keyout", str(ca_key), "-out", str(ca_cert)])
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr)])
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
         "-days", "2", "-extfile", str(ext), "-out", str(cert)])
    return ca_cert, cert, key


# ---------------------------------------------------------------------------------------------- token server
def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Docker-Hub-style token endpoint: RS256 JWTs (signed by the openssl CLI) with an ``x5c`` header.

    Anonymous callers get ``pull``; Basic ``testuser:testpass`` or the refresh token also get ``push``.
    Wrong Basic credentials get 401. Requests are recorded.
    """

    def __init__(self, key: Path, cert: Path) -> None:
        self.key = key
        der = run(["openssl", "x509", "-in", str(cert), "-outform", "DER"]).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[dict] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                owner.requests.append({"method": "GET", "query": query, "authorization": self.headers.get("Authorization")})
                authed = False
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    if base64.b64decode(auth[6:]).decode() != f"{USER}:{PASSWORD}":
                        return self._reply(401, {"details": "bad credentials"})
                    authed = True
                self._grant(query.get("service", [""])[0], query.get("scope", []), authed)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                owner.requests.append({"method": "POST", "form": form})
                if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [REFRESH_TOKEN]:
                    return self._reply(401, {"error": "invalid_grant"})
                self._grant(form.get("service", [""])[0], form.get("scope", [""])[0].split(), True, oauth=True)

            def _grant(self, service, scopes, authed, oauth=False):
                access = []
                for scope in scopes:
                    for one in scope.split(" "):
                        kind, _, rest = one.partition(":")
                        name, _, actions = rest.rpartition(":")
                        ok = [a for a in actions.split(",") if a == "pull" or (authed and a in ("push", "delete", "*"))]
                        access.append({"type": kind, "name": name, "actions": ok})
                now = int(time.time())
                claims = {"iss": ISSUER, "sub": USER if authed else "", "aud": service, "exp": now + 300,
                          "nbf": now - 10, "iat": now, "jti": _b64u(os.urandom(12)), "access": access}
                token = owner.sign(claims)
                self._reply(200, {"access_token": token} if oauth else {"token": token, "expires_in": 300})

            def _reply(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="token-server", daemon=True)
        self.thread.start()

    def sign(self, claims: dict) -> str:
        head = _b64u(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}).encode())
        body = _b64u(json.dumps(claims).encode())
        sig = run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=f"{head}.{body}".encode()).stdout
        return f"{head}.{body}.{_b64u(sig)}"

    def push_token(self, repository: str) -> str:
        query = urllib.parse.urlencode({"service": SERVICE, "scope": f"repository:{repository}:pull,push"})
        req = urllib.request.Request(f"{self.realm}?{query}")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["token"]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------- distribution
@dataclass
class Registry:
    """A running ``docker-registry serve`` on 127.0.0.1."""

    mode: str  # "plain" | "tls" | "token"
    port: int
    root: Path
    process: subprocess.Popen
    ca: Path | None = None
    token_server: TokenServer | None = None
    pushed: dict[str, Pushed] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.mode == 'tls' else 'http'}://{self.host}"

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else None

    def push_authorization(self, repository: str) -> str | None:
        if self.mode == "tls":
            return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.mode == "token":
            assert self.token_server is not None
            return "Bearer " + self.token_server.push_token(repository)
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.token_server:
            self.token_server.stop()


def start_registry(root: Path, mode: str) -> Registry:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    extra_http, auth, ca, token_server = "", "", None, None
    if mode == "tls":
        ca, cert, key = make_ca_and_server_cert(root)
        run(["htpasswd", "-Bbc", str(root / "htpasswd"), USER, PASSWORD])
        extra_http = f", tls: {{certificate: {cert}, key: {key}}}"
        auth = f"auth: {{htpasswd: {{realm: dockerfix-test, path: {root / 'htpasswd'}}}}}\n"
    elif mode == "token":
        key, cert = root / "token-key.pem", root / "token-cert.pem"
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ISSUER}",
             "-keyout", str(key), "-out", str(cert)])
        token_server = TokenServer(key, cert)
        auth = (f'auth: {{token: {{realm: "{token_server.realm}", service: {SERVICE}, issuer: {ISSUER}, '
                f"rootcertbundle: {cert}}}}}\n")
    last_log = ""
    for _ in range(3):  # a free port can be taken between probing and binding: retry on a new one
        port = free_port()
        config = root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}\n"
            f'http: {{addr: "127.0.0.1:{port}", secret: dockerfix-test-secret{extra_http}}}\n' + auth
        )
        log = open(root / "registry.log", "wb")
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        log.close()
        registry = Registry(mode, port, root, process, ca, token_server)
        if _wait_up(registry):
            return registry
        registry.process.kill()
        registry.process.wait(timeout=5)
        last_log = (root / "registry.log").read_text(errors="replace")[-2000:]
    if token_server:
        token_server.stop()
    raise RuntimeError(f"docker-registry ({mode}) did not start:\n{last_log}")


def _wait_up(registry: Registry, deadline: float = 10.0) -> bool:
    want = 200 if registry.mode == "plain" else 401
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if registry.process.poll() is not None:
            return False
        try:
            urllib.request.urlopen(registry.url + "/v2/", timeout=1, context=registry.ssl_context())
            code = 200
        except urllib.error.HTTPError as exc:
            code = exc.code
        except OSError:
            code = 0
        if code == want:
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------- content
@dataclass(frozen=True)
class Pushed:
    repository: str
    tag: str
    media_type: str
    body: bytes
    children: tuple[str, ...] = ()  # member manifest digests of an index

    @property
    def digest(self) -> str:
        return sha256(self.body)


def _json(obj) -> bytes:
    # deliberately not canonical JSON: the digest is of these bytes, whatever the whitespace
    return (json.dumps(obj, indent=3) + "\n").encode()


def _layer() -> tuple[bytes, bytes]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = b"hello from dockerfix tests\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def build_content(repository: str) -> tuple[dict[str, bytes], list[tuple[str, str, bytes]], dict[str, Pushed]]:
    """(blobs by digest, manifests to push in order as (reference, media type, body), tagged results)."""
    tar_bytes, layer = _layer()
    blobs = {sha256(layer): layer}
    manifests: list[tuple[str, str, bytes]] = []
    tagged: dict[str, Pushed] = {}
    per_format = {
        "oci": (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"),
        "v2s2": (DOCKER_V2, "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    }
    children: dict[str, list[tuple[str, dict, bytes]]] = {"oci": [], "v2s2": []}
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        config = _json({"architecture": arch, **({"variant": variant} if variant else {}), "os": "linux",
                        "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": [sha256(tar_bytes)]},
                        "created": "2024-01-01T00:00:00Z",
                        # distribution needs a history to rewrite a list into schema1 (incomplete Accept)
                        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD hello.txt /"}]})
        blobs[sha256(config)] = config
        for fmt, (manifest_type, config_type, layer_type) in per_format.items():
            body = _json({"schemaVersion": 2, "mediaType": manifest_type,
                          "config": {"mediaType": config_type, "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": layer_type, "digest": sha256(layer), "size": len(layer)}]})
            platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
            children[fmt].append((manifest_type, platform, body))
    for fmt, tag in (("oci", "oci"), ("v2s2", "v2s2")):
        manifest_type, _, body = children[fmt][0]  # the amd64 one, also pushed by tag
        manifests.append((tag, manifest_type, body))
        tagged[tag] = Pushed(repository, tag, manifest_type, body)
    for fmt, tag, index_type in (("oci", "index", OCI_INDEX), ("v2s2", "list", DOCKER_LIST)):
        entries = []
        for manifest_type, platform, body in children[fmt]:
            manifests.append((sha256(body), manifest_type, body))
            entries.append({"mediaType": manifest_type, "digest": sha256(body), "size": len(body), "platform": platform})
        index = _json({"schemaVersion": 2, "mediaType": index_type, "manifests": entries})
        manifests.append((tag, index_type, index))
        tagged[tag] = Pushed(repository, tag, index_type, index, tuple(e["digest"] for e in entries))
    return blobs, manifests, tagged


def push_content(registry: Registry, repository: str) -> dict[str, Pushed]:
    """Upload blobs and manifests through the registry HTTP API; returns what each tag holds."""
    blobs, manifests, tagged = build_content(repository)
    auth = registry.push_authorization(repository)
    ctx = registry.ssl_context()

    def call(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        if auth:
            req.add_header("Authorization", auth)
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.headers

    for digest, data in blobs.items():
        status, headers = call("POST", f"{registry.url}/v2/{repository}/blobs/uploads/")
        assert status == 202, status
        location = urllib.parse.urljoin(registry.url, headers["Location"])
        sep = "&" if "?" in location else "?"
        status, _ = call("PUT", f"{location}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"})
        assert status == 201, status
    for reference, media_type, body in manifests:
        status, headers = call("PUT", f"{registry.url}/v2/{repository}/manifests/{reference}", body,
                               {"Content-Type": media_type})
        assert status == 201, status
        assert headers["Docker-Content-Digest"] == sha256(body)
    registry.pushed.update({f"{repository}:{t}": p for t, p in tagged.items()})
    return tagged


def raw_manifest_request(registry: Registry, repository: str, reference: str, accept: str | None,
                         method: str = "GET") -> tuple[int, str | None, str | None, bytes]:
    """One unauthenticated-or-pushing-auth request with a chosen Accept: (status, content type, digest header, body)."""
    headers = {} if accept is None else {"Accept": accept}
    req = urllib.request.Request(f"{registry.url}/v2/{repository}/manifests/{reference}", method=method, headers=headers)
    auth = registry.push_authorization(repository)
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=10, context=registry.ssl_context()) as r:
            return r.status, r.headers.get("Content-Type"), r.headers.get("Docker-Content-Digest"), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.headers.get("Docker-Content-Digest"), exc.read()


# ---------------------------------------------------------------------------------------------- faults
@dataclass
class Reply:
    """One scripted answer. ``truncate``: send only that many body bytes, then close (Content-Length stays full).
    ``stall``: accept the request and never answer (until the server stops). ``delay``: wait before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncate: int | None = None
    stall: bool = False
    delay: float = 0.0


def manifest_reply(body: bytes, media_type: str = OCI_MANIFEST, digest: str | None = "auto", **kw) -> Reply:
    headers = {"Content-Type": media_type}
    if digest == "auto":
        digest = sha256(body)
    if digest is not None:
        headers["Docker-Content-Digest"] = digest
    return Reply(200, headers, body, **kw)


def error_reply(status: int, code: str = "", message: str = "", headers: dict | None = None) -> Reply:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode() if code else b""
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, body)


class FaultServer:
    """A programmable stand-in registry. ``script(path, *replies)`` queues answers for a path (any method,
    or one method); the last reply repeats. Unscripted paths answer 404. Every request is recorded."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str | None, str], list[Reply | Callable]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                owner._handle(self, "HEAD")

            def do_GET(self):
                owner._handle(self, "GET")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="fault-registry", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *replies: Reply | Callable, method: str | None = None) -> None:
        self.routes[(method, path)] = list(replies)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(1 for m, p, _ in self.requests if (method is None or m == method) and (path is None or p == path))

    def _next(self, method: str, path: str) -> Reply | Callable | None:
        with self.lock:
            queue = self.routes.get((method, path)) or self.routes.get((None, path))
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handle(self, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path
        with self.lock:
            self.requests.append((method, path, {k.lower(): v for k, v in handler.headers.items()}))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self._next(method, urllib.parse.urlsplit(path).path)
            if callable(reply):
                reply = reply(handler)
            if reply is None:
                reply = error_reply(404, "NAME_UNKNOWN", "not scripted")
            if reply.stall:
                self.release.wait(timeout=30)
                handler.close_connection = True
                return
            if reply.delay:
                time.sleep(reply.delay)
        finally:
            # counted until the answer starts: a client cannot send its next request before that
            with self.lock:
                self.in_flight -= 1
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        if reply.truncate is not None:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(reply.body if reply.truncate is None else reply.body[: reply.truncate])
        handler.wfile.flush()
        if reply.truncate is not None:
            handler.close_connection = True

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
