"""The one error the syntax layer raises."""

from __future__ import annotations


class DockerfileSyntaxError(ValueError):
    """Input that BuildKit's parser rejects (or that dockerfix cannot read losslessly).

    ``line`` and ``column`` are 1-based, counted the way BuildKit counts lines (physical lines of the file).
    """

    def __init__(self, message: str, line: int = 1, column: int = 1, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path

    def with_path(self, path: str | None) -> "DockerfileSyntaxError":
        return DockerfileSyntaxError(self.message, self.line, self.column, path)

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}"
        return f"{self.path}:{where}: {self.message}" if self.path else f"{where}: {self.message}"
