"""A small on-disk JSON cache of resolutions: ``{"version": 1, "entries": {key: answer}}``.

Writes are atomic (temp file + rename) and merge with what is on disk, so two runs sharing the
file lose at most a concurrent update, never the file. A corrupt or foreign file reads as empty.
Failing to write is not an error: the cache is an optimisation (and offline mode's only source).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dockerfix.model.imageref import ImageRef

from .interface import Platform, Resolved

__all__ = ["DigestCache", "cache_key"]

_VERSION = 1


def cache_key(ref: ImageRef, registry: str) -> str:
    """Answers depend on the host asked (a mirror may differ) and on the tag or digest asked for."""
    return f"{registry}/{ref.path}@{ref.manifest_reference}" if ref.tag is None else f"{registry}/{ref.path}:{ref.tag}"


class DigestCache:
    def __init__(self, path: Path, *, clock: Callable[[], float]) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] | None = None

    def _read_disk(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("entries"), dict):
            return {}
        return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}

    def get(self, key: str, ref: ImageRef, *, max_age: float | None) -> Resolved | None:
        """The cached answer, if any and (with ``max_age``) not older than that many seconds."""
        with self._lock:
            if self._entries is None:
                self._entries = self._read_disk()
            entry = self._entries.get(key)
        if entry is None:
            return None
        try:
            fetched_at = float(entry["fetched_at"])
            if max_age is not None and self._clock() - fetched_at > max_age:
                return None
            platforms = entry.get("platforms")
            return Resolved(
                ref=ref,
                digest=str(entry["digest"]),
                media_type=str(entry["media_type"]),
                platforms=None if platforms is None else tuple(Platform(*p) for p in platforms),
                registry=str(entry["registry"]),
                from_cache=True,
                fetched_at=fetched_at,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, resolved: Resolved) -> None:
        entry = {
            "digest": resolved.digest,
            "media_type": resolved.media_type,
            "platforms": None
            if resolved.platforms is None
            else [[p.os, p.architecture, p.variant, p.digest, p.media_type, p.os_version] for p in resolved.platforms],
            "registry": resolved.registry,
            "fetched_at": resolved.fetched_at,
        }
        with self._lock:
            entries = self._read_disk()
            entries[key] = entry
            self._entries = entries
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".registry-cache-", dir=self.path.parent)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        json.dump({"version": _VERSION, "entries": entries}, fh, indent=1, sort_keys=True)
                        fh.write("\n")
                    os.replace(tmp, self.path)
                except BaseException:
                    os.unlink(tmp)
                    raise
            except OSError:
                pass
