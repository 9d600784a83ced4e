"""One exception hierarchy for everything the registry client can fail at.

Every message names the image and the registry it was asking, e.g.::

    python:3.12: manifest unknown: manifest tagged by "3.12" is not found (registry registry-1.docker.io)
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CredentialsError",
    "DigestMismatchError",
    "ForbiddenError",
    "MalformedResponseError",
    "NotFoundError",
    "OfflineCacheMissError",
    "RateLimitedError",
    "RegistryConfigError",
    "RegistryConnectionError",
    "RegistryError",
    "RegistryTimeoutError",
    "ServerError",
    "TLSError",
    "UnauthorizedError",
]


class RegistryError(Exception):
    """Base class. ``image`` and ``registry`` say what was asked where; ``detail`` says what went wrong."""

    def __init__(self, detail: str, *, image: str = "", registry: str = "", status: int | None = None) -> None:
        self.detail = detail
        self.image = image
        self.registry = registry
        self.status = status
        super().__init__(detail)

    def __str__(self) -> str:
        head = f"{self.image}: " if self.image else ""
        tail = f" (registry {self.registry})" if self.registry else ""
        return f"{head}{self.detail}{tail}"

    def in_context(self, *, image: str, registry: str) -> RegistryError:
        """Fill in image/registry where a lower layer did not know them; returns self."""
        self.image = self.image or image
        self.registry = self.registry or registry
        return self


class NotFoundError(RegistryError):
    """The repository or tag does not exist (HTTP 404)."""


class AuthError(RegistryError):
    """Access was refused."""


class UnauthorizedError(AuthError):
    """HTTP 401 after authenticating: no, wrong, or insufficient credentials."""


class ForbiddenError(AuthError):
    """HTTP 403."""


class CredentialsError(AuthError):
    """The Docker config file or a credential helper failed."""


class TLSError(RegistryError):
    """The TLS handshake failed (unknown CA, wrong host name, plain HTTP on the port, ...)."""

    #: the peer does not speak TLS at all (a plain HTTP port): the client may retry over http
    not_tls: bool = False


class RegistryTimeoutError(RegistryError):
    """The registry did not answer in time, after all retries."""


class RegistryConnectionError(RegistryError):
    """The connection was refused, reset or closed mid-response, after all retries."""


class ServerError(RegistryError):
    """The registry kept answering 5xx, after all retries."""


class RateLimitedError(ServerError):
    """The registry kept answering 429 Too Many Requests, after all retries."""


class MalformedResponseError(RegistryError):
    """The registry answered something that is not a manifest we understand."""


class DigestMismatchError(RegistryError):
    """The bytes received do not hash to the digest the registry claims. Never pin on this."""


class RegistryConfigError(RegistryError):
    """The registry configuration forbids or cannot express the request (e.g. plain HTTP to a remote host)."""


class OfflineCacheMissError(RegistryError):
    """Offline mode is on and the answer is not in the cache."""
