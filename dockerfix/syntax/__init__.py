"""Syntax layer: lossless Dockerfile tree (lexer, nodes, parser, printer)."""

from dockerfix.syntax.errors import DockerfileSyntaxError
from dockerfix.syntax.nodes import Document, Flag, Heredoc, Instruction, LineMap, Trivia
from dockerfix.syntax.parser import parse

__all__ = ["DockerfileSyntaxError", "Document", "Flag", "Heredoc", "Instruction", "LineMap", "Trivia", "parse"]
