"""Tests for dockerfix.model.expand against BuildKit's own shell-lexer tables, plus unit tests.

The tables live in ``../shared/corpus/buildkit-parser/shell/`` (set ``DOCKERFIX_CORPUS`` to
point elsewhere). They are read the way BuildKit's ``lex_test.go`` reads them:

* ``envVarTest``: ``PLATFORM|input|expected`` with ``A`` (all), ``U`` (unix), ``W`` (windows);
  lines starting with ``#`` and blank lines are skipped, fields are trimmed, ``error`` means
  the input must be rejected. The environment is fixed: ``PWD=/home``, ``SHELL=bash``,
  ``KOREAN=한국어``, ``NULL=`` (set but empty).
* ``wordsTest``: ``input | word,word,...``; ``ENV k=v`` lines add to the environment for the
  lines after them (the value is kept verbatim, trailing spaces included), ``error`` means the
  input must be rejected. The expected side is left-trimmed only, then split on commas.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockerfix.model.expand import (
    ExpansionError,
    expand_word,
    expand_words,
    is_static,
    referenced_variables,
)

CORPUS = Path(
    os.environ.get("DOCKERFIX_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)
SHELL_TABLES = CORPUS / "buildkit-parser" / "shell"

ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _missing(name: str):
    return pytest.param(
        None, marks=pytest.mark.skip(reason=f"corpus table {SHELL_TABLES / name} is absent"),
        id=f"{name}-absent",
    )


def _env_var_cases():
    path = SHELL_TABLES / "envVarTest"
    if not path.is_file():
        return [_missing("envVarTest")]
    cases = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("#") or not raw.strip():
            continue
        fields = raw.strip().split("|")
        assert len(fields) == 3, f"envVarTest:{number}: {raw!r}"
        platform, source, expected = (field.strip() for field in fields)
        assert platform in ("A", "U", "W"), f"envVarTest:{number}: bad platform {platform!r}"
        cases.append(pytest.param((platform, source, expected), id=f"envVarTest:{number}"))
    return cases


def _words_cases():
    path = SHELL_TABLES / "wordsTest"
    if not path.is_file():
        return [_missing("wordsTest")]
    cases = []
    env: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("#"):
            continue
        if raw.startswith("ENV "):
            key, _, value = raw[3:].lstrip(" ").partition("=")
            env = {**env, key: value}
            continue
        fields = raw.split("|")
        assert len(fields) == 2, f"wordsTest:{number}: {raw!r}"
        source = fields[0].strip()
        expected = fields[1].lstrip(" ").split(",")
        cases.append(pytest.param((dict(env), source, expected), id=f"wordsTest:{number}"))
    return cases


@pytest.mark.parametrize("case", _env_var_cases())
def test_env_var_table(case):
    platform, source, expected = case
    platforms = {"A": (False, True), "U": (False,), "W": (True,)}[platform]
    for windows in platforms:
        if expected == "error":
            with pytest.raises(ExpansionError):
                expand_word(source, ENV_VAR_TEST_ENV, windows=windows)
        else:
            assert expand_word(source, ENV_VAR_TEST_ENV, windows=windows) == expected, windows


@pytest.mark.parametrize("case", _words_cases())
def test_words_table(case):
    env, source, expected = case
    try:
        result = expand_words(source, env)
    except ExpansionError:
        result = ["error"]
    assert result == expected


# --- modifiers -----------------------------------------------------------------------------------

SET = {"FOO": "xxx", "BAR": ""}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "xxx  ccc"),
        ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "xxx bbb ccc"),
        ("${FOO:-}", "xxx"),
        ("${BAZ:-}", ""),
        ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "aaa bbb "),
        ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "aaa  "),
        ("${FOO?aaa}", "xxx"),
        ("${BAR?bbb}", ""),
        ("${FOO:?aaa}", "xxx"),
        ("${FOO:-${BAZ:-${BAR:+no}}}", "xxx"),
        ("${BAZ:-${BAR:-'q u'}}", "q u"),
        ("${BAZ:-\"$FOO\"}", "xxx"),
        ("${+}", ""),  # empty name, unset
    ],
)
def test_modifiers(word, expected):
    assert expand_word(word, SET) == expected


@pytest.mark.parametrize(
    ("word", "reason"),
    [
        ("${BAZ?ccc}", "BAZ: ccc"),
        ("${BAZ?}", "BAZ: is not allowed to be unset"),
        ("${BAR:?bbb}", "BAR: bbb"),
        ("${BAR:?}", "BAR: is not allowed to be empty"),
        ("${BAZ:?}", "BAZ: is not allowed to be unset"),
        ("${FOO=aaa}", "unsupported modifier (=) in substitution"),
        ("${FOO:=aaa}", "unsupported modifier (:=) in substitution"),
        ("${FOO=:aaa}", "unsupported modifier (=) in substitution"),
        ("${FOO", "unsupported modifier (\ufffd) in substitution"),
        ("${FOO:-x", "syntax error: missing '}'"),
        ("${FOO:-\"x}", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${", "syntax error: missing '}'"),
        ("${FOO//ww}", "syntax error: missing '/' in ${}"),
        ("${FOO//}", "syntax error: missing '/' in ${}"),
        ("'abc", "unexpected end of statement while looking for matching single-quote"),
        ('"abc', "unexpected end of statement while looking for matching double-quote"),
        ('"abc\\', "unexpected end of statement while looking for matching double-quote"),
        ("${FOO#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ],
)
def test_rejections(word, reason):
    with pytest.raises(ExpansionError) as info:
        expand_word(word, SET)
    assert info.value.reason == reason
    assert info.value.word == word
    assert str(info.value).startswith("failed to process ")
    assert str(info.value).endswith(": " + reason)


def test_error_message_quotes_the_word_like_go():
    with pytest.raises(ExpansionError) as info:
        expand_word('"a\\tb', {})
    assert str(info.value) == (
        'failed to process "\\"a\\\\tb": '
        "unexpected end of statement while looking for matching double-quote"
    )


def test_mandatory_message_is_expanded():
    env = {"ARG": "x"}
    with pytest.raises(ExpansionError, match="message herex"):
        expand_word("${VAR:?message here$ARG}", {**env, "VAR": ""})
    with pytest.raises(ExpansionError, match="message herex"):
        expand_word("${VAR?message here$ARG}", env)
    assert expand_word("${VAR?message here$ARG}", {**env, "VAR": ""}) == ""
    assert expand_word("${VAR:?message here$ARG}", {**env, "VAR": "plain"}) == "plain"


@pytest.mark.parametrize(
    ("word", "env", "expected"),
    [
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
        ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
        ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
        ("${FOO##*x*y}", {"FOO": "xxyy"}, ""),
        ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO##*}", {"FOO": "xxyy"}, ""),
        ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
        ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy"),
        ("${FOO#}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
        ("${FOO##}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
        ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
        ("${FOO%y*}", {"FOO": "xxyy"}, "xxy"),
        ("${FOO%%y*}", {"FOO": "xxyy"}, "xx"),
        ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
        ("${FOO%}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO%%$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy"),
        ("${FOO%.*}", {"FOO": "archive.tar.gz"}, "archive.tar"),
        ("${FOO%%.*}", {"FOO": "archive.tar.gz"}, "archive"),
        ("${FOO#*/}", {"FOO": "a/b/c"}, "b/c"),
        ("${FOO##*/}", {"FOO": "a/b/c"}, "c"),
        ("${FOO:#a}", {"FOO": "ab"}, "b"),  # BuildKit ignores the colon here
        ("${FOO#a}", {}, ""),
        ("${FOO%\\}}", {"FOO": "a}"}, "a"),
        ("${FOO#\ufeffa}", {"FOO": "ab"}, "b"),  # Go's scanner skips a leading BOM
    ],
)
def test_trim_patterns(word, env, expected):
    assert expand_word(word, env) == expected


@pytest.mark.parametrize(
    ("word", "env", "expected"),
    [
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
            "/foo.*/*.txt - /foo..*.txt",
        ),
        (
            "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
            {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
            "/tmp/bar.txt - /bar.txt",
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
            {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"},
            "/foo/b/c.txt - /foo/c.txt",
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT}",
            {"FOO": "http://google.de", "NEEDLE": "http://", "REPLACEMENT": "https://"},
            "https://google.de",
        ),
        ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
        ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
        ("${FOO//$BAR/-}", {"FOO": "xy", "BAR": ""}, "-x-y-"),
        ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO///}", {}, ""),
        # Go's ReplaceAll skips an empty match right after a match; Python's re.sub does not.
        ("${FOO//*/-}", {"FOO": "ab"}, "-"),
        # ${N//p/r} expands r as a Go template ($0 is the match); ${N/p/r} does not.
        ("${FOO//b/<\\$0>}", {"FOO": "abc"}, "a<\\b>c"),
        ("${FOO/b/<\\$0>}", {"FOO": "abc"}, "a<\\$0>c"),
        ("${FOO//b/\\$1\\$\\$}", {"FOO": "abc"}, "a\\\\$\\$c"),
        ("${FOO//b/$R}", {"FOO": "abc", "R": "[$$|${0}|$00|${x]"}, "a[$|b||${x]c"),
        ("${FOO//?/x}", {"FOO": "a\nb"}, "x\nx"),  # ? does not match a newline (RE2 and re)
    ],
)
def test_replace(word, env, expected):
    assert expand_word(word, env) == expected


# --- quoting, escapes, splitting -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("a`$FOO", "a$FOO"),
        ("a\\$FOO", "a\\xxx"),
        ('"a`"b"', 'a"b'),
        ('"a`tb"', "a`tb"),
        ('"a``b"', "a`b"),
        ("a``b", "a`b"),
        ("ab`", "ab"),
        ("C:\\Windows\\$FOO", "C:\\Windows\\xxx"),
        ("'a`b'", "a`b"),
    ],
)
def test_backtick_escape(word, expected):
    assert expand_word(word, SET, escape="`") == expected


def test_windows_names_are_case_insensitive():
    env = {"Path": "C:\\bin", "path": "exact"}
    assert expand_word("$PATH", env, windows=True) == "C:\\bin"
    assert expand_word("$path", env, windows=True) == "exact"
    assert expand_word("$PATH", env) == ""
    assert expand_word("${straße:-d}", {"STRASSE": "x"}, windows=True) == "d"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("", []),
        ('""', []),
        ('a "" b', ["a", "b"]),
        ("  a\t b  ", ["a", "b"]),
        ("a${SPACE}b", ["a", "x", "yb"]),
        ('a"${SPACE}"b', ["a x  yb"]),
        ("a\\ b", ["a b"]),
        ("$EMPTY", []),
        ("x\u00a0y", ["x", "y"]),  # Go's unicode.IsSpace includes NBSP
        ("x\x1cy", ["x\x1cy"]),  # ...but not the ASCII separators Python's isspace() accepts
    ],
)
def test_expand_words(word, expected):
    assert expand_words(word, {"SPACE": " x  y", "EMPTY": ""}) == expected


def test_expand_word_keeps_spacing_and_drops_leading_bom():
    assert expand_word("  a  $B  ", {"B": " b "}) == "  a   b   "
    assert expand_word("\ufeff$B", {"B": "v"}) == "v"
    assert expand_word("a\ufeff", {}) == "a\ufeff"


def test_skip_unset_and_raw_quotes_keep_unknown_references():
    env = {"A": "a"}
    options = {"skip_unset": True, "raw_quotes": True}
    assert expand_word("$A $B ${C} ${D:-x} ${E//p/r}", env, **options) == "a $B ${C} ${D:-x} ${E/p/r}"
    assert expand_word("'$A' \"$A\"", env, **options) == "'$A' \"a\""
    assert expand_words("$A '$B c'", env, **options) == ["a", "'$B c'"]


def test_raw_escapes_and_skip_process_quotes():
    assert expand_word("a\\ b", {}, raw_escapes=True) == "a\\ b"
    assert expand_word('"a\\tb"', {}, raw_escapes=True) == "a\\\\tb"
    assert expand_word("'$A'", {"A": "v"}, skip_process_quotes=True) == "'v'"


def test_bad_escape_argument():
    with pytest.raises(ValueError):
        expand_word("a", {}, escape="")


# --- analysis ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "names"),
    [
        ("plain", set()),
        ("'$A'", set()),
        ("\\$A", set()),
        ("$A", {"A"}),
        ('"${A}"', {"A"}),
        ("${A:-$B}", {"A", "B"}),
        ("${A:+${B:-${C}}}", {"A", "B", "C"}),
        ("${A#$B}${C%%*}${D/$E/$F}", {"A", "B", "C", "D", "E", "F"}),
        ("${A:?$B}", {"A", "B"}),
        ("$1 $@ ${#}", {"1", "@", "#"}),
        ("$", set()),
        ("$.", set()),
        ("a`$B$C", {"C"}),
    ],
)
def test_referenced_variables(word, names):
    escape = "`" if "`" in word else "\\"
    assert referenced_variables(word, escape=escape) == names
    assert is_static(word, escape=escape) == (not names)


@pytest.mark.parametrize("word", ["${}", "${A", "'a", '"$A', "${A:-x"])
def test_analysis_of_broken_words(word):
    with pytest.raises(ExpansionError):
        referenced_variables(word)
    assert not is_static(word)


def test_static_words_expand_to_themselves_under_any_env():
    word = "'a b' \"c\" d\\ e"
    assert is_static(word)
    assert expand_word(word, {}) == expand_word(word, {"a": "1", "d": "2"}) == "a b c d e"
