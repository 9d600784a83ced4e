"""A lossless Dockerfile parser that agrees with BuildKit's (``frontend/dockerfile/parser``).

It follows BuildKit's reading of a file line by line: parser directives at the top, comment lines skipped, line
continuations with the escape token (comment and blank lines inside a continuation dropped from the logical line),
keyword + builder flags + arguments split per instruction, heredoc bodies read after the logical line. Unlike
BuildKit it keeps every byte: each node keeps its exact source, so ``parse(t).to_text() == t``.
"""

from __future__ import annotations

import re

from dockerfix.syntax.errors import DockerfileSyntaxError
from dockerfix.syntax.nodes import Directive, Document, Flag, Heredoc, Instruction, LineMap, Trivia

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn

# Go's unicode.IsSpace.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_GO_SPACE_SET = frozenset(_GO_SPACE)
_RE_WS = re.compile(r"[\t\v\f\r ]+")
_NON_SPACE_RUN = re.compile("[^" + re.escape(_GO_SPACE) + "]*")
_NON_SPACE_WORD = re.compile("[^" + re.escape(_GO_SPACE) + "]+")
_RE_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$", re.DOTALL)
_VALID_DIRECTIVES = ("escape", "syntax", "check")
_RE_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$", re.DOTALL)
# BuildKit: `([^E])E[ \t]*$|^E[ \t]*$`: an escape token ending the line, unless it is itself escaped.
_CONT = {"\\": re.compile(r"(?:(?<=[^\\])|^)\\[ \t]*$"), "`": re.compile(r"(?:(?<=[^`])|^)`[ \t]*$")}
_HEREDOC_KEYWORDS = frozenset(("ADD", "COPY", "RUN"))


# The last character of a line that _continuation may find continued: the escape token, or a blank after it.
_CONT_TAIL = {"\\": frozenset("\\ \t"), "`": frozenset("` \t")}


def _continuation(line: str, escape: str) -> int:
    """Where ``_CONT[escape]`` matches ``line`` (the escape token that continues it), or -1.

    Only one place can match (the last character before trailing blanks), so this looks there instead of running
    the regex, whose lookbehind is tried at every position of every line."""
    r = line.rstrip(" \t")
    if not r.endswith(escape):
        return -1
    k = len(r) - 1
    if k > 0 and r[k - 1] == escape:
        return -1
    return k

_NAMEVAL = frozenset(("ENV", "LABEL"))
_MAYBE_JSON = frozenset(("CMD", "ENTRYPOINT", "RUN", "SHELL"))
_MAYBE_JSON_LIST = frozenset(("ADD", "COPY", "VOLUME"))
_WS_DELIMITED = frozenset(("EXPOSE", "FROM"))
_STRING = frozenset(("MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"))


class _NotStringArray(Exception):
    pass


def _split_lines(text: str, base: int, stop: int | None = None) -> list[tuple[int, int, int]]:
    """Physical lines of ``text[base:stop]`` as (start, content_end, end); the content drops the line break and any
    ``\\r`` before it (BuildKit's trimNewline). ``stop`` must be a line start (or the end)."""
    out = []
    pos = base
    n = len(text) if stop is None else stop
    while pos < n:
        nl = text.find("\n", pos)
        if nl < 0:
            ce = n
            while ce > pos and text[ce - 1] == "\r":
                ce -= 1
            out.append((pos, ce, n))
            break
        ce = nl
        while ce > pos and text[ce - 1] == "\r":
            ce -= 1
        out.append((pos, ce, nl + 1))
        pos = nl + 1
    return out


def parse(text: str, *, path: str | None = None) -> Document:
    """Parse Dockerfile text into a lossless :class:`Document`; raise :class:`DockerfileSyntaxError`."""
    try:
        return _Parser(text).run()
    except DockerfileSyntaxError as e:
        if path is not None:
            raise e.with_path(path) from None
        raise


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        self.escape = "\\"
        self.directives: list[Directive] = []
        self.directives_done = False
        self.seen: set[str] = set()
        # a region of the text (syntax.incremental): its first line's offset and number - 1, and where it stops
        self.begin: int | None = None
        self.line0 = 0
        self.stop: int | None = None
        self.open_end = False
        """Whether the region's last instruction still continued (its last line ends with the escape character) when
        the region's lines ran out: it may continue into the text after the region."""

    # BuildKit: directives.possibleParserDirective
    def _directive(self, line: str, lineno: int) -> bool:
        if self.directives_done:
            return False
        m = _RE_DIRECTIVE.match(line)
        if not m:
            self.directives_done = True
            return False
        name = m.group(1).lower()
        if name not in _VALID_DIRECTIVES:
            self.directives_done = True
            return False
        if name in self.seen:
            raise DockerfileSyntaxError(f"only one {name} parser directive can be used", lineno, 1)
        self.seen.add(name)
        value = m.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileSyntaxError(f"invalid escape token '{value}' does not match ` or \\", lineno, 1)
            self.escape = value
        self.directives.append(Directive(name, value, lineno))
        return True

    def run(self) -> Document:
        text = self.text
        lines = _split_lines(text, len(self.bom) if self.begin is None else self.begin, self.stop)
        l0 = self.line0
        nodes: list[Instruction | Trivia] = []
        insts: list[Instruction] = []
        space = _GO_SPACE
        i = 0
        n = len(lines)
        while i < n:
            ls, ce, le = lines[i]
            raw = text[ls:ce]
            lineno = i + 1 + l0
            stripped = raw.lstrip(space)
            is_directive = False if self.directives_done else self._directive(stripped, lineno)
            i += 1
            if stripped[:1] == "#":
                nodes.append(Trivia("directive" if is_directive else "comment", text[ls:le], ls, lineno))
                continue
            if not stripped:
                nodes.append(Trivia("blank", text[ls:le], ls, lineno))
                continue
            escape = self.escape
            lead = len(raw) - len(stripped)
            last_end = le
            # trimContinuationCharacter; a line whose last character is neither the escape token nor a blank
            # (nearly all) cannot continue, and is the whole logical line
            if stripped[-1] not in _CONT_TAIL[escape] or (m := _continuation(stripped, escape)) < 0:
                line = stripped
                lmap = LineMap((0,), (ls + lead,))
            else:
                part = stripped[:m]
                lmap_l = [0]
                lmap_s = [ls + lead]
                parts = [part]
                klen = len(part)
                while m >= 0 and i < n:
                    ls2, ce2, le2 = lines[i]
                    raw2 = text[ls2:ce2]
                    i += 1
                    last_end = le2
                    s2 = raw2.lstrip(space)
                    if not s2 or s2[0] == "#":
                        continue
                    m = _continuation(raw2, escape) if raw2[-1] in _CONT_TAIL[escape] else -1
                    part = raw2[:m] if m >= 0 else raw2
                    lmap_l.append(klen)
                    lmap_s.append(ls2)
                    parts.append(part)
                    klen += len(part)
                if m >= 0:
                    self.open_end = True  # (at the end of the file: the instruction ends there, as in BuildKit)
                line = "".join(parts)
                lmap = LineMap(tuple(lmap_l), tuple(lmap_s))
            start_line = lineno
            # the node's span and source as far as its lines go (heredoc bodies below extend them)
            inst = self._instruction(line, 0, lmap, start_line, i + l0, text[ls:last_end], ls, last_end)
            eff = inst.sub if inst.sub is not None else inst
            if eff.keyword in _HEREDOC_KEYWORDS and not eff.json and "<<" in line:
                docs = []
                for name, chomp, expand, fd in _heredocs_from_line(line):
                    body_start = last_end
                    content: list[str] = []
                    terminated = False
                    while i < n:
                        hs, hce, he = lines[i]
                        i += 1
                        cand = text[hs:hce]
                        if chomp:
                            cand = cand.lstrip("\t")
                        if cand == name:
                            terminated = True
                            docs.append(Heredoc(name, chomp, expand, fd, "".join(content), body_start, hs, hs, he))
                            last_end = he
                            break
                        content.append(text[hs:he])
                        last_end = he
                    if not terminated:
                        col = line.find("<<") + 1
                        raise DockerfileSyntaxError(
                            f"unterminated heredoc {name!r} (started on line {start_line})", start_line,
                            lmap.to_source(max(col - 1, 0)) - lines[start_line - 1 - l0][0] + 1,
                        )
                # finish the node in place (it is not shared yet): its heredoc bodies, and its span and source
                # to the last terminator
                if docs:
                    _set(inst, "heredocs", tuple(docs))
                _set(inst, "source", text[ls:last_end])
                _set(inst, "end", last_end)
                _set(inst, "end_line", i + l0)
            nodes.append(inst)
            insts.append(inst)
        if not insts:
            raise DockerfileSyntaxError("file with no instructions", max(n, 1), 1)
        return Document(self.bom, tuple(nodes), tuple(self.directives), self.escape, text, tuple(insts))

    def _instruction(self, line: str, base: int, lmap: LineMap, start_line: int, end_line: int, source: str = "",
                     start: int = 0, end: int = 0) -> Instruction:
        """BuildKit's newNodeFromLine for ``line[base:]``."""
        sub_line = line[base:]
        left = sub_line.lstrip(_GO_SPACE)
        trimmed = left.rstrip(_GO_SPACE)
        lead = len(sub_line) - len(left)
        kw_off = base + lead
        mm = _RE_WS.search(trimmed)
        if mm is None:
            raw_kw, after, after_off = trimmed, "", kw_off + len(trimmed)
        else:
            raw_kw = trimmed[: mm.start()]
            after = trimmed[mm.end() :]
            after_off = kw_off + mm.end()
        keyword = raw_kw.upper()
        flags: tuple[Flag, ...] = ()
        rest = ""
        rest_off = after_off
        if after:
            if after[:2] == "--" or after[0] in _GO_SPACE_SET:  # else no flag: the rest starts right here
                rest_rel, fl = _extract_builder_flags(after)
                flags = tuple(
                    _make_flag(w, lmap, after_off + a, after_off + b) for w, a, b in fl
                )
            else:
                rest_rel = 0
            r0 = after[rest_rel:]
            rest = r0.strip(_GO_SPACE)
            rest_off = after_off + rest_rel + (len(r0) - len(r0.lstrip(_GO_SPACE)))
        is_json = False
        args: tuple[str, ...]
        sub = None
        try:
            if keyword in _MAYBE_JSON:
                args, is_json = _parse_maybe_json(rest)
            elif keyword in _MAYBE_JSON_LIST:
                args, is_json = _parse_maybe_json_list(rest)
            elif keyword in _WS_DELIMITED:
                args = tuple(_RE_WS.split(rest)) if rest else ()
            elif keyword in _STRING:
                args = (rest,) if rest else ()
            elif keyword in _NAMEVAL:
                args = _parse_name_val(rest, keyword, self.escape)
            elif keyword == "ARG":
                args = tuple(_parse_words(rest, self.escape))
            elif keyword == "HEALTHCHECK":
                args, is_json = _parse_health(rest)
            elif keyword == "ONBUILD":
                args = ()
                if rest:
                    sub = self._instruction(line, rest_off, lmap, start_line, end_line)
                    args = sub.args
            else:
                args = ("",)
        except _NotStringArray:
            raise DockerfileSyntaxError(
                "arrays must be comprised of strings only", start_line, _col(lmap, line, rest_off, self.text)
            ) from None
        except DockerfileSyntaxError as e:
            raise DockerfileSyntaxError(e.message, start_line, _col(lmap, line, rest_off, self.text)) from None
        return Instruction(keyword, raw_kw, source, start, end, start_line, end_line, line, flags, rest, rest_off,
                           is_json, args, (), sub, lmap, kw_off)


_set = object.__setattr__


def _col(lmap: LineMap, line: str, k: int, text: str) -> int:
    s = lmap.to_source(min(k, max(len(line) - 1, 0)))
    return s - (text.rfind("\n", 0, s) + 1) + 1


def _make_flag(word: str, lmap: LineMap, k0: int, k1: int) -> Flag:
    s, e = lmap.span(k0, k1)
    body = word[2:] if word.startswith("--") else word
    if "=" in body:
        name, value = body.split("=", 1)
    else:
        name, value = body, None
    return Flag(name, value, word, s, e)


def _extract_builder_flags(line: str) -> tuple[int, list[tuple[str, int, int]]]:
    """BuildKit's extractBuilderFlags: leading ``--flag`` words; returns (offset of the rest, [(word, start, end)]).

    A rest offset of ``len(line)`` means no arguments remain.
    """
    words: list[tuple[str, int, int]] = []
    n = len(line)
    pos = 0
    while True:
        while pos < n and line[pos] in _GO_SPACE_SET:
            pos += 1
        if pos >= n:
            return n, words
        if not (line[pos] == "-" and pos + 1 < n and line[pos + 1] == "-"):
            return pos, words
        start = pos
        # Fast path: a flag word without quotes or escapes (nearly all of them, and `--mount=...` words are long)
        # is the run of non-space characters as written; the character loop below gives the same word and end.
        end = _NON_SPACE_RUN.match(line, pos).end()  # type: ignore[union-attr]
        w = line[pos:end]
        if "'" not in w and '"' not in w and "\\" not in w:
            pos = end
            if pos >= n:
                if w != "--":
                    words.append((w, start, pos))
                return n, words
            if w == "--":
                return pos, words
            words.append((w, start, pos))
            continue
        word: list[str] = []
        blank_ok = False
        quote = ""
        in_quote = False
        while pos < n:
            ch = line[pos]
            if in_quote:
                if ch == quote:
                    in_quote = False
                elif ch == "\\":
                    if pos + 1 == n:
                        in_quote = False
                    else:
                        pos += 1
                        word.append(line[pos])
                else:
                    word.append(ch)
                pos += 1
                continue
            if ch in _GO_SPACE_SET:
                break
            if ch == "'" or ch == '"':
                quote = ch
                blank_ok = True
                in_quote = True
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
            pos += 1
        w = "".join(word)
        if pos >= n:
            if w != "--" and (blank_ok or w):
                words.append((w, start, pos))
            return n, words
        if w == "--":
            return pos, words
        if blank_ok or w:
            words.append((w, start, pos))


def _parse_json(rest: str) -> tuple[str, ...] | None:
    r = rest.lstrip(_GO_SPACE)
    if not r.startswith("["):
        return None
    # BuildKit decodes with json.NewDecoder(...).Decode: the first value counts, trailing text is ignored.
    try:
        val, _ = _raw_decode(r)
    except (ValueError, RecursionError):
        return None
    if not isinstance(val, list):
        return None
    for v in val:
        if not isinstance(v, str):
            raise _NotStringArray()
    return tuple(val)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(name)


def _json_scanner() -> tuple[Callable[..., tuple[Any, int]], Callable[[str, int], tuple[str, int]]]:
    """``(raw_decode, scanstring)`` as ``json.JSONDecoder`` has them, straight from the C accelerator ``_json``.

    ``import json`` costs ~3 ms of every start-up (decoder, encoder, scanner modules) for two C functions; the
    pure-Python ``json`` is the fallback where ``_json`` is missing."""
    try:
        import types

        from _json import make_scanner, scanstring
    except ImportError:  # pragma: no cover - Python builds without the accelerator
        import json

        decoder = json.JSONDecoder(parse_constant=_reject_constant)
        return decoder.raw_decode, json.decoder.scanstring  # type: ignore[attr-defined]  # typeshed omits it
    scan = make_scanner(types.SimpleNamespace(  # type: ignore[arg-type]  # the attributes a JSONDecoder has
        strict=True, object_hook=None, object_pairs_hook=None, parse_float=float, parse_int=int,
        parse_constant=_reject_constant, memo={},
    ))

    def raw_decode(s: str, idx: int = 0) -> tuple[Any, int]:
        try:
            return scan(s, idx)
        except StopIteration:
            raise ValueError("Expecting value") from None
        except SystemError:
            # CPython 3.11's accelerator reports a syntax error through json.decoder.JSONDecodeError and fails
            # this way while json.decoder is not imported: decode this (malformed) value with json itself.
            import json

            return json.JSONDecoder(parse_constant=_reject_constant).raw_decode(s, idx)

    return raw_decode, scanstring


_raw_decode, _scanstring = _json_scanner()


def _parse_maybe_json(rest: str) -> tuple[tuple[str, ...], bool]:
    if not rest:
        return (), False
    j = _parse_json(rest)
    if j is not None:
        return j, True
    return (rest,), False


def _parse_maybe_json_list(rest: str) -> tuple[tuple[str, ...], bool]:
    j = _parse_json(rest)
    if j is not None:
        return j, True
    return (tuple(_RE_WS.split(rest)) if rest else ()), False


def _parse_health(rest: str) -> tuple[tuple[str, ...], bool]:
    sep = 0
    while sep < len(rest) and rest[sep] not in _GO_SPACE_SET:
        sep += 1
    nxt = sep
    while nxt < len(rest) and rest[nxt] in _GO_SPACE_SET:
        nxt += 1
    if sep == 0:
        return (), False
    cmd, is_json = _parse_maybe_json(rest[nxt:])
    return (rest[:sep],) + cmd, is_json


def _parse_name_val(rest: str, key: str, escape: str) -> tuple[str, ...]:
    words = _parse_words(rest, escape)
    if not words:
        return ()
    if "=" not in words[0]:
        parts = _RE_WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileSyntaxError(f"{key} must have two arguments")
        return (parts[0], parts[1])
    out: list[str] = []
    for w in words:
        if "=" not in w:
            raise DockerfileSyntaxError(
                f"Syntax error - can't find = in {w!r}. Must be of the form: name=value"
            )
        k, v = w.split("=", 1)
        out += (k, v)
    return tuple(out)


def _parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: split on whitespace honouring quotes and the escape token, keeping both."""
    if "'" not in rest and '"' not in rest and escape not in rest:
        return _NON_SPACE_WORD.findall(rest)  # no quote, no escape: the loop below only splits on blanks
    words: list[str] = []
    n = len(rest)
    pos = 0
    while True:
        while pos < n and rest[pos] in _GO_SPACE_SET:
            pos += 1
        if pos >= n:
            return words
        word: list[str] = []
        blank_ok = False
        quote = ""
        in_quote = False
        while pos < n:
            ch = rest[pos]
            if not in_quote:
                if ch in _GO_SPACE_SET:
                    break
                if ch == "'" or ch == '"':
                    quote = ch
                    blank_ok = True
                    in_quote = True
                if ch == escape:
                    if pos + 1 == n:
                        pos += 1
                        continue
                    word.append(ch)
                    pos += 1
                    ch = rest[pos]
                word.append(ch)
                pos += 1
                continue
            if ch == quote:
                in_quote = False
            if ch == escape and quote != "'":
                if pos + 1 == n:
                    in_quote = False
                    pos += 1
                    continue
                pos += 1
                word.append(ch)
                ch = rest[pos]
            word.append(ch)
            pos += 1
        w = "".join(word)
        if blank_ok or w:
            words.append(w)


def _heredocs_from_line(line: str) -> list[tuple[str, bool, bool, int | None]]:
    """Heredoc markers in a logical line: [(name, chomp, expand, fd)], found the way BuildKit finds them: the line is
    split into shell words keeping quotes and escapes (``ProcessWords`` with RawQuotes/RawEscapes), and a word of the
    form ``[fd]<<[-]NAME`` is a heredoc whose name is the word after quote removal."""
    from dockerfix.model.expand import ExpansionError, expand_words

    out: list[tuple[str, bool, bool, int | None]] = []
    try:
        words = expand_words(line, {}, raw_quotes=True, raw_escapes=True)
    except ExpansionError:
        return out
    for word in words:
        m = _RE_HEREDOC.match(word)
        if not m:
            continue
        rest = m.group(3)
        if not rest:
            continue
        quoted = rest[0] in "'\""
        try:
            names = expand_words(rest, {})
        except ExpansionError:
            continue
        if len(names) != 1:
            continue
        fd = int(m.group(1)) if m.group(1) else None
        out.append((names[0], m.group(2) == "-", not quoted, fd))
    return out


def json_string_spans(rest: str) -> list[tuple[str, int, int]]:
    """(value, start, end) of each string literal of the JSON array in ``rest`` (offsets into ``rest``)."""
    out: list[tuple[str, int, int]] = []
    i = rest.find("[")
    if i < 0:
        return out
    try:
        n = i + _raw_decode(rest[i:])[1]
    except ValueError:
        return out
    while i < n:
        j = rest.find('"', i, n)
        if j < 0:
            break
        val, end = _scanstring(rest, j + 1)
        out.append((val, j, end))
        i = end
    return out
