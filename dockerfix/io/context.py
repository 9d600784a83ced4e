"""A build context on disk, read-only, as transforms see it (the ``BuildContext`` interface)."""

from __future__ import annotations

import glob as _glob
import os
import stat
import time

_LISTINGS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {}
"""Absolute folder path -> (its stat key, its sorted entries); see :meth:`DirectoryContext.listdir`."""
_RACY_NS = 2_000_000_000


class DirectoryContext:
    """The build context folder. Paths are context-relative with ``/`` separators; nothing outside is readable."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def _abs(self, rel: str) -> str | None:
        rel = rel.replace("\\", "/").lstrip("/")
        p = os.path.normpath(os.path.join(self.root, rel))
        if p != self.root and not p.startswith(self.root + os.sep):
            return None
        return p

    def exists(self, rel: str) -> bool:
        p = self._abs(rel)
        return p is not None and os.path.lexists(p)

    def is_dir(self, rel: str) -> bool:
        p = self._abs(rel)
        return p is not None and os.path.isdir(p)

    def read_bytes(self, rel: str, limit: int | None = None) -> bytes:
        p = self._abs(rel)
        if p is None:
            raise FileNotFoundError(rel)
        with open(p, "rb") as f:
            return f.read(limit if limit is not None else -1)

    def glob(self, pattern: str) -> list[str]:
        p = self._abs(pattern)
        if p is None:
            return []
        out = []
        for m in sorted(_glob.glob(p)):
            out.append(os.path.relpath(m, self.root).replace(os.sep, "/"))
        return out

    def listdir(self, rel: str = ".") -> list[str]:
        p = self._abs(rel)
        if p is None:
            return []
        try:
            st = os.stat(p)
        except OSError:
            return []
        if not stat.S_ISDIR(st.st_mode):
            return []
        # A folder's entries change only with its own mtime (and a replaced folder has another inode): the sorted
        # listing is shared by every context over the same folder in this process, checked by one stat per call.
        # Over the real-world corpus with each file's folder as its context, that is one listing of 719 names
        # instead of one per file and pass.
        # A folder changed in the last two seconds is listed afresh each time (as git treats racily clean files):
        # file times tick coarsely, so an entry added in the same tick as the cached listing would not show.
        key = (st.st_dev, st.st_ino, st.st_mtime_ns)
        hit = _LISTINGS.get(p)
        if hit is not None and hit[0] == key:
            return list(hit[1])
        names = sorted(os.listdir(p))
        if time.time_ns() - st.st_mtime_ns > _RACY_NS:
            if len(_LISTINGS) >= 4096:
                _LISTINGS.clear()
            _LISTINGS[p] = (key, tuple(names))
        return names

    def __repr__(self) -> str:
        return f"DirectoryContext({self.root!r})"
