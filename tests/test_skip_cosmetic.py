"""``--skip-cosmetic`` (config ``skip-cosmetic``): a file whose fixes are all cosmetic (the same image and build cache:
ADD -> COPY of a plain file, dropping ``--chown=root:root``) is left unchanged, and ``--check`` does not count it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COSMETIC = "FROM python:3.12-slim\nADD app.py /app/\n"
MIXED = "FROM python:3.12-slim\nADD app.py /app/\nRUN pip install flask\n"


def dfx(cwd, *args):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "dockerfix", *args], cwd=cwd, capture_output=True, text=True,
                          env=env)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    return tmp_path


def test_check_counts_a_cosmetic_only_file_without_the_flag(project):
    (project / "Dockerfile").write_text(COSMETIC)
    r = dfx(project, "--check", "Dockerfile")
    assert r.returncode == 1 and "would rewrite Dockerfile" in r.stderr


def test_check_skips_a_cosmetic_only_file_with_the_flag(project):
    (project / "Dockerfile").write_text(COSMETIC)
    r = dfx(project, "--check", "--skip-cosmetic", "Dockerfile")
    assert r.returncode == 0, r.stderr
    assert "would rewrite" not in r.stderr


def test_write_leaves_a_cosmetic_only_file_and_reports_the_fix(project):
    (project / "Dockerfile").write_text(COSMETIC)
    r = dfx(project, "--write", "--skip-cosmetic", "--format", "json", "Dockerfile")
    assert (project / "Dockerfile").read_text() == COSMETIC
    import json

    (f,) = json.loads(r.stdout)["files"]
    assert not f["changed"]
    assert not f["changes"]
    (finding,) = [c for c in f["findings"] if c["code"] == "DFX001"]
    assert not finding["applied"] and "cosmetic" in finding["reason"]


def test_a_file_with_one_real_fix_is_rewritten_whole(project):
    (project / "Dockerfile").write_text(MIXED)
    r = dfx(project, "--write", "--skip-cosmetic", "Dockerfile")
    assert r.returncode == 0, r.stderr
    assert (project / "Dockerfile").read_text() == (
        "FROM python:3.12-slim\nCOPY app.py /app/\nRUN pip install --no-cache-dir flask\n")


def test_config_key_and_the_flag_that_overrides_it(project):
    (project / "Dockerfile").write_text(COSMETIC)
    (project / ".dockerfix.toml").write_text("skip-cosmetic = true\n")
    assert dfx(project, "--check", "Dockerfile").returncode == 0
    assert dfx(project, "--check", "--no-skip-cosmetic", "Dockerfile").returncode == 1
    (project / ".dockerfix.toml").write_text("skip-cosmetic = 'yes'\n")
    r = dfx(project, "--check", "Dockerfile")
    assert r.returncode == 2 and "'skip-cosmetic' must be true or false" in r.stderr


def test_typer_app_and_fast_parser_agree_on_the_flag():
    from dockerfix import cli_fast

    opts = cli_fast.parse(["--check", "--skip-cosmetic", "Dockerfile"])
    assert opts.skip_cosmetic is True
    assert cli_fast.parse(["--no-skip-cosmetic", "Dockerfile"]).skip_cosmetic is False
    assert cli_fast.parse(["Dockerfile"]).skip_cosmetic is None
