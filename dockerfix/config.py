"""Configuration: ``[tool.dockerfix]`` in ``pyproject.toml``, or the top level of ``.dockerfix.toml``.

Found by walking up from the Dockerfile's folder (from the cwd for stdin without ``--stdin-filename``); the nearest
folder with either file wins, and in one folder ``.dockerfix.toml`` wins over ``pyproject.toml``. A
``pyproject.toml`` without a ``[tool.dockerfix]`` table does not count (the walk goes on). Keys::

    select = ["DFX001", "add-local-to-copy"]   # or one comma-separated string
    ignore = []
    unsafe = false
    context = "."                              # build context, relative to the config file's folder
    exclude = ["legacy/"]                      # folder scans skip these (gitignore syntax, relative to this
                                               # file's folder); replaces the default list
    extend-exclude = ["third_party/"]          # added to the default list (or to exclude)
    respect-gitignore = true                   # folder scans skip what git ignores
    create-files = false                       # --write may create files that do not exist (.dockerignore)
    skip-cosmetic = false                      # leave files whose fixes are all cosmetic unchanged
    [settings]                                 # free-form, passed as ``settings=`` to ``dockerfix.fix``
    [registries]                               # passed through untouched as ``settings["registries"]``

(in ``pyproject.toml`` these are ``[tool.dockerfix]``, ``[tool.dockerfix.settings]``, ``[tool.dockerfix.registries]``).
Unknown keys and wrong types are errors. Command-line flags override the file key by key.
"""

from __future__ import annotations

import os
from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

CONFIG_NAMES = (".dockerfix.toml", "pyproject.toml")
KEYS = frozenset(("select", "ignore", "unsafe", "context", "settings", "registries", "exclude", "extend-exclude",
                  "respect-gitignore", "create-files", "skip-cosmetic"))


class ConfigError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Config:
    path: str | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    unsafe: bool | None = None
    context: str | None = None
    """Absolute."""
    settings: dict[str, Any] = field(default_factory=dict)
    registries: Any = None
    exclude: tuple[str, ...] | None = None
    """gitignore-style patterns relative to the folder of :attr:`path`; None: the default excludes."""
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool | None = None
    create_files: bool | None = None
    skip_cosmetic: bool | None = None

    def fix_settings(self) -> dict[str, Any]:
        out = dict(self.settings)
        if self.registries is not None:
            out["registries"] = self.registries
        return out


EMPTY = Config()


def _load_toml(path: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError(path, "reading TOML on Python 3.10 needs the 'tomli' package") from None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"invalid TOML: {exc}") from None


def _codes(path: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise ConfigError(path, f"'{key}' must be a list of transform codes or names")


def parse_table(path: str, table: dict[str, Any]) -> Config:
    """Validate one ``[tool.dockerfix]`` table (or a ``.dockerfix.toml`` document)."""
    if not isinstance(table, dict):
        raise ConfigError(path, "[tool.dockerfix] must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ConfigError(path, f"unknown key(s): {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    base = os.path.dirname(os.path.abspath(path))
    select = _codes(path, "select", table["select"]) if "select" in table else None
    ignore = _codes(path, "ignore", table["ignore"]) if "ignore" in table else None
    unsafe = table.get("unsafe")
    if unsafe is not None and not isinstance(unsafe, bool):
        raise ConfigError(path, "'unsafe' must be true or false")
    context = table.get("context")
    if context is not None:
        if not isinstance(context, str):
            raise ConfigError(path, "'context' must be a path")
        context = os.path.normpath(os.path.join(base, context))
    settings = table.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(path, "'settings' must be a table")
    registries = table.get("registries")
    exclude = _patterns(path, "exclude", table["exclude"]) if "exclude" in table else None
    extend_exclude = _patterns(path, "extend-exclude", table.get("extend-exclude", []))
    flags = {}
    for key in ("respect-gitignore", "create-files", "skip-cosmetic"):
        value = table.get(key)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(path, f"'{key}' must be true or false")
        flags[key] = value
    for key, codes in (("select", select), ("ignore", ignore)):
        if codes:
            try:
                check_codes(codes)
            except ValueError as exc:
                raise ConfigError(path, f"'{key}': {exc}") from None
    return Config(path, select, ignore, unsafe, context, dict(settings), registries, exclude, extend_exclude,
                  flags["respect-gitignore"], flags["create-files"], flags["skip-cosmetic"])


def _patterns(path: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(path, f"'{key}' must be a list of patterns (gitignore syntax)")


def check_codes(codes) -> None:
    """Raise ValueError naming the codes no transform answers to, spelt as the user wrote them."""
    from dockerfix.engine import select_transforms

    try:
        select_transforms(codes)
    except ValueError as exc:
        unknown = []
        for code in codes:
            try:
                select_transforms([code])
            except ValueError:
                unknown.append(code)
        if not unknown:
            raise
        raise ValueError(f"unknown transform{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}") from exc


def load(path: str) -> Config | None:
    """The configuration in ``path``, or None for a ``pyproject.toml`` without ``[tool.dockerfix]``."""
    doc = _load_toml(path)
    if os.path.basename(path) == "pyproject.toml":
        tool = doc.get("tool")
        if not isinstance(tool, dict) or "dockerfix" not in tool:
            return None
        return parse_table(path, tool["dockerfix"])
    return parse_table(path, doc)


class Finder:
    """Upward config lookup with a per-folder cache (one instance per run)."""

    def __init__(self) -> None:
        self._by_dir: dict[str, Config] = {}

    def for_dir(self, directory: str) -> Config:
        d = os.path.abspath(directory)
        visited: list[str] = []
        found = EMPTY
        while True:
            if d in self._by_dir:
                found = self._by_dir[d]
                break
            visited.append(d)
            cfg = self._in_dir(d)
            if cfg is not None:
                found = cfg
                break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        for v in visited:
            self._by_dir[v] = found
        return found

    def for_file(self, path: str) -> Config:
        return self.for_dir(os.path.dirname(os.path.abspath(path)))

    @staticmethod
    def _in_dir(d: str) -> Config | None:
        for name in CONFIG_NAMES:
            p = os.path.join(d, name)
            if os.path.isfile(p):
                cfg = load(p)
                if cfg is not None:
                    return cfg
        return None
