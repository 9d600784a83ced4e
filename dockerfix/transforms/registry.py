"""The list of transforms: every module of this package whose name does not start with ``_`` (and is not ``base`` or
``registry``) and exports ``TRANSFORMS``. Sorted by code; codes must be unique."""

from __future__ import annotations

import importlib
import os

from dockerfix.transforms.base import Transform

_HERE = os.path.dirname(__file__)
_NOT_TRANSFORMS = frozenset(("base", "registry"))

_cache: list[Transform] | None = None


def module_names() -> list[str]:
    out = []
    for f in sorted(os.listdir(_HERE)):
        name, ext = os.path.splitext(f)
        if ext == ".py" and not name.startswith("_") and name not in _NOT_TRANSFORMS:
            out.append(name)
    return out


def all_transforms() -> list[Transform]:
    global _cache
    if _cache is None:
        out: list[Transform] = []
        for mod in module_names():
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
