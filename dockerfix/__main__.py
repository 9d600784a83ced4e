"""``dockerfix`` / ``python -m dockerfix``.

A stdin rewrite (``dockerfix - [--stdin-filename F] [--select ..] [--ignore ..] [--unsafe]``) takes the fast path in
:mod:`dockerfix.cli_fast` without importing typer, rich or jinja2; everything else goes to the typer CLI in
:mod:`dockerfix.cli`. Both end in :func:`dockerfix.cli_core.run`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    from dockerfix.cli_fast import parse

    opts = parse(args)
    if opts is not None:
        from dockerfix.cli_core import run

        sys.exit(run(opts))
    from dockerfix.cli import app_main

    app_main(args)


if __name__ == "__main__":
    main()
