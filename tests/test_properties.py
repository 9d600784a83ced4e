"""Property tests: dockerfix never breaks a Dockerfile and never loses a byte, whatever the input.

The properties (plain functions, shared with ``bench/fuzz.py`` and the regression replay in
``tests/test_regressions.py``):

``check_parse(text)``
    The parser either accepts the text and prints it back byte for byte, or raises
    :class:`DockerfileSyntaxError` with a 1-based line and column; nothing else. Whatever BuildKit's own parser
    (the Go binding, ``tests/oracle.py``) accepts we accept, with the same instructions, and the reverse. The
    binding cannot see past a NUL and cannot take a lone surrogate, so agreement is skipped for those texts.
``check_fix(text, unsafe)``
    For a text that parses, ``dockerfix.fix`` with every transform selected reports no internal error and does not
    trip the semantics guard; its output parses and round-trips (ours and BuildKit's), a second ``fix`` changes
    nothing, and no comment line is dropped.
``check_bytes(data)``
    The byte stream through the I/O layer and the CLI's stdin path: invalid UTF-8 (lone surrogates encoded, stray
    continuation bytes, truncated sequences), NUL bytes and UTF-16/32 byte-order marks give one clear
    ``-:line:col: error: ...`` line on stderr, nothing on stdout and exit 2; anything else behaves exactly like the
    API (exit 0 with the fixed text on stdout, or exit 2 with the syntax error's location). Never an internal error.

Inputs: grammar-generated files (``tests/strategies.py``, valid and builder-rejected), mutations of corpus files
(delete, duplicate, swap lines; insert backslashes, quotes, ``<<``, NUL, ...), arbitrary text, and byte-level
corruptions. The CI profile runs ``DOCKERFIX_FUZZ_EXAMPLES`` examples per test (default 150, a quarter of that for the CLI byte property; derandomized); ``python
bench/fuzz.py --seconds N`` runs the same properties for as long as asked.
"""

from __future__ import annotations

import collections
import io
import os

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dockerfix
from dockerfix import DockerfileSyntaxError, parse
from tests.corpus import corpus_files, read_text
from tests.oracle import _bk, _nul, our_view
from tests.strategies import dockerfiles, mutated

EXAMPLES = int(os.environ.get("DOCKERFIX_FUZZ_EXAMPLES", "150"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------ the properties
def _oracle_can_judge(text: str) -> bool:
    if _bk is None or "\x00" in text:
        return False  # the Go binding hands BuildKit a C string: it never sees past a NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a lone surrogate cannot cross into Go (and cannot come out of a file: decode() refuses it)
    return True


def buildkit_view(text: str):
    """``tests.oracle.buildkit_view``, robust to the binding's quirks: an instruction with no keyword (a lone escape
    character) comes back with ``cmd=None``."""
    try:
        cmds = _bk.parse_string(text)
    except _bk.GoParseError as e:
        return ("error", str(e))
    return [
        (
            (c.cmd or "").lower(), (c.sub_cmd or "").lower() or None, c.json, c.start_line, c.end_line,
            tuple(_unmojibake(f) for f in c.flags), tuple(_nul(v) for v in c.value), tuple((h.name, h.content) for h in c.heredocs),
        )
        for c in cmds
    ]


def _unmojibake(s: str) -> str:
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _comparable(view):
    if isinstance(view, tuple):
        return "error"
    # ``ONBUILD ONBUILD x`` (which the builder rejects later): the binding only reports the arguments of one level of
    # ONBUILD and gives [''] for the nested one, so the arguments of that shape are not comparable.
    return [v[:6] + (None,) + v[7:] if v[0] == "onbuild" and v[1] == "onbuild" else v for v in view]


def agree(text: str) -> tuple[bool, object, object]:
    theirs, ours = buildkit_view(text), our_view(text)
    return _comparable(theirs) == _comparable(ours), theirs, ours


def check_parse(text: str) -> None:
    try:
        doc = parse(text)
    except DockerfileSyntaxError as e:
        assert e.line >= 1 and e.column >= 1, f"syntax error without a position: {e!r}"
    else:
        assert doc.to_text() == text, "parse(text).to_text() != text"
    if _oracle_can_judge(text):
        ok, theirs, ours = agree(text)
        assert ok, f"BuildKit and dockerfix disagree\nBuildKit: {theirs}\nours:     {ours}"


def comment_lines(text: str) -> collections.Counter:
    return collections.Counter(
        ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip().startswith("#")
    )


def check_fix(text: str, unsafe: bool) -> None:
    try:
        parse(text)
    except DockerfileSyntaxError:
        return  # the property is about files we accept
    r = dockerfix.fix(text, unsafe=unsafe, select=["all"])  # EngineError (guard tripped) fails the property
    assert not r.errors, r.errors
    assert parse(r.text).to_text() == r.text
    if r.changed and _oracle_can_judge(r.text):
        assert buildkit_view(r.text)[0] != "error", f"BuildKit rejects the output:\n{r.text}"
    again = dockerfix.fix(r.text, unsafe=unsafe, select=["all"])
    assert again.text == r.text, "a second fix changed the output again"
    dropped = comment_lines(text) - comment_lines(r.text)
    assert not dropped, f"comments dropped: {sorted(dropped)}"


def check_bytes(data: bytes) -> None:
    from dockerfix.cli_core import Options, run
    from dockerfix.io.files import FileError, decode

    try:
        text = decode(data, "-")
    except FileError as e:
        text, refusal = None, e
        assert e.message and e.path == "-"
    else:
        assert text == data.decode("utf-8"), "decode() changed the text"
    out, err = io.BytesIO(), io.BytesIO()
    code = run(Options(paths=("-",), mode="stdin", select=("all",), quiet=True), stdin=io.BytesIO(data),
               stdout=out, stderr=err)
    msg = err.getvalue().decode("utf-8")
    assert "internal error" not in msg, msg
    if text is None:
        assert code == 2 and out.getvalue() == b"", (code, out.getvalue()[:200])
        where = f"-:{refusal.line}:{refusal.column}" if refusal.line is not None else "-"
        assert msg == f"{where}: error: {refusal.message}\n", msg
        return
    from dockerfix.cli_core import has_instructions

    if not has_instructions(text):
        # a file of blank lines and comments (an editor's new file): given back unchanged, no error (format-on-save)
        assert code == 0 and out.getvalue() == data, (code, msg)
        return
    try:
        expected = dockerfix.fix(text, select=["all"]).text
    except DockerfileSyntaxError as e:
        assert code == 2 and out.getvalue() == b"", code
        assert msg.startswith(f"-:{e.line}:{e.column}: error: "), msg
        return
    assert code == 0, msg
    assert out.getvalue() == expected.encode("utf-8"), "stdout is not the fixed text, byte for byte"


# ------------------------------------------------------------------ inputs
_ALL_SEEDS = None


def corpus_seeds(step: int = 1) -> list[str]:
    """Real-world and parser-test corpus files (every ``step``-th), as text; a tiny file when the corpus is absent."""
    global _ALL_SEEDS
    if _ALL_SEEDS is None:
        _ALL_SEEDS = [read_text(p) for p in corpus_files()] or ["FROM x\nRUN echo hi\n"]
    return _ALL_SEEDS[::step] or _ALL_SEEDS


def corpus_mutations(step: int = 1) -> st.SearchStrategy[str]:
    return st.sampled_from(corpus_seeds(step)).flatmap(mutated)


_BAD_BYTES = [
    b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98",  # stray / truncated sequences
    b"\xc0\xaf", b"\xe0\x80\xaf",  # overlong encodings
    b"\xed\xa0\x80", b"\xed\xbf\xbf",  # lone surrogates, as CESU/WTF-8 would write them
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\x00",
]
_BAD_PREFIXES = [b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xef\xbb\xbf"]


@st.composite
def corrupted_bytes(draw, texts: st.SearchStrategy[str]) -> bytes:
    """A text's UTF-8 bytes with 0..3 invalid sequences, NULs or byte-order marks spliced in."""
    data = draw(texts).encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 5)) == 0:
            data = draw(st.sampled_from(_BAD_PREFIXES)) + data
        else:
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from(_BAD_BYTES)) + data[at:]
    return data


def text_inputs(step: int = 1) -> st.SearchStrategy[str]:
    """Everything the text properties take: generated (valid or not), mutated corpus files, arbitrary text."""
    return st.one_of(
        dockerfiles(), dockerfiles(valid_only=False), corpus_mutations(step),
        st.text(alphabet=st.characters(blacklist_categories=()), max_size=200),
    )


def fix_inputs(step: int = 1) -> st.SearchStrategy[str]:
    return st.one_of(dockerfiles(), dockerfiles(valid_only=False), corpus_mutations(step))


def byte_inputs(step: int = 1) -> st.SearchStrategy[bytes]:
    return corrupted_bytes(st.one_of(dockerfiles(), corpus_mutations(step), st.text(max_size=80)))


PROPERTIES = {
    # name: (check taking the case, input strategy factory, case -> bytes, bytes -> case)
    "parse": (check_parse, text_inputs, lambda t: t.encode("utf-8", "surrogatepass"),
              lambda b: b.decode("utf-8", "surrogatepass")),
    "fix": (lambda t: check_fix(t, False), fix_inputs, lambda t: t.encode("utf-8", "surrogatepass"),
            lambda b: b.decode("utf-8", "surrogatepass")),
    "fix-unsafe": (lambda t: check_fix(t, True), fix_inputs, lambda t: t.encode("utf-8", "surrogatepass"),
                   lambda b: b.decode("utf-8", "surrogatepass")),
    "bytes": (check_bytes, byte_inputs, lambda b: b, lambda b: b),
}
"""What ``bench/fuzz.py`` runs and ``tests/test_regressions.py`` replays (a fixture ``<name>-<sha>.case``)."""


# ------------------------------------------------------------------ the CI profile
_CI_STEP = 40  # every 40th corpus file as a mutation seed keeps the strategies small


@PROFILE
@given(dockerfiles())
def test_generated_files_round_trip_and_agree_with_buildkit(text):
    check_parse(text)


@PROFILE
@given(dockerfiles(valid_only=False))
def test_builder_rejected_files_parse_like_buildkit(text):
    check_parse(text)


@PROFILE
@given(corpus_mutations(_CI_STEP))
def test_mutations_parse_or_raise_syntax_error_like_buildkit(text):
    check_parse(text)


@PROFILE
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=200))
def test_arbitrary_text_parses_or_raises_syntax_error(text):
    check_parse(text)


@PROFILE
@given(dockerfiles(), st.booleans())
def test_fix_output_is_valid_idempotent_and_keeps_comments(text, unsafe):
    check_fix(text, unsafe)


@PROFILE
@given(corpus_mutations(_CI_STEP), st.booleans())
def test_fix_of_mutated_corpus_files(text, unsafe):
    try:
        parse(text)
    except DockerfileSyntaxError:
        assume(False)
    check_fix(text, unsafe)


@settings(PROFILE, max_examples=max(1, EXAMPLES // 4))  # a full CLI run per example
@given(byte_inputs(_CI_STEP))
def test_corrupted_bytes_are_refused_clearly_or_fixed_exactly(data):
    check_bytes(data)


def test_every_corpus_file_with_a_lone_surrogate_or_bad_byte_is_refused():
    # Deterministic companion of the byte property: the worst spots (start, middle, end) of one real file.
    text = corpus_seeds(40)[0].encode("utf-8")
    for bad in _BAD_BYTES:
        for at in (0, len(text) // 2, len(text)):
            check_bytes(text[:at] + bad + text[at:])
