"""The list of transforms. One module per transform; add yours to ``MODULES``."""

from __future__ import annotations

import importlib

from dockerfix.transforms.base import Transform

MODULES = (
    "add_local_to_copy",
    "merge_runs",
    "apt_update_alone",
    "delete_in_later_layer",
    "pin_digests",
    # package-manager cleanup (RUN hygiene)
    "apt_lists_cleanup",
    "apk_no_cache",
    "dnf_clean",
    "zypper_clean",
    "pip_no_cache_dir",
    "npm_cache_clean",
    "yarn_cache_clean",
    "gem_no_document",
    "conda_clean",
    "apt_no_install_recommends",
    "dnf_no_weak_deps",
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
