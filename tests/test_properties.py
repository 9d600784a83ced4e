"""Property tests over generated Dockerfiles (tests/strategies.py): the parser agrees with BuildKit and round-trips;
fix output parses (ours and BuildKit's), a second fix is a no-op, no comment is dropped; mutated files either parse
and round-trip or raise DockerfileSyntaxError, never anything else."""

from __future__ import annotations

import collections
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dockerfix
from dockerfix import DockerfileSyntaxError, parse
from tests.corpus import corpus_files, read_text
from tests.oracle import agree, buildkit_view, require_oracle
from tests.strategies import dockerfiles, mutated

EXAMPLES = int(os.environ.get("DOCKERFIX_FUZZ_EXAMPLES", "60"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROFILE
@given(dockerfiles())
def test_generated_files_round_trip_and_agree_with_buildkit(text):
    require_oracle()
    assert parse(text).to_text() == text
    ok, theirs, ours = agree(text)
    assert ok, f"BuildKit: {theirs}\nours:     {ours}"


def _comments(text: str) -> collections.Counter:
    return collections.Counter(
        ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip().startswith("#")
    )


@PROFILE
@given(dockerfiles(), st.booleans())
def test_fix_output_is_valid_idempotent_and_keeps_comments(text, unsafe):
    r = dockerfix.fix(text, unsafe=unsafe, select=["all"])
    assert not r.errors, r.errors
    assert parse(r.text).to_text() == r.text
    assert buildkit_view(r.text)[0] != "error"
    assert dockerfix.fix(r.text, unsafe=unsafe, select=["all"]).text == r.text
    assert not (_comments(text) - _comments(r.text)), "a comment was dropped"


_SEEDS = [read_text(p) for p in corpus_files("real-world")[::40]] or ["FROM x\nRUN echo hi\n"]


@PROFILE
@given(st.sampled_from(_SEEDS).flatmap(mutated))
def test_mutations_parse_or_raise_syntax_error_like_buildkit(text):
    try:
        doc = parse(text)
    except DockerfileSyntaxError as e:
        assert e.line >= 1 and e.column >= 1
    else:
        assert doc.to_text() == text
    if "\x00" in text:
        return  # the Go binding hands BuildKit a C string: it never sees past a NUL, so it cannot judge this file
    ok, theirs, ours = agree(text)
    assert ok, f"BuildKit: {theirs}\nours:     {ours}"
