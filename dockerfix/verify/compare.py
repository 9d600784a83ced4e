"""Compare two flattened images, with the differences a rewrite may make given as data.

A rewrite is *equal* to its original when every difference between the two images is covered by an
:class:`AllowedDifference`. Each allowance names the transform (or the builder, for build noise) that declares
it and why, so a report can say "``root/.cache/pip`` differs: pip's download cache is dropped (DFX123)".

Patterns are matched against paths relative to the image root (``var/lib/apt/lists/*``; a leading ``/`` is
ignored) with :func:`fnmatch.fnmatchcase`, where ``*`` also matches across ``/``. One extra rule covers the
directory that holds a cache: a directory present in only one image is allowed when it lies on the literal
prefix of an allowed pattern (``root/.cache`` for ``root/.cache/pip/*``) and everything below it is allowed too,
because removing a cache removes the directories that only existed to hold it.

Config fields are compared field by field; ``Env`` and ``Labels`` key by key. An allowance matches a config
difference through the pseudo-path ``@config/<Field>`` (``@config/Env.PIP_NO_CACHE_DIR``,
``@config/Labels.*``).
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockerfix.verify.imagefs import DIR, Entry, FlatImage

__all__ = [
    "ATTRIBUTES",
    "AllowedDifference",
    "BUILD_NOISE",
    "Comparison",
    "ConfigDifference",
    "KNOWN_CACHES",
    "PathDifference",
    "compare_images",
]

ATTRIBUTES = ("type", "mode", "uid", "gid", "size", "sha256", "link", "device", "xattrs")
"""Entry attributes compared by default (hard-link identity and mtimes are not: they vary between builds)."""

ONLY_A, ONLY_B, CHANGED = "only_a", "only_b", "changed"
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class AllowedDifference:
    """A difference a rewrite is allowed to make: paths (or ``@config/...`` fields), why, and who says so."""

    patterns: tuple[str, ...]
    reason: str
    code: str
    """The transform code declaring it (``DFX...``), or ``build`` for differences between any two builds."""

    def __post_init__(self) -> None:
        if isinstance(self.patterns, str):
            object.__setattr__(self, "patterns", (self.patterns,))
        object.__setattr__(self, "patterns", tuple(p.lstrip("/") if not p.startswith("@") else p
                                                   for p in self.patterns))

    def matches(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.patterns)

    def holds(self, directory: str) -> bool:
        """True when ``directory`` lies on the literal prefix of one of the patterns (a cache's container)."""
        for p in self.patterns:
            if p.startswith("@"):
                continue
            literal = _GLOB_CHARS.split(p, 1)[0]
            if literal.startswith(directory + "/") or (literal.rstrip("/") == directory and literal != p):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"patterns": list(self.patterns), "reason": self.reason, "code": self.code}


KNOWN_CACHES: dict[str, tuple[str, ...]] = {
    "apt-lists": ("var/lib/apt/lists/*",),
    "apt-archives": ("var/cache/apt/*",),
    "pip": ("root/.cache/pip/*", "home/*/.cache/pip/*"),
    "npm": ("root/.npm/*", "home/*/.npm/*"),
    "yarn": ("usr/local/share/.cache/yarn/*", "root/.cache/yarn/*", "home/*/.cache/yarn/*"),
    "go-build": ("root/.cache/go-build/*", "home/*/.cache/go-build/*"),
    "go-mod": ("go/pkg/mod/cache/*",),
}
"""Patterns of well-known package-manager caches, for transforms to build their allowances from."""

BUILD_NOISE: tuple[AllowedDifference, ...] = (
    AllowedDifference(
        ("var/log/apt/*", "var/log/dpkg.log", "var/log/alternatives.log", "var/log/bootstrap.log"),
        "package-manager logs record timestamps",
        "build",
    ),
    AllowedDifference(
        ("var/cache/debconf/*-old", "var/lib/dpkg/*-old", "var/cache/ldconfig/aux-cache"),
        "backup and auxiliary files rewritten on every package operation",
        "build",
    ),
    AllowedDifference(
        ("root/.cache/go-build/*", "home/*/.cache/go-build/*"),
        "Go's build cache holds build-specific action records (the built binaries themselves are compared)",
        "build",
    ),
)
"""Differences between any two builds of the same Dockerfile, measured in the lab (apt logs, dpkg backups)."""


@dataclass(frozen=True)
class PathDifference:
    path: str
    kind: str
    """``only_a``, ``only_b`` or ``changed``."""
    attributes: tuple[str, ...] = ()
    """For ``changed``: the attributes that differ."""
    a: Entry | None = None
    b: Entry | None = None
    allowed_by: AllowedDifference | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.kind == CHANGED:
            d["attributes"] = {name: [_attribute(self.a, name), _attribute(self.b, name)] for name in self.attributes}
        else:
            entry = self.a if self.kind == ONLY_A else self.b
            if entry is not None:
                d["type"] = entry.type
        if self.allowed_by is not None:
            d["allowed_by"] = {"code": self.allowed_by.code, "reason": self.allowed_by.reason}
        return d


@dataclass(frozen=True)
class ConfigDifference:
    field: str
    """Docker's field name, with ``.KEY`` for one ``Env`` variable or label (``Env.PATH``)."""
    a: Any
    b: Any
    allowed_by: AllowedDifference | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"field": self.field, "a": _jsonable(self.a), "b": _jsonable(self.b)}
        if self.allowed_by is not None:
            d["allowed_by"] = {"code": self.allowed_by.code, "reason": self.allowed_by.reason}
        return d


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_images`. Violations and allowed differences are kept apart."""

    a: str
    b: str
    only_a: tuple[PathDifference, ...] = ()
    only_b: tuple[PathDifference, ...] = ()
    changed: tuple[PathDifference, ...] = ()
    config: tuple[ConfigDifference, ...] = ()
    allowed: tuple[PathDifference | ConfigDifference, ...] = ()
    sizes: dict[str, list[int]] = field(default_factory=dict)
    """``layer_count``, ``compressed_size``, ``uncompressed_size``, ``file_bytes``, ``entry_count``: [a, b]."""

    @property
    def violations(self) -> tuple[PathDifference | ConfigDifference, ...]:
        return (*self.only_a, *self.only_b, *self.changed, *self.config)

    @property
    def equal(self) -> bool:
        """No violations: every difference is allowed."""
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "equal": self.equal,
            "only_a": [d.to_dict() for d in self.only_a],
            "only_b": [d.to_dict() for d in self.only_b],
            "changed": [d.to_dict() for d in self.changed],
            "config": [d.to_dict() for d in self.config],
            "allowed": [d.to_dict() for d in self.allowed],
            "sizes": self.sizes,
        }

    def summary(self) -> str:
        word = "equal" if self.equal else "differ"
        return (f"{word}: {len(self.only_a)} only in a, {len(self.only_b)} only in b, {len(self.changed)} changed, "
                f"{len(self.config)} config, {len(self.allowed)} allowed")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _attribute(entry: Entry | None, name: str) -> Any:
    value = getattr(entry, name, None)
    if name == "mode" and isinstance(value, int):
        return f"{value:04o}"
    if name == "xattrs":
        return dict(value or ())
    return value


def _first_allowing(path: str, allowed: Sequence[AllowedDifference]) -> AllowedDifference | None:
    for allowance in allowed:
        if allowance.matches(path):
            return allowance
    return None


def _container_allowance(path: str, entry: Entry | None, tree: _Tree,
                         allowed: Sequence[AllowedDifference]) -> AllowedDifference | None:
    """A directory in one image only, on the literal prefix of an allowed pattern, holding nothing else."""
    if entry is None or entry.type != DIR:
        return None
    for allowance in allowed:
        if allowance.holds(path) and all(
            _first_allowing(p, allowed) is not None or (tree.entries[p].type == DIR and allowance.holds(p))
            for p in tree.below(path)
        ):
            return allowance
    return None


class _Tree:
    """Sorted view of one image's paths, to list what lies below a directory."""

    def __init__(self, entries: Mapping[str, Entry]):
        self.entries = entries
        self._sorted: list[str] | None = None

    def below(self, directory: str) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        prefix = directory + "/"
        start = bisect.bisect_left(self._sorted, prefix)
        end = bisect.bisect_left(self._sorted, directory + "0")  # "0" sorts right after "/"
        return [p for p in self._sorted[start:end] if p.startswith(prefix)]


def _entry_changes(a: Entry, b: Entry, attributes: Sequence[str]) -> tuple[str, ...]:
    changed = []
    for name in attributes:
        if name == "size" and a.type == DIR and b.type == DIR:
            continue
        if getattr(a, name) != getattr(b, name):
            changed.append(name)
    return tuple(changed)


def _config_differences(a: FlatImage, b: FlatImage) -> list[ConfigDifference]:
    out = []
    ca, cb = a.config.to_dict(), b.config.to_dict()
    keyed = {"Env": (a.config.env_map(), b.config.env_map()), "Labels": (ca["Labels"], cb["Labels"])}
    for name in ca:
        if name in keyed:
            ma, mb = keyed[name]
            for key in sorted(set(ma) | set(mb)):
                if ma.get(key) != mb.get(key):
                    out.append(ConfigDifference(f"{name}.{key}", ma.get(key), mb.get(key)))
        elif ca[name] != cb[name]:
            out.append(ConfigDifference(name, ca[name], cb[name]))
    return out


def compare_images(
    a: FlatImage,
    b: FlatImage,
    allowed: Iterable[AllowedDifference] = (),
    *,
    attributes: Sequence[str] = ATTRIBUTES,
) -> Comparison:
    """Compare ``a`` (usually the original) with ``b`` (the rewrite).

    ``allowed`` lists the differences the rewrite may make; the first matching allowance is recorded against
    each difference. Pass :data:`BUILD_NOISE` too when a and b are separate builds (they nearly always are).
    """
    rules = list(allowed)
    only_a: list[PathDifference] = []
    only_b: list[PathDifference] = []
    changed: list[PathDifference] = []
    ok: list[PathDifference | ConfigDifference] = []

    ea, eb = a.entries, b.entries
    tree_a, tree_b = _Tree(ea), _Tree(eb)
    for path in sorted(ea.keys() | eb.keys()):
        x, y = ea.get(path), eb.get(path)
        if x is None or y is None:
            kind = ONLY_B if x is None else ONLY_A
            diff = PathDifference(path, kind, a=x, b=y)
            allowance = _first_allowing(path, rules) or _container_allowance(
                path, x or y, tree_a if y is None else tree_b, rules)
        else:
            names = _entry_changes(x, y, attributes)
            if not names:
                continue
            diff = PathDifference(path, CHANGED, names, x, y)
            allowance = _first_allowing(path, rules)
        if allowance is not None:
            ok.append(PathDifference(diff.path, diff.kind, diff.attributes, diff.a, diff.b, allowance))
        else:
            {ONLY_A: only_a, ONLY_B: only_b, CHANGED: changed}[diff.kind].append(diff)

    config: list[ConfigDifference] = []
    for diff in _config_differences(a, b):
        allowance = _first_allowing("@config/" + diff.field, rules)
        if allowance is not None:
            ok.append(ConfigDifference(diff.field, diff.a, diff.b, allowance))
        else:
            config.append(diff)

    sizes = {
        name: [getattr(a, name), getattr(b, name)]
        for name in ("layer_count", "compressed_size", "uncompressed_size", "file_bytes")
    }
    sizes["entry_count"] = [len(ea), len(eb)]
    return Comparison(a.source, b.source, tuple(only_a), tuple(only_b), tuple(changed), tuple(config),
                      tuple(ok), sizes)
