"""The syntax layer: lossless round-trip, BuildKit agreement, typed access, errors with line:col."""

from __future__ import annotations

import pytest

from dockerfix import DockerfileSyntaxError, parse
from tests.corpus import corpus_files, corpus_id, read_text, require_corpus, CORPUS
from tests.oracle import agree, require_oracle

ALL = corpus_files()
NEGATIVE = corpus_files("buildkit-parser/testfiles-negative", include_negative=True)


# ---------------------------------------------------------------- corpus: round trip and agreement
@pytest.mark.parametrize("path", ALL, ids=[corpus_id(p) for p in ALL])
def test_corpus_round_trip_and_buildkit_agreement(path):
    text = read_text(path)
    doc = parse(text)
    assert doc.to_text() == text
    ok, theirs, ours = agree(text)
    assert ok, f"BuildKit: {theirs}\nours:     {ours}"


@pytest.mark.parametrize("path", ALL[::7], ids=[corpus_id(p) for p in ALL[::7]])
@pytest.mark.parametrize("variant", ["crlf", "bom", "no-final-newline", "bom+crlf"])
def test_corpus_variants_round_trip_and_agree(path, variant):
    text = read_text(path)
    if "crlf" in variant:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if "bom" in variant:
        text = "\ufeff" + text
    if variant == "no-final-newline":
        text = text.rstrip("\n")
    doc = parse(text)
    assert doc.to_text() == text
    ok, theirs, ours = agree(text)
    assert ok, f"BuildKit: {theirs}\nours:     {ours}"


def test_corpus_is_complete():
    require_corpus()
    assert len(ALL) >= 1080, f"expected the whole corpus under {CORPUS}, found {len(ALL)} files"
    assert len(NEGATIVE) == 4


@pytest.mark.parametrize("path", NEGATIVE, ids=[corpus_id(p) for p in NEGATIVE])
def test_negative_cases_are_rejected(path):
    require_oracle()
    text = read_text(path)
    with pytest.raises(DockerfileSyntaxError) as ei:
        parse(text)
    assert ei.value.line >= 1 and ei.value.column >= 1
    ok, theirs, ours = agree(text)
    assert ok and theirs[0] == "error"


# ---------------------------------------------------------------- hand-written edge cases, checked against BuildKit
EDGE_CASES = {
    "directives": "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM x\nRUN a `\n  b\n",
    "directive-after-comment-is-comment": "# hello\n# escape=`\nFROM x\nRUN a \\\n b\n",
    "directive-uppercase": "# ESCAPE=`\nFROM x\nRUN echo `\n hi\n",
    "directive-leading-space": "  # escape = `\nFROM x\n",
    "comment-in-continuation": "FROM x\nRUN a \\\n# comment\n  && b \\\n    # indented comment\n  && c\n",
    "blank-in-continuation": "FROM x\nRUN a \\\n\n  && b \\\n   \t\n  && c\n",
    "continuation-at-eof": "FROM x\nRUN a \\",
    "lone-backslash-line": "FROM x\n\\\nRUN echo\n",
    "escaped-backslash-not-continuation": "FROM x\nENV A b\\\\\nENV B c\n",
    "backslash-space-continuation": "FROM x\nRUN a \\  \n b\n",
    "heredoc-basic": "FROM x\nRUN <<EOF\necho hi\nEOF\n",
    "heredoc-chomp": "FROM x\nRUN <<-EOF\n\techo hi\n\tEOF\n",
    "heredoc-quoted": "FROM x\nCOPY <<'EOF' /a\n$HOME\nEOF\n",
    "heredoc-two": "FROM x\nRUN <<A cat > /a && <<B cat > /b\na\nA\nb\nB\n",
    "heredoc-fd": "FROM x\nRUN python3 3<<EOF\nprint(1)\nEOF\n",
    "heredoc-with-continuation": "FROM x\nRUN <<EOF \\\n  bash\nset -e\nEOF\n",
    "heredoc-in-json-is-not": 'FROM x\nRUN ["echo", "<<EOF"]\nCMD x\n',
    "heredoc-onbuild": "FROM x\nONBUILD RUN <<EOF\necho\nEOF\n",
    "heredoc-crlf": "FROM x\r\nRUN <<EOF\r\necho hi\r\nEOF\r\n",
    "heredoc-empty-body": "FROM x\nRUN <<EOF\nEOF\n",
    "heredoc-on-env-is-not": "FROM x\nENV A=<<EOF\n",
    "flags": "FROM --platform=$BUILDPLATFORM x AS b\nRUN --mount=type=cache,target=/root/.cache --network=none --security=sandbox echo\n"
    "COPY --from=b --chown=1:1 --chmod=755 --link a b\nADD --checksum=sha256:abc https://x /y\n",
    "flag-quoted": 'FROM x\nRUN --mount="type=bind,source=a b" echo\n',
    "flag-dashdash": "FROM x\nRUN -- --not-a-flag\n",
    "lowercase": "from x\nrun echo\ncopy a b\n",
    "tabs": "FROM\tx\n\tRUN\techo\t \n",
    "json-forms": 'FROM x\nCMD ["a", "b c"]\nENTRYPOINT [ ]\nSHELL ["/bin/sh", "-c"]\nVOLUME ["/a", "/b"]\nRUN [ "a" ] \n',
    "json-invalid-falls-back": "FROM x\nCMD [\"a\", 'b']\nRUN [oops\n",
    "env-forms": 'FROM x\nENV A b c\nENV B="x y" C=z\nLABEL "a b"="c d" e=f\nARG X Y=1\n',
    "healthcheck": 'FROM x\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1\nHEALTHCHECK NONE\n',
    "onbuild": "FROM x\nONBUILD ADD . /app\nONBUILD RUN --mount=type=cache,target=/x echo\n",
    "unknown-instruction": "FROM x\nBOGUS whatever\n",
    "non-ascii": "FROM x\nLABEL description=\"Ünïcødé ☃\"\nRUN echo 'héllo' \\\n  && echo ☃\n",
    "only-whitespace-lines": "\n  \n\t\nFROM x\n\n",
    "cr-inside-line": "FROM x\nRUN echo a\rb\n",
    "maintainer-expose": "FROM x\nMAINTAINER me <m@e>\nEXPOSE 80/tcp 443\nSTOPSIGNAL SIGTERM\nUSER a:b\nWORKDIR /a b\n",
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_round_trip_and_agree(name):
    text = EDGE_CASES[name]
    assert parse(text).to_text() == text
    ok, theirs, ours = agree(text)
    assert ok, f"BuildKit: {theirs}\nours:     {ours}"


ERRORS = {
    "empty": ("", "file with no instructions"),
    "only-comments": ("# a\n# b\n", "file with no instructions"),
    "env-no-value": ("FROM x\nENV A\n", "ENV must have two arguments"),
    "env-missing-equals": ("FROM x\nENV A=b c\n", "can't find ="),
    "non-string-json": ('FROM x\nCMD ["a", 1]\n', "arrays must be comprised of strings only"),
    "unterminated-heredoc": ("FROM x\nRUN <<EOF\necho\n", "unterminated heredoc"),
    "duplicate-directive": ("# syntax=a\n# syntax=b\nFROM x\n", "only one syntax parser directive"),
    "bad-escape": ("# escape=x\nFROM x\n", "invalid escape token"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_buildkit(name):
    text, needle = ERRORS[name]
    with pytest.raises(DockerfileSyntaxError) as ei:
        parse(text)
    assert needle in str(ei.value)
    ok, theirs, _ = agree(text)
    assert ok and theirs[0] == "error", theirs


def test_unterminated_heredoc_points_at_the_marker():
    with pytest.raises(DockerfileSyntaxError) as ei:
        parse("FROM x\nRUN <<EOF\necho\n", path="Dockerfile")
    e = ei.value
    assert (e.line, e.column) == (2, 5)
    assert str(e).startswith("Dockerfile:2:5: unterminated heredoc")


def test_error_line_for_env_on_continuation():
    with pytest.raises(DockerfileSyntaxError) as ei:
        parse("FROM x\n\nENV \\\n  A\n")
    assert ei.value.line == 3


# ---------------------------------------------------------------- typed access
def test_instruction_fields_and_spans():
    text = "# syntax=docker/dockerfile:1\nFROM --platform=linux/amd64 python:3.12 AS base\n" \
           "copy --chown=app:app --link src/ /app/ \\\n  # keep\n  extra\nRUN <<EOF\nset -e\nEOF\n"
    doc = parse(text)
    assert doc.directive("syntax") == "docker/dockerfile:1"
    frm, cp, run = doc.instructions
    assert (frm.keyword, frm.start_line, frm.end_line) == ("FROM", 2, 2)
    assert frm.flag("platform").value == "linux/amd64"
    assert frm.args == ("python:3.12", "AS", "base")
    assert cp.keyword == "COPY" and cp.raw_keyword == "copy"
    assert (cp.start_line, cp.end_line) == (3, 5)
    assert [f.name for f in cp.flags] == ["chown", "link"]
    chown = cp.flag("chown")
    assert text[chown.start:chown.end] == "--chown=app:app"
    assert cp.args == ("src/", "/app/", "extra")
    s, e = cp.keyword_span
    assert text[s:e] == "copy"
    assert cp.source == "copy --chown=app:app --link src/ /app/ \\\n  # keep\n  extra\n"
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "set -e\n"
    assert (run.start_line, run.end_line) == (6, 8)
    h = run.heredocs[0]
    assert text[h.body_start:h.body_end] == "set -e\n"
    assert text[h.terminator_start:h.terminator_end] == "EOF\n"


def test_logical_offsets_map_back_across_continuations():
    text = "FROM x\nRUN apt-get update \\\n    # c\n    && apt-get install -y curl\n"
    run = parse(text).instructions[1]
    k = run.line.index("apt-get install")
    s, e = run.map.span(k, k + len("apt-get install"))
    assert text[s:e] == "apt-get install"
    s, e = run.map.span(run.line.index("update"), run.line.index("&&") + 2)
    assert text[s:e] == "update \\\n    # c\n    &&"


def test_json_items_spans():
    text = 'FROM x\nCMD ["python", "-m", "app"]\n'
    cmd = parse(text).instructions[1]
    assert [(v, text[s:e]) for v, s, e in cmd.json_items()] == [
        ("python", '"python"'), ("-m", '"-m"'), ("app", '"app"')
    ]


def test_nodes_cover_the_file_and_own_their_lines():
    text = "\ufeff# syntax=x\n\n# comment\nFROM x\r\nRUN a \\\r\n  b\r\n# tail"
    doc = parse(text)
    assert doc.bom == "\ufeff"
    kinds = [getattr(n, "kind", None) or n.keyword for n in doc.nodes]
    assert kinds == ["directive", "blank", "comment", "FROM", "RUN", "comment"]
    pos = len(doc.bom)
    for n in doc.nodes:
        assert n.start == pos and text[n.start:n.start + len(n.source)] == n.source
        pos += len(n.source)
    assert pos == len(text)
    assert doc.comments_above(doc.instructions[0])[0].text == "# comment"
