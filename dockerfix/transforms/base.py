"""What a transform is: metadata next to its logic, and fixes as data (after Ruff's fix model).

A transform looks at a parsed document and yields :class:`Diagnostic` objects. A diagnostic may carry a :class:`Fix`:
sorted, non-overlapping text :class:`Edit` objects plus an :class:`Applicability` decided per occurrence. The engine,
not the transform, applies fixes, re-parses, and repeats until nothing changes.
"""

from __future__ import annotations

import enum
from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable, ClassVar, Hashable, Iterable, Protocol, TypeVar

    _V = TypeVar("_V")
else:
    Protocol = object

if TYPE_CHECKING:
    from dockerfix.model.stages import Model
    from dockerfix.syntax.nodes import Document, Instruction


EFFECTS = ("size", "cache", "correctness", "cosmetic")
"""The documented classes of what a fix is for (:attr:`Transform.effect`)."""


class Applicability(enum.IntEnum):
    DISPLAY = 0
    """Shown for review (``--diff``), never applied."""
    UNSAFE = 1
    """Applied only with ``--unsafe``: it may change what ends up in the image or how it behaves."""
    SAFE = 2
    """Keeps the image's files and settings, apart from the transform's stated goal."""


class Failure(str, enum.Enum):
    """Why a diagnostic has no fix, or only an unsafe one, as data (:attr:`Diagnostic.kind`): frontends act on the
    kind and never parse the human-readable :attr:`Diagnostic.reason`."""

    NEEDS_NETWORK = "needs-network"
    """The fix needs an injected service that reaches the network (a registry resolver) and none was given."""
    SERVICE_ERROR = "service-error"
    """An injected service was asked and answered with an error (a registry that could not resolve a tag)."""
    NEEDS_CONTEXT = "needs-context"
    """The fix needs the build context (files next to the Dockerfile), and it is not available or lacks the file."""
    WOULD_BREAK = "would-break"
    """The fix would change what the build does or make it fail."""
    UNKNOWN = "unknown"
    """The model does not know enough to call the fix safe."""


@dataclass(frozen=True, slots=True, order=True)
class Edit:
    start: int
    end: int
    text: str

    @classmethod
    def insert(cls, at: int, text: str) -> "Edit":
        return cls(at, at, text)

    @classmethod
    def delete(cls, start: int, end: int) -> "Edit":
        return cls(start, end, "")


@dataclass(frozen=True, slots=True)
class FileChange:
    """A change to another file of the build context (e.g. a new ``.dockerignore``), shown as its own diff.

    ``path`` is relative to the build context; ``before`` is the content the fix was computed from (None: the file
    does not exist). Writers refuse when the file on disk is no longer ``before``.
    """

    path: str
    before: str | None
    after: str


@dataclass(frozen=True, slots=True)
class Fix:
    edits: tuple[Edit, ...]
    applicability: Applicability
    title: str
    files: tuple[FileChange, ...] = ()
    requires: tuple[int, ...] = ()
    """The starts of other diagnostics of the same transform whose fixes this one needs in the same pass (a cache
    mount on a RUN that reads what an earlier RUN's new mount holds): the engine applies it only together with
    those, and withholds it, with the reason, where one of them is not applied (suppressed, ignored, unsafe in a
    safe run). They point back, to earlier places in the file."""

    @classmethod
    def safe(cls, title: str, *edits: Edit) -> "Fix":
        return cls(tuple(sorted(edits)), Applicability.SAFE, title)

    @classmethod
    def unsafe(cls, title: str, *edits: Edit) -> "Fix":
        return cls(tuple(sorted(edits)), Applicability.UNSAFE, title)

    @property
    def start(self) -> int:
        edits = self.edits
        if len(edits) == 1:
            return edits[0].start  # (most fixes: one edit, without a generator per question)
        return min((e.start for e in edits), default=0)

    @property
    def end(self) -> int:
        edits = self.edits
        if len(edits) == 1:
            return edits[0].end
        return max((e.end for e in edits), default=0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    name: str
    message: str
    start: int
    """Document offset the finding points at (usually an instruction's keyword)."""
    end: int
    fix: Fix | None = None
    reason: str | None = None
    """Why there is no fix, or why the fix is unsafe."""
    extra: tuple[tuple[str, Any], ...] = ()
    edits_like: tuple[str, ...] = ()
    """Names of other transforms whose kind of edit this occurrence's fix also makes, beyond the transform's own
    :attr:`Transform.edits_like` (see there)."""
    kind: Failure | None = None
    """Why there is no (safe) fix, as data: see :class:`Failure`. None: not stated (:attr:`reason` may say)."""

    @property
    def is_safe(self) -> bool:
        return self.fix is not None and self.fix.applicability is Applicability.SAFE


class BuildContext(Protocol):
    """Read-only view of the build context (injected; tests pass a fake or a temp dir)."""

    def exists(self, rel: str) -> bool: ...
    def is_dir(self, rel: str) -> bool: ...
    def read_bytes(self, rel: str, limit: int | None = None) -> bytes: ...
    def glob(self, pattern: str) -> list[str]: ...


_MISSING = object()


class Memo:
    """The per-pass memo a :class:`Context` owns: answers derived from the pass's document, computed once per pass
    and shared by every transform (the document and the model do not change within a pass).

    One table per *kind*, and a kind is an object, never a string: the function or class that computes the value
    (``ctx.memo.get_or(stage_instructions, (stage.index, "USER"), compute)``), so two modules cannot collide on a
    name and a reader finds the producer by following the kind. Keys are hashable values of the document's objects
    (an instruction, an index, a tuple). Values may point back at the pass's objects: :meth:`Context.close` drops
    the memo when the pass ends.

    Module-level caches are only for pure functions of strings (a parse of a command's text); anything derived
    from a document, a model or an instruction lives here."""

    __slots__ = ("_tables",)

    def __init__(self) -> None:
        self._tables: dict[object, dict[Any, Any]] = {}

    def get_or(self, kind: object, key: Hashable, compute: Callable[..., _V], *args: Any) -> _V:
        """The value of ``kind`` for ``key`` in this pass: ``compute(*args)`` the first time, the stored value
        after that. ``compute`` may itself ask the memo (another kind, or this one for another key)."""
        table = self._tables.get(kind)
        if table is None:
            if isinstance(kind, str):
                raise TypeError(f"memo kind {kind!r}: a kind is the function or class that computes the value")
            table = self._tables[kind] = {}
        hit = table.get(key, _MISSING)
        if hit is _MISSING:
            hit = table[key] = compute(*args)
        return hit  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())

    def clear(self) -> None:
        self._tables.clear()


@dataclass
class Context:
    """Everything a transform may look at for one document in one pass.

    The engine makes one per pass and calls :meth:`close` when the pass's diagnostics are in."""

    document: "Document"
    path: str | None = None
    build_context: BuildContext | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    """Injected interfaces (registry resolver, ...), by name."""
    memo: Memo = field(default_factory=Memo)
    """The pass's memo, shared by transforms (see :class:`Memo`)."""
    _model: "Model | None" = None

    @property
    def model(self) -> "Model":
        if self._model is None:
            from dockerfix.model.stages import Model

            self._model = Model(self.document)
        return self._model

    def close(self) -> None:
        """Release the pass: drop the memo and the model. Their values point back at the context (run sites hold
        it), so dropping them lets reference counting free the pass's document and model at once instead of
        leaving them to the cyclic collector. The context stays usable: a later question recomputes."""
        self.memo.clear()
        self._model = None

    def text(self, start: int, end: int) -> str:
        return self.document.text[start:end]

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


class Transform:
    """Base class: subclasses set the metadata and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    safety: ClassVar[str]
    """``safe``, ``unsafe``, ``mixed`` (decided per occurrence) or ``display-only``."""
    docs: ClassVar[str]
    """Markdown: what it fixes, why, an example, and what its fix may change (``--explain``)."""
    default_enabled: ClassVar[bool] = True
    declares: ClassVar[frozenset[str]] = frozenset()
    """Semantics this transform may change on purpose (e.g. ``stages``, ``final-config``); the engine's guard allows them."""
    image_differences: ClassVar[tuple[str, ...]] = ()
    """Image paths (globs, no leading ``/``; ``*`` crosses ``/``) its fixes may remove or change on purpose: the
    caches and indexes it exists to drop. ``dockerfix verify`` allows exactly these differences."""
    triggers: ClassVar[tuple[str, ...]] = ()
    """Strings at least one of which a file must contain for this transform to report anything (e.g. ``apt``): the
    engine skips the check on other files. ``tests/test_registry.py`` proves them sound over every fixture and
    corpus file. Empty: always run."""
    answers: ClassVar[tuple[str, ...]] = ()
    """Lint rules (hadolint ``DLxxxx``) this transform's fix answers. An author's ``# hadolint ignore=`` of one of them
    on the line above an instruction (or ``# hadolint global ignore=``) suppresses the transform there as well: the
    author chose to keep what the rule is about."""
    edits_like: ClassVar[tuple[str, ...]] = ()
    """Names of other transforms whose kind of edit this transform's fixes also make (apt-update-alone merges RUNs as
    merge-runs does). Where one of them is ignored (``--ignore``, the config's ``ignore``, a ``# dockerfix: ignore``
    pragma, an author's ``# hadolint ignore=`` of a rule it answers), this transform's fix is withheld there too and
    its diagnostic stays as a finding: ignoring a transform stops that rewrite whoever would make it."""
    after: ClassVar[tuple[str, ...]] = ()
    """Names of transforms whose fixes should land first in a pass (ordering metadata, not engine special cases)."""
    joins: ClassVar[bool] = False
    """Whether its fixes may join instructions (one edit across an instruction boundary, as a merge of RUNs is). The
    engine runs the transforms up to the last one that joins first in each pass; when they have joins to choose, it
    applies those fixes before the rest of the pass runs, which then reads the joined text (one pass instead of
    two: :func:`dockerfix.engine.fix_document`). A join by a transform without it is still applied alone, and the
    fixes on what it joins wait for the next pass."""
    needs: ClassVar[tuple[str, ...]] = ()
    """Names of the injected services (:attr:`Context.services`) its fixes need, e.g. ``("resolver",)``: the
    frontends build a service only when a selected transform needs it (network access stays opt-in; see
    :mod:`dockerfix.request`). Without it the transform reports findings of kind :attr:`Failure.NEEDS_NETWORK`."""
    effect: ClassVar[str] = "size"
    """What its fixes are for, one of :data:`EFFECTS`: ``size`` (bytes out of a shipped image: the default),
    ``cache`` (faster rebuilds), ``correctness`` (a build that can go stale or fail), ``cosmetic`` (the same image
    and the same cache: only the text reads better, e.g. ADD→COPY of a plain file, dropping ``--chown=root:root``).
    A PR bot or ``--check`` may skip a file whose applied fixes are all cosmetic (``FixResult.cosmetic_only``)."""

    def effect_of(self, title: str | None) -> str:
        """The effect of one of its fixes, by the fix's title: :attr:`effect`, unless a transform whose fixes are of
        several kinds overrides this."""
        return self.effect

    def check(self, ctx: Context) -> Iterable[Diagnostic]:  # pragma: no cover - interface
        raise NotImplementedError

    # helpers shared by transforms
    def diagnostic(
        self, inst: "Instruction", message: str, fix: Fix | None = None, *, reason: str | None = None,
        span: tuple[int, int] | None = None, kind: Failure | None = None,
    ) -> Diagnostic:
        s, e = span if span is not None else inst.keyword_span
        return Diagnostic(self.code, self.name, message, s, e, fix, reason, kind=kind)


def keyword_like(original: str, new: str) -> str:
    """``new`` in the letter case of ``original`` (``add`` -> ``copy``, ``Add`` -> ``Copy``)."""
    if original.isupper():
        return new.upper()
    if original.islower():
        return new.lower()
    if original[:1].isupper() and original[1:].islower():
        return new.capitalize()
    return new.upper()
