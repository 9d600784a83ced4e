"""After dockerfix's rewrite, a source-only edit reuses the cached dependency install of every app (cache hits, not
seconds), while the original Dockerfile re-installs."""

from __future__ import annotations

import uuid

import pytest

import dockerfix
from labkit import APPS

pytestmark = pytest.mark.lab

# RUN hygiene and cache-friendly builds (multi-stage rewrites name bases the offline lab does not have)
SELECT = ["DFX1", "DFX2"]

# app -> (source file edited, text of the dependency install step)
APPS_UNDER_TEST = {
    "python-flask": ("app.py", "pip install"),
    "node-express": ("server.js", "npm install"),
    "go-http": ("main.go", "go mod download"),
}


def _rewrite(ctx):
    text = (ctx / "Dockerfile").read_text()
    result = dockerfix.fix(text, select=SELECT, unsafe=True, context=str(ctx), path="Dockerfile")
    assert not result.errors, result.errors
    assert any(c.code == "DFX201" for c in result.changes), "reorder-manifests did not fire"
    for rel, fc in result.files.items():
        (ctx / rel).write_text(fc.after)
    out = ctx / "Dockerfile.dockerfix"
    out.write_text(result.text)
    return out


def _edit(path):
    with open(path, "a") as f:
        f.write(f"\n# a source edit {uuid.uuid4()}\n" if path.suffix == ".py" else f"\n// a source edit {uuid.uuid4()}\n")


@pytest.mark.parametrize("app", sorted(APPS_UNDER_TEST))
def test_source_edit_reuses_the_dependency_layer(lab, app):
    source, install = APPS_UNDER_TEST[app]
    ctx = lab.fresh_context(app, "rebuild-after")
    dockerfile = _rewrite(ctx)
    first = lab.build(app, "rebuild-after", dockerfile, ctx)
    assert first.step(install)  # the install is a step of its own
    _edit(ctx / source)
    again = lab.build(app, "rebuild-after", dockerfile, ctx)
    assert again.step(install).cached, again.to_dict()
    assert not again.step("COPY . .").cached  # the edit is seen

    orig_ctx = lab.fresh_context(app, "rebuild-before")
    lab.build(app, "rebuild-before", APPS / app / "Dockerfile", orig_ctx)
    _edit(orig_ctx / source)
    orig = lab.build(app, "rebuild-before", APPS / app / "Dockerfile", orig_ctx)
    assert not orig.step(install).cached  # the original re-installs every dependency
    assert again.built_steps < orig.built_steps
