"""Hypothesis strategies that write Dockerfile text from the grammar, for fuzzing the parser.

* :func:`dockerfiles` draws complete Dockerfile texts. With ``valid_only=True`` (the default)
  every text is accepted by BuildKit's parser *and* avoids what BuildKit rejects later when
  it turns the AST into instructions (unknown keywords, ``ONBUILD FROM``, empty ``RUN``, ...).
  ``valid_only=False`` mixes those parser-accepted-but-builder-rejected lines in.
* :func:`dockerfile_samples` draws :class:`DockerfileSample` objects: the text plus what the
  generator meant to write (escape character, EOL policy and, per instruction, its keyword,
  1-based start/end line and heredoc count), so a parser can be checked against intent.
* :func:`mutated` draws corruptions of a given text for robustness properties ("never crash,
  never write a file we could not parse"). Those may well be invalid.

What the generator covers: parser directives (``syntax``, ``escape`` with either character,
``check``; spacing and case variants, optional leading whitespace) and every instruction:
FROM (``--platform``, ``AS``), RUN (``--mount``/``--network``/``--security``; shell, JSON and
heredoc forms including ``<<-``, quoted delimiters, fd prefixes and two heredocs on one line),
CMD, ENTRYPOINT, COPY/ADD (``--from --chown --chmod --link --checksum``, JSON and heredoc
forms), ENV (``k=v`` and legacy ``k v``), ARG, LABEL, EXPOSE, USER, WORKDIR, VOLUME, SHELL,
HEALTHCHECK (``NONE`` and ``CMD`` with options), STOPSIGNAL, ONBUILD, MAINTAINER. Keywords come
in upper, lower and mixed case; instructions are continued with the active escape character,
with comment lines and (whitespace-only) blank lines inside continuations, tabs/spaces
indentation, whitespace after the escape character, trailing whitespace, non-ASCII text (also
characters that ``str.splitlines`` treats as line breaks but BuildKit does not), LF/CRLF/mixed
line endings, a missing final newline, a dangling continuation at end of file, and a BOM.

Facts about BuildKit's parser this relies on (checked with ``dockerfile`` 3.4.0): a leading
UTF-8 BOM is accepted as is (no need to strip it); directives are only read in the first lines,
before any blank line or other comment (and, in that version, before any directive it does not
know, which includes ``check``, so ``check`` is always written last); a continuation line whose first non-blank character is
``#`` is a comment; lines are joined without adding a space; a heredoc delimiter line must match
exactly (``<<-`` strips leading tabs, a trailing CR is ignored); a NUL byte ends the text the
Python binding hands to Go, so the generator never writes one.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache

from hypothesis import strategies as st

__all__ = [
    "DockerfileSample",
    "ExpectedInstruction",
    "dockerfile_samples",
    "dockerfiles",
    "directives",
    "mutated",
]

# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedInstruction:
    keyword: str  # upper case; BuildKit keeps the source casing in Command.cmd
    start_line: int  # 1-based, as BuildKit counts (the BOM does not count)
    end_line: int  # last physical line, heredoc delimiters and trailing continuation fillers included
    heredocs: int
    sub_keyword: str | None = None  # the trigger of ONBUILD, upper case


@dataclass(frozen=True)
class DockerfileSample:
    text: str
    escape: str
    newline: str  # "lf", "crlf" or "mixed"
    final_newline: bool
    bom: bool
    instructions: tuple[ExpectedInstruction, ...]


# Strategy factories are memoized: building and validating a fresh strategy tree on every draw
# costs far more than drawing from it.
_cached = lru_cache(maxsize=None)


@_cached
def _sampled(values: tuple) -> st.SearchStrategy:
    return st.sampled_from(values)


def _pick(values) -> st.SearchStrategy:
    """``st.sampled_from`` memoized by value, so composites can call it on every draw."""
    return _sampled(tuple(values))

# --- small vocabularies --------------------------------------------------------------------------

_NON_ASCII_WORDS = ["héllo", "wörld", "日本語", "Привет", "안녕하세요", "straße", "😀", "naïve", "Ωmega"]
# Characters str.splitlines() (and some editors) treat as line breaks or spaces, but BuildKit's
# line splitter does not. Only ever placed between other characters of free text.
_TRICKY_CHARS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\u00a0", "\u200b", "\ufeff"]
_VAR_NAMES = ["VERSION", "HOME", "APP_DIR", "TARGETARCH", "BUILDPLATFORM", "foo", "_x1", "PORT"]
_HEREDOC_NAMES = ["EOF", "EOT", "END", "SCRIPT", "eof", "PY_1"]


@_cached
def _casing(keyword: str) -> st.SearchStrategy[str]:
    mixed = st.lists(st.booleans(), min_size=len(keyword), max_size=len(keyword)).map(
        lambda flips: "".join(c.swapcase() if f else c for c, f in zip(keyword, flips))
    )
    return st.one_of(st.just(keyword), st.just(keyword), st.just(keyword.lower()), mixed)




@_cached
def _var_ref() -> st.SearchStrategy[str]:
    name = _pick(_VAR_NAMES)
    default = _pick(["x", "1.0", "/opt", "a-b", ""])
    return st.one_of(
        name.map(lambda n: "$" + n),
        name.map(lambda n: "${" + n + "}"),
        st.tuples(name, _pick([":-", "-", ":+", "+"]), default).map(
            lambda t: "${" + t[0] + t[1] + t[2] + "}"
        ),
        st.tuples(name, _pick(["#", "##", "%", "%%"]), _pick(["*.", "v", "*/"])).map(
            lambda t: "${" + t[0] + t[1] + t[2] + "}"
        ),
    )


_PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@%+,"
_plain_word = st.one_of(
    st.text(alphabet=_PLAIN, min_size=1, max_size=10).filter(lambda w: not w.startswith("-")),
    _pick(_NON_ASCII_WORDS),
)


@_cached
def _simple_word() -> st.SearchStrategy[str]:
    """A word with no quotes, no whitespace and no escape characters: safe in every
    instruction, including those BuildKit splits on whitespace without honouring quotes."""
    return st.lists(st.one_of(_plain_word, _plain_word, _var_ref()), min_size=1, max_size=3).map("".join)


@_cached
def _free_text(allow_tricky: bool, exclude: str = "") -> st.SearchStrategy[str]:
    """Free text for comments, heredoc bodies and shell strings (no line breaks, no NUL).

    Built from ``st.text`` over character classes, which Hypothesis draws as one choice rather
    than one draw per character.
    """
    banned = "=<" + exclude
    anything = st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=banned), max_size=12
    )
    common = st.text("".join(c for c in " abcxyz019$-" if c not in banned), max_size=12)
    parts = [anything, common]
    if allow_tricky:
        parts.append(st.text("".join(_TRICKY_CHARS) + " ab", min_size=1, max_size=3))
    text = st.lists(st.one_of(*parts), max_size=3).map("".join)
    words = st.lists(_pick(_NON_ASCII_WORDS + ["build", "the", "image", "TODO:", "a-b"]), max_size=5).map(" ".join)
    return st.one_of(words, text)


@_cached
def _shell_string(escape: str) -> st.SearchStrategy[str]:
    """A quoted or escaped shell word with a balanced shape (valid for BuildKit's lexer)."""
    inner = _free_text(allow_tricky=False, exclude="\"'`\\$#")
    return st.one_of(
        inner.map(lambda s: f'"{s}"'),
        inner.map(lambda s: f"'{s}'"),
        st.tuples(inner, _pick(_VAR_NAMES)).map(lambda t: f'"{t[0]} ${{{t[1]}}}"'),
        st.tuples(_plain_word, _plain_word).map(lambda t: f"{t[0]}{escape} {t[1]}"),
        st.tuples(_plain_word, _plain_word).map(lambda t: f'"{t[0]}{escape}"{t[1]}"'),
    )


@_cached
def _json_array(escape: str, min_size: int = 1) -> st.SearchStrategy[list[str]]:
    del escape  # JSON strings may hold either escape character; BuildKit decodes JSON first
    item = st.one_of(
        _plain_word,
        _free_text(allow_tricky=False),
        _pick(["/bin/sh", "-c", "echo \"hi\"", "C:\\\\x", "a\tb", "$HOME", "é"]),
    )
    return st.lists(item, min_size=min_size, max_size=4)


# --- instruction layout --------------------------------------------------------------------------


@dataclass
class _Instr:
    keyword: str  # upper case
    head: str  # upper-case keyword(s) separated by one space ("ONBUILD RUN"); cased at layout
    tokens: list[str]  # argument tokens, joined with whitespace
    breakable: list[bool]  # may a line break go before token i?
    heredoc_lines: list[str]  # physical lines after the instruction line(s)
    heredocs: int = 0
    sub_keyword: str | None = None


def _tokens(tokens: list[str], breakable: bool = True) -> tuple[list[str], list[bool]]:
    return tokens, [breakable] * len(tokens)


@_cached
@st.composite
def _comment_line(draw) -> str:
    indent = draw(_pick(["", "", "", " ", "\t", "    "]))
    return indent + "#" + draw(_pick(["", " ", "  "])) + draw(_free_text(True))


_BLANKS = ["", "", " ", "\t", "  \t"]
_HSPACE = [" "] * 6 + ["  ", "\t", " \t", "    "]
_INDENT = [""] * 8 + [" ", "  ", "    ", "\t", "\t\t", " \t"]
_TRAILING = [""] * 10 + [" ", "  ", "\t", " \t "]


def _fillers(rng: random.Random, pool: list[str], most: int = 2) -> list[str]:
    """Comment and blank lines, as found between instructions and inside continuations."""
    count = rng.choice([0, 0, 0, 0, 1, 1, most])
    return [rng.choice(pool) if pool and rng.random() < 0.6 else rng.choice(_BLANKS) for _ in range(count)]


def _case(rng: random.Random, word: str) -> str:
    roll = rng.random()
    if roll < 0.6:
        return word
    if roll < 0.8:
        return word.lower()
    if roll < 0.9:
        return word.capitalize()
    return "".join(c.swapcase() if rng.random() < 0.5 else c for c in word)


def _layout(rng: random.Random, instr: _Instr, escape: str, dangling: bool, pool: list[str]) -> list[str]:
    """Physical lines for one instruction, heredoc bodies included.

    Cosmetics (keyword case, indentation, spacing, line breaks) come from ``rng``, seeded by
    Hypothesis: one draw instead of hundreds keeps generation fast. A break may replace the
    whitespace before any breakable token: the line ends with the escape character (plus
    optional whitespace), comment/blank lines may follow, and the next line starts with
    indentation. Whitespace on one side keeps the tokens apart, since BuildKit joins lines
    without adding a space.
    """
    lines: list[str] = []
    head = "".join(
        (rng.choice(_HSPACE) if i else "") + _case(rng, word) for i, word in enumerate(instr.head.split(" "))
    )
    current = rng.choice(_INDENT) + head
    for token, can_break in zip(instr.tokens, instr.breakable):
        if can_break and rng.random() < 0.15:
            before = rng.choice(["", " ", " ", "\t"])
            after = rng.choice(_INDENT)
            if not before and not after:
                before = " "
            lines.append(current + before + escape + rng.choice(_TRAILING))
            lines.extend(_fillers(rng, pool))
            current = after + token
        else:
            current += rng.choice(_HSPACE) + token
    if dangling:
        lines.append(current + " " + escape + rng.choice(_TRAILING))
    else:
        lines.append(current + rng.choice(_TRAILING))
    lines.extend(instr.heredoc_lines)
    return lines


# --- instructions --------------------------------------------------------------------------------


def _flag(name: str, values: list[str]) -> st.SearchStrategy[str]:
    return _flag_values(name, tuple(values))


@_cached
def _flag_values(name: str, values: tuple[str, ...]) -> st.SearchStrategy[str]:
    return _pick(values).map(lambda v: f"--{name}={v}")


@_cached
@st.composite
def _from(draw, escape: str) -> _Instr:
    image = draw(
        _pick(
                [
                    "alpine",
                    "alpine:3.19",
                    "debian:bookworm-slim",
                    "docker.io/library/python:3.12",
                    "ghcr.io/owner/image:tag@sha256:" + "a" * 64,
                    "scratch",
                    "mcr.microsoft.com/windows/servercore:ltsc2022",
                    "$BASE",
                    "${BASE:-alpine}",
                    "localhost:5000/x/y:1",
                ]
        )
    )
    tokens = []
    if draw(st.booleans()):
        tokens.append(draw(_flag("platform", ["linux/amd64", "$BUILDPLATFORM", "${TARGETPLATFORM}"])))
    tokens.append(image)
    if draw(st.booleans()):
        tokens += [draw(_casing("AS")), draw(_pick(["build", "base", "stage-1", "Final_2"]))]
    return _Instr("FROM", "FROM", *_tokens(tokens), [])


@_cached
def _shell_args(escape: str) -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.one_of(
            _simple_word(),
            _shell_string(escape),
            _pick(["-la", "--no-cache", "install", "-y", ">", "2>&1", "/dev/null"]),
            _free_text(True, exclude="\"'`\\#[").map(lambda s: "x" + s + "x"),
        ),
        max_size=4,
    )


@_cached
@st.composite
def _shell_command(draw, escape: str) -> list[str]:
    """Shell-form tokens for RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    program = draw(
        _pick(["echo", "apt-get", "apk", "pip", "make", "ls", "cmd", "powershell", "sh"])
    )
    args = draw(_shell_args(escape))
    tokens = [program, *args]
    if draw(st.integers(0, 3)) == 0:
        tokens += [draw(_pick(["&&", "||", ";", "|"])), *draw(_shell_command(escape))]
    return tokens


@_cached
def _heredoc_body_line(escape: str) -> st.SearchStrategy[str]:
    """A heredoc body line: anything but a delimiter (with or without leading tabs)."""
    return st.one_of(
        _free_text(True),
        _pick(["set -eux", "echo $HOME ${VAR:-x}", "# a comment line", "", "  indented",
                         "ends with " + escape, "EOF2", "'unbalanced", "\tname"]),
    ).filter(lambda line: line.lstrip("\t") not in _HEREDOC_NAMES)


@_cached
def _heredoc_body(escape: str) -> st.SearchStrategy[list[str]]:
    return st.lists(_heredoc_body_line(escape), max_size=4)


def _heredoc_part(draw, escape: str, names: list[str]) -> tuple[str, list[str]]:
    """One heredoc marker and the body lines (with the delimiter line) that follow it."""
    name = draw(_pick([n for n in _HEREDOC_NAMES if n not in names]))
    names.append(name)
    dash = draw(_pick(["", "", "-"]))
    quote = draw(_pick(["", "", '"', "'"]))
    fd = draw(_pick(["", "", "", "3"]))
    marker = f"{fd}<<{dash}{quote}{name}{quote}"
    body = draw(_heredoc_body(escape))
    if dash:
        body = [draw(_pick(["", "\t", "\t\t"])) + line for line in body]
        delimiter = draw(_pick(["", "\t", "\t\t"])) + name
    else:
        delimiter = name
    return marker, [*body, delimiter]


@_cached
def _run_flags() -> st.SearchStrategy[list[str]]:
    return (
        st.lists(
            st.one_of(
                _flag(
                    "mount",
                    [
                        "type=cache,target=/root/.cache",
                        "type=bind,source=.,target=/src",
                        "type=secret,id=token,required=true",
                        "type=cache,id=apt,target=/var/cache/apt,sharing=locked",
                        "type=tmpfs,target=/tmp",
                        "type=ssh",
                    ],
                ),
                _flag("network", ["none", "host", "default"]),
                _flag("security", ["insecure", "sandbox"]),
            ),
            max_size=3,
        )
    )


@_cached
@st.composite
def _run(draw, escape: str, allow_heredoc: bool = True) -> _Instr:
    flags = draw(_run_flags())
    form = draw(_pick(["shell", "shell", "json", "heredoc"] if allow_heredoc else ["shell", "json"]))
    head = "RUN"
    if form == "json":
        return _json_instr("RUN", head, flags, draw(_json_array(escape)), draw)
    if form == "shell":
        return _Instr("RUN", head, *_tokens(flags + draw(_shell_command(escape))), [])
    names: list[str] = []
    parts = [_heredoc_part(draw, escape, names) for _ in range(draw(st.integers(1, 2)))]
    shape = draw(_pick(["bare", "command", "interleaved"]))
    markers = [marker for marker, _ in parts]
    if shape == "bare" and len(parts) == 1:
        tokens = markers
    elif shape == "command":
        tokens = [draw(_pick(["cat", "python3", "sh", "bash -e"])), *markers]
        if draw(st.booleans()):
            tokens += [">", draw(_pick(["/out.txt", "/etc/app.conf"]))]
    else:
        tokens = [markers[0], "cat", *markers[1:]] if len(markers) > 1 else [markers[0], "sh"]
    body = [line for _, lines in parts for line in lines]
    return _Instr("RUN", head, *_tokens(flags + tokens), body, heredocs=len(parts))


def _json_instr(keyword: str, head: str, prefix: list[str], items: list[str], draw) -> _Instr:
    """A JSON-array instruction; breaks only go between elements (after a comma)."""
    style = draw(_pick(["compact", "spaced", "padded"]))
    encoded = [json.dumps(item, ensure_ascii=draw(st.booleans())) for item in items]
    if not encoded:
        return _Instr(keyword, head, *_tokens([*prefix, "[]"]), [])
    tokens = list(prefix)
    breakable = [True] * len(prefix)
    open_ = "[ " if style == "padded" else "["
    close = " ]" if style == "padded" else "]"
    for i, item in enumerate(encoded):
        text = item
        if i == 0:
            text = open_ + text
        text += close if i == len(encoded) - 1 else ","
        tokens.append(text)
        breakable.append(True)
    if style == "compact":
        # "["a","b"]" as one token: no whitespace between elements.
        return _Instr(keyword, head, [*prefix, "".join(tokens[len(prefix):])], [True] * (len(prefix) + 1), [])
    return _Instr(keyword, head, tokens, breakable, [])


@_cached
@st.composite
def _cmd_like(draw, keyword: str, escape: str) -> _Instr:
    head = keyword
    if draw(st.booleans()):
        return _json_instr(keyword, head, [], draw(_json_array(escape)), draw)
    return _Instr(keyword, head, *_tokens(draw(_shell_command(escape))), [])


@_cached
def _copy_flags(keyword: str) -> st.SearchStrategy[list[str]]:
    choices = [
        _flag("from", ["build", "0", "alpine:3.19", "${STAGE}"]),
        _flag("chown", ["1000:1000", "app:app", "$UID", "root"]),
        _flag("chmod", ["755", "0644", "u+x"]),
        _pick(["--link", "--link=true", "--link=false"]),
    ]
    if keyword == "ADD":
        choices.append(_flag("checksum", ["sha256:" + "0123456789abcdef" * 4]))
    return st.lists(st.one_of(*choices), max_size=3, unique_by=lambda f: f.split("=")[0])


@_cached
def _json_sources() -> st.SearchStrategy[list[str]]:
    return st.lists(_pick(["src", "a b.txt", "日本.txt", "*.py", "dir/"]), min_size=1, max_size=3)


@_cached
def _copy_sources() -> st.SearchStrategy[list[str]]:
    extra = _pick(["package*.json", "./src", "requirements.txt", "https://example.com/a.tgz"])
    return st.lists(st.one_of(_simple_word(), extra), min_size=1, max_size=3)


@_cached
@st.composite
def _copy(draw, keyword: str, escape: str, allow_heredoc: bool = True) -> _Instr:
    flags = draw(_copy_flags(keyword))
    head = keyword
    dest = draw(_pick(["/app/", "/usr/local/bin/", ".", "$APP_DIR/", "C:/app/", "/dst"]))
    form = draw(_pick(["shell", "shell", "json", "heredoc"] if allow_heredoc else ["shell", "json"]))
    if form == "json":
        sources = draw(_json_sources())
        return _json_instr(keyword, head, flags, [*sources, dest], draw)
    if form == "heredoc":
        names: list[str] = []
        parts = [_heredoc_part(draw, escape, names) for _ in range(draw(st.integers(1, 2)))]
        tokens = [marker for marker, _ in parts] + [dest]
        body = [line for _, lines in parts for line in lines]
        return _Instr(keyword, head, *_tokens(flags + tokens), body, heredocs=len(parts))
    sources = draw(_copy_sources())
    return _Instr(keyword, head, *_tokens(flags + sources + [dest]), [])


@_cached
@st.composite
def _env_value(draw, escape: str) -> str:
    return draw(
        st.one_of(
            _simple_word(),
            _shell_string(escape),
            st.just(""),
            st.just('""'),
            st.just("C:\\Windows;C:\\bin" if escape == "`" else "/usr/local/bin:$PATH"),
        )
    )


@_cached
def _env_name() -> st.SearchStrategy[str]:
    return _pick(_VAR_NAMES + ["PATH", "LANG", "DEBIAN_FRONTEND"])


@_cached
def _legacy_env_words() -> st.SearchStrategy[list[str]]:
    return st.lists(_simple_word(), min_size=1, max_size=3)


@_cached
def _pairs(key: st.SearchStrategy[str], escape: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(key, _env_value(escape)), min_size=1, max_size=3)


@_cached
def _arg_items(escape: str) -> st.SearchStrategy[list[tuple[str, str | None]]]:
    return st.lists(
        st.tuples(_pick(_VAR_NAMES + ["BASE", "STAGE", "UID"]), st.one_of(st.none(), _env_value(escape))),
        min_size=1,
        max_size=2,
    )


@_cached
@st.composite
def _env(draw, escape: str) -> _Instr:
    head = "ENV"
    if draw(st.integers(0, 3)) == 0:
        # legacy form: ENV name value with spaces (the value must not be empty)
        words = draw(_legacy_env_words())
        return _Instr("ENV", head, *_tokens([draw(_env_name()), *words]), [])
    pairs = draw(_pairs(_env_name(), escape))
    return _Instr("ENV", head, *_tokens([f"{k}={v}" for k, v in pairs]), [])


@_cached
@st.composite
def _arg(draw, escape: str) -> _Instr:
    head = "ARG"
    items = draw(_arg_items(escape))
    return _Instr("ARG", head, *_tokens([k if v is None else f"{k}={v}" for k, v in items]), [])


@_cached
@st.composite
def _label(draw, escape: str) -> _Instr:
    head = "LABEL"
    key = _pick(
        ["maintainer", "org.opencontainers.image.title", "com.example.version", '"my key"', "vendor"]
    )
    pairs = draw(_pairs(key, escape))
    return _Instr("LABEL", head, *_tokens([f"{k}={v}" for k, v in pairs]), [])


@_cached
@st.composite
def _simple(draw, keyword: str, values: st.SearchStrategy[list[str]]) -> _Instr:
    return _Instr(keyword, keyword, *_tokens(draw(values)), [])


@_cached
def _expose() -> st.SearchStrategy[_Instr]:
    port = _pick(["80", "443/tcp", "53/udp", "8000-8010", "$PORT", "${PORT:-8080}"])
    return _simple("EXPOSE", st.lists(port, min_size=1, max_size=3))


@_cached
def _user() -> st.SearchStrategy[_Instr]:
    return _simple("USER", _pick(["app", "1000", "1000:1000", "$UID:$GID", "ContainerUser"]).map(lambda u: [u]))


@_cached
def _workdir() -> st.SearchStrategy[_Instr]:
    path = st.one_of(_pick(["/app", "/usr/src/app", "src", "C:/work", "$APP_DIR", "/ü/日本"]), _simple_word())
    return _simple("WORKDIR", path.map(lambda p: [p]))


@_cached
def _volume_paths() -> st.SearchStrategy[list[str]]:
    return st.lists(_pick(["/data", "/var/lib/x", "$HOME/cache", "/日本"]), min_size=1, max_size=3)


@_cached
@st.composite
def _volume(draw, escape: str) -> _Instr:
    head = "VOLUME"
    paths = draw(_volume_paths())
    if draw(st.booleans()):
        return _json_instr("VOLUME", head, [], paths, draw)
    return _Instr("VOLUME", head, *_tokens(paths), [])


@_cached
@st.composite
def _shell(draw, escape: str) -> _Instr:
    head = "SHELL"
    items = list(
        draw(
            _pick(
                [
                    ("/bin/bash", "-o", "pipefail", "-c"),
                    ("/bin/sh", "-c"),
                    ("powershell", "-Command", "$ErrorActionPreference = 'Stop';"),
                    ("cmd", "/S", "/C"),
                ]
            )
        )
    )
    return _json_instr("SHELL", head, [], items, draw)


@_cached
def _healthcheck_options() -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.one_of(
                _flag("interval", ["30s", "1m30s", "5s"]),
                _flag("timeout", ["3s", "10s"]),
                _flag("start-period", ["5s", "0s"]),
                _flag("start-interval", ["1s"]),
                _flag("retries", ["3", "0"]),
            ),
        max_size=4,
        unique_by=lambda f: f.split("=")[0],
    )


@_cached
@st.composite
def _healthcheck(draw, escape: str) -> _Instr:
    head = "HEALTHCHECK"
    if draw(st.integers(0, 3)) == 0:
        return _Instr("HEALTHCHECK", head, *_tokens([draw(_casing("NONE"))]), [])
    options = draw(_healthcheck_options())
    cmd = draw(_casing("CMD"))
    if draw(st.booleans()):
        inner = _json_instr("HEALTHCHECK", head, [*options, cmd], draw(_json_array(escape)), draw)
        return inner
    return _Instr("HEALTHCHECK", head, *_tokens([*options, cmd, *draw(_shell_command(escape))]), [])


@_cached
def _stopsignal() -> st.SearchStrategy[_Instr]:
    return _simple("STOPSIGNAL", _pick(["SIGTERM", "SIGKILL", "9", "$SIG", "SIGRTMIN+3"]).map(lambda s: [s]))


@_cached
def _maintainer() -> st.SearchStrategy[_Instr]:
    who = st.one_of(
        _pick(["Jane Doe <jane@example.com>", "ops@example.com", "Jöhn 日本"]),
        _free_text(True, exclude="\"'`\\#[").filter(lambda s: s.strip() == s and s),
    )
    return _simple("MAINTAINER", who.map(lambda w: [w]))


_ONBUILD_TRIGGERS = ["RUN", "COPY", "ADD", "ENV", "LABEL", "WORKDIR", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "VOLUME"]


@_cached
@st.composite
def _onbuild(draw, escape: str) -> _Instr:
    trigger = draw(_pick(_ONBUILD_TRIGGERS))
    inner: _Instr = draw(_stage_instruction(escape, trigger, allow_heredoc=False))
    head = "ONBUILD " + inner.head
    return _Instr("ONBUILD", head, inner.tokens, inner.breakable, [], sub_keyword=inner.keyword)


@_cached
def _stage_instruction(escape: str, keyword: str | None = None, allow_heredoc: bool = True):
    table = {
        "RUN": lambda: _run(escape, allow_heredoc),
        "CMD": lambda: _cmd_like("CMD", escape),
        "ENTRYPOINT": lambda: _cmd_like("ENTRYPOINT", escape),
        "COPY": lambda: _copy("COPY", escape, allow_heredoc),
        "ADD": lambda: _copy("ADD", escape, allow_heredoc),
        "ENV": lambda: _env(escape),
        "ARG": lambda: _arg(escape),
        "LABEL": lambda: _label(escape),
        "EXPOSE": _expose,
        "USER": _user,
        "WORKDIR": _workdir,
        "VOLUME": lambda: _volume(escape),
        "SHELL": lambda: _shell(escape),
        "HEALTHCHECK": lambda: _healthcheck(escape),
        "STOPSIGNAL": _stopsignal,
        "ONBUILD": lambda: _onbuild(escape),
        "MAINTAINER": _maintainer,
    }
    if keyword is not None:
        return table[keyword]()
    weighted = ["RUN"] * 4 + ["COPY"] * 2 + ["ENV"] * 2 + list(table)
    return _pick(weighted).flatmap(lambda k: table[k]())


@_cached
@st.composite
def _builder_rejected(draw, escape: str) -> _Instr:
    """Lines BuildKit's parser accepts but its instruction stage rejects."""
    kind = draw(_pick(["unknown", "onbuild-from", "onbuild-onbuild", "empty", "env-empty-name"]))
    if kind == "unknown":
        return _Instr("BOGUS", "BOGUS", *_tokens([draw(_simple_word())]), [])
    if kind == "onbuild-from":
        return _Instr("ONBUILD", "ONBUILD FROM", ["alpine"], [True], [], sub_keyword="FROM")
    if kind == "onbuild-onbuild":
        return _Instr("ONBUILD", "ONBUILD ONBUILD", ["RUN", "x"], [True, True], [], sub_keyword="ONBUILD")
    if kind == "empty":
        keyword = draw(_pick(["RUN", "CMD", "COPY", "WORKDIR", "USER", "EXPOSE", "FROM"]))
        return _Instr(keyword, keyword, [], [], [])
    return _Instr("ENV", "ENV", ["=value"], [True], [])


# --- directives ----------------------------------------------------------------------------------


@_cached
@st.composite
def directives(draw) -> tuple[list[str], str]:
    """Parser directive lines (possibly none) and the escape character they select."""
    escape = "\\"
    lines = []
    # The dockerfile 3.4.0 parser does not know ``check`` yet and stops looking for ``escape``
    # after an unknown directive, so ``check`` always comes last.
    for key in [*draw(st.permutations(["syntax", "escape"])), "check"]:
        if not draw(st.booleans()):
            continue
        if key == "syntax":
            value = draw(_pick(["docker/dockerfile:1", "docker/dockerfile:1.7-labs",
                                          "docker.io/docker/dockerfile:1@sha256:" + "b" * 64]))
        elif key == "escape":
            value = escape = draw(_pick(["\\", "`", "`"]))
        else:
            value = draw(_pick(["skip=all", "error=true", "skip=JSONArgsRecommended,StageNameCasing;error=true"]))
        spelled = draw(_pick([key, key, key.upper(), key.capitalize()]))
        lead = draw(_pick(["", "", "", " ", "\t"]))
        hash_gap = draw(_pick([" ", " ", "", "  "]))
        eq = draw(_pick(["=", "=", " = ", "= "]))
        trailing = draw(_pick(["", "", " ", "\t"]))
        lines.append(f"{lead}#{hash_gap}{spelled}{eq}{value}{trailing}")
    return lines, escape


# --- whole files ---------------------------------------------------------------------------------


@st.composite
def dockerfile_samples(draw, valid_only: bool = True, max_instructions: int = 12) -> DockerfileSample:
    directive_lines, escape = draw(directives())
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    pool = draw(st.lists(_comment_line(), max_size=3))
    lines: list[str] = list(directive_lines)
    expected: list[ExpectedInstruction] = []

    # Global ARGs, then stages; each stage opens with FROM.
    plan: list[_Instr] = [draw(_arg(escape)) for _ in range(draw(st.integers(0, 2)))]
    budget = max_instructions
    for _ in range(draw(st.integers(1, 3))):
        plan.append(draw(_from(escape)))
        count = draw(st.integers(0, max(0, budget // 2)))
        budget -= count
        for _ in range(count):
            if not valid_only and draw(st.integers(0, 9)) == 0:
                plan.append(draw(_builder_rejected(escape)))
            else:
                plan.append(draw(_stage_instruction(escape)))

    dangling = draw(st.integers(0, 9)) == 0 and not plan[-1].heredoc_lines
    for i, instr in enumerate(plan):
        lines.extend(_fillers(rng, pool))  # these end the directive block, if any
        body = _layout(rng, instr, escape, dangling and i == len(plan) - 1, pool)
        start = len(lines) + 1
        lines.extend(body)
        expected.append(ExpectedInstruction(instr.keyword, start, len(lines), instr.heredocs, instr.sub_keyword))
    if not dangling:
        lines.extend(_fillers(rng, pool))

    newline = draw(_pick(["lf", "lf", "crlf", "mixed"]))
    final_newline = draw(st.integers(0, 3)) != 0
    bom = draw(st.integers(0, 5)) == 0
    if newline == "mixed":
        eols = [draw(_pick(["\n", "\r\n"])) for _ in lines]
    else:
        eols = ["\n" if newline == "lf" else "\r\n"] * len(lines)
    if not final_newline:
        eols[-1] = ""
    text = ("\ufeff" if bom else "") + "".join(line + eol for line, eol in zip(lines, eols))
    return DockerfileSample(text, escape, newline, final_newline, bom, tuple(expected))


def dockerfiles(valid_only: bool = True, max_instructions: int = 12) -> st.SearchStrategy[str]:
    """Dockerfile texts; see the module docstring for what ``valid_only`` guarantees."""
    return dockerfile_samples(valid_only=valid_only, max_instructions=max_instructions).map(
        lambda sample: sample.text
    )


# --- mutations -----------------------------------------------------------------------------------

_INSERTIONS = ["\\", "`", "'", '"', "<<", "<<EOF", "\x00", "\r", "\n", "\ufeff", "[", "]", "${", "}", "#", "\t"]


@st.composite
def _mutate_once(draw, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    op = draw(_pick(["delete", "duplicate", "swap", "insert", "insert", "truncate"]))
    if op == "delete" and len(lines) > 1:
        i = draw(st.integers(0, len(lines) - 1))
        return "".join(lines[:i] + lines[i + 1 :])
    if op == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        return "".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :])
    if op == "swap" and len(lines) > 1:
        i = draw(st.integers(0, len(lines) - 2))
        j = draw(st.integers(i + 1, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return "".join(lines)
    if op == "truncate" and text:
        return text[: draw(st.integers(0, len(text) - 1))]
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(_pick(_INSERTIONS)) + text[at:]


@st.composite
def mutated(draw, text: str, max_mutations: int = 3) -> str:
    """``text`` after 1..max_mutations random edits: delete, duplicate or swap lines (EOLs
    kept), truncate, or insert a backslash, backtick, quote, ``<<``, NUL, CR, LF, BOM, bracket,
    ``${``, ``#`` or tab. The result may be invalid; it is never equal to ``text`` unless
    every edit happened to be a no-op (deleting from a one-line text)."""
    for _ in range(draw(st.integers(1, max_mutations))):
        text = draw(_mutate_once(text))
    return text
