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
        from dockerfix.cli_core import run

        sys.exit(run(opts))
    from dockerfix.cli import app_main

    app_main(args)


if __name__ == "__main__":
    main()
