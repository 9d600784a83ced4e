"""The main command's flags, parsed by hand: every run (``-``, ``--write FILE``, ``--check FILE``, folders) starts
without typer, click, pydantic, rich or jinja2.

Format-on-save runs ``dockerfix -`` per save and pre-commit runs ``dockerfix --write FILES`` per commit; building
typer's parameter objects alone cost more than the whole rewrite of a median file. :func:`parse` knows every option of
the main command (the typer app in :mod:`dockerfix.cli` declares the same ones, for ``--help`` and shell completion;
``tests/test_cli_conventions.py`` keeps the two lists equal) and returns:

- an :class:`~dockerfix.cli_core.Options` for a run,
- an :class:`Info` for ``--version``/``-V``, ``--list-transforms`` and ``--explain CODE``,
- None for what only typer does: ``--help``/``-h``, ``--install-completion``, ``--show-completion``, and grouped
  short flags (``-qj2``),

and raises :class:`~dockerfix.cli_core.UsageError` (``dockerfix: error: ...``, exit 2) for an unknown option, a
missing or bad value. Values are checked by :func:`dockerfix.cli_core.validate` for both frontends.
"""

from __future__ import annotations

from dockerfix._record import dataclass

_VALUED = {
    "--stdin-filename": "stdin_filename", "--select": "select", "--ignore": "ignore", "--context": "context",
    "--format": "fmt", "--color": "color", "--jobs": "jobs", "-j": "jobs", "--explain": "explain",
}
_FLAGS = {
    "--unsafe": ("unsafe", True), "--no-unsafe": ("unsafe", False), "--quiet": ("quiet", True),
    "-q": ("quiet", True), "--diff": ("diff", True), "--check": ("check", True), "--write": ("write", True),
    "--offline": ("offline", True), "--allow-partial": ("allow_partial", True),
    "--refresh-digests": ("refresh_digests", True), "--list-transforms": ("list_transforms", True),
    "--version": ("version", True), "-V": ("version", True), "--force-exclude": ("force_exclude", True),
    "--show-files": ("show_files", True), "--add-files": ("add_files", True), "--no-add-files": ("add_files", False),
    "--skip-cosmetic": ("skip_cosmetic", True), "--no-skip-cosmetic": ("skip_cosmetic", False),
}
TYPER_ONLY = frozenset(("--help", "-h", "--install-completion", "--show-completion"))
"""Options the typer app answers (help and shell completion)."""
OPTIONS = frozenset(_VALUED) | frozenset(_FLAGS) | TYPER_ONLY
"""Every option of the main command."""
_REPEATED = ("select", "ignore")
_RUN_KEYS = ("unsafe", "quiet", "offline", "allow_partial", "refresh_digests", "force_exclude", "show_files",
             "add_files", "skip_cosmetic", "stdin_filename", "context", "fmt", "color")


@dataclass(frozen=True)
class Info:
    """An informational action instead of a run: ``version``, ``list-transforms`` or ``explain`` (with ``key``)."""

    kind: str
    key: str | None = None
    color: str = "auto"


def parse(argv: list[str]):
    """An ``Options`` (a run), an :class:`Info`, or None when typer must handle ``argv``; raise ``UsageError``."""
    from dockerfix.cli_core import UsageError

    paths: list[str] = []
    values: dict[str, object] = {}
    multi: dict[str, list[str]] = {}
    i = 0
    n = len(argv)
    only_paths = False
    while i < n:
        a = argv[i]
        i += 1
        if only_paths or a == "-" or not a.startswith("-"):
            paths.append(a)
            continue
        if a == "--":
            only_paths = True
            continue
        if a in TYPER_ONLY:
            return None
        if a in _FLAGS:
            key, on = _FLAGS[a]
            values[key] = on
            continue
        name, eq, val = a.partition("=") if a.startswith("--") else (a[:2], "", a[2:])
        if name not in _VALUED:
            if not a.startswith("--") and len(a) > 2:
                return None  # grouped short flags: click's business
            raise UsageError(f"no such option: {name}")
        if a.startswith("--") and not eq or not a.startswith("--") and not val:
            if i >= n:
                raise UsageError(f"option {name} requires a value")
            val = argv[i]
            i += 1
        key = _VALUED[name]
        if key in _REPEATED:
            multi.setdefault(key, []).append(val)
        else:
            values[key] = val
    color = str(values.get("color", "auto"))
    if values.get("version"):
        return Info("version")
    if values.get("list_transforms"):
        return Info("list-transforms", color=color)
    if "explain" in values:
        return Info("explain", str(values["explain"]), color)
    from dockerfix.cli_core import Options, resolve_mode, split_codes

    raw_jobs = values.get("jobs")
    jobs = None
    if raw_jobs is not None:
        try:
            jobs = int(str(raw_jobs), 10)
        except ValueError:
            raise UsageError(f"--jobs: {raw_jobs!r} is not a whole number") from None
    mode = resolve_mode(paths, diff=bool(values.get("diff")), check=bool(values.get("check")),
                        write=bool(values.get("write")))
    return Options(
        paths=tuple(paths), mode=mode, select=split_codes(multi.get("select")), ignore=split_codes(multi.get("ignore")),
        jobs=jobs, **{k: values[k] for k in _RUN_KEYS if k in values},  # type: ignore[arg-type]
    )
