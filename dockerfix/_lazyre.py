"""Regular expressions compiled on first use.

``re.compile`` costs 0.1-1 ms per pattern; the transforms hold about forty patterns at module level and most runs
use few of them, so compiling them at import was a sizeable share of ``dockerfix -``'s start-up. ``lazy(pattern,
flags)`` stands in for ``re.compile(pattern, flags)``: the first method call compiles the pattern and binds the
pattern's methods on the instance, so later calls cost what a compiled pattern's do. It is not a ``re.Pattern``:
pass ``.compiled`` where an API insists on one.
"""

from __future__ import annotations

import re

_METHODS = ("match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer", "scanner")


class LazyPattern:
    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)

    @property
    def compiled(self) -> re.Pattern:
        p = self.__dict__.get("_compiled")
        if p is None:
            p = re.compile(*self._args)
            self.__dict__["_compiled"] = p
            for name in _METHODS:
                self.__dict__[name] = getattr(p, name)
        return p

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_args", "_compiled"):
            raise AttributeError(name)
        return getattr(self.compiled, name)

    def __repr__(self) -> str:
        return f"lazy({self._args[0]!r})"


def lazy(pattern: str, flags: int = 0) -> LazyPattern:
    return LazyPattern(pattern, flags)
