"""What a resolver answers, and the interface transforms depend on. Stdlib only, no network imports.

A transform takes a :class:`Resolver` (injected by the frontend) so it never imports the HTTP client;
tests pass a fake resolver built from a dict.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dockerfix.model.imageref import ImageRef

from .errors import RegistryError

__all__ = [
    "DOCKER_MANIFEST_LIST",
    "DOCKER_MANIFEST_V2",
    "INDEX_MEDIA_TYPES",
    "MANIFEST_ACCEPT",
    "MANIFEST_MEDIA_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Platform",
    "Resolved",
    "Resolver",
    "resolve_many",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST_V2)
# All four, always: distribution 2.8 answers 404 for an OCI index or manifest it may not send, and
# silently hands out one platform's manifest (or a schema1 rewrite) for a Docker list.
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)


@dataclass(frozen=True)
class Platform:
    """One entry of an image index / manifest list."""

    os: str
    architecture: str
    variant: str | None
    digest: str
    media_type: str | None = None
    os_version: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Resolved:
    """The answer for one reference: what its tag points to right now.

    ``digest`` is the digest of the manifest the tag points to: for a multi-platform image the
    index / list digest, never one platform's. ``platforms`` is ``None`` when the body was not
    fetched (``verify=False`` and a single-platform HEAD answer), else a tuple (empty for a
    single-platform manifest).
    """

    ref: ImageRef
    digest: str
    media_type: str
    platforms: tuple[Platform, ...] | None
    registry: str
    from_cache: bool = False
    fetched_at: float = 0.0

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def pinned(self) -> ImageRef:
        """The input reference with the resolved digest attached (tag kept)."""
        return self.ref.with_digest(self.digest)


@runtime_checkable
class Resolver(Protocol):
    def resolve(self, ref: ImageRef) -> Resolved: ...


def resolve_many(
    resolver: Resolver, refs: Iterable[ImageRef], *, max_workers: int = 4
) -> dict[ImageRef, Resolved | RegistryError]:
    """Resolve distinct references concurrently (at most ``max_workers`` at a time).

    Never raises a :class:`RegistryError`: a failure is the value for its reference.
    """
    unique = list(dict.fromkeys(refs))
    if not unique:
        return {}

    def one(ref: ImageRef) -> Resolved | RegistryError:
        try:
            return resolver.resolve(ref)
        except RegistryError as exc:
            return exc

    if max_workers <= 1 or len(unique) == 1:
        return {ref: one(ref) for ref in unique}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(unique)), thread_name_prefix="dockerfix-resolve") as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))
