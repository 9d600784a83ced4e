"""Immutable nodes of the lossless Dockerfile tree.

Ownership rule (after LibCST): the document is a sequence of nodes whose ``source`` strings, concatenated after the
BOM, are the file byte for byte. An ``Instruction`` owns its first line, every continuation line (including comment
and blank lines inside the continuation), every heredoc body and terminator line, and the final line break. A comment
or blank line outside an instruction is its own ``Comment``/``Blank`` node; a parser directive at the top is a
``Directive``. Comments directly above an instruction are *not* owned by it; ``Document.comments_above`` finds them.

Offsets (``start``/``end``) are ``str`` indices into the document text (BOM included); lines are 1-based as BuildKit
counts them.
"""

from __future__ import annotations

from bisect import bisect_right
from dockerfix._record import dataclass, field
TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterator


@dataclass(frozen=True, slots=True)
class LineMap:
    """Maps offsets in an instruction's logical line (continuations joined) back to document offsets."""

    logical: tuple[int, ...]
    source: tuple[int, ...]

    def to_source(self, k: int) -> int:
        i = bisect_right(self.logical, k) - 1
        if i < 0:
            i = 0
        return self.source[i] + (k - self.logical[i])

    def span(self, k0: int, k1: int) -> tuple[int, int]:
        """Document span of logical ``[k0, k1)``; an empty span maps to an empty span."""
        s = self.to_source(k0)
        if k1 <= k0:
            return s, s
        return s, self.to_source(k1 - 1) + 1


@dataclass(frozen=True, slots=True)
class Flag:
    """A builder flag such as ``--mount=type=cache,target=/x`` (BuildKit word, quotes removed)."""

    name: str
    value: str | None
    word: str
    start: int
    end: int

    @property
    def raw(self) -> str:
        return "--" + self.word if not self.word.startswith("--") else self.word


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    chomp: bool
    expand: bool
    fd: int | None
    content: str
    """The body as BuildKit reads it: the body lines with their line breaks."""
    body_start: int
    body_end: int
    terminator_start: int
    terminator_end: int


@dataclass(frozen=True, slots=True)
class Trivia:
    kind: str  # "comment" | "blank" | "directive"
    source: str
    start: int
    line: int

    @property
    def end(self) -> int:
        return self.start + len(self.source)

    @property
    def text(self) -> str:
        """The line without its line break."""
        return self.source.rstrip("\r\n")


@dataclass(frozen=True, slots=True)
class Directive:
    name: str
    value: str
    line: int


@dataclass(frozen=True, slots=True, eq=False)
class Instruction:
    keyword: str
    """Upper-case keyword (``RUN``); ``raw_keyword`` is as written."""
    raw_keyword: str
    source: str
    start: int
    end: int
    start_line: int
    end_line: int
    line: str
    """BuildKit's logical line: continuations joined, inner comment and blank lines dropped, no heredoc bodies."""
    flags: tuple[Flag, ...]
    rest: str
    """The arguments after keyword and flags, as BuildKit hands them to the instruction parser."""
    rest_offset: int
    json: bool
    args: tuple[str, ...]
    """BuildKit's argument words (``Node.Next`` values)."""
    heredocs: tuple[Heredoc, ...]
    sub: "Instruction | None"
    map: LineMap
    keyword_offset: int = 0

    # ----------------------------------------------------------------- spans
    @property
    def keyword_span(self) -> tuple[int, int]:
        return self.map.span(self.keyword_offset, self.keyword_offset + len(self.raw_keyword))

    @property
    def rest_span(self) -> tuple[int, int]:
        """Document span of the arguments (after the flags); for heredoc instructions, the first line only."""
        return self.map.span(self.rest_offset, self.rest_offset + len(self.rest))

    @property
    def body_end(self) -> int:
        """Document offset just after the last character of the logical line (before its line break)."""
        return self.map.span(0, len(self.line))[1]

    @property
    def line_break(self) -> str:
        s = self.source
        if s.endswith("\r\n"):
            return "\r\n"
        if s.endswith("\n"):
            return "\n"
        return ""

    def flag(self, name: str) -> Flag | None:
        for f in self.flags:
            if f.name == name:
                return f
        return None

    def flags_named(self, name: str) -> list[Flag]:
        return [f for f in self.flags if f.name == name]

    @property
    def is_shell_form(self) -> bool:
        return not self.json

    @property
    def effective(self) -> "Instruction":
        """The instruction ONBUILD wraps, or this one."""
        return self.sub if self.sub is not None else self

    def json_items(self) -> list[tuple[str, int, int]]:
        """For exec form: (value, start, end) of each JSON string, as document offsets of the literal."""
        from dockerfix.syntax.parser import json_string_spans

        if not self.json:
            return []
        out = []
        for value, k0, k1 in json_string_spans(self.rest):
            s, e = self.map.span(self.rest_offset + k0, self.rest_offset + k1)
            out.append((value, s, e))
        return out

    def __repr__(self) -> str:
        return f"<Instruction {self.keyword} {self.start_line}-{self.end_line} {self.line[:40]!r}>"


@dataclass(frozen=True, slots=True, eq=False)
class Document:
    bom: str
    nodes: tuple[Instruction | Trivia, ...]
    directives: tuple[Directive, ...]
    escape: str
    text: str = field(repr=False)
    instructions: tuple[Instruction, ...] = field(default=(), repr=False)
    """The instruction nodes, in order (filled in by the parser; derived from ``nodes``)."""

    def __post_init__(self) -> None:
        if not self.instructions:
            object.__setattr__(self, "instructions", tuple(n for n in self.nodes if isinstance(n, Instruction)))

    def to_text(self) -> str:
        return self.bom + "".join(n.source for n in self.nodes)

    def iter_instructions(self) -> Iterator[Instruction]:
        return iter(self.instructions)

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None

    def comments_above(self, inst: Instruction) -> list[Trivia]:
        """The comment lines directly above ``inst`` (no blank line between), top to bottom."""
        out: list[Trivia] = []
        idx = self.nodes.index(inst)
        for n in reversed(self.nodes[:idx]):
            if isinstance(n, Trivia) and n.kind in ("comment", "directive"):
                out.append(n)
            else:
                break
        out.reverse()
        return out

    @property
    def newline(self) -> str:
        """The file's dominant line break."""
        crlf = self.text.count("\r\n")
        lf = self.text.count("\n") - crlf
        return "\r\n" if crlf > lf else "\n"
