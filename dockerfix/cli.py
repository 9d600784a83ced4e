"""The typer CLI, for ``--help`` and shell completion: runs are parsed by :mod:`dockerfix.cli_fast` without typer
(``__main__`` comes here only for help, completion and grouped short flags). It declares the same options as the
fast parser (tests/test_cli_conventions.py compares them); the command body builds the same
:class:`~dockerfix.cli_core.Options` and calls :func:`dockerfix.cli_core.run`. No logic in the command body.

Errors are written in dockerfix's one style, ``dockerfix: error: ...`` (exit 2), never in typer's or click's words.
Help is plain formatting (``rich_markup_mode=None``): nothing here is ever read as rich markup.
"""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from dockerfix import __version__
from dockerfix.cli_core import EXIT_ERROR, Options, UsageError, info, resolve_mode, split_codes
from dockerfix.cli_core import show_explain, show_transforms  # noqa: F401  (their old home)

HELP = """\
Rewrite Dockerfiles: report, diff, check or apply safe fixes.

PATH is a Dockerfile or a folder, or '-' to read stdin and write the rewritten text to stdout. Folders are
searched for Dockerfile, Dockerfile.*, Dockerfile-*, Dockerfile_*, *.Dockerfile, and the same for Containerfile
(any case), skipping what git ignores, .git, .venv, venv, node_modules, vendor, __pycache__, dist and other
tool folders, and the configuration's exclude/extend-exclude. Files named explicitly are processed whatever their
name unless --force-exclude.
"""

EPILOG = """\
\b
Commands (each with its own --help):
  dockerfix verify PATH  build before and after the rewrite, compare the images
  dockerfix pr [PATH]    the bot: branch, commit, push, open the pull request
  dockerfix lsp          language server over stdio (editors)

\b
Modes (default: report, one line per finding, '[*]' when --write fixes it):
  --diff    unified diff on stdout (patch -p1 applies it from the repo root)
  --check   one 'would rewrite PATH' line per file and a summary (stderr)
  --write   rewrite the files in place
  -         stdin to stdout (messages on stderr)

\b
Exit codes:
  0  nothing to change, or --write / '-' succeeded
  1  changes due (report, --diff, --check)
  2  error: usage, config, unreadable or unparseable file (path:line:col),
     no Dockerfiles in a folder, failed write, internal error

\b
Configuration: [tool.dockerfix] in pyproject.toml, or .dockerfix.toml, found
upward from each file (select, ignore, unsafe, context, exclude,
extend-exclude, respect-gitignore, create-files, skip-cosmetic, [settings], [registries]);
flags override it. Details: docs/cli.md.
"""


app = typer.Typer(
    name="dockerfix",
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"dockerfix {__version__}\n")
        raise typer.Exit(0)


@app.command(help=HELP, epilog=EPILOG)
def main(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", show_default=False, hidden=True),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff of the fixes; exit 1 if any."),
    check: bool = typer.Option(
        False, "--check", help="Name each file that would change, then a summary; exit 1 if any."
    ),
    write: bool = typer.Option(False, "--write", help="Apply the fixes to the files in place."),
    select: Optional[List[str]] = typer.Option(
        None, "--select", metavar="CODES", help="Only these transforms (codes, names or prefixes, comma-separated)."
    ),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="CODES", help="Skip these transforms."),
    unsafe: Optional[bool] = typer.Option(
        None, "--unsafe/--no-unsafe", show_default=False, help="Also apply fixes that may change the image."
    ),
    fmt: str = typer.Option("text", "--format", metavar="text|json|sarif|github", help="Report format."),
    color: str = typer.Option("auto", "--color", metavar="auto|always|never",
                              help="Colour output (auto: only on a terminal)."),
    context: Optional[str] = typer.Option(
        None, "--context", metavar="DIR", help="Build context folder (default: each Dockerfile's folder)."
    ),
    stdin_filename: Optional[str] = typer.Option(
        None, "--stdin-filename", metavar="PATH", help="Name of the stdin file, for config lookup and messages."
    ),
    jobs: Optional[str] = typer.Option(None, "--jobs", "-j", metavar="N", help="Parallel workers (default: CPUs)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary or progress; errors only on stderr."),
    offline: bool = typer.Option(
        False, "--offline", help="pin-digests: answer from the on-disk digest cache only, no network."
    ),
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="pin-digests: write the pins that resolved even if others failed."
    ),
    refresh_digests: bool = typer.Option(
        False, "--refresh-digests", help="Also re-resolve pinned digests whose tag moved (selects refresh-digests)."
    ),
    force_exclude: bool = typer.Option(
        False, "--force-exclude", help="Apply the excludes to files named on the command line too (pre-commit)."
    ),
    show_files: bool = typer.Option(False, "--show-files", help="List the files that would be processed and exit."),
    add_files: Optional[bool] = typer.Option(
        None, "--add-files/--no-add-files", show_default=False,
        help="Let fixes create files that do not exist yet (.dockerignore); default: no (config create-files).",
    ),
    skip_cosmetic: Optional[bool] = typer.Option(
        None, "--skip-cosmetic/--no-skip-cosmetic", show_default=False,
        help="Leave files whose fixes are all cosmetic (ADD->COPY, --chown=root:root) unchanged (config "
             "skip-cosmetic).",
    ),
    list_transforms: bool = typer.Option(False, "--list-transforms", help="List the transforms and exit."),
    explain: Optional[str] = typer.Option(None, "--explain", metavar="CODE", help="Show a transform's docs and exit."),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    if list_transforms:
        raise typer.Exit(info("list-transforms", color=color))
    if explain is not None:
        raise typer.Exit(info("explain", explain, color))
    try:
        mode = resolve_mode(paths or (), diff=diff, check=check, write=write)
        n_jobs = None if jobs is None else _whole(jobs)
    except UsageError as exc:
        _usage_error(str(exc))
    opts = Options(
        paths=tuple(paths or ()),
        mode=mode,
        select=split_codes(select),
        refresh_digests=refresh_digests,
        offline=offline,
        allow_partial=allow_partial,
        ignore=split_codes(ignore),
        unsafe=unsafe,
        fmt=fmt,
        color=color,
        context=context,
        stdin_filename=stdin_filename,
        jobs=n_jobs,
        quiet=quiet,
        force_exclude=force_exclude,
        show_files=show_files,
        add_files=add_files,
        skip_cosmetic=skip_cosmetic,
    )
    from dockerfix.cli_core import run

    raise typer.Exit(run(opts))


def _whole(value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise UsageError(f"--jobs: {value!r} is not a whole number") from None


def _usage_error(message: str) -> None:
    sys.stderr.write(f"dockerfix: error: {message}\n")
    raise typer.Exit(EXIT_ERROR)


def app_main(argv: list[str]) -> None:
    """Run the typer app on ``argv`` and exit; a usage error is ``dockerfix: error: ...``, exit 2."""
    try:
        code = app(args=argv, prog_name="dockerfix", standalone_mode=False)
    except Exception as exc:
        if not hasattr(exc, "format_message"):  # not one of click's usage/argument errors
            raise
        sys.stderr.write(f"dockerfix: error: {_lower_first(exc.format_message())}\n")
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else 0)


def _lower_first(message: str) -> str:
    message = message.split(" (Possible options", 1)[0].rstrip(".")
    return message[:1].lower() + message[1:]


if __name__ == "__main__":  # pragma: no cover
    app_main(sys.argv[1:])
