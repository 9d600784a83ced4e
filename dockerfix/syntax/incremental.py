"""Re-parse after edits: parse only the nodes the edits touch, shift the rest.

The engine re-parses the whole file after every pass of fixes, and most fixes touch one or two instructions of a
long file. A Dockerfile splits into nodes at line starts that no later text can move: an instruction ends where its
own last line (or heredoc terminator) ends, and the parser's only state across nodes is the escape character (set by
the directives at the top). So after edits, the nodes before the first touched one are unchanged (the same objects),
the nodes after the last touched one are the same text at shifted offsets and line numbers, and only the touched
region needs the parser, run on that text alone.

:func:`reparse` returns None whenever that reasoning might not hold, and the caller parses the whole file: an edit at
or before the first instruction (directives, and comments that could become directives), a region whose last
instruction still continues where the region ends (an edit that made its last line continue into the next node), or
any syntax error (the full parse reports it with the right position). A region is the touched nodes only: the node
after it is not parsed again to prove the boundary (it was, until round 11: half the work of a re-parse after edits
in every fourth instruction). ``tests/test_incremental.py`` compares the result with a full parse field by field for
every pass of every corpus file and fixture.
"""

from __future__ import annotations

from bisect import bisect_right

from dockerfix.syntax.errors import DockerfileSyntaxError
from dockerfix.syntax.nodes import Document, Flag, Heredoc, Instruction, LineMap, Trivia

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Sequence


def reparse(doc: Document, new_text: str, edits: Sequence[tuple[int, int, int]]) -> Document | None:
    """The document of ``new_text``, which is ``doc``'s text with ``edits`` applied, or None (parse it whole).

    ``edits`` are ``(start, end, length of the replacement)`` in ``doc``'s offsets, sorted, not overlapping."""
    from dockerfix.syntax.parser import _Parser

    nodes = doc.nodes
    if not edits or not doc.instructions or doc.bom:
        return None
    first_inst = doc.instructions[0]
    starts = [n.start for n in nodes]
    # node index ranges touched by each edit; an insertion at a boundary touches both neighbours
    ranges: list[list[int]] = []
    for s, e, _ in edits:
        if s <= first_inst.end:
            return None
        i = bisect_right(starts, s) - 1
        if s == starts[i] and i > 0:
            i -= 1
        j = bisect_right(starts, max(e - 1, s)) - 1
        if e == nodes[j].end or (e == s and s == nodes[j].end):
            j = min(j + 1, len(nodes) - 1)  # the node after the edit must parse again too
        if ranges and i <= ranges[-1][1] + 1:  # overlapping or adjacent: one region
            ranges[-1][1] = max(ranges[-1][1], j)
        else:
            ranges.append([i, j])
    out: list[Instruction | Trivia] = []
    shift = 0  # offset change so far
    lines = 0  # line-number change so far
    ei = 0
    k = 0
    text = doc.text
    for i0, i1 in ranges:
        out.extend(_shifted(n, shift, lines) for n in nodes[k:i0])
        a, b = nodes[i0].start, nodes[i1].end
        delta = 0
        while ei < len(edits) and edits[ei][0] < b:
            s, e, n_new = edits[ei]
            delta += n_new - (e - s)
            ei += 1
        # the region is parsed where it stands in the new text, so its nodes come out at their final offsets and
        # line numbers (parsing it alone and shifting every node after cost twice a full parse of those nodes)
        first = nodes[i0]
        line0 = first.start_line if isinstance(first, Instruction) else first.line
        p = _Parser(new_text)
        p.escape = doc.escape
        p.directives_done = True
        p.begin, p.stop, p.line0 = a + shift, b + shift + delta, line0 + lines - 1
        try:
            part = p.run()
        except DockerfileSyntaxError:
            return None
        # the region ends on a node boundary of the new text when its last instruction does not continue past it
        # (the node after it is untouched text, and the parser carries no state across nodes but the escape
        # character): then the nodes after it are the old ones, shifted
        if i1 != len(nodes) - 1 and (p.open_end or part.nodes[-1].end != b + shift + delta):
            return None
        out.extend(part.nodes)
        lines += new_text.count("\n", a + shift, b + shift + delta) - text.count("\n", a, b)
        shift += delta
        k = i1 + 1
    if ei != len(edits):
        return None
    out.extend(_shifted(n, shift, lines) for n in nodes[k:])
    return Document(doc.bom, tuple(out), doc.directives, doc.escape, new_text)


def _shifted(node: Instruction | Trivia, d: int, dl: int) -> Instruction | Trivia:
    if not d and not dl:
        return node
    if isinstance(node, Trivia):
        return Trivia(node.kind, node.source, node.start + d, node.line + dl)
    return _shift_instruction(node, d, dl, finished=True)


def _shift_instruction(x: Instruction, d: int, dl: int, finished: bool) -> Instruction:
    # (positional arguments: a record built with 17 keywords cost a fifth of a parse)
    return Instruction(
        x.keyword, x.raw_keyword, x.source,
        x.start + d if finished else x.start, x.end + d if finished else x.end,
        x.start_line + dl, x.end_line + dl, x.line,
        tuple([Flag(f.name, f.value, f.word, f.start + d, f.end + d) for f in x.flags]) if x.flags else (),
        x.rest, x.rest_offset, x.json, x.args,
        tuple([Heredoc(h.name, h.chomp, h.expand, h.fd, h.content, h.body_start + d, h.body_end + d,
                       h.terminator_start + d, h.terminator_end + d) for h in x.heredocs]) if x.heredocs else (),
        _shift_instruction(x.sub, d, dl, finished=False) if x.sub is not None else None,
        LineMap(x.map.logical, tuple([s + d for s in x.map.source])),
        x.keyword_offset,
    )
