"""The plain-script reader (``_plain_sequence``) gives exactly what tree-sitter plus the lowering give, or nothing.

``parse_shell`` tries the reader first; a script it does not take goes to tree-sitter. So the one property that
matters: whenever the reader returns a ``Sequence``, tree-sitter parses the script without error and the lowering
builds an equal ``Sequence`` (every node, span, word value and flag). Checked over every RUN script and heredoc
of the corpus and the fixtures, over generated scripts, and over the tree-sitter-bash quirks the reader must leave
to tree-sitter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerfix.model import shell
from dockerfix.model.shell import _parse_tree_sitter, _plain_sequence, parse_shell
from dockerfix.syntax import parse
from tests.corpus import corpus_files, read_text
from tests.fixture_format import all_fixtures


def _agrees(src: str) -> bool:
    """True when the reader takes ``src``; fails the test when its result differs from tree-sitter's."""
    mine = _plain_sequence(src)
    if mine is None:
        return False
    theirs = _parse_tree_sitter(src)
    assert theirs.ok, f"plain reader accepted a script tree-sitter rejects ({theirs.error}): {src!r}"
    assert mine == theirs.body, f"plain reader and tree-sitter differ on {src!r}:\n{mine}\n{theirs.body}"
    assert parse_shell(src) == theirs
    return True


def _scripts(texts: list[str]) -> list[str]:
    out: dict[str, None] = {}
    for text in texts:
        try:
            doc = parse(text)
        except Exception:
            continue
        for inst in doc.instructions:
            for i in (inst, inst.sub) if inst.sub is not None else (inst,):
                if i.keyword == "RUN" and not i.json:
                    out[i.rest] = None
                    for h in i.heredocs:
                        out[h.content] = None
    return list(out)


def test_fixture_scripts_agree() -> None:
    fx = all_fixtures()
    scripts = _scripts([f.input for f in fx] + [f.output for f in fx if f.output])
    taken = sum(_agrees(s) for s in scripts)
    assert taken > len(scripts) // 3, (taken, len(scripts))


def test_corpus_scripts_agree() -> None:
    files = corpus_files()
    if not files:
        pytest.skip("corpus not found (clone the project with ../shared beside it)")
    scripts = _scripts([read_text(p) for p in files])
    taken = sum(_agrees(s) for s in scripts)
    # about three quarters of the corpus's distinct scripts are plain: the reader must keep taking them
    assert taken >= 0.6 * len(scripts), (taken, len(scripts))


@pytest.mark.parametrize("src", [
    "apt-get update && apt-get install -y --no-install-recommends curl ca-certificates",
    'pip install "$PKG" ${EXTRA:-} && rm -rf /root/.cache | tee log; echo done',
    "A=1 B+=2 C='x y' make -j$(nproc)".replace("$(nproc)", "4"),
    "a |\n b\n\n\nc;",
    "a &&\n\n b ||\n c",
    "a; b ;c;",
    "  \n a\n",
    "echo ~/x *.txt a?b \"$@\" $1 $$ ${#V} ${V%%.*} ${V/a/b} '$(not a sub)'",
    "g++ -o x x.cc && ./x && /usr/bin/env true",
    "echo caf\u00e9 \u65e5\u672c \U0001f600 && echo \u00e9",
    "echo \"multi\nline\" 'also\nthis'",
    "echo a\udcffb \"\udcff\" '\udcff' && x",  # a lone surrogate (undecodable bytes read with surrogateescape)
    "echo a\x00b \x7f",
    "a > /dev/null", "a 2>&1", "a < in", "a >> log 2>&1", "echo >&2 msg x", "echo a > f b",
    'a >f | b > "$G" && c 2>/dev/null; d <in >out', "a|b\nc > f", "a|b|x; c > f", "a|b|x &&\nc > f",
    "c > f\na|b|x\nd", "a|b|x > g", "a ${V:0:7} ${V: -3} ${V^^} ${V,,} ${#V} ${#} ${@} ${10} ${V:=d}",
    "a:b x", "a x:y", "x=y a/b", "a|b|c\nd | e", "a|b|c\nd; e", "a|b|c;\nd && e", "a|b|c &&\nd && e",
])
def test_plain_scripts_are_taken_and_agree(src: str) -> None:
    assert _agrees(src), src


@pytest.mark.parametrize("src", [
    "# a comment", "a # comment", "a>f", "a 12>f", "a 0< f", "a 0>> f", "a 0<&3", "a - 2>&1", "a - > f",
    "a|b|x\nc > f", "a | b | x\n\nc\nd 2>&1 | e", "x;a|b|c|d\ne < f", "a|b|c\nd && e", "a|b|c\nd\ne || f",
    "x && 1 | y|x\n$V && a", "a ${:x}", "a ${%x}", "a ${a@}", "a ${a.}", "a ${?x}", "a ${#:-y}", "a ${a:^}",
    'a "${:}"', "a ${-x}", "x=y a:b z", "A=1 B=2 a: z", "a|\nx=y x:y", "_+=x",
    "_+=.-==x y",
    "a >&-", "a >&$fd", "a <<EOF\nx\nEOF", "a <<< x", "a <>f",
    "a >| f", "a &> f", "a > <(b)", "> f a", "A=1 > f", "a >", "a > && b", "a 2>&1x", "a &", "a & b", "(a)",
    "{ a; }", "! a",
    "a $(b)", "a `b`", "a $((1+2))", "a <(b)", "echo $'x'", 'echo "a\\"b"', "echo a\\ b", "a\r\n",
    "if a; then b; fi", "for x in a; do b; done", "[ -f x ] && y", "[[ a ]]", "export A=1", "local a=b",
    "declare -x A", "unset A", "time a", "a ;; b", "; a", "a && && b", "a &&", "a |", "a\n&& b", "a =b", "x ==",
    "--x=1 a", "1A=2 b", "_=x", "A= b", "A=1 | b", "- a", "a%", "A@", "x@:", "a+:", "a?b", "*.sh", "a{b,c}",
    "a[1]=x", "echo ${V:-$(x)}", 'echo "${V:-"x"}"', "echo $", 'echo "$"', "echo \"unterminated", "echo 'x",
    "", "   \n\t ", "a\u00a0b",
])
def test_scripts_the_reader_leaves_to_tree_sitter(src: str) -> None:
    assert _plain_sequence(src) is None, src
    assert parse_shell(src) == _parse_tree_sitter(src)


_TOKENS = ["a", "apt-get", "-y", "--x=1", "A=1", "B+=2", "C=", '"q q"', "'s s'", '"$V"', "$V", "${V}", "${V:-x}",
           '"${V:-d}"', "$1", "$@", '"$@"', "~/x", "*.txt", "a?b", "\u00e9", "\u65e5\u672c", "x=y", "export", "echo",
           "done", "in", "time", "then", "{", "}", "a{b,c}", "$$", '"$"', '"a$1b"', "$VAR_x", '"x"y', 'y"x"', "''",
           '""', "-", "--", ".", "/", "=", "==", "a=b=c", "_A=1", "_=x", "1A=2", "%", "^", "+", "@", ":", ",", "g++",
           "a+:", "A@", "${#V}", "${V/a/b}", "$'x'", "a\\ b", "x#y", "[", "a[1]=x", "2", "-eq", "!=", "$(x)", "`x`",
           ">", ">>", "<", "2>", "1>>", ">&2", "2>&1", "<&0", "> f", ">/dev/null", "2>&-", "12>x", "0<", "0>",
           "0>&2", "9>", "3<&0", "<<", "<(x)", "&>"]
_SEPS = [" ", " ", "  ", "\t", "\n", "\n\n", " && ", " || ", " ; ", ";", " | ", "|", "&&", "&&\n", "|\n", " \\\n ",
         "#c", "&", ">", "2>&1", " > ", " >> ", " 2> ", " < ", " >&2 ", " 0< ", " 1> ", "\r", " ! ", "(", ")", ""]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_TOKENS), st.sampled_from(_SEPS)), min_size=1, max_size=9),
       st.sampled_from(["", " ", "\n"]))
def test_generated_token_scripts_agree(parts: list[tuple[str, str]], lead: str) -> None:
    _agrees(lead + "".join(t + s for t, s in parts))


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(["a", "A_1", "0", "12", "", "#", "#a"]),
       st.text(alphabet="Aa0_:#%/+=?.,@*^~ -", max_size=6), st.sampled_from(["a ${%s}", 'a "${%s}"', "a x${%s}y"]))
def test_generated_braced_expansions_agree(head: str, rest: str, shape: str) -> None:
    """``${...}`` forms: tree-sitter-bash refuses many that look harmless (``${:x}``, ``${a@}``, ``${a:^}``)."""
    _agrees(shape % (head + rest))


_PIPE_WORDS = ["a", "x", "-y", "-", "--", '"q q"', "'s'", "$V", '"$V"', "${V:-x}", "1", "A=1", "~/x", "*.log"]
_PIPE_REDIRS = [">", ">>", "<", "2>", "1>", ">&2", "2>&1", "3<&0", "> /dev/null", "2>/dev/null"]
_PIPE_SEPS = [" ", "  ", "\t", " && ", " || ", "; ", " | ", "|", " | ", "\n", "\n", " &&\n ", "\n\n", " |\n "]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.sampled_from(_PIPE_WORDS), st.sampled_from(_PIPE_REDIRS)),
                          st.sampled_from(_PIPE_SEPS)), min_size=2, max_size=12))
def test_generated_pipelines_lines_and_redirections_agree(parts: list[tuple[str, str]]) -> None:
    """Pipelines, line breaks, lists and redirections together, where tree-sitter-bash has readings of its own (a
    pipeline of three commands ended by a newline glued to a later `&&` or redirection: the reader must leave those
    to it)."""
    _agrees("".join(t + s for t, s in parts).rstrip())


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="aA_1=-:/.,+@%^~*?$\"'{}#! \t\n|&;\u00e9\u00a0x=V", max_size=16))
def test_generated_character_scripts_agree(src: str) -> None:
    _agrees(src)


def test_no_exponential_backtracking_on_a_failed_word() -> None:
    """Nested loops such as ``(?:[^x]+|...)+`` take 2^n steps to fail on n characters: this input never returns
    with such a token pattern (it did, once). Run in a child so a regression fails instead of hanging the suite."""
    code = ("from dockerfix.model.shell import _plain_sequence as p\n"
            "for s in ['a' * 4000 + '\"$(', 'a' * 4000 + '$(', '\"' + '$A' * 2000 + '$(\"', 'x ' * 3000 + '`']:\n"
            "    assert p(s) is None\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_file_of_plain_scripts_never_loads_tree_sitter() -> None:
    """Loading tree-sitter-bash costs milliseconds of a format-on-save: a file whose scripts are all plain skips it."""
    code = ("import io, sys; from dockerfix.__main__ import main\n"
            "sys.stdin = io.TextIOWrapper(io.BytesIO(b'FROM debian\\nRUN apt-get update && apt-get install -y curl\\n"
            "RUN pip install flask > /dev/null 2>&1\\nCMD [\\\"curl\\\", \\\"-h\\\"]\\n'))\n"
            "sys.stdout = io.TextIOWrapper(io.BytesIO())\n"
            "try:\n    main(['-'])\nexcept SystemExit:\n    pass\n"
            "from dockerfix.model import shell\n"
            "sys.__stdout__.write(repr((shell._parser, 'dockerfix.model.shell' in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout == "(None, True)", (out.stdout, out.stderr[-2000:])
    assert shell._plain_sequence("RUN") is not None


def _sites_agree(src: str) -> bool:
    """True when ``Script.sites`` took the flat path for ``src``; fails when it differs from the full walk."""
    script = parse_shell(src)
    if not script.ok:
        return False
    after, bg = shell._chain_flags(script.body)
    walked = shell._walk_sites(script.body.items, after, bg)
    assert script._collected == (script.sites, walked[1])
    assert script.sites == walked[0], src
    flat = shell._flat_sites(script.body.items, after, bg)
    return flat is not None and "(" not in src and "`" not in src


def test_flat_sites_equal_the_walk_on_corpus_scripts() -> None:
    """The sites of a script without substitutions, taken in source order without the walk, are the walk's: every
    script of the corpus and the fixtures, the flat ones counted (so the test cannot pass on none)."""
    files = corpus_files()
    if not files:
        pytest.skip("corpus not found at ../shared/corpus")
    fx = all_fixtures()
    scripts = _scripts([read_text(p) for p in files] + [f.input for f in fx])
    flat = sum(_sites_agree(s) for s in scripts)
    assert flat > len(scripts) // 3, (flat, len(scripts))


@pytest.mark.parametrize("src", [
    "a | b && c || d; e & f",
    "! a | b | c",
    "x=1 a > f 2>&1 | tee log & b",
    "a || b && c &",
    "if a; then b | c; fi; d",  # a compound: the walk
    "a $(b | c) && d",  # a substitution: the walk
    "(a; b) | c",
    "f() { a; }; f",
])
def test_flat_sites_equal_the_walk(src: str) -> None:
    _sites_agree(src)
