"""Verdicts on real buildah builds: a safe rewrite that re-runs an apt step which regenerates fontconfig caches and
the snakeoil certificate verifies equal through the automatic baseline; a `COPY . /app` app whose rewrite adds a
.dockerignore is built as `--write` leaves it, and the rewritten Dockerfile in the image is a declared difference."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from dockerfix.verify.run import verify

pytestmark = pytest.mark.lab


def test_regenerated_files_are_judged_against_an_automatic_baseline(lab, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    # a unique first step: layers cached by an earlier run would make both images identical
    (ctx / "Dockerfile").write_text(
        "FROM debian:bookworm-slim\n"
        f"RUN echo {uuid.uuid4().hex} > /etc/build-id\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends fontconfig ssl-cert\n")
    rep = verify(ctx / "Dockerfile", lab.builder, select=["apt-lists-cleanup"], rebuild=False,
                 workdir=tmp_path / "work")
    assert [c["code"] for c in rep.changes] == ["DFX103"]
    assert rep.equal, rep.comparison.summary() + "\n" + "\n".join(
        str(v.to_dict()) for v in rep.comparison.violations[:20])
    b = rep.baseline
    assert b.why == "automatic" and b.built
    # what differed before the baseline: only files builds regenerate
    assert set(b.explained.values()) >= {"fontconfig caches", "snakeoil certificate"}, b.explained
    assert "etc/ssl/private/ssl-cert-snakeoil.key" in b.explained
    assert any(p.startswith("var/cache/fontconfig/") for p in b.explained)
    assert {"fontconfig caches", "snakeoil certificate"} <= set(b.regenerated)
    assert any("judged against that second build" in n for n in rep.notes)
    allowed = {x.path: x.allowed_by.code for x in rep.comparison.allowed}
    assert allowed["etc/ssl/private/ssl-cert-snakeoil.key"] == "baseline"
    assert any(p.startswith("var/lib/apt/lists/") and c == "DFX103" for p, c in allowed.items())


def test_copy_dot_app_with_a_new_dockerignore_declares_the_dockerfile(lab, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "__pycache__").mkdir(parents=True)
    (ctx / ".git").mkdir()
    (ctx / "app.py").write_text("print('hi')\n")
    (ctx / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00stale")
    (ctx / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    df = ctx / "Dockerfile"
    df.write_text("FROM debian:bookworm-slim\n"
                  "RUN apt-get update && apt-get install -y --no-install-recommends jq\n"
                  "COPY . /app\n")
    work = tmp_path / "work"
    rep = verify(df, lab.builder, select=["apt-lists-cleanup", "dockerignore"], rebuild=False, workdir=work)
    assert {c["code"] for c in rep.changes} == {"DFX103", "DFX203"}
    assert rep.in_context and rep.equal, rep.comparison.summary() + "\n" + "\n".join(
        str(v.to_dict()) for v in rep.comparison.violations[:20])
    assert rep.declared_files == {"Dockerfile": ["app/Dockerfile"]}
    allowed = {x.path: x.allowed_by.code for x in rep.comparison.allowed}
    assert allowed["app/Dockerfile"] == "rewrite"
    assert allowed["app/.git/HEAD"] == "DFX203" and allowed["app/__pycache__/app.cpython-311.pyc"] == "DFX203"
    assert "app/.dockerignore" not in allowed, "the new .dockerignore lists itself: it stays out of the image"
    assert (work / "context-after" / ".dockerignore").is_file()
    assert Path(work / "context-after" / "Dockerfile").read_text() != df.read_text()
