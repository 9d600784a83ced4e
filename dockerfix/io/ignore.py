"""What a folder scan skips: git's ignore files, the default excludes and the configuration's ``exclude``.

Patterns (``.gitignore``, ``.git/info/exclude``, and ``exclude``/``extend-exclude`` in the configuration) all use
git's syntax (gitignore(5)), implemented here without git:

- blank lines and lines starting with ``#`` are skipped; ``\\#`` and ``\\!`` start a literal ``#``/``!``; trailing
  spaces are dropped unless escaped with ``\\``;
- ``!pattern`` re-includes what an earlier pattern excluded (a path whose parent folder is excluded stays excluded:
  the scan never enters that folder);
- a trailing ``/`` matches folders only;
- a ``/`` at the start or in the middle anchors the pattern to the folder of the file that holds it; otherwise it
  matches a name at any depth below that folder;
- ``*`` and ``?`` never match ``/``; ``[a-z]``, ``[!a-z]`` are character classes; ``**/`` at the start matches any
  leading folders, ``/**/`` any folders in between (or none), a trailing ``/**`` everything inside; other ``**`` are
  plain ``*``;
- the last matching pattern decides; deeper ``.gitignore`` files take precedence over shallower ones, and every
  ``.gitignore`` over ``.git/info/exclude``.

``.gitignore`` files count only inside a git repository (a folder with a ``.git`` entry, as ripgrep and ruff do), from
the repository's root down; a nested repository (submodule) starts afresh. git's global excludes file
(``core.excludesFile``) is not read: that needs git's configuration.
"""

from __future__ import annotations

import os
import re

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".pijul", ".fossil", "CVS", ".sl",  # version control
    ".venv", "venv", ".tox", ".nox", ".direnv", "__pypackages__", "site-packages", ".eggs",  # Python environments
    "node_modules", "bower_components", "vendor",  # installed dependencies
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".pytype",  # caches
    "dist", "_build", "buck-out",  # build output
)
"""Folder names a scan skips at any depth unless the configuration's ``exclude`` replaces the list. ``build`` and
``target`` are deliberately absent: ``build/`` (``build/package/Dockerfile`` of the Go project layout) and ``target``
often hold hand-written Dockerfiles; ``dist`` holds what release tools (goreleaser) copy there."""


def _translate(pat: str) -> str:
    """A git wildmatch pattern (already without ``!``, leading and trailing ``/``) as a regular expression."""
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            j = i
            while j < n and pat[j] == "*":
                j += 1
            stars = j - i
            at_start = i == 0 or pat[i - 1] == "/"
            at_end = j == n or pat[j] == "/"
            if stars >= 2 and at_start and at_end:
                if j == n:
                    out.append(".*")  # trailing /** (or a lone **): everything inside
                    i = j
                else:
                    out.append("(?:[^/]*/)*")  # **/ : any folders, or none
                    i = j + 1
                continue
            out.append("[^/]*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            if j < n and pat[j] in "!^":
                j += 1
            if j < n and pat[j] == "]":
                j += 1
            while j < n and pat[j] != "]":
                j += 2 if pat[j] == "\\" else 1
            if j >= n:
                out.append(re.escape(c))  # no closing bracket: a literal [
                i += 1
                continue
            body = pat[i + 1:j]
            neg = body[:1] in ("!", "^")
            if neg:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            body = re.sub(r"\\\\(.)", r"\\\1", body)  # an escaped character inside the class stays literal
            out.append(f"(?!/)[{'^' if neg else ''}{body}]")
            i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pat[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


class Pattern:
    """One compiled line of an ignore file."""

    __slots__ = ("text", "negate", "dir_only", "regex")

    def __init__(self, text: str, negate: bool, dir_only: bool, regex: re.Pattern[str]) -> None:
        self.text = text
        self.negate = negate
        self.dir_only = dir_only
        self.regex = regex

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def compile_line(line: str) -> Pattern | None:
    """The pattern on one line of a gitignore file, or None for a blank line or a comment."""
    text = line.rstrip("\r\n")
    if not text or text.startswith("#"):
        return None
    # trailing spaces go unless escaped
    stripped = text.rstrip(" ")
    if stripped != text and stripped.endswith("\\"):
        stripped += " "
    text = stripped
    if not text:
        return None
    negate = text.startswith("!")
    body = text[1:] if negate else text
    if body.startswith(("\\!", "\\#")):
        body = body[1:]
    dir_only = body.endswith("/") and not body.endswith("\\/")
    body = body[:-1] if dir_only else body  # git drops one trailing slash, and one leading
    if not body:
        return None
    anchored = "/" in body
    body = body[1:] if body.startswith("/") else body
    rx = _translate(body)
    if not anchored:
        rx = "(?:[^/]*/)*" + rx
    return Pattern(line.strip(), negate, dir_only, re.compile(rx, re.S))


def compile_lines(lines) -> tuple[Pattern, ...]:
    return tuple(p for p in map(compile_line, lines) if p is not None)


class Rules:
    """The patterns of one source (a ``.gitignore``, ``info/exclude``, a configuration) and the folder they are
    relative to."""

    __slots__ = ("base", "patterns", "source")

    def __init__(self, base: str, patterns: tuple[Pattern, ...], source: str) -> None:
        self.base = base
        self.patterns = patterns
        self.source = source

    def match(self, path: str, is_dir: bool) -> Pattern | None:
        """The last pattern matching absolute ``path`` (negated or not), or None."""
        rel = os.path.relpath(path, self.base)
        if rel.startswith("..") or rel == ".":
            return None
        rel = rel.replace(os.sep, "/")
        for p in reversed(self.patterns):
            if p.dir_only and not is_dir:
                continue
            if p.regex.fullmatch(rel):
                return p
        return None


def read_rules(path: str, base: str) -> Rules | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            pats = compile_lines(f.read().splitlines())
    except OSError:
        return None
    return Rules(base, pats, path) if pats else None


_DEFAULT_PATTERNS: tuple[Pattern, ...] | None = None


def default_patterns() -> tuple[Pattern, ...]:
    global _DEFAULT_PATTERNS
    if _DEFAULT_PATTERNS is None:
        _DEFAULT_PATTERNS = compile_lines(name + "/" for name in DEFAULT_EXCLUDE)
    return _DEFAULT_PATTERNS


class Excluder:
    """Decides what a scan skips, with per-folder caches (one instance per run).

    ``finder`` gives each folder's configuration (``exclude``, ``extend-exclude``, ``respect-gitignore``); without
    one the defaults apply.
    """

    def __init__(self, finder=None) -> None:
        self.finder = finder
        self._chains: dict[str, tuple[Rules, ...] | None] = {}
        self._config_rules: dict[str, tuple[tuple[Rules, ...], bool]] = {}

    # ---------------------------------------------------------------- sources
    def _config(self, d: str) -> tuple[tuple[Rules, ...], bool]:
        """The exclude rules and the respect-gitignore setting for paths in folder ``d``."""
        got = self._config_rules.get(d)
        if got is not None:
            return got
        cfg = None
        if self.finder is not None:
            try:
                cfg = self.finder.for_dir(d)
            except Exception:  # a broken configuration is reported when its files are processed
                cfg = None
        base = os.path.dirname(cfg.path) if cfg is not None and cfg.path else d
        exclude = getattr(cfg, "exclude", None)
        rules = [Rules(base, compile_lines(exclude) if exclude is not None else default_patterns(), "exclude")]
        extend = getattr(cfg, "extend_exclude", None)
        if extend:
            rules.append(Rules(base, compile_lines(extend), "extend-exclude"))
        respect = getattr(cfg, "respect_gitignore", None)
        got = (tuple(rules), respect is not False)
        self._config_rules[d] = got
        return got

    def _chain(self, d: str) -> tuple[Rules, ...] | None:
        """git's ignore rules for paths in folder ``d``, shallowest first; None outside a repository."""
        chains = self._chains
        if d in chains:
            return chains[d]
        todo: list[tuple[str, bool]] = []
        cur = d
        while cur not in chains:
            repo = os.path.lexists(os.path.join(cur, ".git"))
            todo.append((cur, repo))
            parent = os.path.dirname(cur)
            if repo or parent == cur:
                break
            cur = parent
        for folder, repo in reversed(todo):
            chain: tuple[Rules, ...] | None
            if repo:
                info = read_rules(os.path.join(folder, ".git", "info", "exclude"), folder)
                chain = (info,) if info is not None else ()
            else:
                parent = os.path.dirname(folder)
                chain = chains.get(parent) if parent != folder else None
            if chain is not None:
                own = read_rules(os.path.join(folder, ".gitignore"), folder)
                if own is not None:
                    chain = chain + (own,)
            chains[folder] = chain
        return chains[d]

    # ---------------------------------------------------------------- decisions
    def reason(self, path: str, is_dir: bool) -> str | None:
        """Why a scan skips ``path`` (absolute) considered on its own, or None when it does not."""
        d = os.path.dirname(path)
        rules, respect = self._config(d)
        for r in rules:
            p = r.match(path, is_dir)
            if p is not None and not p.negate:
                return f"{r.source} {p.text!r}" if r.source != "exclude" or self._has_config(d) else "default exclude"
        if respect:
            chain = self._chain(d)
            if chain:
                last = None
                for r in chain:
                    p = r.match(path, is_dir)
                    if p is not None:
                        last = (r, p)
                if last is not None and not last[1].negate:
                    return f"{os.path.relpath(last[0].source)} {last[1].text!r}"
        return None

    def _has_config(self, d: str) -> bool:
        if self.finder is None:
            return False
        try:
            return self.finder.for_dir(d).path is not None
        except Exception:
            return False

    def top(self, path: str) -> str:
        """Where a check of an explicit path starts: its repository's root, else its configuration's folder, else
        the current folder when the path is below it, else the path's own folder."""
        d = os.path.dirname(path)
        cur = d
        while True:
            if os.path.lexists(os.path.join(cur, ".git")):
                return cur
            parent = os.path.dirname(cur)
            if parent == cur:
                break
            cur = parent
        if self.finder is not None:
            try:
                cfg = self.finder.for_dir(d)
            except Exception:
                cfg = None
            if cfg is not None and cfg.path:
                return os.path.dirname(cfg.path)
        cwd = os.getcwd()
        if path.startswith(cwd.rstrip(os.sep) + os.sep):
            return cwd
        return d

    def excluded_path(self, path: str, is_dir: bool = False) -> str | None:
        """For ``--force-exclude``: would a scan from :meth:`top` skip ``path``, or a folder on the way to it?"""
        path = os.path.abspath(path)
        top = self.top(path)
        rel = os.path.relpath(os.path.dirname(path), top)
        cur = top
        if rel != ".":
            for part in rel.split(os.sep):
                cur = os.path.join(cur, part)
                why = self.reason(cur, True)
                if why is not None:
                    return why
        return self.reason(path, is_dir) if path != top else None
