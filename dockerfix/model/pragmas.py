"""dockerfix's own comments: ``# dockerfix: ignore=CODES`` (the next instruction), ``ignore-stage=`` (above a FROM:
the whole stage) and ``ignore-file=`` (anywhere: the whole file). One grammar, read by the engine (which suppresses)
and by the unknown-pragma transform (which reports what the engine would not understand)."""

from __future__ import annotations

import re

from dockerfix._lazyre import lazy

PRAGMA = lazy(r"^\s*#\s*dockerfix:\s*(ignore|ignore-stage|ignore-file)(?:\s*=\s*([\w\-, ]+))?\s*$", re.I)
"""A pragma the engine acts on: the kind, and the codes (none: all)."""

MENTION = lazy(r"^\s*#\s*dockerfix\s*:", re.I)
"""A comment addressed to dockerfix (a pragma, or an attempt at one)."""

KINDS = ("ignore", "ignore-stage", "ignore-file")


def pragma_codes(value: str | None) -> frozenset[str]:
    """The keys a pragma names, lower case (``all`` when it names none)."""
    if not value:
        return frozenset({"all"})
    return frozenset(v.strip().lower() for v in value.split(",") if v.strip())


def spelled_codes(value: str | None) -> list[str]:
    """The keys a pragma names, as written (for messages)."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]
