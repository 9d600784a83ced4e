"""HTTP for the registry API v2: endpoints, TLS, retries with backoff, redirects and authentication.

``http.client`` rather than ``urllib.request``, so that redirects, HEAD bodies, truncated responses
and ``Authorization`` headers are under our control. One connection per request: resolutions are few.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from dockerfix.model.imageref import ImageRef

from .auth import Challenge, pick_challenge, repository_scope
from .config import RegistryConfig, ResolverConfig, is_loopback_host
from .credentials import Credentials, CredentialsProvider
from .errors import (
    ForbiddenError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RegistryConfigError,
    RegistryConnectionError,
    RegistryError,
    RegistryTimeoutError,
    ServerError,
    TLSError,
    UnauthorizedError,
)
from .interface import MANIFEST_ACCEPT

__all__ = ["Endpoint", "RegistryClient", "Response"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_TOKEN_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str
    attempts: int = 1

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.strip() if isinstance(value, str) else None

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()

    def error_message(self) -> str:
        """The registry's ``{"errors": [{"code", "message"}]}`` as text, or a short body excerpt."""
        try:
            data = json.loads(self.body)
            parts = [
                f"{e.get('code', '').lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
                for e in data.get("errors", [])
                if isinstance(e, dict)
            ]
            if parts:
                return "; ".join(parts)
        except (ValueError, AttributeError):
            pass
        text = self.body[:200].decode("utf-8", "replace").strip()
        return " ".join(text.split())


@dataclass(frozen=True)
class Endpoint:
    """Where the API of one registry is reached: ``scheme://netloc/base_path/v2/...``."""

    scheme: str
    netloc: str
    base_path: str
    settings: RegistryConfig
    may_fall_back: bool = False  # https was guessed; plain http may be tried if the port does not speak TLS

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.netloc}{self.base_path}{path}"


class _Retryable(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind  # "timeout" | "connection"
        self.detail = detail
        super().__init__(detail)


class RegistryClient:
    """Talks to registries on behalf of one resolver. Thread-safe."""

    def __init__(
        self,
        config: ResolverConfig,
        credentials: CredentialsProvider,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._auth: dict[tuple[str, str], tuple[str, float]] = {}  # (netloc, scope) -> (header, expiry)
        self._scheme: dict[str, str] = {}  # netloc -> scheme that worked
        self._contexts: dict[tuple[str | None, bool], ssl.SSLContext] = {}

    # ------------------------------------------------------------------ endpoints
    def endpoints(self, ref: ImageRef) -> list[Endpoint]:
        """Candidate endpoints, best first (https, then http for loopback/insecure registries)."""
        settings = self.config.registry(ref.domain)
        if settings.endpoint:
            parts = urlsplit(settings.endpoint)
            endpoint = Endpoint(parts.scheme, parts.netloc, parts.path.rstrip("/"), settings)
            if parts.scheme == "http" and not (settings.insecure or is_loopback_host(parts.netloc)):
                raise RegistryConfigError(
                    f"refusing plain HTTP to {parts.netloc}; use https:// or set insecure = true for {ref.domain}",
                    image=ref.familiar,
                    registry=parts.netloc,
                )
            return [endpoint]
        netloc = ref.api_host
        if settings.insecure or is_loopback_host(netloc):
            known = self._scheme.get(netloc)
            if known:
                return [Endpoint(known, netloc, "", settings)]
            return [Endpoint("https", netloc, "", settings, may_fall_back=True), Endpoint("http", netloc, "", settings)]
        return [Endpoint("https", netloc, "", settings)]

    def registry_label(self, ref: ImageRef) -> str:
        """The host that answers for ``ref`` (mirror endpoint included), without touching the network."""
        settings = self.config.registry(ref.domain)
        if settings.endpoint:
            return urlsplit(settings.endpoint).netloc
        return ref.api_host

    # ------------------------------------------------------------------ manifests
    def manifest(self, ref: ImageRef, method: str, reference: str | None = None) -> Response:
        """``HEAD``/``GET /v2/<path>/manifests/<reference>`` with all four manifest types in Accept."""
        reference = reference or ref.manifest_reference
        candidates = self.endpoints(ref)
        for i, endpoint in enumerate(candidates):
            try:
                response = self.request(
                    method,
                    endpoint,
                    f"/v2/{ref.path}/manifests/{reference}",
                    {"Accept": MANIFEST_ACCEPT},
                    image=ref.familiar,
                    scope=repository_scope(ref.path),
                )
            except TLSError as exc:
                if endpoint.may_fall_back and i + 1 < len(candidates) and exc.not_tls:
                    continue
                raise
            if endpoint.may_fall_back or i:
                with self._lock:
                    self._scheme[endpoint.netloc] = endpoint.scheme
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ requests with auth
    def request(
        self, method: str, endpoint: Endpoint, path: str, headers: Mapping[str, str], *, image: str, scope: str
    ) -> Response:
        url = endpoint.url(path)
        key = (endpoint.netloc, scope)
        authorization = self._cached_authorization(key)
        response = self._send(method, url, headers, authorization, endpoint.settings, image=image, registry=endpoint.netloc)
        if response.status != 401:
            return response
        challenge = pick_challenge(response.headers.get_all("WWW-Authenticate") or [])
        if challenge is None:
            return response
        try:
            credentials = self._credentials(endpoint.netloc)
        except RegistryError as exc:
            raise exc.in_context(image=image, registry=endpoint.netloc) from None
        if challenge.scheme == "basic":
            if credentials is None or credentials.identity_token:
                raise UnauthorizedError(
                    "authentication required (Basic) and no credentials are configured for this registry",
                    image=image,
                    registry=endpoint.netloc,
                    status=401,
                )
            value = "Basic " + base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
            expiry = float("inf")
        else:
            value, expiry = self._fetch_token(challenge, scope, credentials, endpoint, image=image)
        if authorization == value:  # the cached header was just refused: nothing new to try
            return response
        with self._lock:
            self._auth[key] = (value, expiry)
        response = self._send(method, url, headers, value, endpoint.settings, image=image, registry=endpoint.netloc)
        if response.status == 401:
            with self._lock:
                self._auth.pop(key, None)
        return response

    def _cached_authorization(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            entry = self._auth.get(key)
            if entry and entry[1] > self._clock():
                return entry[0]
            return None

    def _fetch_token(
        self, challenge: Challenge, scope: str, credentials: Credentials | None, endpoint: Endpoint, *, image: str
    ) -> tuple[str, float]:
        registry = endpoint.netloc
        realm = challenge.realm
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MalformedResponseError(
                f"Bearer challenge has no usable realm ({realm!r})", image=image, registry=registry
            )
        if (
            parts.scheme == "http"
            and credentials is not None
            and not (is_loopback_host(parts.netloc) or self.config.registry(parts.netloc).insecure or endpoint.settings.insecure)
        ):
            raise RegistryConfigError(
                f"refusing to send credentials over plain HTTP to token server {parts.netloc}", image=image, registry=registry
            )
        service = challenge.params.get("service", "")
        scopes = [scope]
        if challenge.params.get("scope") and challenge.params["scope"] != scope:
            scopes.insert(0, challenge.params["scope"])
        settings = endpoint.settings if parts.netloc == endpoint.netloc else self.config.registry(parts.netloc)
        headers = {"Accept": "application/json"}
        if credentials is not None and credentials.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": credentials.identity_token, "client_id": "dockerfix"}
            if service:
                form["service"] = service
            form["scope"] = " ".join(scopes)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._send(
                "POST", realm, headers, None, settings, image=image, registry=registry, body=urlencode(form).encode()
            )
        else:
            query = [("service", service)] if service else []
            query += [("scope", s) for s in scopes]
            if credentials is not None and credentials.username:
                query.append(("account", credentials.username))
            sep = "&" if parts.query else "?"
            url = realm + (sep + urlencode(query) if query else "")
            auth = None
            if credentials is not None:
                auth = "Basic " + base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
            response = self._send("GET", url, headers, auth, settings, image=image, registry=registry)
        if response.status in (401, 403):
            who = "anonymous access" if credentials is None else f"the credentials for {credentials.username or 'token'}"
            raise UnauthorizedError(
                f"token server {parts.netloc} refused {who} (HTTP {response.status}): {response.error_message()}",
                image=image,
                registry=registry,
                status=response.status,
            )
        self.raise_for_status(response, image=image, registry=registry, what=f"token request to {parts.netloc}")
        try:
            data = json.loads(response.body)
            token = data.get("token") or data.get("access_token")
            expires_in = float(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            raise MalformedResponseError(f"token server {parts.netloc} answered something that is not a token", image=image, registry=registry) from None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError(f"token server {parts.netloc} answered without a token", image=image, registry=registry)
        # refresh a little early; never cache for less than a few seconds
        expiry = self._clock() + max(expires_in - 10, 5)
        return "Bearer " + token, expiry

    # ------------------------------------------------------------------ retries
    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        authorization: str | None,
        settings: RegistryConfig,
        *,
        image: str,
        registry: str,
        body: bytes | None = None,
    ) -> Response:
        cfg = self.config
        attempts = cfg.retries + 1
        for attempt in range(attempts):
            try:
                response = self._follow(method, url, headers, authorization, settings, body, image=image, registry=registry)
            except _Retryable as exc:
                if attempt + 1 >= attempts:
                    cls = RegistryTimeoutError if exc.kind == "timeout" else RegistryConnectionError
                    raise cls(f"{exc.detail} (after {attempts} attempt{'s' if attempts > 1 else ''})", image=image, registry=registry) from None
                self._sleep(self._backoff(attempt))
                continue
            if response.status in _RETRY_STATUSES and attempt + 1 < attempts:
                delay = self._retry_after(response)
                self._sleep(self._backoff(attempt) if delay is None else delay)
                continue
            return Response(response.status, response.headers, response.body, response.url, attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return min(self.config.backoff_base * (2**attempt), self.config.backoff_max)

    def _retry_after(self, response: Response) -> float | None:
        value = response.header("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when is None:
                return None
            seconds = when.timestamp() - self._clock()
        return min(max(seconds, 0.0), self.config.retry_after_cap)

    # ------------------------------------------------------------------ redirects
    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        authorization: str | None,
        settings: RegistryConfig,
        body: bytes | None,
        *,
        image: str,
        registry: str,
    ) -> Response:
        origin = urlsplit(url).netloc
        for _ in range(_MAX_REDIRECTS + 1):
            sent = dict(headers)
            sent["User-Agent"] = self.config.user_agent
            if authorization and urlsplit(url).netloc == origin:  # never leak credentials to another host
                sent["Authorization"] = authorization
            response = self._exchange(method, url, sent, settings, body, image=image, registry=registry)
            location = response.header("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            target = urljoin(url, location)
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https"):
                raise MalformedResponseError(f"redirect to unsupported URL {target!r}", image=image, registry=registry)
            if parts.scheme == "http" and urlsplit(url).scheme == "https" and not (
                settings.insecure or is_loopback_host(parts.netloc)
            ):
                raise RegistryConfigError(f"refusing redirect from HTTPS to plain HTTP ({parts.netloc})", image=image, registry=registry)
            if response.status == 303:
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
            url = target
        raise RegistryError(f"more than {_MAX_REDIRECTS} redirects", image=image, registry=registry)

    # ------------------------------------------------------------------ one exchange
    def _ssl_context(self, settings: RegistryConfig) -> ssl.SSLContext:
        key = (settings.ca_bundle, settings.insecure)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = ssl.create_default_context()
                if settings.insecure:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                elif settings.ca_bundle:
                    _load_ca_bundle(ctx, Path(os.path.expanduser(settings.ca_bundle)))
                self._contexts[key] = ctx
            return ctx

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        settings: RegistryConfig,
        body: bytes | None,
        *,
        image: str,
        registry: str,
    ) -> Response:
        parts = urlsplit(url)
        timeout = self.config.timeout
        host, port = parts.hostname or "", parts.port
        if parts.scheme == "https":
            try:
                context = self._ssl_context(settings)
            except (OSError, ssl.SSLError) as exc:
                raise TLSError(f"cannot load CA bundle {settings.ca_bundle}: {exc}", image=image, registry=registry) from None
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        limit = self.config.max_manifest_bytes
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            raw = conn.getresponse()
            if method == "HEAD":
                data = b""
            else:
                length = raw.getheader("Content-Length")
                if length and length.isdigit() and int(length) > limit:
                    raise MalformedResponseError(
                        f"response to {method} {parts.path} is {length} bytes, more than the {limit}-byte limit",
                        image=image,
                        registry=registry,
                    )
                data = raw.read(limit + 1) if not length else raw.read()
                if len(data) > limit:
                    raise MalformedResponseError(
                        f"response to {method} {parts.path} is larger than the {limit}-byte limit", image=image, registry=registry
                    )
            return Response(raw.status, raw.headers, data, url)
        except ssl.SSLCertVerificationError as exc:
            raise TLSError(
                f"TLS certificate verification failed for {parts.netloc}: {exc.verify_message or exc.reason}; "
                "configure ca_bundle for this registry (or insecure = true)",
                image=image,
                registry=registry,
            ) from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            raise _Retryable("connection", f"TLS connection to {parts.netloc} closed unexpectedly ({exc.reason})") from None
        except ssl.SSLError as exc:
            error = TLSError(f"TLS handshake with {parts.netloc} failed: {exc.reason or exc}", image=image, registry=registry)
            error.not_tls = exc.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "UNKNOWN_PROTOCOL")
            raise error from None
        except TimeoutError:
            raise _Retryable("timeout", f"no answer from {parts.netloc} within {timeout:g}s") from None
        except socket.gaierror as exc:
            raise RegistryConnectionError(f"cannot resolve host {host}: {exc.strerror}", image=image, registry=registry) from None
        except http.client.IncompleteRead as exc:
            raise _Retryable(
                "connection", f"connection to {parts.netloc} closed mid-response ({len(exc.partial)} bytes received)"
            ) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise _Retryable("connection", f"connection to {parts.netloc} failed: {reason}") from None
        finally:
            conn.close()

    # ------------------------------------------------------------------ status mapping
    def raise_for_status(self, response: Response, *, image: str, registry: str, what: str = "request") -> None:
        status = response.status
        if 200 <= status < 300:
            return
        message = response.error_message()
        suffix = f": {message}" if message else ""
        tries = f" after {response.attempts} attempts" if response.attempts > 1 else ""
        if status == 401:
            raise UnauthorizedError(
                f"unauthorized (HTTP 401){suffix}; the repository may not exist, or may need credentials (docker login)",
                image=image,
                registry=registry,
                status=status,
            )
        if status == 403:
            raise ForbiddenError(f"access denied (HTTP 403){suffix}", image=image, registry=registry, status=status)
        if status == 404:
            raise NotFoundError(f"not found (HTTP 404){suffix}", image=image, registry=registry, status=status)
        if status == 429:
            raise RateLimitedError(f"rate limited (HTTP 429){tries}{suffix}", image=image, registry=registry, status=status)
        if status >= 500:
            raise ServerError(f"server error (HTTP {status}){tries}{suffix}", image=image, registry=registry, status=status)
        raise RegistryError(f"unexpected HTTP {status} for {what}{suffix}", image=image, registry=registry, status=status)


def _load_ca_bundle(ctx: ssl.SSLContext, path: Path) -> None:
    if path.is_dir():
        found = False
        for item in sorted(path.iterdir()):
            if item.suffix in (".crt", ".pem") and item.is_file():
                ctx.load_verify_locations(cafile=str(item))
                found = True
        if not found:
            raise OSError(f"no *.crt or *.pem files in {path}")
    else:
        ctx.load_verify_locations(cafile=str(path))
