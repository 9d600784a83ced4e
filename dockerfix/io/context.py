"""A build context on disk, read-only, as transforms see it (the ``BuildContext`` interface)."""

from __future__ import annotations

import glob as _glob
import os


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
        if p is None or not os.path.isdir(p):
            return []
        return sorted(os.listdir(p))

    def __repr__(self) -> str:
        return f"DirectoryContext({self.root!r})"
