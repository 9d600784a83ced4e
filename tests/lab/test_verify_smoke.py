"""`dockerfix verify --smoke` with real buildah builds: a smoke command runs in both images as the image would run
it (its USER, WORKDIR and ENV), one that behaves the same passes, one that does not fails the verify (exit 1) with
both outputs shown, and the HEALTHCHECK runs once in each image with --healthcheck."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dockerfix.verify.run import verify

pytestmark = pytest.mark.lab

DOCKERFILE = """\
FROM debian:bookworm-slim
RUN apt-get update
RUN apt-get install -y --no-install-recommends jq
RUN useradd -m app
USER app
WORKDIR /home/app
ENV GREETING=hello
HEALTHCHECK CMD test -d /home/app
"""
SAME = 'id -un; pwd; echo "$GREETING"; jq --version; date'
DIFFERS = "ls /var/lib/apt/lists | grep -c _Packages"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx / "Dockerfile"


def test_smoke_that_agrees_and_smoke_that_differs(lab, app, tmp_path):
    out = tmp_path / "report.json"
    p = subprocess.run([sys.executable, "-m", "dockerfix", "verify", str(app), "--builder", "buildah", "--lab",
                        str(lab.root), "--no-rebuild", "--smoke", SAME, "--smoke", DIFFERS, "--healthcheck",
                        "--json", str(out), "--color", "never"], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    d = json.loads(out.read_text())
    assert {c["code"] for c in d["changes"]} >= {"DFX101", "DFX103"}
    assert d["images_equal"] is True and d["equal"] is False and d["behaviour_equal"] is False
    same, differs, health = d["smoke"]
    # the image's user, working directory and environment apply; `date` differs only in masked bits
    assert same["passed"] and same["before"]["stdout"].startswith("app\n/home/app\nhello\njq-1.6")
    assert not differs["passed"] and differs["differences"] == ["exit status 0 -> 1", "stdout differs"]
    assert int(differs["before"]["stdout"]) >= 1 and differs["after"]["stdout"].strip() == "0"
    assert health["kind"] == "healthcheck" and health["passed"] and health["before"]["exit_code"] == 0
    assert f"smoke `{SAME}`: passed" in p.stdout
    assert f"smoke `{DIFFERS}`: FAILED (exit status 0 -> 1; stdout differs)" in p.stdout
    assert "--- original: exit 0" in p.stdout and "--- rewrite: exit 1" in p.stdout
    assert "healthcheck `test -d /home/app`: passed" in p.stdout


def test_smoke_that_agrees_passes_and_the_unrun_healthcheck_is_mentioned(lab, app, tmp_path):
    rep = verify(app, lab.builder, rebuild=False, smoke=[SAME], workdir=tmp_path / "work")
    assert rep.equal, rep.comparison.summary()
    assert [(c.command, c.passed) for c in rep.checks] == [(SAME, True)]
    assert rep.healthcheck == {"before": ["CMD-SHELL", "test -d /home/app"],
                               "after": ["CMD-SHELL", "test -d /home/app"], "run": False}
    assert any("HEALTHCHECK that was not run" in n for n in rep.notes)
