"""Resolver configuration: plain dataclasses, filled by the frontend (e.g. from ``[tool.dockerfix.registries]``).

TOML shape accepted by :func:`registries_from_mapping`::

    [tool.dockerfix.registries]
    "docker.io" = "http://127.0.0.1:5000"             # shorthand for endpoint = ...
    "registry.internal:5443" = { ca_bundle = "certs/ca.pem" }
    "build-cache.lan" = { insecure = true }            # plain HTTP allowed, TLS not verified
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from dockerfix.model.imageref import (
    DEFAULT_DOMAIN,
    DOCKER_HUB_API_HOST,
    LEGACY_DEFAULT_DOMAIN,
)

__all__ = ["RegistryConfig", "ResolverConfig", "default_cache_path", "is_loopback_host", "registries_from_mapping"]

_DOCKER_HUB_ALIASES = {LEGACY_DEFAULT_DOMAIN: DEFAULT_DOMAIN, DOCKER_HUB_API_HOST: DEFAULT_DOMAIN}


@dataclass(frozen=True)
class RegistryConfig:
    """Settings for one registry, keyed by the reference's domain (``docker.io``, ``ghcr.io``, ``host:port``).

    endpoint: base URL to contact instead (a mirror), e.g. ``http://127.0.0.1:5000``; the path on the
        mirror is the same repository path (``library/python``). Replaces the registry, no fallback.
    ca_bundle: PEM file (or directory of ``*.crt``/``*.pem``) trusted in addition to the system CAs.
    insecure: allow plain HTTP and skip TLS verification for this registry (Docker's "insecure registry").
    """

    endpoint: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False


def _xdg_cache_home() -> Path:
    env = os.environ.get("XDG_CACHE_HOME")
    return Path(env) if env and os.path.isabs(env) else Path.home() / ".cache"


def default_cache_path() -> Path:
    return _xdg_cache_home() / "dockerfix" / "registry-digests.json"


@dataclass(frozen=True)
class ResolverConfig:
    """Everything :class:`~dockerfix.registry.resolver.RegistryResolver` needs; no global state.

    verify: after the HEAD, GET the manifest and check ``sha256(body)`` against every digest the
        registry claimed. ``False`` trusts a HEAD's ``Docker-Content-Digest`` (one request fewer;
        Docker Hub does not count HEADs against its pull limit) and leaves ``platforms`` unknown.
    cache_path: ``None`` means ``$XDG_CACHE_HOME/dockerfix/registry-digests.json``.
    cache_ttl: seconds a cached answer is fresh; ``0`` disables reading the cache (still written).
    offline: answer from the cache only (regardless of age); a miss raises ``OfflineCacheMissError``.
    docker_config_dir: ``None`` means ``$DOCKER_CONFIG`` or ``~/.docker``.
    """

    registries: Mapping[str, RegistryConfig] = field(default_factory=dict)
    timeout: float = 15.0
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 30.0
    max_workers: int = 4
    verify: bool = True
    use_cache: bool = True
    cache_path: Path | None = None
    cache_ttl: float = 6 * 3600.0
    offline: bool = False
    docker_config_dir: Path | None = None
    user_agent: str = "dockerfix"
    max_manifest_bytes: int = 4 * 1024 * 1024

    def registry(self, domain: str) -> RegistryConfig:
        """The settings for ``domain``; Docker Hub's aliases all find the ``docker.io`` entry."""
        key = _DOCKER_HUB_ALIASES.get(domain, domain)
        for name, value in self.registries.items():
            if _DOCKER_HUB_ALIASES.get(name, name) == key:
                return value
        return RegistryConfig()

    @property
    def effective_cache_path(self) -> Path:
        return self.cache_path if self.cache_path is not None else default_cache_path()


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ``::1`` (brackets and port allowed: ``[::1]:5000``)."""
    hostname = urlsplit("//" + host).hostname or ""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


_FIELDS = {f.name for f in fields(RegistryConfig)}


def registries_from_mapping(mapping: Mapping[str, object]) -> dict[str, RegistryConfig]:
    """Build per-registry settings from a TOML table; raises ``ValueError`` naming the bad key."""
    out: dict[str, RegistryConfig] = {}
    for name, value in mapping.items():
        if isinstance(value, str):
            value = {"endpoint": value}
        if not isinstance(value, Mapping):
            raise ValueError(f"registries.{name}: expected a URL string or a table, got {type(value).__name__}")
        unknown = set(value) - _FIELDS
        if unknown:
            raise ValueError(f"registries.{name}: unknown key(s) {', '.join(sorted(unknown))}")
        endpoint = value.get("endpoint")
        if endpoint is not None:
            if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc:
                raise ValueError(f"registries.{name}.endpoint: expected an http:// or https:// URL, got {endpoint!r}")
        ca_bundle = value.get("ca_bundle")
        if ca_bundle is not None and not isinstance(ca_bundle, str):
            raise ValueError(f"registries.{name}.ca_bundle: expected a path string")
        insecure = value.get("insecure", False)
        if not isinstance(insecure, bool):
            raise ValueError(f"registries.{name}.insecure: expected true or false")
        out[name] = RegistryConfig(endpoint=endpoint, ca_bundle=ca_bundle, insecure=insecure)
    return out
