"""Registry access: resolve image tags to manifest digests (OCI distribution API v2, stdlib only).

Nothing in the core imports this package; frontends build a :class:`RegistryResolver` and inject it
as a :class:`Resolver`. Names are exported lazily so that importing
``dockerfix.registry.interface`` (the types transforms need) does not load ``ssl`` or ``http.client``.

    from dockerfix.registry import RegistryResolver, ResolverConfig, RegistryConfig
    resolver = RegistryResolver(ResolverConfig(registries={"docker.io": RegistryConfig(endpoint="http://127.0.0.1:5000")}))
    resolver.resolve(parse_image_ref("python:3.12-slim")).digest
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Resolver": "interface",
    "Resolved": "interface",
    "Platform": "interface",
    "resolve_many": "interface",
    "MANIFEST_ACCEPT": "interface",
    "MANIFEST_MEDIA_TYPES": "interface",
    "RegistryResolver": "resolver",
    "ResolverConfig": "config",
    "RegistryConfig": "config",
    "registries_from_mapping": "config",
    "Credentials": "credentials",
    "DockerConfigCredentials": "credentials",
    "RegistryError": "errors",
    "NotFoundError": "errors",
    "AuthError": "errors",
    "UnauthorizedError": "errors",
    "ForbiddenError": "errors",
    "CredentialsError": "errors",
    "TLSError": "errors",
    "RegistryTimeoutError": "errors",
    "RegistryConnectionError": "errors",
    "ServerError": "errors",
    "RateLimitedError": "errors",
    "MalformedResponseError": "errors",
    "DigestMismatchError": "errors",
    "RegistryConfigError": "errors",
    "OfflineCacheMissError": "errors",
}

__all__ = [
    "AuthError",
    "Credentials",
    "CredentialsError",
    "DigestMismatchError",
    "DockerConfigCredentials",
    "ForbiddenError",
    "MANIFEST_ACCEPT",
    "MANIFEST_MEDIA_TYPES",
    "MalformedResponseError",
    "NotFoundError",
    "OfflineCacheMissError",
    "Platform",
    "RateLimitedError",
    "RegistryConfig",
    "RegistryConfigError",
    "RegistryConnectionError",
    "RegistryError",
    "RegistryResolver",
    "RegistryTimeoutError",
    "Resolved",
    "Resolver",
    "ResolverConfig",
    "ServerError",
    "TLSError",
    "UnauthorizedError",
    "registries_from_mapping",
    "resolve_many",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .config import RegistryConfig, ResolverConfig, registries_from_mapping
    from .credentials import Credentials, DockerConfigCredentials
    from .errors import (
        AuthError,
        CredentialsError,
        DigestMismatchError,
        ForbiddenError,
        MalformedResponseError,
        NotFoundError,
        OfflineCacheMissError,
        RateLimitedError,
        RegistryConfigError,
        RegistryConnectionError,
        RegistryError,
        RegistryTimeoutError,
        ServerError,
        TLSError,
        UnauthorizedError,
    )
    from .interface import (
        MANIFEST_ACCEPT,
        MANIFEST_MEDIA_TYPES,
        Platform,
        Resolved,
        Resolver,
        resolve_many,
    )
    from .resolver import RegistryResolver
