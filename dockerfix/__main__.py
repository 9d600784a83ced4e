"""``dockerfix`` / ``python -m dockerfix``.

Every run (``dockerfix -``, ``dockerfix --write FILE``, ``dockerfix --check .``...) is parsed by
:mod:`dockerfix.cli_fast` without importing typer, click, pydantic, rich or jinja2; only ``--help``, shell completion
(typer's ``_DOCKERFIX_COMPLETE`` protocol) and grouped short flags go to the typer app in :mod:`dockerfix.cli`. Both
end in :func:`dockerfix.cli_core.run`. Usage errors are ``dockerfix: error: ...``, exit 2, on either path.

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
    import os

    if "_DOCKERFIX_COMPLETE" not in os.environ:  # shell completion: typer's protocol, typer's answer
        from dockerfix.cli_core import UsageError
        from dockerfix.cli_fast import Info, parse

        try:
            opts = parse(args)
        except UsageError as exc:
            sys.stderr.write(f"dockerfix: error: {exc}\n")
            _exit(argv, 2)
        if isinstance(opts, Info):
            from dockerfix.cli_core import info

            _exit(argv, info(opts.kind, opts.key, opts.color))
        if opts is not None:
            if argv is None:  # a process of its own: format-on-save, a pre-commit hook
                import gc

                gc.disable()  # almost every object lives to the end (modules, classes): collecting is wasted work
            from dockerfix.cli_core import run

            _exit(argv, run(opts))
    from dockerfix.cli import app_main

    app_main(args)


def _exit(argv: list[str] | None, code: int) -> None:
    if argv is None:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Exit without tearing the interpreter down (freeing every module and object costs ~15 ms, a fifth of a
    format-on-save). Only for a run parsed by the fast path, as a program: its output is all in
    sys.stdout/sys.stderr, flushed here, its writes are fsynced before they are reported, and it leaves no threads or
    atexit work behind (a --jobs pool is joined before run() returns)."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the reader has gone; the exit code still matters
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
