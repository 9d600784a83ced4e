"""The Dockerfile generator must only write files BuildKit's parser accepts, and the parser must
see what the generator meant: the same instructions, on the same lines, with the same heredocs.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockerfix.model.expand import ExpansionError, referenced_variables

try:
    from strategies import DockerfileSample, dockerfile_samples, dockerfiles, mutated
except ImportError:  # tests/ turned into a package
    from tests.strategies import DockerfileSample, dockerfile_samples, dockerfiles, mutated

dockerfile = pytest.importorskip("dockerfile", reason="the dockerfile (BuildKit parser) package is not installed")

CI = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values BuildKit runs through its shell lexer; the generator keeps them well-formed.
_EXPANDED_WORDS = {"FROM", "COPY", "ADD", "WORKDIR", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL"}


def _check_expandable(command, escape: str) -> None:
    keyword = command.cmd.upper()
    values = list(command.value)
    if keyword == "ARG":
        values = [value.partition("=")[2] for value in values]
    elif keyword not in {"ENV", "LABEL"} | _EXPANDED_WORDS or command.json or command.heredocs:
        return
    for value in [*values, *(flag.partition("=")[2] for flag in command.flags)]:
        try:
            referenced_variables(value, escape=escape)
        except ExpansionError as exc:  # pragma: no cover - a generator bug
            raise AssertionError(f"{command.original!r}: {exc}") from None


def _assert_matches_intent(sample: DockerfileSample) -> None:
    try:
        commands = dockerfile.parse_string(sample.text)
    except dockerfile.GoParseError as exc:  # pragma: no cover - a generator bug
        raise AssertionError(f"BuildKit rejected the generated file: {exc}\n{sample.text!r}") from None
    got = [
        (c.cmd.upper(), (c.sub_cmd or "").upper() or None, c.start_line, c.end_line, len(c.heredocs))
        for c in commands
    ]
    want = [(i.keyword, i.sub_keyword, i.start_line, i.end_line, i.heredocs) for i in sample.instructions]
    assert got == want, sample.text
    for command in commands:
        _check_expandable(command, sample.escape)


def test_buildkit_accepts_every_generated_file_and_all_constructs_come_up():
    seen: set[str] = set()

    @settings(CI, max_examples=300)
    @given(dockerfile_samples())
    def check(sample):
        _assert_matches_intent(sample)
        seen.update(name for name, predicate in FEATURES.items() if predicate(sample))

    check()
    assert sorted(set(FEATURES) - seen) == []


@settings(CI, max_examples=60)
@given(dockerfile_samples(valid_only=False))
def test_builder_rejected_constructs_still_parse(sample):
    _assert_matches_intent(sample)


@settings(CI, max_examples=20)
@given(dockerfiles())
def test_dockerfiles_gives_text(text):
    assert isinstance(text, str) and text.lstrip("\ufeff")
    assert "\x00" not in text


@settings(CI, max_examples=60)
@given(st.data())
def test_mutations_never_crash_the_reference_parser(data):
    text = data.draw(dockerfiles(max_instructions=4))
    broken = data.draw(mutated(text))
    assert isinstance(broken, str)
    try:
        dockerfile.parse_string(broken)
    except dockerfile.GoParseError:
        pass


def _has(sample: DockerfileSample, *needles: str) -> bool:
    return all(needle in sample.text for needle in needles)


def _keyword_line(sample: DockerfileSample, predicate) -> bool:
    lines = sample.text.lstrip("\ufeff").splitlines()
    return any(predicate(lines[i.start_line - 1].strip(), i) for i in sample.instructions
               if i.start_line - 1 < len(lines))


# Each construct the generator promises must come up within the 300 derandomized examples.
FEATURES = {
    "bom": lambda s: s.bom,
    "crlf": lambda s: s.newline == "crlf",
    "mixed-eol": lambda s: s.newline == "mixed" and "\r\n" in s.text and "\n" in s.text.replace("\r\n", ""),
    "no-final-newline": lambda s: not s.final_newline,
    "escape-backtick": lambda s: s.escape == "`" and any(line.rstrip(" \t").endswith("`") for line in s.text.splitlines()),
    "escape-directive-backslash": lambda s: _has(s, "escape=\\"),
    "syntax-directive": lambda s: "syntax" in s.text.lower().split("\n", 1)[0],
    "check-directive": lambda s: _has(s, "check"),
    "heredoc": lambda s: any(i.heredocs for i in s.instructions),
    "two-heredocs": lambda s: any(i.heredocs == 2 for i in s.instructions),
    "heredoc-dash": lambda s: _has(s, "<<-"),
    "heredoc-quoted": lambda s: _has(s, '<<"') or _has(s, "<<'"),
    "copy-heredoc": lambda s: any(i.keyword == "COPY" and i.heredocs for i in s.instructions),
    "continuation-with-comment": lambda s: any(
        i.end_line - i.start_line >= 2 and not i.heredocs for i in s.instructions
    ) and "#" in s.text,
    "lowercase-keyword": lambda s: _keyword_line(s, lambda line, i: line.startswith(i.keyword.lower() + " ")),
    "onbuild": lambda s: any(i.keyword == "ONBUILD" for i in s.instructions),
    "healthcheck-none": lambda s: any(i.keyword == "HEALTHCHECK" for i in s.instructions) and "NONE" in s.text.upper(),
    "json-form": lambda s: _has(s, '["'),
    "run-mount": lambda s: _has(s, "--mount="),
    "from-platform-as": lambda s: _has(s, "--platform=") and " AS " in s.text.upper(),
    "env-legacy": lambda s: re.search(r"(?im)^[ \t]*env[ \t]+[A-Za-z_0-9]+[ \t]+[^\s=]", s.text) is not None,
    "non-ascii": lambda s: any(ord(c) > 127 and c != "\ufeff" for c in s.text),
    "splitlines-trap": lambda s: len(s.text.splitlines()) != s.text.count("\n") + (not s.text.endswith("\n")),
    "tab-indent": lambda s: "\n\t" in s.text,
    **{
        f"instruction-{keyword}": (lambda kw: lambda s: any(i.keyword == kw for i in s.instructions))(keyword)
        for keyword in ["FROM", "RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "ENV", "ARG", "LABEL", "EXPOSE", "USER",
                        "WORKDIR", "VOLUME", "SHELL", "HEALTHCHECK", "STOPSIGNAL", "ONBUILD", "MAINTAINER"]
    },
}
