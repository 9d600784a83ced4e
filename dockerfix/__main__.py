"""``dockerfix`` / ``python -m dockerfix``.

A stdin rewrite (``dockerfix - [--stdin-filename F] [--select ..] [--ignore ..] [--unsafe]``) takes the fast path in
:mod:`dockerfix.cli_fast` without importing typer, rich or jinja2; everything else goes to the typer CLI in
:mod:`dockerfix.cli`. Both end in :func:`dockerfix.cli_core.run`.

Subcommands (``dockerfix verify``, ``dockerfix pr``, ``dockerfix lsp``) are frontends of their own, each a module with
a ``main(argv) -> int`` listed in ``SUBCOMMANDS``; a file literally named like a subcommand is still reachable as
``./verify``.
"""

from __future__ import annotations

import sys


SUBCOMMANDS = {
    "verify": "dockerfix.verify.cli",
    "pr": "dockerfix.bot.cli",
    "lsp": "dockerfix.lsp",
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in SUBCOMMANDS:
        import importlib

        sys.exit(importlib.import_module(SUBCOMMANDS[args[0]]).main(args[1:]))
    from dockerfix.cli_fast import parse

    opts = parse(args)
    if opts is not None:
        if argv is None:  # a process of its own: format-on-save, one short rewrite
            import gc

            gc.disable()  # almost every object lives to the end (modules, classes): collecting is wasted work
        from dockerfix.cli_core import run

        code = run(opts)
        if argv is None:
            _exit_now(code)
        sys.exit(code)
    from dockerfix.cli import app_main

    app_main(args)


def _exit_now(code: int) -> None:
    """Exit without tearing the interpreter down (freeing every module and object costs ~15 ms, a fifth of a
    format-on-save). Only for the stdin path run as a program: its output is all in sys.stdout/sys.stderr, flushed
    here, and it leaves no files, threads or atexit work behind."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the reader has gone; the exit code still matters
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
