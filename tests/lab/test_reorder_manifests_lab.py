"""reorder-manifests (DFX201) built for real (issue 19, item 3): where the old rewrite broke the build, the new one
builds (or does not rewrite at all).

Cases under ``tests/lab/cases/``, each with the user's ``Dockerfile`` and ``Dockerfile.old-rewrite``: what
dockerfix wrote before (the install moved before ``COPY . .`` with only the root manifests):

``reorder-npm-workspace``
    an npm workspace (``packages/app`` uses ``packages/lib``), installed offline from its lockfile. The old rewrite
    copied only the root package.json and lock: ``npm ci`` without the members' manifests fails or leaves the
    workspace links out, and ``node packages/app/index.js`` fails. The new rewrite copies every member's
    package.json with the root manifests; it must build and run the same.
``reorder-postinstall-generator``
    ``postinstall: node scripts/gen.js`` writes ``generated.js``, which the app requires. The old rewrite ran
    ``npm ci`` before the sources: the postinstall cannot find ``scripts/gen.js``. Now the transform reports a
    finding (even with ``--unsafe``) and leaves the order alone.

Both need no registry: the workspaces have no external dependencies (node:18-slim is the lab's Debian stand-in).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dockerfix
from dockerfix.verify.builders import BuildError

pytestmark = pytest.mark.lab

CASES = Path(__file__).resolve().parent / "cases"
TAG = "localhost/dockerfix-lab/reorder"


def _build(lab, case: str, name: str, text: str):
    """Build ``text`` with a copy of the case folder (Dockerfiles left out) as context; the BuildError or None."""
    ctx = lab.workdir / "reorder" / f"{case}.{name}"
    if not ctx.exists():
        shutil.copytree(CASES / case, ctx, ignore=shutil.ignore_patterns("Dockerfile*"))
    df = lab.workdir / "reorder" / f"{case}.{name}.Dockerfile"
    df.write_text(text, encoding="utf-8")
    try:
        lab.builder.build(df, ctx, f"{TAG}/{case}:{name}")
    except BuildError as exc:
        return exc
    return None


def _fixed(case: str, unsafe: bool):
    path = CASES / case / "Dockerfile"
    return dockerfix.fix(path.read_text(encoding="utf-8"), path=str(path), context=str(CASES / case),
                         select=["DFX201"], unsafe=unsafe)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_npm_workspace_rewrite_builds_where_the_old_one_failed(lab, unsafe):
    case = "reorder-npm-workspace"
    orig = (CASES / case / "Dockerfile").read_text(encoding="utf-8")
    assert _build(lab, case, "orig", orig) is None
    r = _fixed(case, unsafe)
    assert [c.code for c in r.changes] == ["DFX201"] and r.changes[0].safe
    assert "COPY packages/lib/package.json ./packages/lib/" in r.text
    err = _build(lab, case, "rewrite", r.text)
    assert err is None, f"{err}\n{err.tail(25)}"
    old = _build(lab, case, "old-rewrite", (CASES / case / "Dockerfile.old-rewrite").read_text(encoding="utf-8"))
    # measured: npm ci passes without the members' manifests but links no workspace, so the app cannot load lib
    assert old is not None and "MODULE_NOT_FOUND" in old.tail(40), "the old rewrite was expected to fail"


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_postinstall_generator_is_a_finding_and_the_old_rewrite_fails(lab, unsafe):
    case = "reorder-postinstall-generator"
    orig = (CASES / case / "Dockerfile").read_text(encoding="utf-8")
    assert _build(lab, case, "orig", orig) is None
    r = _fixed(case, unsafe)
    assert r.text == orig and not r.changes
    (f,) = [c for c in r.findings if c.code == "DFX201"]
    assert not f.fixable and "scripts/gen.js" in f.reason
    old = _build(lab, case, "old-rewrite", (CASES / case / "Dockerfile.old-rewrite").read_text(encoding="utf-8"))
    assert old is not None and "gen.js" in old.tail(40)
