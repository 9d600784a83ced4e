"""What each fix is for (Transform.effect, issue 19 item 11) and FixResult.cosmetic_only: a file whose applied fixes
are all cosmetic may be skipped by a PR bot or --check."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.transforms.base import EFFECTS


def _ctx(tmp_path, files):
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return str(tmp_path)


def test_every_transform_documents_an_effect():
    from dockerfix.transforms import registry

    for t in registry.all_transforms():
        assert t.effect in EFFECTS, (t.code, t.effect)


@pytest.mark.parametrize("text", [
    "FROM python:3.12\nADD app.py /app/\n",                        # ADD -> COPY of a plain file
    "FROM python:3.12\nCOPY --chown=root:root app.py /app/\n",     # the default --chown
    "FROM python:3.12\nADD app.py /app/\nCOPY --chown=0:0 app.py /b/\n",
])
def test_cosmetic_only(tmp_path, text):
    r = dockerfix.fix(text, context=_ctx(tmp_path, {"app.py": "print(1)\n"}))
    assert r.changed and r.changes and r.cosmetic_only, r.changes


@pytest.mark.parametrize("text", [
    "FROM python:3.12\nADD app.py /app/\nRUN apt-get update && apt-get install -y curl\n",  # + a cleanup
    "FROM python:3.12\nCOPY app.py /app/\n",                                             # nothing to do
    "FROM python:3.12\nCOPY app.py /app/\nRUN chown -R nobody /app/app.py\n",            # a layer saved
])
def test_not_cosmetic_only(tmp_path, text):
    r = dockerfix.fix(text, context=_ctx(tmp_path, {"app.py": "print(1)\n"}))
    assert not r.cosmetic_only, r.changes


def test_a_new_dockerignore_is_never_cosmetic(tmp_path):
    ctx = _ctx(tmp_path, {"app.py": "print(1)\n", ".git/HEAD": "ref\n"})
    r = dockerfix.fix("FROM python:3.12\nADD app.py /app/\n", context=ctx)
    assert r.files and not r.cosmetic_only


def test_copy_chown_classifies_each_fix():
    from dockerfix.transforms.copy_chown import POLICY_TITLE, ROOT_FLAG_TITLE, CopyChown

    t = CopyChown()
    assert t.effect_of(ROOT_FLAG_TITLE) == "cosmetic" and t.effect_of(POLICY_TITLE) == "correctness"
    assert t.effect_of("Move into COPY --chown=app (line 3)") == "size"
