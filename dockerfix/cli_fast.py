"""The fast path: recognise ``dockerfix - [--stdin-filename F] [--select X] [--ignore X] [--unsafe] [-q]`` by hand.

Format-on-save runs that per save, so it must not pay for typer, click, rich or jinja2. :func:`parse` accepts only
that exact shape and returns None for anything else (including ``--help``, ``--`` and odd spellings), and
``__main__.main`` then hands the argv to the typer CLI, which builds the same :class:`Options` and calls the same
:func:`dockerfix.cli_core.run`.
"""

from __future__ import annotations

_VALUED = {"--stdin-filename": "stdin_filename", "--select": "select", "--ignore": "ignore", "--context": "context"}
_FLAGS = {"--unsafe": ("unsafe", True), "--no-unsafe": ("unsafe", False), "--quiet": ("quiet", True),
          "-q": ("quiet", True)}


def parse(argv: list[str]):
    """An ``Options`` for the stdin rewrite, or None when typer must handle ``argv``."""
    stdin = False
    values: dict = {}
    select: list[str] | None = None
    ignore: list[str] | None = None
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "-":
            if stdin:
                return None
            stdin = True
            continue
        if a in _FLAGS:
            key, val = _FLAGS[a]
            values[key] = val
            continue
        name, eq, val = a.partition("=")
        if name not in _VALUED:
            return None
        if not eq:
            if i >= n:
                return None
            val = argv[i]
            i += 1
            if val.startswith("-"):
                return None  # let typer decide what `--select -x` means
        key = _VALUED[name]
        if key == "select":
            select = (select or []) + [val]
        elif key == "ignore":
            ignore = (ignore or []) + [val]
        else:
            if key in values:
                return None
            values[key] = val
    if not stdin:
        return None
    from dockerfix.cli_core import Options, split_codes

    return Options(
        paths=("-",), mode="stdin", select=split_codes(select), ignore=split_codes(ignore), **values
    )
