"""Renderers for what a run found: text, unified diff, JSON, SARIF 2.1.0, GitHub annotations.

Every renderer takes the same input, a list of :class:`FileReport` in output order, and returns a ``str`` (the
frontend writes it as UTF-8 bytes, so Dockerfile text and line endings pass through unchanged). Renderers never
import rich; colour, where offered, is plain ANSI added around text that is otherwise byte-exact.
"""

from __future__ import annotations

from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from dockerfix.engine import Change


@dataclass
class FileError:
    """Why a file could not be processed (nothing was written)."""

    kind: str
    """``io``, ``syntax``, ``config``, ``engine`` or ``internal``."""
    message: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "line": self.line, "column": self.column}


@dataclass
class SideFile:
    path: str
    """Filesystem path."""
    display: str
    before: str | None
    after: str
    written: bool = False


@dataclass
class FileReport:
    """The outcome for one file (or stdin, path ``-`` or the ``--stdin-filename``)."""

    path: str
    """Display path: relative to the cwd when below it, ``/``-separated."""
    original: str | None = None
    text: str | None = None
    changes: list["Change"] = field(default_factory=list)
    findings: list["Change"] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    """Non-fatal internal problems (a fix reverted because it broke the parse, ...)."""
    error: FileError | None = None
    written: bool = False
    side_files: list["SideFile"] = field(default_factory=list)
    """Other files of the build context the fixes change (a proposed ``.dockerignore``)."""
    history: Any = None
    """The engine's :class:`~dockerfix.positions.History` of the rewrite (for :meth:`input_replacements`)."""

    @property
    def changed(self) -> bool:
        if self.error is not None:
            return False
        return (self.text is not None and self.text != self.original) or any(
            f.before != f.after for f in self.side_files
        )

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.internal_errors)

    def all(self) -> list["Change"]:
        return sorted(self.changes + self.findings, key=lambda c: (c.line, c.column, c.code))

    def position(self, c: "Change", mode: str) -> tuple[int, int, int]:
        """(line, column, end line) of ``c`` in the text the user has after this run: the input, except for a
        finding once the rewrite is on disk (``--write``) or on stdout (``-``), where it is the rewritten text."""
        if not c.applied and c.output_position is not None and (self.written or mode == "stdin"):
            return c.output_position
        return c.line, c.column, max(c.end_line or c.line, c.line)

    def input_replacements(self) -> list[tuple[int, int, str, list["Change"]]]:
        """The applied fixes as disjoint replacements of spans of :attr:`original`, each with the changes it holds
        (:func:`dockerfix.positions.input_replacements`); applied to ``original`` they give :attr:`text`."""
        if self.original is None or self.text is None:
            return []
        from dockerfix.positions import input_replacements

        return input_replacements(self.history, self.original, self.text, self.changes)

    def error_location(self) -> str:
        e = self.error
        if e is not None and e.line is not None:
            return f"{self.path}:{e.line}:{e.column or 1}"
        return self.path


def render(fmt: str, reports: list[FileReport], *, mode: str, color: bool = False, unsafe: bool = False) -> str:
    """Dispatch to a renderer by format name (``text``, ``json``, ``sarif``, ``github``)."""
    if fmt == "text":
        from dockerfix.outputs.text import render_text

        return render_text(reports, mode=mode, color=color, unsafe=unsafe)
    if fmt == "json":
        from dockerfix.outputs.json import render_json

        return render_json(reports, mode=mode)
    if fmt == "sarif":
        from dockerfix.outputs.sarif import render_sarif

        return render_sarif(reports)
    if fmt == "github":
        from dockerfix.outputs.github import render_github

        return render_github(reports, mode=mode)
    raise ValueError(f"unknown format: {fmt}")
