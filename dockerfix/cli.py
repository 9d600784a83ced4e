"""The typer CLI: flags become one :class:`~dockerfix.cli_core.Options` (with one output mode), then
:func:`dockerfix.cli_core.run` does the work and computes the exit code. No logic in the command body.

Help is plain click formatting (``rich_markup_mode=None``): nothing here is ever read as rich markup.
"""

from __future__ import annotations

import enum
import sys
from typing import List, Optional

import typer

from dockerfix import __version__
from dockerfix.cli_core import EXIT_ERROR, Options, UsageError, resolve_mode, split_codes

HELP = """\
Rewrite Dockerfiles: report, diff, check or apply safe fixes.

PATH is a Dockerfile or a folder (searched for Dockerfile, Dockerfile.*, *.Dockerfile, *.dockerfile,
Containerfile*; VCS folders skipped), or '-' to read stdin and write the rewritten text to stdout.
"""

EPILOG = """\
\b
Modes (default: report, one line per finding, '[*]' when --write fixes it):
  --diff    unified diff on stdout (patch -p1 applies it from the repo root)
  --check   only a summary (stderr)
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
upward from each file (select, ignore, unsafe, context, [settings],
[registries]); flags override it. Details: docs/cli.md.
"""


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class Color(str, enum.Enum):
    auto = "auto"
    always = "always"
    never = "never"


app = typer.Typer(
    name="dockerfix",
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dockerfix {__version__}")
        raise typer.Exit(0)


@app.command(help=HELP, epilog=EPILOG)
def main(
    paths: Optional[List[str]] = typer.Argument(
        None, metavar="PATH...", show_default=False, help="Dockerfiles or folders; '-' reads stdin."
    ),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff of the fixes; exit 1 if any."),
    check: bool = typer.Option(False, "--check", help="Print only a summary; exit 1 if any file would change."),
    write: bool = typer.Option(False, "--write", help="Apply the fixes to the files in place."),
    select: Optional[List[str]] = typer.Option(
        None, "--select", metavar="CODES", help="Only these transforms (codes, names or prefixes, comma-separated)."
    ),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="CODES", help="Skip these transforms."),
    unsafe: Optional[bool] = typer.Option(
        None, "--unsafe/--no-unsafe", show_default=False, help="Also apply fixes that may change the image."
    ),
    fmt: Format = typer.Option(Format.text, "--format", help="Report format."),
    color: Color = typer.Option(Color.auto, "--color", help="Colour output (auto: only on a terminal)."),
    context: Optional[str] = typer.Option(
        None, "--context", metavar="DIR", help="Build context folder (default: each Dockerfile's folder)."
    ),
    stdin_filename: Optional[str] = typer.Option(
        None, "--stdin-filename", metavar="PATH", help="Name of the stdin file, for config lookup and messages."
    ),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", metavar="N", help="Parallel workers (default: CPUs)."),
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
    list_transforms: bool = typer.Option(False, "--list-transforms", help="List the transforms and exit."),
    explain: Optional[str] = typer.Option(None, "--explain", metavar="CODE", help="Show a transform's docs and exit."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    if list_transforms:
        raise typer.Exit(show_transforms(color.value))
    if explain is not None:
        raise typer.Exit(show_explain(explain, color.value))
    try:
        mode = resolve_mode(paths or (), diff=diff, check=check, write=write)
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
        fmt=fmt.value,
        color=color.value,
        context=context,
        stdin_filename=stdin_filename,
        jobs=jobs,
        quiet=quiet,
    )
    from dockerfix.cli_core import run

    raise typer.Exit(run(opts))


def _usage_error(message: str) -> None:
    sys.stderr.write(f"dockerfix: error: {message}\n")
    raise typer.Exit(EXIT_ERROR)


def _tty(setting: str) -> bool:
    from dockerfix.cli_core import use_color

    return use_color(setting, sys.stdout)


def show_transforms(color: str = "auto") -> int:
    """A rich table on a terminal, tab-separated lines (code, name, safety, default, summary) otherwise."""
    from dockerfix.api import transforms

    infos = transforms()
    if _tty(color):
        from rich.console import Console
        from rich.table import Table

        table = Table(title="dockerfix transforms")
        for col in ("Code", "Name", "Fix safety", "Default", "Summary"):
            table.add_column(col)
        for t in infos:
            table.add_row(t.code, t.name, t.safety, "yes" if t.default_enabled else "no", t.summary)  # plain str: no markup
        Console(markup=False, highlight=False).print(table)
    else:
        out = "".join(
            f"{t.code}\t{t.name}\t{t.safety}\t{'default' if t.default_enabled else 'opt-in'}\t{t.summary}\n" for t in infos
        )
        sys.stdout.write(out)
    return 0


def show_explain(key: str, color: str = "auto") -> int:
    from dockerfix.transforms.registry import by_key

    t = by_key(key)
    if t is None:
        sys.stderr.write(f"dockerfix: error: unknown transform: {key}\n")
        return EXIT_ERROR
    rules = tuple(getattr(t, "answers", ()))
    answers = (f" Answers {', '.join(rules)}: an author's `# hadolint ignore=` of "
               f"{'it' if len(rules) == 1 else 'one of them'} above an instruction suppresses this transform there."
               if rules else "")
    text = (
        f"# {t.code} {t.name}\n\n{t.summary}.\n\nFix safety: {t.safety}. "
        f"{'Enabled by default.' if getattr(t, 'default_enabled', True) else 'Opt-in (--select).'}"
        f"{answers}\n\n"
        f"{(t.docs or '').strip()}\n"
    )
    if _tty(color):
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)
    return 0


def app_main(argv: list[str]) -> None:
    """Run the typer app on ``argv`` and exit (click's usage errors exit 2)."""
    app(args=argv, prog_name="dockerfix")


if __name__ == "__main__":  # pragma: no cover
    app_main(sys.argv[1:])
