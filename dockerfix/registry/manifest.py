"""Checking a fetched manifest body: digest, media type, and the platforms of an index."""

from __future__ import annotations

import hashlib
import json

from dockerfix.model.imageref import is_valid_digest

from .errors import DigestMismatchError, MalformedResponseError
from .interface import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
)

__all__ = ["digest_of", "parse_manifest"]

_SCHEMA1_TYPES = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def verified_digest(body: bytes, claimed: str | None, *, image: str, registry: str) -> str:
    """The digest of ``body``; a claimed ``Docker-Content-Digest`` must match it exactly."""
    if claimed is None:
        return digest_of(body)
    if not is_valid_digest(claimed):
        raise MalformedResponseError(f"Docker-Content-Digest {claimed!r} is not a valid digest", image=image, registry=registry)
    actual = digest_of(body, claimed.partition(":")[0])
    if actual != claimed:
        raise DigestMismatchError(
            f"manifest body hashes to {actual} but the registry claims {claimed}", image=image, registry=registry
        )
    return actual


def parse_manifest(
    body: bytes, content_type: str, *, image: str, registry: str
) -> tuple[str, tuple[Platform, ...]]:
    """Validate a manifest body; return its media type and (for an index) its platforms."""

    def malformed(why: str) -> MalformedResponseError:
        return MalformedResponseError(f"manifest is malformed: {why}", image=image, registry=registry)

    if content_type in _SCHEMA1_TYPES:
        raise malformed(f"the registry sent a schema 1 manifest ({content_type}), which cannot be pinned safely")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise malformed("not a JSON object")
    if data.get("schemaVersion") != 2:
        raise malformed(f"schemaVersion is {data.get('schemaVersion')!r}, expected 2")
    declared = data.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise malformed("mediaType is not a string")
    if declared and content_type and content_type != "application/json" and declared != content_type:
        raise malformed(f"Content-Type {content_type} does not match the body's mediaType {declared}")
    media_type = declared or (content_type if content_type in MANIFEST_MEDIA_TYPES else "")
    if not media_type:  # OCI allows omitting mediaType: infer it from the shape
        media_type = OCI_INDEX if "manifests" in data else OCI_MANIFEST
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise malformed(f"unsupported media type {media_type}")
    if media_type in INDEX_MEDIA_TYPES:
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise malformed("an index without a 'manifests' list")
        platforms = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str) or not is_valid_digest(entry["digest"]):
                raise malformed("an index entry without a valid digest")
            platform = entry.get("platform")
            if not isinstance(platform, dict):
                platform = {}
            platforms.append(
                Platform(
                    os=str(platform.get("os", "")),
                    architecture=str(platform.get("architecture", "")),
                    variant=platform.get("variant") or None,
                    digest=entry["digest"],
                    media_type=entry.get("mediaType"),
                    os_version=platform.get("os.version") or None,
                )
            )
        return media_type, tuple(platforms)
    config = data.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        raise malformed("an image manifest without a config descriptor")
    if not isinstance(data.get("layers"), list):
        raise malformed("an image manifest without a 'layers' list")
    return media_type, ()
