"""The list of transforms. One module per transform; add yours to ``MODULES``."""

from __future__ import annotations

import importlib

from dockerfix.transforms.base import Transform

MODULES = (
    "add_local_to_copy",
)

_cache: list[Transform] | None = None


def all_transforms() -> list[Transform]:
    global _cache
    if _cache is None:
        out: list[Transform] = []
        for mod in MODULES:
            m = importlib.import_module(f"dockerfix.transforms.{mod}")
            for t in getattr(m, "TRANSFORMS", ()):
                out.append(t())
        out.sort(key=lambda t: t.code)
        codes = [t.code for t in out]
        if len(set(codes)) != len(codes):
            raise RuntimeError(f"duplicate transform codes: {codes}")
        _cache = out
    return list(_cache)


def by_key(key: str) -> Transform | None:
    k = key.strip().lower()
    for t in all_transforms():
        if t.code.lower() == k or t.name.lower() == k:
            return t
    return None
