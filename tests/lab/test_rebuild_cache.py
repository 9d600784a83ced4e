"""After dockerfix's rewrite, a source-only edit reuses the cached dependency install of every app (cache hits, not
seconds), while the original Dockerfile re-installs."""

from __future__ import annotations

import pytest

import dockerfix
from labkit import edit_source

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


@pytest.mark.parametrize("app", sorted(APPS_UNDER_TEST))
def test_source_edit_reuses_the_dependency_layer(lab, app):
    source, install = APPS_UNDER_TEST[app]
    ctx = lab.fresh_context(app, "rebuild-after")
    dockerfile = _rewrite(ctx)
    first = lab.build(app, "rebuild-after", dockerfile, ctx)
    assert first.step(install)  # the install is a step of its own
    edit_source(ctx / source)
    again = lab.build(app, "rebuild-after", dockerfile, ctx)
    assert again.step(install).cached, again.to_dict()
    assert not again.step("COPY . .").cached  # the edit is seen

    _, orig = lab.original_after_edit(app, source)  # shared with test_python_flask_pair
    assert not orig.step(install).cached  # the original re-installs every dependency
    assert again.built_steps < orig.built_steps
