"""Tag -> digest resolution against OCI distribution registries.

For each reference: answer from the cache if fresh; else ``HEAD /v2/<path>/manifests/<tag>`` with all
four manifest media types in ``Accept``; then (``verify=True``, the default, or when the HEAD gave no
usable ``Docker-Content-Digest``) ``GET`` the manifest and check that ``sha256(body)`` equals the
digest the GET claims. The answer is the digest of what the tag points to (the index / list for a
multi-platform image), its media type and, for an index, its platforms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from dockerfix.model.imageref import ImageRef, is_valid_digest

from .cache import DigestCache, cache_key
from .client import RegistryClient
from .config import ResolverConfig
from .credentials import CredentialsProvider, DockerConfigCredentials, HelperRunner
from .errors import DigestMismatchError, OfflineCacheMissError, RegistryError
from .interface import INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, Resolved, resolve_many
from .manifest import parse_manifest, verified_digest

__all__ = ["RegistryResolver"]

_GET_FOR_DETAILS = frozenset({400, 404, 405, 406})


class RegistryResolver:
    """Implements :class:`~dockerfix.registry.interface.Resolver` over HTTP. Thread-safe.

    ``credentials`` defaults to Docker's config.json (``config.docker_config_dir``, else
    ``$DOCKER_CONFIG``, else ``~/.docker``) with ``run_helper`` running credential helpers.
    ``sleep`` and ``clock`` are injectable so tests neither wait nor depend on the time of day.
    """

    def __init__(
        self,
        config: ResolverConfig | None = None,
        *,
        credentials: CredentialsProvider | None = None,
        run_helper: HelperRunner | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config = config or ResolverConfig()
        if credentials is None:
            credentials = DockerConfigCredentials(config.docker_config_dir, run_helper)
        self._client = RegistryClient(config, credentials, sleep=sleep, clock=clock)
        self._clock = clock
        self._cache = DigestCache(config.effective_cache_path, clock=clock) if config.use_cache or config.offline else None

    def resolve(self, ref: ImageRef) -> Resolved:
        registry = self._client.registry_label(ref)
        key = cache_key(ref, registry)
        if self.config.offline:
            cached = self._cache.get(key, ref, max_age=None) if self._cache else None
            if cached is None:
                raise OfflineCacheMissError(
                    "not in the digest cache and offline mode is on; resolve once online first "
                    f"(cache: {self.config.effective_cache_path})",
                    image=ref.familiar,
                    registry=registry,
                )
            return cached
        if self._cache is not None and self.config.cache_ttl > 0:
            cached = self._cache.get(key, ref, max_age=self.config.cache_ttl)
            if cached is not None:
                return cached
        resolved = self._resolve_online(ref, registry)
        if self._cache is not None:
            self._cache.put(key, resolved)
        return resolved

    def resolve_many(self, refs: Iterable[ImageRef]) -> dict[ImageRef, Resolved | RegistryError]:
        return resolve_many(self, refs, max_workers=self.config.max_workers)

    # ------------------------------------------------------------------
    def _resolve_online(self, ref: ImageRef, registry: str) -> Resolved:
        client, image = self._client, ref.familiar
        # with both tag and digest, the tag is what is resolved (the digest is what we may replace)
        expected = ref.digest if ref.tag is None else None

        head = client.manifest(ref, "HEAD")
        head_digest: str | None = None
        if head.status == 200:
            claimed = head.header("Docker-Content-Digest")
            head_digest = claimed if claimed and is_valid_digest(claimed) else None
            if expected and head_digest and head_digest != expected:
                raise DigestMismatchError(
                    f"registry answers {head_digest} for a request by digest {expected}", image=image, registry=registry
                )
            # a pinned reference needs the index body (its platform manifests) to tell whether the pin is one of them
            needs_body = ref.digest is not None and head.content_type in INDEX_MEDIA_TYPES
            if not self.config.verify and head_digest and head.content_type in MANIFEST_MEDIA_TYPES and not needs_body:
                return Resolved(ref, head_digest, head.content_type, None, registry, fetched_at=self._clock())
        elif head.status not in _GET_FOR_DETAILS:
            client.raise_for_status(head, image=image, registry=registry)

        get = client.manifest(ref, "GET")
        client.raise_for_status(get, image=image, registry=registry)
        digest = verified_digest(get.body, get.header("Docker-Content-Digest"), image=image, registry=registry)
        if expected and digest != expected:
            raise DigestMismatchError(
                f"manifest fetched by digest {expected} hashes to {digest}", image=image, registry=registry
            )
        # A HEAD digest that differs from the verified GET means the tag moved in between (or the
        # HEAD lied); the GET's bytes are what we verified, so they are the answer.
        media_type, platforms = parse_manifest(get.body, get.content_type, image=image, registry=registry)
        return Resolved(ref, digest, media_type, platforms, registry, fetched_at=self._clock())
