"""BuildKit-compatible shell-word expansion for ARG, ENV and the other expanding instructions.

This module reproduces the behaviour of BuildKit's ``frontend/dockerfile/shell`` lexer
(``Lex.ProcessWord`` / ``Lex.ProcessWords``). It is not a shell. It handles:

* ``$NAME``, ``${NAME}``, positional (``$1``, ``${001}``) and special (``$@ $* $# $? $- $$ $! $0``)
  parameters, which are looked up in the environment like any other name;
* the modifiers ``${N:-w}`` ``${N-w}`` ``${N:+w}`` ``${N+w}`` ``${N:?w}`` ``${N?w}``,
  ``${N#p}`` ``${N##p}`` ``${N%p}`` ``${N%%p}``, ``${N/p/r}`` and ``${N//p/r}``;
* single quotes (literal), double quotes (``$`` is expanded; the escape token escapes only
  ``"``, ``$`` and itself) and the escape token (``\\`` or ``\u0060`` from ``# escape=``);
* word splitting as in ``ProcessWords``: unquoted expansion results are split on whitespace;
* the Windows variant, where names match case-insensitively.

BuildKit's quirks are kept on purpose, because what matters is what the builder does:
modifiers are expanded eagerly (``${A:-$B}`` reads ``B`` even when ``A`` is set), ``${N:#p}``
behaves like ``${N#p}``, ``${N//p/r}`` treats ``$0`` in ``r`` as the matched text (Go's
``Regexp.Expand``) while ``${N/p/r}`` inserts ``r`` literally, empty quoted words vanish from
:func:`expand_words`, and a word's leading byte-order mark is dropped.

Everything here is pure and needs only the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

__all__ = [
    "ExpansionError",
    "expand_word",
    "expand_words",
    "is_static",
    "referenced_variables",
]

# Go's unicode.IsSpace: Latin-1 spaces plus the White_Space property. Python's str.isspace()
# differs (it also accepts U+001C..U+001F), so the set is spelled out.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_BOM = "\ufeff"
# Go formats the EOF rune (-1) with %c / string(rune) as the replacement character.
_EOF_CHAR = "\ufffd"

_Lookup = Callable[[str], "tuple[str, bool]"]


class ExpansionError(ValueError):
    """A word BuildKit refuses to expand.

    ``str(error)`` is BuildKit's message (``failed to process "word": reason``); ``reason`` is
    the part after the colon and ``word`` the input.
    """

    def __init__(self, message: str, *, word: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.word = word
        self.reason = reason if reason is not None else message


class _Failure(Exception):
    """Internal: a reason without the ``failed to process`` wrapper."""


def _go_quote(text: str) -> str:
    """Approximate Go's ``%q`` (strconv.Quote) for error messages."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _is_name_char(ch: str) -> bool:
    # Go: unicode.IsLetter || unicode.IsDigit || '_'. isalpha() is category L*, isdecimal() is Nd.
    return ch == "_" or ch.isalpha() or ch.isdecimal()


# --- words (ProcessWords) ------------------------------------------------------------------------


class _Words:
    """Collects the split words exactly the way BuildKit's ``wordsStruct`` does."""

    __slots__ = ("word", "words", "in_word")

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in _GO_SPACE:
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.word += ch
            self.in_word = True

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


# --- shell patterns (${N#p}, ${N%p}, ${N/p/r}) ---------------------------------------------------


@lru_cache(maxsize=256)
def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """Translate a shell pattern (``*``, ``?``, backslash escapes, no brackets) to a regex."""
    if pattern.startswith(_BOM):  # Go's text/scanner skips a leading BOM
        pattern = pattern[1:]
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            # "\}" and "\/" only protect the delimiter of ${...}; the backslash is dropped.
            if i < n and pattern[i] in "}/":
                continue
            escaped = pattern[i] if i < n else _EOF_CHAR
            i += 1
            if escaped not in "*?\\":
                raise _Failure(f"invalid escape '\\{escaped}'")
            out.append(re.escape(escaped))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern while keeping each ``\\x`` escape pair in order."""
    chars = list(pattern)
    last = len(chars) - 1
    out = [""] * len(chars)
    i = 0
    while i <= last:
        ch = chars[i]
        at = last - i
        if ch == "\\" and i != last:
            out[at - 1] = ch
            out[at] = chars[i + 1]
            i += 2
        else:
            out[at] = ch
            i += 1
    return "".join(out)


def _compile(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    try:
        return _pattern_regex(pattern, greedy, anchored)
    except _Failure as exc:
        raise _Failure(f"invalid pattern ({pattern}) in substitution: {exc}") from None


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _compile(pattern, greedy, True).search(value)
    return value[match.end() :] if match else value


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # Regexes cannot find the shortest rightmost match, so both sides are reversed.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _go_expand_template(template: str, matched: str) -> str:
    """Go's ``Regexp.Expand`` for a regex without groups: ``$0``/``${0}`` is the match, other
    references are empty, ``$$`` is ``$``, and a malformed reference is literal."""
    if "$" not in template:
        return template
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        k = i
        brace = k < n and template[k] == "{"
        if brace:
            k += 1
        start = k
        while k < n and _is_name_char(template[k]):
            k += 1
        name = template[start:k]
        if not name or (brace and (k >= n or template[k] != "}")):
            out.append("$")  # malformed: the $ stays literal
            continue
        if brace:
            k += 1
        i = k
        if name == "0":
            out.append(matched)
    out.append(template[i:])
    return "".join(out)


def _replace_all(regex: re.Pattern[str], value: str, replacement: str) -> str:
    """Go's ``Regexp.ReplaceAllString``: an empty match right after a match is not replaced
    (Python's re.sub replaces it), and the replacement is a Go template."""
    out: list[str] = []
    last_end = 0
    pos = 0
    n = len(value)
    while pos <= n:
        match = regex.search(value, pos)
        if match is None:
            break
        start, end = match.span()
        out.append(value[last_end:start])
        if end > last_end or start == 0:
            out.append(_go_expand_template(replacement, match.group()))
        last_end = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(value[last_end:])
    return "".join(out)


# --- the lexer -----------------------------------------------------------------------------------


class _Lexer:
    """One pass over one word; mirrors BuildKit's ``shellWord``."""

    def __init__(
        self,
        word: str,
        lookup: _Lookup,
        *,
        escape: str,
        raw_quotes: bool,
        raw_escapes: bool,
        skip_process_quotes: bool,
        skip_unset: bool,
    ) -> None:
        self.src = word[1:] if word.startswith(_BOM) else word
        self.pos = 0
        self.lookup = lookup
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset = skip_unset

    # scanner helpers: None is EOF
    def peek(self) -> str | None:
        return self.src[self.pos] if self.pos < len(self.src) else None

    def next(self) -> str | None:
        if self.pos < len(self.src):
            ch = self.src[self.pos]
            self.pos += 1
            return ch
        return None

    def process(self) -> tuple[str, list[str]]:
        return self.process_stop_on(None, self.raw_escapes)

    def process_stop_on(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        saved_raw = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._process_stop_on(stop)
        finally:
            self.raw_escapes = saved_raw

    def _process_stop_on(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        quotes = not self.skip_process_quotes
        escape = self.escape
        src = self.src
        n = len(src)
        while self.pos < n:
            ch = src[self.pos]
            if stop is not None and ch == stop:
                self.pos += 1
                return "".join(result), words.result()
            if ch == "$":
                text = self.process_dollar()
                result.append(text)
                words.add_string(text)
            elif quotes and ch == "'":
                text = self.process_single_quote()
                result.append(text)
                words.add_raw_string(text)
            elif quotes and ch == '"':
                text = self.process_double_quote()
                result.append(text)
                words.add_raw_string(text)
            else:
                self.pos += 1
                if ch == escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    if self.pos >= n:
                        break  # an escape at the very end is dropped
                    ch = src[self.pos]
                    self.pos += 1
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop is not None:
            raise _Failure(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def process_single_quote(self) -> str:
        # Everything up to the next ' is literal; a single quote cannot be escaped.
        start = self.pos + 1
        end = self.src.find("'", start)
        if end < 0:
            self.pos = len(self.src)
            raise _Failure("unexpected end of statement while looking for matching single-quote")
        self.pos = end + 1
        body = self.src[start:end]
        return f"'{body}'" if self.raw_quotes else body

    def process_double_quote(self) -> str:
        self.pos += 1
        result: list[str] = ['"'] if self.raw_quotes else []
        escape = self.escape
        while True:
            ch = self.peek()
            if ch is None:
                raise _Failure("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                if self.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if ch == "$":
                result.append(self.process_dollar())
                continue
            self.pos += 1
            if ch == escape:
                if self.raw_escapes:
                    result.append(ch)
                following = self.peek()
                if following is None:
                    continue  # then fails on the missing closing quote
                if following in ('"', "$", escape):
                    ch = following
                    self.pos += 1
            result.append(ch)

    def process_name(self) -> str:
        src = self.src
        n = len(src)
        start = self.pos
        if start < n:
            first = src[start]
            if first.isdecimal():
                end = start
                while end < n and src[end].isdecimal():
                    end += 1
                self.pos = end
                return src[start:end]
            if first in _SPECIAL_PARAMS:
                self.pos += 1
                return first
        end = start
        while end < n and _is_name_char(src[end]):
            end += 1
        self.pos = end
        return src[start:end]

    def process_dollar(self) -> str:
        self.pos += 1  # the $
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "$" + name
            return value

        self.pos += 1  # the {
        ch = self.peek()
        if ch is None:
            raise _Failure("syntax error: missing '}'")
        if ch in "{}:":
            raise _Failure("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        modifier = ch if ch is not None else _EOF_CHAR
        null_is_unset = False

        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.skip_unset:
                return "${" + name + "}"
            return value

        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch if ch is not None else _EOF_CHAR
            # BuildKit falls through whatever follows the colon (so ${N:#p} is ${N#p}).
        elif ch == "/":
            return self._process_replace(name)
        elif ch is None or ch not in "+-?#%":
            raise _Failure(f"unsupported modifier ({modifier}) in substitution")

        word = self._process_nested("}", ch in ("#", "%"), "syntax error: missing '}'")
        value, found = self.lookup(name)
        if self.skip_unset and not found:
            return "${" + name + modifier + word + "}"

        if ch == "-":
            if not found or (null_is_unset and value == ""):
                return word
            return value
        if ch == "+":
            if not found or (null_is_unset and value == ""):
                return ""
            return word
        if ch == "?":
            if not found:
                raise _Failure(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _Failure(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise _Failure(f"unsupported modifier ({modifier}) in substitution")

    def _process_nested(self, stop: str, raw_escapes: bool, eof_message: str) -> str:
        try:
            word, _ = self.process_stop_on(stop, raw_escapes)
        except _Failure:
            if self.pos >= len(self.src):
                raise _Failure(eof_message) from None
            raise
        return word

    def _process_replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self._process_nested("/", True, "syntax error: missing '/' in ${}")
        replacement = self._process_nested("}", True, "syntax error: missing '}'")
        value, found = self.lookup(name)
        if self.skip_unset and not found:
            # BuildKit writes a single slash back even for //.
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _compile(pattern, True, False)
        if replace_all:
            return _replace_all(regex, value, replacement)
        match = regex.search(value)
        if match:
            return value[: match.start()] + replacement + value[match.end() :]
        return value


# --- environments --------------------------------------------------------------------------------


def _go_upper(text: str) -> str:
    """Go's strings.ToUpper (simple, one-to-one case mapping)."""
    if text.isascii():
        return text.upper()
    out = []
    for ch in text:
        upper = ch.upper()
        out.append(upper if len(upper) == 1 else ch)
    return "".join(out)


def _make_lookup(env: Mapping[str, str], windows: bool) -> _Lookup:
    folded: dict[str, str] | None = None

    def lookup(name: str) -> tuple[str, bool]:
        nonlocal folded
        if name in env:
            return env[name], True
        if windows:
            # Windows compares keys case-insensitively; an exact match wins, then the first
            # key (in mapping order) that folds to the same name.
            if folded is None:
                folded = {}
                for key, value in env.items():
                    folded.setdefault(_go_upper(key), value)
            upper = _go_upper(name)
            if upper in folded:
                return folded[upper], True
        return "", False

    return lookup


def _run(
    word: str,
    lookup: _Lookup,
    *,
    escape: str,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_process_quotes: bool,
    skip_unset: bool,
) -> tuple[str, list[str]]:
    if len(escape) != 1:
        raise ValueError(f"escape must be a single character, not {escape!r}")
    lexer = _Lexer(
        word,
        lookup,
        escape=escape,
        raw_quotes=raw_quotes,
        raw_escapes=raw_escapes,
        skip_process_quotes=skip_process_quotes,
        skip_unset=skip_unset,
    )
    try:
        return lexer.process()
    except _Failure as exc:
        reason = str(exc)
        raise ExpansionError(
            f"failed to process {_go_quote(word)}: {reason}", word=word, reason=reason
        ) from None


# --- public API ----------------------------------------------------------------------------------


def expand_word(
    word: str,
    env: Mapping[str, str],
    *,
    escape: str = "\\",
    windows: bool = False,
    raw_quotes: bool = False,
    raw_escapes: bool = False,
    skip_process_quotes: bool = False,
    skip_unset: bool = False,
) -> str:
    """Expand ``word`` like BuildKit's ``ProcessWord``: quotes removed, escapes applied,
    variables substituted, spacing between words kept.

    ``env`` maps names to values; a name absent from it is unset (which differs from set to
    ``""`` for ``-``, ``+`` and ``?`` without a colon). ``windows`` matches names
    case-insensitively. The keyword flags mirror ``Lex`` fields: ``raw_quotes`` keeps the quote
    characters, ``raw_escapes`` keeps escape tokens, ``skip_process_quotes`` treats quotes as
    ordinary characters, and ``skip_unset`` leaves references to unset names as they are
    written. Raises :class:`ExpansionError` for input BuildKit rejects.
    """
    result, _ = _run(
        word,
        _make_lookup(env, windows),
        escape=escape,
        raw_quotes=raw_quotes,
        raw_escapes=raw_escapes,
        skip_process_quotes=skip_process_quotes,
        skip_unset=skip_unset,
    )
    return result


def expand_words(
    word: str,
    env: Mapping[str, str],
    *,
    escape: str = "\\",
    windows: bool = False,
    raw_quotes: bool = False,
    raw_escapes: bool = False,
    skip_process_quotes: bool = False,
    skip_unset: bool = False,
) -> list[str]:
    """Expand and split ``word`` like BuildKit's ``ProcessWords``.

    Unquoted whitespace, including whitespace produced by an unquoted expansion, separates
    words; quoted and escaped whitespace does not. Empty words are dropped (so ``""`` alone
    gives ``[]``). Flags as in :func:`expand_word`.
    """
    _, words = _run(
        word,
        _make_lookup(env, windows),
        escape=escape,
        raw_quotes=raw_quotes,
        raw_escapes=raw_escapes,
        skip_process_quotes=skip_process_quotes,
        skip_unset=skip_unset,
    )
    return words


def referenced_variables(word: str, *, escape: str = "\\") -> set[str]:
    """The names ``word`` reads, whatever the environment.

    BuildKit evaluates every nested word eagerly, so ``${A:-$B}`` reads both ``A`` and ``B``.
    Positional and special parameters (``1``, ``@``, ...) are included because BuildKit looks
    them up like other names. Raises :class:`ExpansionError` if the word does not parse (an
    error that only depends on the values, such as ``${A:?}``, is not raised).
    """
    if "$" not in word:
        # Still reject what never parses (unbalanced quotes), to match the docstring.
        _run(
            word,
            lambda name: ("", False),
            escape=escape,
            raw_quotes=False,
            raw_escapes=False,
            skip_process_quotes=False,
            skip_unset=False,
        )
        return set()
    seen: set[str] = set()

    def lookup(name: str) -> tuple[str, bool]:
        seen.add(name)
        return "x", True  # set and non-empty: no value-dependent error can interrupt the walk

    _run(
        word,
        lookup,
        escape=escape,
        raw_quotes=False,
        raw_escapes=False,
        skip_process_quotes=False,
        skip_unset=False,
    )
    return seen


def is_static(word: str, *, escape: str = "\\") -> bool:
    """True when ``word`` parses and reads no variable, so ``expand_word(word, {})`` is its
    value under every environment. False for words BuildKit cannot expand."""
    try:
        return not referenced_variables(word, escape=escape)
    except ExpansionError:
        return False
