"""The Python API: ``dockerfix.fix`` and ``dockerfix.transforms``."""

from __future__ import annotations

import os
from dockerfix._record import dataclass
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Iterable

from dockerfix.engine import EngineError, FixResult, fix_document, guard, select_transforms
from dockerfix.syntax import parse


@dataclass(frozen=True)
class TransformInfo:
    code: str
    name: str
    safety: str
    summary: str
    default_enabled: bool


def transforms() -> list[TransformInfo]:
    """Every transform with its code, name, fix safety and one-line summary."""
    from dockerfix.transforms.registry import all_transforms

    return [TransformInfo(t.code, t.name, t.safety, t.summary, t.default_enabled) for t in all_transforms()]


PAUSE_COLLECTOR_AT = 64 * 1024
"""Input size (characters) from which :func:`fix` pauses the cyclic garbage collector while it runs. dockerfix's
objects form no reference cycles (``tests/test_gc.py``), so a collection during a fix only walks the trees the fix
holds, and a large file holds many: one RUN of thousands of commands kept tens of thousands of objects alive through
every young collection (a third more time per line at 6,400 lines than at 400). Real Dockerfiles stay far below it
(the largest of the corpus is 25 KB), so their runs, and a caller's collector settings, are unchanged."""


def fix(
    text: str,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    unsafe: bool = False,
    path: str | None = None,
    context: Any = None,
    settings: dict[str, Any] | None = None,
    services: dict[str, Any] | None = None,
) -> FixResult:
    """Rewrite Dockerfile ``text``; return the new text and what changed.

    ``context`` is the build context: a folder path, or an object with the ``BuildContext`` interface; None means
    "not available" (fixes that need it are then unsafe or absent). Raises :class:`DockerfileSyntaxError` for input
    BuildKit would reject, :class:`EngineError` when the semantics guard trips.
    """
    if len(text) >= PAUSE_COLLECTOR_AT:
        import gc

        if gc.isenabled():
            gc.disable()
            try:
                return fix(text, select=select, ignore=ignore, unsafe=unsafe, path=path, context=context,
                           settings=settings, services=services)
            finally:
                gc.enable()
    if isinstance(select, str):
        select = [s for s in select.split(",")]
    if isinstance(ignore, str):
        ignore = [s for s in ignore.split(",")]
    doc = parse(text, path=path)
    ts = select_transforms(select, ignore)
    bc = context
    if isinstance(context, (str, os.PathLike)):
        from dockerfix.io.context import DirectoryContext

        bc = DirectoryContext(os.fspath(context))
    result = fix_document(
        doc, ts, unsafe=unsafe, path=path, build_context=bc, settings=settings, services=services,
        ignored=ignore or (),
    )
    if result.changed:
        guard(doc, result.document or parse(result.text), ts, unsafe)
    if batch.freezing:
        batch.after_file()
    return result


class batch:
    """``with dockerfix.batch(): ...``: tune the cyclic garbage collector for fixing many files in one process.

    dockerfix's own objects form no reference cycles (reference counting frees each file's trees as soon as it is
    done), so the collector's default rhythm, a pass every 700 allocations, only re-walks short-lived trees: about
    a seventh of the time over a corpus. Inside the block, objects that exist on entry (modules, classes, caches)
    are moved out of the collector's way (``gc.freeze``) and the young generation is collected every 20,000
    allocations instead; both are restored on exit. The CLI and the bot run their file loops in it.

    What outlives a file is frozen too, after each :func:`fix` (:meth:`after_file`): the parses the caches keep for
    the next file or pass (every RUN script read, its commands and words) are alive and acyclic, and each young
    collection walked all of them again only to move them on (9 collections and 60-80 ms of a 0.75 s loop over the
    corpus's real-world files, collecting nothing). ``gc.freeze`` is a constant-time move of the generations into the
    permanent one; reference counting still frees a frozen object when its last reference goes (a cache evicting a
    script). Only the block that froze first does this, as only it unfreezes on exit: a program that froze its own
    objects before keeps exactly what it froze.
    """

    GEN0 = 20_000
    freezing = 0
    """Open blocks that freeze what each file leaves (read by :func:`fix`)."""

    def __enter__(self) -> "batch":
        import gc

        self._threshold = gc.get_threshold()
        # ``gc.unfreeze`` cannot tell whose objects it releases: only the block that froze first unfreezes, so a
        # nested block, or a program that froze its own objects before (a forking server), keeps its freeze
        self._unfreeze = gc.get_freeze_count() == 0
        gc.freeze()
        gc.set_threshold(self.GEN0, self._threshold[1], self._threshold[2])
        if self._unfreeze:
            batch.freezing += 1
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.set_threshold(*self._threshold)
        if self._unfreeze:
            batch.freezing -= 1
            gc.unfreeze()

    @staticmethod
    def after_file() -> None:
        """Freeze what is alive after a file (see the class): the next young collection walks only new objects."""
        import gc

        gc.freeze()


__all__ = ["EngineError", "FixResult", "TransformInfo", "batch", "fix", "transforms"]
