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

Three more pieces of knowledge live here, each in one table or function:

- :data:`REGENERATED`: files that package scripts and tools write afresh every time their step runs (caches keyed
  by time, random keys and IDs, logs). Rows marked ``any`` are allowed between any two builds
  (:data:`BUILD_NOISE`); rows marked ``baseline`` are allowed only once a second build of the original shows that
  its own build rewrites them too. :func:`explain_for_baseline` says which differences such a build could explain.
- :func:`rewritten_files`: the rewritten Dockerfile and ``.dockerignore`` that a ``COPY . <dir>`` puts into the
  image are the rewrite itself, a declared difference.
- :data:`VOLATILE_OUTPUT` and :func:`compare_runs`: a smoke command's exit status and output in both images, with
  timestamps, durations, PIDs and memory addresses masked.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockerfix.verify.imagefs import DIR, FILE, SYMLINK, Entry, FlatImage

__all__ = [
    "ATTRIBUTES",
    "AllowedDifference",
    "BUILD_NOISE",
    "Comparison",
    "ConfigDifference",
    "KNOWN_CACHES",
    "PathDifference",
    "REGENERATED",
    "Regenerated",
    "RunCheck",
    "RunOutput",
    "VOLATILE_OUTPUT",
    "baseline_allowances",
    "compare_images",
    "compare_runs",
    "explain_for_baseline",
    "normalise_output",
    "regenerated_row",
    "rerun_step",
    "rewritten_files",
    "same_steps",
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
    """The transform code declaring it (``DFX...``), ``build`` for differences between any two builds,
    ``baseline`` for what a second build of the original showed, ``rewrite`` for the rewritten files themselves."""
    link_to: str | None = None
    """When set, only symlinks whose target's last component is this name match (``ssl-cert-snakeoil.pem`` for the
    certificate's hash link, without allowing every other link under ``etc/ssl/certs``)."""
    kinds: tuple[str, ...] = ()
    """When set, only these kinds of difference (``only_a``, ``only_b``, ``changed``) are allowed: a file a second
    build of the original rewrites is not thereby allowed to disappear."""

    def __post_init__(self) -> None:
        if isinstance(self.patterns, str):
            object.__setattr__(self, "patterns", (self.patterns,))
        object.__setattr__(self, "patterns", tuple(p.lstrip("/") if not p.startswith("@") else p
                                                   for p in self.patterns))

    def matches(self, path: str, *entries: Entry | None, kind: str | None = None) -> bool:
        """True when ``path`` matches a pattern (and, with :attr:`link_to`, every given entry is such a link; with
        :attr:`kinds`, ``kind`` is one of them)."""
        if self.kinds and kind is not None and kind not in self.kinds:
            return False
        if not any(fnmatch.fnmatchcase(path, p) for p in self.patterns):
            return False
        if self.link_to is None:
            return True
        present = [e for e in entries if e is not None]
        return bool(present) and all(e.type == SYMLINK and (e.link or "").rstrip("/").rsplit("/", 1)[-1] ==
                                     self.link_to for e in present)

    def holds(self, directory: str) -> bool:
        """True when ``directory`` lies on the literal prefix of one of the patterns (a cache's container)."""
        if self.link_to is not None:
            return False
        for p in self.patterns:
            if p.startswith("@"):
                continue
            literal = _GLOB_CHARS.split(p, 1)[0]
            if literal.startswith(directory + "/") or (literal.rstrip("/") == directory and literal != p):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"patterns": list(self.patterns), "reason": self.reason, "code": self.code}
        if self.link_to is not None:
            d["link_to"] = self.link_to
        if self.kinds:
            d["kinds"] = list(self.kinds)
        return d


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

@dataclass(frozen=True)
class Regenerated:
    """Files a tool writes afresh whenever its step runs, so two builds of one Dockerfile differ there."""

    name: str
    patterns: tuple[str, ...]
    writer: str
    """What writes them (a package's maintainer script, a trigger, a tool)."""
    why: str
    """Why the bytes (or names) differ from one run to the next."""
    when: str
    """``any``: allowed between any two builds (bookkeeping nothing reads back); ``baseline``: allowed once a second
    build of the original differs there too (state a program reads: keys, IDs, caches)."""
    link_to: str | None = None

    def allowance(self, code: str | None = None, reason: str | None = None,
                  kinds: tuple[str, ...] = ()) -> AllowedDifference:
        return AllowedDifference(self.patterns, reason or f"{self.writer} writes it on every run: {self.why}",
                                 code or ("build" if self.when == "any" else "baseline"), self.link_to, kinds)

    def matches(self, path: str, *entries: Entry | None) -> bool:
        return self.allowance().matches(path, *entries)


REGENERATED: tuple[Regenerated, ...] = (
    # -- any two builds (measured here: apt-get install of fontconfig and ssl-cert on debian:bookworm-slim, twice)
    Regenerated("package logs", ("var/log/apt/*", "var/log/dpkg.log", "var/log/alternatives.log",
                                 "var/log/bootstrap.log"),
                "dpkg and apt", "their logs record timestamps", "any"),
    Regenerated("package backups", ("var/cache/debconf/*-old", "var/lib/dpkg/*-old"),
                "debconf and dpkg", "backup copies rewritten on every package operation", "any"),
    Regenerated("ldconfig aux-cache", ("var/cache/ldconfig/aux-cache",),
                "ldconfig (the libc-bin dpkg trigger)", "keyed by the libraries' inode numbers and ctimes", "any"),
    Regenerated("npm logs", ("root/.npm/_logs/*", "home/*/.npm/_logs/*"),
                "npm", "one debug log per run, named after its start time", "any"),
    Regenerated("go build cache", ("root/.cache/go-build/*", "home/*/.cache/go-build/*"),
                "go build", "build-specific action records (the built binaries themselves are compared)", "any"),
    # -- confirmed by a second build of the original
    Regenerated("fontconfig caches",
                ("var/cache/fontconfig/*", "usr/share/fonts/*.uuid", "usr/local/share/fonts/*.uuid"),
                "fc-cache (the fontconfig dpkg trigger)", "cache files record the font folders' mtimes; fontconfig "
                "2.13 also writes a random .uuid per font folder", "baseline"),
    Regenerated("machine-id", ("etc/machine-id", "var/lib/dbus/machine-id"),
                "dbus/systemd maintainer scripts (dbus-uuidgen, systemd-machine-id-setup)", "a random ID",
                "baseline"),
    Regenerated("snakeoil certificate",
                ("etc/ssl/private/ssl-cert-snakeoil.key", "etc/ssl/certs/ssl-cert-snakeoil.pem"),
                "make-ssl-cert (ssl-cert's postinst)", "a fresh random key, and the host name as subject",
                "baseline"),
    Regenerated("snakeoil hash link", ("etc/ssl/certs/*",),
                "make-ssl-cert (ssl-cert's postinst)", "named after the subject hash, and the subject is the build "
                "container's host name", "baseline", link_to="ssl-cert-snakeoil.pem"),
    Regenerated("ssh host keys", ("etc/ssh/ssh_host_*",),
                "openssh-server's postinst (ssh-keygen -A)", "fresh random keys", "baseline"),
    Regenerated("java cacerts", ("etc/ssl/certs/java/cacerts",),
                "ca-certificates-java", "the keystore records when each entry was added", "baseline"),
    Regenerated("postgresql cluster", ("var/lib/postgresql/*/main/*", "var/log/postgresql/*"),
                "initdb (postgresql's postinst creates the main cluster)", "a random system identifier, "
                "timestamps in the control file and WAL", "baseline"),
    Regenerated("shadow passwords", ("etc/shadow", "etc/shadow-"),
                "chpasswd, useradd, passwd", "chpasswd hashes with a random salt (the last-change day each write "
                "sets is masked when images are read, like .pyc timestamps)", "baseline"),
    # seen in the real app azure-vote-app-service (`echo "root:Docker!" | chpasswd` in the RUN that DFX103 edits):
    # a second uncached build of the original differed in /etc/shadow and /etc/shadow- (docs/realapps.md)
    Regenerated("configstore state", ("root/.config/configstore/*.json", "home/*/.config/configstore/*.json"),
                "update-notifier (configstore) in npm packages' install scripts", "records when it last checked "
                "for an update (lastUpdateCheck, in milliseconds)", "baseline"),
    # seen in the real app compose-react-express-backend: nodemon's install writes
    # /root/.config/configstore/nodemon.json, which differed between two builds of the original; baseline, not any:
    # other tools keep logins in configstore (firebase-tools.json), so a second build must show it changes anyway
    Regenerated("python bytecode", ("*.pyc",),
                "compileall (pip, dpkg's py3compile)", "marshal's output depends on reference counts at compile time "
                "(timestamp headers are already masked when images are read)", "baseline"),
)
"""Paths that differ between two builds of the same Dockerfile whenever the step that writes them runs again.

Each row: name [when allowed]: paths (globs as in :class:`AllowedDifference`) -- what writes them.

- package logs [any]: ``var/log/apt/*``, ``var/log/dpkg.log``, ``var/log/alternatives.log``,
  ``var/log/bootstrap.log`` -- dpkg, apt
- package backups [any]: ``var/cache/debconf/*-old``, ``var/lib/dpkg/*-old`` -- debconf, dpkg
- ldconfig aux-cache [any]: ``var/cache/ldconfig/aux-cache`` -- ldconfig
- npm logs [any]: ``root/.npm/_logs/*``, ``home/*/.npm/_logs/*`` -- npm
- go build cache [any]: ``root/.cache/go-build/*``, ``home/*/.cache/go-build/*`` -- go build
- fontconfig caches [baseline]: ``var/cache/fontconfig/*``, ``usr/share/fonts/*.uuid``,
  ``usr/local/share/fonts/*.uuid`` -- fc-cache
- machine-id [baseline]: ``etc/machine-id``, ``var/lib/dbus/machine-id`` -- dbus, systemd
- snakeoil certificate [baseline]: ``etc/ssl/private/ssl-cert-snakeoil.key``,
  ``etc/ssl/certs/ssl-cert-snakeoil.pem`` -- make-ssl-cert
- snakeoil hash link [baseline]: symlinks under ``etc/ssl/certs/`` to ``ssl-cert-snakeoil.pem`` -- make-ssl-cert
- ssh host keys [baseline]: ``etc/ssh/ssh_host_*`` -- ssh-keygen -A
- java cacerts [baseline]: ``etc/ssl/certs/java/cacerts`` -- ca-certificates-java
- postgresql cluster [baseline]: ``var/lib/postgresql/*/main/*``, ``var/log/postgresql/*`` -- initdb
- shadow passwords [baseline]: ``etc/shadow``, ``etc/shadow-`` -- chpasswd, useradd, passwd
- configstore state [baseline]: ``root/.config/configstore/*.json``, ``home/*/.config/configstore/*.json`` --
  update-notifier
- python bytecode [baseline]: ``*.pyc`` -- compileall

Measured in the lab (two no-cache builds of ``apt-get install -y fontconfig ssl-cert``): the four
``var/cache/fontconfig/*.cache-8`` files, the snakeoil key and certificate, ``aux-cache`` and the three package logs
differ. The others are known from Debian's reproducible-builds notes and each package's maintainer scripts."""

BUILD_NOISE: tuple[AllowedDifference, ...] = tuple(r.allowance() for r in REGENERATED if r.when == "any")
"""Differences between any two builds of the same Dockerfile: the ``any`` rows of :data:`REGENERATED`."""


def regenerated_row(path: str, *entries: Entry | None, when: str = "baseline") -> Regenerated | None:
    """The first :data:`REGENERATED` row (of the given ``when``) covering ``path``."""
    for row in REGENERATED:
        if row.when == when and row.matches(path, *entries):
            return row
    return None


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


def _first_allowing(path: str, allowed: Sequence[AllowedDifference], *entries: Entry | None,
                    kind: str | None = None) -> AllowedDifference | None:
    for allowance in allowed:
        if allowance.matches(path, *entries, kind=kind):
            return allowance
    return None


def _container_allowance(path: str, entry: Entry | None, tree: _Tree, allowed: Sequence[AllowedDifference],
                         kind: str) -> AllowedDifference | None:
    """A directory in one image only, on the literal prefix of an allowed pattern, holding nothing else."""
    if entry is None or entry.type != DIR:
        return None
    for allowance in allowed:
        if (not allowance.kinds or kind in allowance.kinds) and allowance.holds(path) and all(
            _first_allowing(p, allowed, tree.entries[p], kind=kind) is not None
            or (tree.entries[p].type == DIR and allowance.holds(p))
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
            allowance = _first_allowing(path, rules, x, y, kind=kind) or _container_allowance(
                path, x or y, tree_a if y is None else tree_b, rules, kind)
        else:
            names = _entry_changes(x, y, attributes)
            if not names:
                continue
            diff = PathDifference(path, CHANGED, names, x, y)
            allowance = _first_allowing(path, rules, x, y, kind=CHANGED)
        if allowance is not None:
            ok.append(PathDifference(diff.path, diff.kind, diff.attributes, diff.a, diff.b, allowance))
        else:
            {ONLY_A: only_a, ONLY_B: only_b, CHANGED: changed}[diff.kind].append(diff)

    config: list[ConfigDifference] = []
    for cdiff in _config_differences(a, b):
        allowance = _first_allowing("@config/" + cdiff.field, rules)
        if allowance is not None:
            ok.append(ConfigDifference(cdiff.field, cdiff.a, cdiff.b, allowance))
        else:
            config.append(cdiff)

    sizes = {
        name: [getattr(a, name), getattr(b, name)]
        for name in ("layer_count", "compressed_size", "uncompressed_size", "file_bytes")
    }
    sizes["entry_count"] = [len(ea), len(eb)]
    return Comparison(a.source, b.source, tuple(only_a), tuple(only_b), tuple(changed), tuple(config),
                      tuple(ok), sizes)


# ------------------------------------------------------------------------------------------- baseline decisions


def same_steps(a: FlatImage, b: FlatImage) -> dict[int, int]:
    """Which layer of ``b`` was made by the same step as each layer of ``a`` (index -> index).

    The layers' ``created_by`` lists are aligned (:class:`difflib.SequenceMatcher`): equal runs pair up, and so does
    a run of edited steps the rewrite left in place, one for one (a RUN the rewrite changed, a COPY whose sources a
    new ``.dockerignore`` changed). Steps the rewrite merged, split, added or removed pair with nothing. Empty when
    either image's history does not give every layer its step."""
    import difflib

    ka = [layer.created_by for layer in a.layers]
    kb = [layer.created_by for layer in b.layers]
    if not ka or not kb or None in ka or None in kb:
        return {}
    pairs: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pairs.update((i1 + k, j1 + k) for k in range(i2 - i1))
    return pairs


def rerun_step(diff: PathDifference, a: FlatImage, b: FlatImage,
               pairs: Mapping[int, int] | None = None) -> str | None:
    """The instruction that wrote ``diff``'s file in both images, when that step ran again for the rewrite (its
    layer is not the original's) and wrote different bytes: the build's own nondeterminism is the likely cause.

    The same step means the same ``created_by``, or (with ``pairs`` from :func:`same_steps`) the step the rewrite
    edited in place: an edited RUN runs again and rewrites what its programs regenerate (salted password hashes,
    ``debconf``'s database, update-check stamps). Returns the rewrite's instruction."""
    if diff.kind != CHANGED or not set(diff.attributes) <= {"sha256", "size"}:
        return None
    ia, ib = a.origins.get(diff.path), b.origins.get(diff.path)
    la, lb = a.written_by(diff.path), b.written_by(diff.path)
    if la is None or lb is None or not la.created_by or not lb.created_by:
        return None
    if la.created_by != lb.created_by and (pairs is None or ia is None or pairs.get(ia) != ib):
        return None
    if la.diff_id is not None and la.diff_id == lb.diff_id:
        return None
    return lb.created_by


def explain_for_baseline(comparison: Comparison, a: FlatImage,
                         b: FlatImage) -> tuple[dict[str, str], list[PathDifference | ConfigDifference]]:
    """Which violations a second build of the original might show to be the build's own doing.

    Returns the explained paths (path -> the :data:`REGENERATED` row's name, or ``re-run step: <instruction>`` for
    a file the same step, or the step the rewrite edited in place, wrote in both images: :func:`rerun_step`) and
    the violations nothing explains (config differences never are). A baseline build is worth its time only when
    the second list is empty; the baseline then decides, allowing only what differs between two builds of the
    original.
    """
    explained: dict[str, str] = {}
    rest: list[PathDifference | ConfigDifference] = []
    pairs: dict[int, int] | None = None
    for v in comparison.violations:
        if isinstance(v, PathDifference):
            row = regenerated_row(v.path, v.a, v.b)
            if row is not None:
                explained[v.path] = row.name
                continue
            if pairs is None:
                pairs = same_steps(a, b)
            step = rerun_step(v, a, b, pairs)
            if step is not None:
                explained[v.path] = f"re-run step: {step}"
                continue
        rest.append(v)
    return explained, rest


def _literal(path: str) -> str:
    """A path as a pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


def baseline_allowances(baseline: Comparison) -> tuple[list[AllowedDifference], list[str]]:
    """What a comparison of the original with its own second build allows a rewrite: each differing path, for the
    same kind of difference only, and each ``baseline`` row of :data:`REGENERATED` the second build touched (for
    the kinds it showed there: file names that change from build to build, like fontconfig's, need the row).
    Returns the allowances and the names of the rows confirmed."""
    out: list[AllowedDifference] = []
    reason = "differs between two builds of the original (nondeterministic build)"
    paths = [v for v in baseline.violations if isinstance(v, PathDifference)]
    for kind in (ONLY_A, ONLY_B, CHANGED):
        literal = tuple(_literal(v.path) for v in paths if v.kind == kind)
        if literal:
            out.append(AllowedDifference(literal, reason, "baseline", kinds=(kind,)))
    rows: dict[str, set[str]] = {}
    for v in paths:
        row = regenerated_row(v.path, v.a, v.b)
        if row is not None:
            rows.setdefault(row.name, set()).add(v.kind)
    for row in REGENERATED:
        if row.name in rows:
            out.append(row.allowance("baseline", f"{row.writer} rewrote it in a second build of the original too: "
                                                 f"{row.why}", tuple(sorted(rows[row.name]))))
    return out, [r.name for r in REGENERATED if r.name in rows]


# ---------------------------------------------------------------------------------------- the rewritten files


def rewritten_files(a: FlatImage, b: FlatImage,
                    files: Mapping[str, tuple[bytes | None, bytes | None]]) -> tuple[list[AllowedDifference],
                                                                                       dict[str, list[str]]]:
    """Where the rewritten files themselves (the Dockerfile, a ``.dockerignore``) landed in the images.

    ``files`` maps a context-relative name to its bytes before and after the rewrite (``None``: absent). A path is
    that file when it has the same name, and in each image where it exists it is a regular file holding that
    image's version (``COPY . /app`` copies the Dockerfile the build read). Returns one allowance per file (code
    ``rewrite``) and, per file, the image paths it covers.
    """
    import hashlib

    allowances: list[AllowedDifference] = []
    found: dict[str, list[str]] = {}
    names = sorted(a.entries.keys() | b.entries.keys())
    for rel, (before, after) in sorted(files.items()):
        if before == after:
            continue
        base = rel.rstrip("/").rsplit("/", 1)[-1]
        sha_a = hashlib.sha256(before).hexdigest() if before is not None else None
        sha_b = hashlib.sha256(after).hexdigest() if after is not None else None
        paths = []
        for path in names:
            if path.rsplit("/", 1)[-1] != base:
                continue
            x, y = a.entries.get(path), b.entries.get(path)
            if x is None and y is None:
                continue
            if (x is None or (x.type == FILE and sha_a is not None and x.sha256 == sha_a)) and \
                    (y is None or (y.type == FILE and sha_b is not None and y.sha256 == sha_b)):
                paths.append(path)
        if paths:
            found[rel] = paths
            allowances.append(AllowedDifference(tuple(_literal(p) for p in paths),
                                                f"{rel} as the rewrite leaves it (dockerfix --write), copied into the "
                                                "image from the build context", "rewrite"))
    return allowances, found


# -------------------------------------------------------------------------------------------------- behaviour


VOLATILE_OUTPUT: tuple[tuple[str, str, str], ...] = (
    ("date and time", r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}| ?UTC)?",
     "<TIME>"),
    ("clock time", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<TIME>"),
    ("duration", r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|secs?|seconds)\b", "<DURATION>"),
    ("process id", r"\b(pid|PID|Pid)(\s*[=:#]?\s*)\d+\b", r"\1\2<PID>"),
    ("syslog process id", r"\b([\w.-]+)\[\d+\]:", r"\1[<PID>]:"),
    ("memory address", r"\b0x[0-9a-fA-F]{6,}\b", "<ADDR>"),
)
"""What :func:`normalise_output` masks in a smoke command's output before comparing (name, regex, replacement):
timestamps (``2024-05-01T12:00:03Z``, ``12:00:03``), durations (``in 0.31s``, ``12 ms``), process IDs (``pid
4711``, ``sshd[4711]:``) and memory addresses (``<object at 0x7f3a2c1d9e80>``). Line endings are made ``\\n``.
Anything else volatile is the user's to mask (``--smoke-ignore REGEX``)."""


def normalise_output(text: str, extra: Sequence[str] = ()) -> str:
    """``text`` with :data:`VOLATILE_OUTPUT` masked, then every match of the ``extra`` regexes as ``<IGNORED>``."""
    out = text.replace("\r\n", "\n")
    for _name, pattern, replacement in VOLATILE_OUTPUT:
        out = re.sub(pattern, replacement, out)
    for pattern in extra:
        out = re.sub(pattern, "<IGNORED>", out)
    return out


@dataclass(frozen=True)
class RunOutput:
    """What one command printed and returned in one image."""

    exit_code: int
    stdout: str
    stderr: str

    def to_dict(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "stdout": self.stdout, "stderr": self.stderr}


@dataclass(frozen=True)
class RunCheck:
    """One command run in both images: a ``--smoke`` command (exit status and output compared) or the images'
    HEALTHCHECK (exit status only)."""

    kind: str
    """``smoke`` or ``healthcheck``."""
    command: str
    before: RunOutput
    after: RunOutput
    compare_output: bool = True
    ignore: tuple[str, ...] = ()
    """Extra regexes masked before comparing (``--smoke-ignore``)."""

    @property
    def differences(self) -> tuple[str, ...]:
        out = []
        if self.before.exit_code != self.after.exit_code:
            out.append(f"exit status {self.before.exit_code} -> {self.after.exit_code}")
        if self.compare_output:
            for name in ("stdout", "stderr"):
                x, y = getattr(self.before, name), getattr(self.after, name)
                if normalise_output(x, self.ignore) != normalise_output(y, self.ignore):
                    out.append(f"{name} differs")
        return tuple(out)

    @property
    def passed(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "command": self.command, "passed": self.passed,
                "compared": ["exit_code", "stdout", "stderr"] if self.compare_output else ["exit_code"],
                "differences": list(self.differences), "before": self.before.to_dict(),
                "after": self.after.to_dict()}


def compare_runs(kind: str, command: str, before: Any, after: Any, *, compare_output: bool = True,
                 ignore: Sequence[str] = ()) -> RunCheck:
    """A :class:`RunCheck` from two process results (anything with ``returncode``, ``stdout``, ``stderr``)."""
    return RunCheck(kind, command, RunOutput(before.returncode, before.stdout, before.stderr),
                    RunOutput(after.returncode, after.stdout, after.stderr), compare_output, tuple(ignore))
