"""The list of transforms: every module of this package whose name does not start with ``_`` (and is not ``base`` or
``registry``) and exports ``TRANSFORMS``. Sorted by code; codes must be unique.

The metadata lives on each transform's class, next to its logic (code, name, summary, safety, default, ordering,
declared semantics, triggers). ``scripts/gen_docs.py`` copies what the engine needs before it runs a check into the
generated :mod:`dockerfix.transforms._index`, and the registry lists the transforms from that index as
:class:`LazyTransform` stand-ins: a transform's module is imported only when a check runs on a file that contains
one of its *triggers* (strings at least one of which a file must contain for the transform to possibly report; the
engine skips the check on a file without one), or when anything else about it is asked (``--explain``, docs). A
format-on-save of a file without ``zypper`` in it does not load the zypper transform. A module on disk that the
index does not list yet is imported and listed as it is.

``tests/test_docs_generated.py`` fails when the index (or the README's transform table, or ``docs/transforms.md``)
is not what the classes say; ``tests/test_registry.py`` checks that the stand-ins answer like the classes and, over
every corpus file and fixture, that a file without a trigger gets nothing from the transform.
"""

from __future__ import annotations

import importlib
import os

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Iterable

    from dockerfix.transforms.base import Context, Diagnostic, Transform

_HERE = os.path.dirname(__file__)
_NOT_TRANSFORMS = frozenset(("base", "registry"))

_cache: list[Transform] | None = None


class LazyTransform:
    """Stands in for a transform whose module is not imported yet (see the module docstring).

    It holds the index's copy of the class metadata; any other attribute (``docs``, ``answers``...) loads the
    module and is the real transform's. After the first load, ``check`` is the real transform's bound method.
    """

    def __init__(self, code: str, name: str, module: str, cls: str, default_enabled: bool, safety: str,
                 summary: str, after: tuple[str, ...] = (), declares: frozenset[str] = frozenset(),
                 triggers: tuple[str, ...] = (), needs: tuple[str, ...] = (), joins: bool = False) -> None:
        self.code = code
        self.name = name
        self.module = module
        self.cls = cls
        self.default_enabled = default_enabled
        self.safety = safety
        self.summary = summary
        self.after = after
        self.declares = declares
        self.triggers = triggers
        self.needs = needs  # the frontends ask every selected transform before a run (dockerfix.request)
        self.joins = joins  # the engine asks every transform before a pass (Transform.joins)
        self._real: Transform | None = None

    def load(self) -> Transform:
        if self._real is None:
            m = importlib.import_module(f"dockerfix.transforms.{self.module}")
            self._real = getattr(m, self.cls)()
            self.check = self._real.check  # type: ignore[method-assign]  # later calls skip the stand-in
        return self._real

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        # the engine skips a file without a trigger before calling (Transform.triggers)
        return self.load().check(ctx)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr == "_real":
            raise AttributeError(attr)
        return getattr(self.load(), attr)

    def __repr__(self) -> str:
        return f"<{self.code} {self.name} (lazy)>"


def module_names() -> list[str]:
    """The transform modules on disk (what ``scripts/gen_docs.py`` indexes)."""
    out = []
    for f in sorted(os.listdir(_HERE)):
        name, ext = os.path.splitext(f)
        if ext == ".py" and not name.startswith("_") and name not in _NOT_TRANSFORMS:
            out.append(name)
    return out


def discover() -> list[type[Transform]]:
    """The transform classes, imported from every module on disk and sorted by code: the source of the index."""
    out: list[type[Transform]] = []
    for mod in module_names():
        m = importlib.import_module(f"dockerfix.transforms.{mod}")
        out.extend(getattr(m, "TRANSFORMS", ()))
    out.sort(key=lambda c: c.code)
    return out


def all_transforms() -> list[Transform]:
    global _cache
    if _cache is None:
        from dockerfix.transforms._index import INDEX

        on_disk = module_names()
        out: list[Transform] = [LazyTransform(*row) for row in INDEX if row[2] in on_disk]  # type: ignore[misc]
        # a module the index does not know yet (added since scripts/gen_docs.py last ran) is imported now: it is
        # still discovered, only not lazily (tests/test_docs_generated.py fails until the index is regenerated)
        indexed = {row[2] for row in INDEX}
        for mod in on_disk:
            if mod not in indexed:
                m = importlib.import_module(f"dockerfix.transforms.{mod}")
                out.extend(t() for t in getattr(m, "TRANSFORMS", ()))
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
