"""``dockerfix lsp``: a language server over stdio (pygls) for any editor with an LSP client.

What it offers, all from the same engine as the CLI and with the same configuration (``[tool.dockerfix]`` /
``.dockerfix.toml`` found upward from the file):

* **Diagnostics** for every finding of the selected transforms, published on open, change and save. Severity says
  what a fix would do: *Warning* when a safe fix exists, *Information* when the fix is unsafe (or there is none).
  A file that does not parse gets one *Error* at the parser's ``line:col``.
* **Code actions**: one quick fix per finding with a fix, titled with its safety (``safe fix`` /
  ``unsafe fix``), the edit being exactly the transform's text edits; plus ``source.fixAll.dockerfix``,
  "apply all safe fixes" (the fixed point, as ``dockerfix --write`` without ``--unsafe`` would write it).
* **Formatting** (``textDocument/formatting``, for format-on-save): the safe fixes, as minimal line edits.

State: only the open buffers, each with the analysis of its current version (computed when it opens or changes,
so a formatting or code-action request answers from it); closing a buffer drops both. Configuration is read afresh
for each analysis. Positions follow the negotiated encoding (UTF-16 unless the client offers UTF-8/UTF-32).

pygls is imported only by :func:`main` and :func:`create_server`; the analysis functions are plain Python.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import sys
from dockerfix._record import dataclass, field
from typing import Any, Callable

SOURCE = "dockerfix"
FIX_ALL_KIND = "source.fixAll.dockerfix"
FIX_ALL_TITLE = "dockerfix: apply all safe fixes"

# LSP DiagnosticSeverity
ERROR, WARNING, INFORMATION, HINT = 1, 2, 3, 4

_EOL = re.compile(r"\r\n|\r|\n")


# ------------------------------------------------------------------ positions
class LineIndex:
    """Offsets (code points) <-> LSP positions (line, character in the negotiated encoding)."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = (encoding or "utf-16").lower()
        self.starts = [0] + [m.end() for m in _EOL.finditer(text)]

    def _units(self, s: str) -> int:
        if self.encoding == "utf-32" or s.isascii():
            return len(s)
        if self.encoding == "utf-8":
            return len(s.encode("utf-8", "surrogatepass"))
        return len(s.encode("utf-16-le", "surrogatepass")) // 2

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, self._units(self.text[self.starts[line]:offset])

    def offset(self, line: int, character: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[max(0, line)]
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        content = self.text[start:end].rstrip("\r\n")
        units = 0
        for i, ch in enumerate(content):
            if units >= character:
                return start + i
            units += self._units(ch)
        return start + len(content)


def lsp_range(index: LineIndex, start: int, end: int) -> dict[str, dict[str, int]]:
    sl, sc = index.position(start)
    el, ec = index.position(end)
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def text_edit(index: LineIndex, start: int, end: int, new_text: str) -> dict[str, Any]:
    return {"range": lsp_range(index, start, end), "newText": new_text}


def minimal_edits(before: str, after: str, encoding: str = "utf-16",
                  replaced: "Callable[[], list[tuple[int, int, str]]] | None" = None) -> list[dict[str, Any]]:
    """Line-level edits turning ``before`` into ``after`` (unchanged lines are not touched, so marks and folds stay).

    ``replaced``: a function giving the fix result's replacements of ``before`` (``FixResult.input_replacements``),
    called only for files over ``WHOLE_DIFF_LINES`` lines, where only the lines they touch are compared, as
    ``--diff`` does (difflib on the middle of a fix-dense 6,400-line file took 1.7 s, and its junk heuristic made
    one edit of the whole middle)."""
    if before == after:
        return []
    index = LineIndex(before, encoding)
    if replaced:
        from dockerfix.outputs.diff import WHOLE_DIFF_LINES, line_opcodes, split_lines

        la, lb = split_lines(before), split_lines(after)
        if len(la) + len(lb) > WHOLE_DIFF_LINES:
            offsets = [0]
            for line in la:
                offsets.append(offsets[-1] + len(line))
            return [text_edit(index, offsets[i1], offsets[i2], "".join(lb[j1:j2]))
                    for tag, i1, i2, j1, j2 in line_opcodes(before, la, lb, replaced()) if tag != "equal"]
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    # common head and tail first (cheap), then difflib on the middle; autojunk keeps repeated lines (a Dockerfile
    # has many) from making it quadratic: the edits stay correct, at worst a little coarser
    lo = 0
    while lo < len(a) and lo < len(b) and a[lo] == b[lo]:
        lo += 1
    hi_a, hi_b = len(a), len(b)
    while hi_a > lo and hi_b > lo and a[hi_a - 1] == b[hi_b - 1]:
        hi_a, hi_b = hi_a - 1, hi_b - 1
    edits = []
    matcher = difflib.SequenceMatcher(None, a[lo:hi_a], b[lo:hi_b], autojunk=True)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            edits.append(text_edit(index, starts[lo + i1], starts[lo + i2], "".join(b[lo + j1:lo + j2])))
    return edits


# ------------------------------------------------------------------ analysis (no pygls)
@dataclass
class Finding:
    code: str
    name: str
    message: str
    start: int
    end: int
    fix: Any = None
    """The engine's :class:`~dockerfix.transforms.base.Fix` (edits on this text), or None."""
    reason: str | None = None

    @property
    def is_safe(self) -> bool:
        from dockerfix.transforms.base import Applicability

        return self.fix is not None and bool(self.fix.edits) and self.fix.applicability is Applicability.SAFE

    @property
    def is_unsafe(self) -> bool:
        from dockerfix.transforms.base import Applicability

        return self.fix is not None and bool(self.fix.edits) and self.fix.applicability is Applicability.UNSAFE


@dataclass
class Analysis:
    """One buffer version: its findings (first pass, on this very text) and, lazily, the safe-fixed text."""

    text: str
    path: str | None
    findings: list[Finding] = field(default_factory=list)
    error: tuple[str, int, int] | None = None
    """(message, line, column), 1-based, when the text does not parse or the configuration is broken."""
    internal_errors: list[str] = field(default_factory=list)
    _options: dict[str, Any] = field(default_factory=dict)
    _fixed: str | None = None
    _fixed_done: bool = False
    _result: Any = None
    """The safe fix's ``FixResult`` (its replacements are stated on the input only for a large file)."""
    _edits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def safe_edits(self, encoding: str = "utf-16") -> list[dict[str, Any]]:
        """:func:`minimal_edits` to :meth:`safe_text`, computed once per encoding (formatting and fix-all share it)."""
        if encoding not in self._edits:
            fixed = self.safe_text() if self.error is None else None
            if fixed is None:
                self._edits[encoding] = []
            else:
                from dockerfix.outputs.diff import replacements_of

                replaced = replacements_of(self._result) if self._result is not None else None
                self._edits[encoding] = minimal_edits(self.text, fixed, encoding, replaced)
        return self._edits[encoding]

    def safe_text(self) -> str | None:
        """The text with every safe fix applied (fixed point), or None when it cannot be computed."""
        if not self._fixed_done:
            self._fixed_done = True
            if self.error is None:
                from dockerfix.api import fix
                from dockerfix.engine import EngineError
                from dockerfix.syntax import DockerfileSyntaxError

                try:
                    r = fix(self.text, unsafe=False, **self._options)
                except (DockerfileSyntaxError, EngineError, ValueError):
                    self._fixed = None
                else:
                    self._fixed = r.text
                    self._result = r if r.text != self.text else None
        return self._fixed


def _config(path: str | None):
    from dockerfix.config import EMPTY, Finder

    if path:
        return Finder().for_file(path)
    return Finder().for_dir(os.getcwd()) if os.getcwd() else EMPTY


def analyze(text: str, path: str | None = None) -> Analysis:
    """Findings of the configured transforms on ``text`` (never raises for bad input)."""
    from dockerfix.config import ConfigError
    from dockerfix.engine import Suppressions, run_transforms, select_transforms, withhold_fixes, withhold_unmet
    from dockerfix.syntax import DockerfileSyntaxError, parse
    from dockerfix.transforms.base import Context

    result = Analysis(text, path)
    try:
        cfg = _config(path)
    except ConfigError as exc:
        result.error = (f"dockerfix configuration: {exc}", 1, 1)
        return result
    try:
        doc = parse(text, path=path)
    except DockerfileSyntaxError as exc:
        result.error = (exc.message, exc.line, exc.column)
        return result
    from dockerfix.request import resolve

    folder = os.path.dirname(os.path.abspath(path)) if path else None
    req = resolve(cfg, default_context=folder if folder and os.path.isdir(folder) else None)
    try:
        transforms = select_transforms(req.select, req.ignore)
    except ValueError as exc:
        result.error = (f"dockerfix configuration {cfg.path}: {exc}", 1, 1)
        return result
    context, settings = req.context, req.settings
    bc = None
    if context:
        from dockerfix.io.context import DirectoryContext

        bc = DirectoryContext(context)
    diags, errors = run_transforms(transforms, Context(doc, path=path, build_context=bc, settings=settings))
    sup = Suppressions.of(doc)
    kept = withhold_fixes([d for d in diags if not sup.is_suppressed(d)], transforms, sup, req.ignore or ())
    kept = withhold_unmet(kept, text)
    result.findings = [
        Finding(d.code, d.name, d.message, d.start, d.end, d.fix, d.reason)
        for d in sorted(kept, key=lambda d: (d.start, d.code))
    ]
    result.internal_errors = errors
    result._options = {"select": req.select, "ignore": req.ignore, "path": path, "context": context,
                       "settings": settings}
    return result


def severity(f: Finding) -> int:
    return WARNING if f.is_safe else INFORMATION


def diagnostics(a: Analysis, encoding: str = "utf-16") -> list[dict[str, Any]]:
    index = LineIndex(a.text, encoding)
    if a.error is not None:
        msg, line, col = a.error
        off = index.offset(line - 1, 0)
        # the parser's column counts code points; step to it without crossing the line end
        line_end = index.offset(line - 1, 1 << 30)
        pos = min(off + max(col - 1, 0), line_end)
        return [{"range": lsp_range(index, pos, pos), "severity": ERROR, "source": SOURCE, "message": msg}]
    out = []
    for f in a.findings:
        what = "safe fix available" if f.is_safe else "unsafe fix: may change the image" if f.is_unsafe else "no automatic fix"
        msg = f"{f.message} ({f.name}; {what})"
        if f.reason and not f.is_safe:
            msg += f"\n{f.reason}"
        out.append({
            "range": lsp_range(index, f.start, max(f.end, f.start)),
            "severity": severity(f),
            "code": f.code,
            "source": SOURCE,
            "message": msg,
            "data": {"name": f.name, "fix": f.fix.title if f.fix is not None else None,
                     "safe": f.is_safe},
        })
    for e in a.internal_errors:
        out.append({"range": lsp_range(index, 0, 0), "severity": ERROR, "source": SOURCE, "message": e})
    return out


def _fix_parses(text: str, edits) -> bool:
    from dockerfix.engine import apply_edits
    from dockerfix.syntax import DockerfileSyntaxError, parse

    try:
        parse(apply_edits(text, edits))
    except DockerfileSyntaxError:
        return False
    return True


def _with_required(a: Analysis, f: Finding) -> list:
    """The edits of ``f``'s fix and of the fixes it needs (:attr:`Fix.requires`, transitively), each once, in order:
    a quick fix for a RUN whose cache mount reads what an earlier RUN's new mount holds adds both mounts."""
    if not f.fix.requires:
        return list(f.fix.edits)
    by_start = {(g.code, g.start): g for g in a.findings if g.fix is not None}
    seen: set = set()
    todo = [f]
    edits: set = set()
    while todo:
        g = todo.pop()
        if (g.code, g.start) in seen:
            continue
        seen.add((g.code, g.start))
        edits.update(g.fix.edits)
        todo.extend(by_start[(g.code, s)] for s in g.fix.requires if (g.code, s) in by_start)
    return sorted(edits)


def code_actions(a: Analysis, uri: str, first_line: int, last_line: int, only: list[str] | None = None,
                 encoding: str = "utf-16") -> list[dict[str, Any]]:
    """Quick fixes for findings touching lines ``first_line..last_line`` (0-based), then "apply all safe fixes"."""
    def wanted(kind: str) -> bool:
        return not only or any(kind == k or kind.startswith(k + ".") for k in only)

    index = LineIndex(a.text, encoding)
    diags = diagnostics(a, encoding)
    out = []
    if a.error is None and wanted("quickfix"):
        for f, d in zip(a.findings, diags):
            if f.fix is None or not f.fix.edits or not (f.is_safe or f.is_unsafe):
                continue
            line_a, line_b = d["range"]["start"]["line"], d["range"]["end"]["line"]
            if line_b < first_line or line_a > last_line:
                continue
            edits = _with_required(a, f)
            if not _fix_parses(a.text, edits):
                continue
            label = "safe fix" if f.is_safe else "unsafe fix: may change the image"
            out.append({
                "title": f"{f.fix.title} ({f.code} {f.name}, {label})",
                "kind": "quickfix",
                "diagnostics": [d],
                "isPreferred": f.is_safe,
                "edit": {"changes": {uri: [text_edit(index, e.start, e.end, e.text) for e in edits]}},
            })
    if wanted(FIX_ALL_KIND) and any(f.is_safe for f in a.findings):
        edits = a.safe_edits(encoding)
        if edits:
            out.append({"title": FIX_ALL_TITLE, "kind": FIX_ALL_KIND, "edit": {"changes": {uri: edits}}})
    return out


def formatting(a: Analysis, encoding: str = "utf-16") -> list[dict[str, Any]]:
    """Edits applying the safe fixes; none when the text does not parse or nothing changes."""
    return [] if a.error is not None else list(a.safe_edits(encoding))


# ------------------------------------------------------------------ the server (pygls)
class Buffers:
    """The only state: the analysis of each open buffer's current version."""

    def __init__(self) -> None:
        self._by_uri: dict[str, tuple[int | None, Analysis]] = {}

    def get(self, uri: str, version: int | None, text: str, path: str | None) -> Analysis:
        hit = self._by_uri.get(uri)
        if hit is not None and hit[0] == version and hit[1].text == text:
            return hit[1]
        a = analyze(text, path)
        self._by_uri[uri] = (version, a)
        return a

    def drop(self, uri: str) -> None:
        self._by_uri.pop(uri, None)

    def __len__(self) -> int:
        return len(self._by_uri)


def create_server():
    """A pygls ``LanguageServer`` with the handlers registered (``server.dockerfix_buffers`` is the buffer cache)."""
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from dockerfix import __version__

    server = LanguageServer("dockerfix", __version__)
    buffers = Buffers()
    server.dockerfix_buffers = buffers  # type: ignore[attr-defined, unused-ignore]  # (pygls versions differ)
    converter = server.protocol._converter

    def encoding() -> str:
        enc = server.workspace.position_encoding if server.protocol._workspace is not None else None
        return str(getattr(enc, "value", enc) or "utf-16")

    def current(uri: str) -> Analysis:
        doc = server.workspace.get_text_document(uri)
        path = doc.path if uri.startswith("file:") else None
        return buffers.get(uri, doc.version, doc.source, path)

    def publish(uri: str) -> None:
        a = current(uri)
        if a.error is None:
            a.safe_edits(encoding())  # warm the formatting/fix-all answer while the user is typing
        diags = converter.structure(diagnostics(a, encoding()), list[types.Diagnostic])
        doc = server.workspace.get_text_document(uri)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=doc.version)
        )

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: types.DidSaveTextDocumentParams) -> None:
        buffers.drop(params.text_document.uri)  # the configuration may have changed meanwhile
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        buffers.drop(params.text_document.uri)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=False),
    )
    def code_action(ls, params: types.CodeActionParams):
        a = current(params.text_document.uri)
        only = [str(getattr(k, "value", k)) for k in params.context.only] if params.context.only else None
        acts = code_actions(a, params.text_document.uri, params.range.start.line, params.range.end.line, only,
                            encoding())
        return converter.structure(acts, list[types.CodeAction])

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def format_document(ls, params: types.DocumentFormattingParams):
        a = current(params.text_document.uri)
        return converter.structure(formatting(a, encoding()), list[types.TextEdit])

    server.dockerfix_handlers = {  # type: ignore[attr-defined, unused-ignore]
        "didOpen": did_open, "didChange": did_change, "didSave": did_save, "didClose": did_close,
        "codeAction": code_action, "formatting": format_document,
    }
    return server


USAGE = """\
usage: dockerfix lsp [--stdio]

Run the dockerfix language server on stdin/stdout (diagnostics, quick fixes, "apply all safe fixes", formatting).
Configure your editor to start `dockerfix lsp` for Dockerfiles; see docs/integrations.md.
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE)
        return 0
    unknown = [a for a in args if a != "--stdio"]
    if unknown:
        sys.stderr.write(f"dockerfix: error: lsp: unknown argument {unknown[0]!r}\n{USAGE}")
        return 2
    try:
        server = create_server()
    except ImportError as exc:
        sys.stderr.write(
            f"dockerfix: error: lsp: the language server needs pygls ({exc}); install it with "
            "pip install 'dockerfix[lsp]'\n"
        )
        return 2
    server.start_io()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
