"""The list of transforms: every module of this package whose name does not start with ``_`` (and is not ``base`` or
``registry``) and exports ``TRANSFORMS``. Sorted by code; codes must be unique.

Some modules are listed in ``LAZY`` with the metadata the engine needs before it runs a check (code, name, default,
safety, ordering, declared semantics) and, for most, the *triggers*: strings at least one of which a file must contain
for the transform to possibly report (the package manager names it is about; the engine skips the check on a file
without one, as for any transform's ``triggers``). Such a module is imported only when a check runs on a file that
contains a trigger, or when anything else about it is asked (``--explain``, docs): a
format-on-save of a file without ``zypper`` in it does not load the zypper transform. ``tests/test_registry.py``
checks that this metadata equals the classes' own and, over every corpus file and fixture, that a file without
a trigger gets nothing from the transform.
"""

from __future__ import annotations

import importlib
import os

from dockerfix.transforms.base import Transform

_HERE = os.path.dirname(__file__)
_NOT_TRANSFORMS = frozenset(("base", "registry"))

_cache: list[Transform] | None = None


class LazyTransform:
    """Stands in for a transform whose module is not imported yet (see the module docstring)."""

    def __init__(self, code: str, name: str, module: str, cls: str, default_enabled: bool, safety: str,
                 after: tuple[str, ...] = (), declares: frozenset[str] = frozenset(),
                 triggers: tuple[str, ...] = ()) -> None:
        self.code = code
        self.name = name
        self.module = module
        self.cls = cls
        self.default_enabled = default_enabled
        self.safety = safety
        self.after = after
        self.declares = declares
        self.triggers = triggers
        self._real: Transform | None = None

    def load(self) -> Transform:
        if self._real is None:
            m = importlib.import_module(f"dockerfix.transforms.{self.module}")
            self._real = getattr(m, self.cls)()
        return self._real

    def check(self, ctx):
        # the engine skips a file without a trigger before calling (Transform.triggers), lazy or not
        return self.load().check(ctx)

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr == "_real":
            raise AttributeError(attr)
        return getattr(self.load(), attr)

    def __repr__(self) -> str:
        return f"<{self.code} {self.name} (lazy)>"


LAZY: tuple[LazyTransform, ...] = (
    LazyTransform("DFX104", "apk-no-cache", "apk_no_cache", "ApkNoCache", True, "mixed", triggers=("apk",)),
    LazyTransform("DFX105", "dnf-clean", "dnf_clean", "DnfClean", True, "mixed", triggers=("dnf", "yum")),
    LazyTransform("DFX106", "zypper-clean", "zypper_clean", "ZypperClean", True, "safe", triggers=("zypper",)),
    LazyTransform("DFX107", "pip-no-cache-dir", "pip_no_cache_dir", "PipNoCacheDir", True, "safe",
                  triggers=("pip", "python", "uv")),
    LazyTransform("DFX108", "npm-cache-clean", "npm_cache_clean", "NpmCacheClean", True, "mixed",
                  triggers=("npm",)),
    LazyTransform("DFX109", "yarn-cache-clean", "yarn_cache_clean", "YarnCacheClean", True, "mixed",
                  triggers=("yarn",)),
    LazyTransform("DFX110", "gem-no-document", "gem_no_document", "GemNoDocument", True, "safe", triggers=("gem",)),
    LazyTransform("DFX111", "conda-clean", "conda_clean", "CondaClean", True, "safe", triggers=("conda", "mamba")),
    LazyTransform("DFX114", "dnf-no-weak-deps", "dnf_no_weak_deps", "DnfNoWeakDeps", True, "unsafe",
                  triggers=("dnf",)),
    # DFX501 reports only a final stage that runs a build it knows: these are the words of those commands
    # (``go build``, ``npm run build``, ``yarn build``, ``tsc``, ``mvn package``, ``gradle build``, ``cargo build``,
    # ``dotnet publish``, a pip install after build packages).
    LazyTransform("DFX501", "multi-stage", "multi_stage", "MultiStage", True, "unsafe",
                  declares=frozenset({"final-config", "stages"}),
                  triggers=("go", "npm", "yarn", "pnpm", "tsc", "npx", "mvn", "gradle", "cargo", "dotnet", "pip")),
    LazyTransform("DFX401", "pin-digests", "pin_digests", "PinDigests", False, "unsafe"),
    LazyTransform("DFX402", "refresh-digests", "pin_digests", "RefreshDigests", False, "unsafe"),
)
_LAZY_MODULES = frozenset(t.module for t in LAZY)


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
            if mod in _LAZY_MODULES:
                continue
            m = importlib.import_module(f"dockerfix.transforms.{mod}")
            for t in getattr(m, "TRANSFORMS", ()):
                out.append(t())
        out.extend(LAZY)  # type: ignore[arg-type]
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
