"""Every fixture: expected output, one more pass changes nothing, output parses (ours and BuildKit's), comments
survive, and the declared fix availability matches what happened."""

from __future__ import annotations

import collections
import os

import pytest

import dockerfix
from dockerfix.syntax import parse
from tests.fixture_format import all_fixtures
from tests.oracle import buildkit_view

FIXTURES = all_fixtures()


def _context(fx, tmp_path):
    if not fx.context:
        return None
    for name, content in fx.context.items():
        p = tmp_path / name
        if name.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode("latin-1") if content.startswith("\x1f\x8b") else content.encode())
    return str(tmp_path)


def _comments(text: str) -> collections.Counter:
    return collections.Counter(
        ln.strip() for ln in text.replace("\r\n", "\n").split("\n") if ln.strip().startswith("#")
    )


class FakeResolver:
    """Answers from the fixture's table, like a registry that knows only these tags."""

    def __init__(self, table: dict[str, str]) -> None:
        from dockerfix.model.imageref import parse_image_ref

        self.table = {parse_image_ref(k).with_digest(None): v for k, v in table.items()}

    def resolve(self, ref):
        from dockerfix.registry.errors import NotFoundError
        from dockerfix.registry.interface import Resolved

        key = type(ref)(ref.domain, ref.path, ref.tag, None)
        if key not in self.table:
            raise NotFoundError("manifest unknown", image=ref.familiar, registry="fake")
        return Resolved(ref=ref, digest=self.table[key], media_type="application/vnd.oci.image.index.v1+json",
                        platforms=None, registry="fake")


def _run(fx, text, ctx, unsafe):
    services = {"resolver": FakeResolver(fx.digests)} if fx.digests else None
    return dockerfix.fix(text, select=fx.select, unsafe=unsafe, context=ctx, settings=fx.settings, services=services)


@pytest.mark.parametrize("fx", FIXTURES, ids=[f.id for f in FIXTURES])
def test_fixture(fx, tmp_path):
    ctx = _context(fx, tmp_path)
    result = _run(fx, fx.input, ctx, fx.unsafe)
    assert not result.errors, result.errors
    expected = fx.output if fx.output is not None else fx.input
    assert result.text == expected

    # declared fix availability
    codes = {fx.code}
    mine = [c for c in result.changes + result.findings if c.code in codes]
    if fx.expect == "none":
        assert not mine, f"expected no finding, got {mine}"
    elif fx.expect == "finding":
        assert mine and all(not c.fixable for c in mine if not c.applied), mine
        assert not result.changes
    elif fx.expect == "safe":
        assert any(c.applied and c.safe for c in result.changes), result.changes
    elif fx.expect == "unsafe":
        assert any(c.applied and not c.safe for c in result.changes), result.changes
        plain = _run(fx, fx.input, ctx, False)
        assert all(c.safe for c in plain.changes if c.code in codes)
        assert any(c.code in codes and c.fixable and not c.safe for c in plain.findings), plain.findings

    # idempotence, validity, comments
    again = _run(fx, result.text, ctx, fx.unsafe)
    assert again.text == result.text, "a second pass changed the output"
    assert parse(result.text).to_text() == result.text
    assert buildkit_view(result.text)[0] != "error", "BuildKit rejects the output"
    if fx.keeps_comments:
        lost = _comments(fx.input) - _comments(result.text)
        assert not lost, f"comments dropped: {list(lost)}"


def test_every_transform_has_fixtures():
    have = collections.Counter(f.code for f in FIXTURES)
    kinds = collections.defaultdict(set)
    for f in FIXTURES:
        kinds[f.code].add("fires" if f.output is not None else "finding" if f.expect == "finding" else "noop")
    for t in dockerfix.list_transforms():
        assert have[t.code] >= 3, f"{t.code} has {have[t.code]} fixtures"
        if t.safety == "display-only":  # reports, never rewrites: findings and must-not-report cases
            assert kinds[t.code] == {"finding", "noop"}, f"{t.code} needs finding and must-not-report fixtures"
            continue
        assert {"fires", "noop"} <= kinds[t.code] | ({"noop"} if "finding" in kinds[t.code] else set()), (
            f"{t.code} needs fires and must-not-fire fixtures")


# ------------------------------------------------------------------ the loader
def _write(tmp_path, header: str, body: str = "=== input\nFROM x\n") -> "os.PathLike[str]":
    p = tmp_path / "DFX104" / "case.dockerfile"
    p.parent.mkdir(exist_ok=True)
    p.write_text(header + body, encoding="utf-8")
    return p


@pytest.mark.parametrize("header,line,words", [
    ("expcet: unsafe\n", 1, "unknown header key 'expcet'"),
    ("// a comment\n\nexpect: finding\nsetting: {}\n", 4, "unknown header key 'setting'"),
    ("expect: none\nunsafe true\n", 2, "not a 'key: value' header line"),
    ("expect: unsfe\n", 1, "expect must be safe|unsafe|finding|none"),
    ("expect: safe\nexpect: none\n", 2, "'expect' is given twice"),
    ("unsafe: yes\n", 1, "unsafe must be true or false"),
    ("settings: {strategy: 1}\n", 1, "settings is not JSON"),
    ("resolver: []\n", 1, "resolver must be a JSON object"),
])
def test_loader_rejects_a_bad_header_with_file_and_line(tmp_path, header, line, words):
    from tests.fixture_format import FixtureError, load

    p = _write(tmp_path, header)
    with pytest.raises(FixtureError) as exc:
        load(p)
    assert str(exc.value).startswith(f"{p}:{line}: "), str(exc.value)
    assert words in str(exc.value)


def test_loader_reads_every_header_key(tmp_path):
    from tests.fixture_format import KEYS, load

    header = ("expect: unsafe\nunsafe: false\nselect: DFX104, DFX107\nsettings: {\"strategy\": \"cache-mount\"}\n"
              "context: app.py = print(1)\\n\ncontext: src/\nkeeps-comments: false\n"
              "resolver: {\"python:3.12\": \"sha256:ab\"}\n")
    assert {ln.partition(":")[0] for ln in header.splitlines()} == KEYS
    fx = load(_write(tmp_path, header, "=== input\nFROM x\n=== output\nFROM y\n"))
    assert (fx.expect, fx.unsafe, fx.select, fx.settings, fx.keeps_comments) == (
        "unsafe", False, ["DFX104", "DFX107"], {"strategy": "cache-mount"}, False)
    assert fx.context == {"app.py": "print(1)\n", "src/": ""} and fx.digests == {"python:3.12": "sha256:ab"}
    assert (fx.input, fx.output) == ("FROM x\n", "FROM y\n")


def test_loader_without_input_section(tmp_path):
    from tests.fixture_format import FixtureError, load

    p = _write(tmp_path, "expect: none\n// nothing below\n", "")
    with pytest.raises(FixtureError, match=r":2: no '=== input' line"):
        load(p)
