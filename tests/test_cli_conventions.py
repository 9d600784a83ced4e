"""The command line's conventions: one error style, help and version, --check naming files, stdin rules (no JSON on
the Dockerfile's stdout, empty files, bounded format-on-save), companion files only on request, and a start-up that
never builds the typer app for a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockerfix import cli_fast

FIXABLE = "FROM alpine\nADD app.py /app/\n"
FIXED = "FROM alpine\nCOPY app.py /app/\n"
PY_PROJECT = {  # a real build context with no .dockerignore: DFX203 proposes one
    "app.py": "print('hi')\n", "requirements.txt": "flask\n", ".git/HEAD": "ref: refs/heads/main\n",
    "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nCOPY . .\n",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    for k in ("NO_COLOR", "DOCKERFIX_DEBUG", "DOCKERFIX_STDIN_TIMEOUT"):
        e.pop(k, None)
    return e


def dfx(env, *args, cwd=None, input=b"", extra_env=None):
    return subprocess.run([sys.executable, "-m", "dockerfix", *args], input=input, cwd=cwd,
                          env={**env, **(extra_env or {})}, capture_output=True, timeout=120)


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return root


# ------------------------------------------------------------------ help, version, errors
def test_typer_app_and_fast_parser_know_the_same_options():
    import typer

    from dockerfix.cli import app

    cmd = typer.main.get_command(app)
    declared = {o for p in cmd.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))
                if o.startswith("-")}
    assert declared == set(cli_fast.OPTIONS) - {"--help", "-h"}  # click adds its help option itself


def test_help_lists_the_subcommands(env):
    r = dfx(env, "--help")
    assert r.returncode == 0
    out = r.stdout.decode()
    block = out[out.index("Commands"):]
    for name in ("verify", "pr", "lsp"):
        assert f"  dockerfix {name}" in block, name
    assert "<list[str]>" not in out  # no type names from the library


@pytest.mark.parametrize("args, message", [
    (["--bogus", "Dockerfile"], "no such option: --bogus"),
    (["--format", "xml", "Dockerfile"], "unknown format 'xml'"),
    (["--jobs", "many", "Dockerfile"], "--jobs: 'many' is not a whole number"),
    (["--color", "rainbow", "Dockerfile"], "unknown colour setting 'rainbow'"),
    (["-qz", "Dockerfile"], "no such option: -z"),
    (["--select"], "requires a value"),
    (["--select", "dFx999", "Dockerfile"], "unknown transform: dFx999"),
    (["--explain", "Merge-Runz"], "unknown transform: Merge-Runz"),
])
def test_one_error_style(env, tmp_path, args, message):
    project(tmp_path, {"Dockerfile": FIXABLE})
    r = dfx(env, *args, cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 2 and r.stdout == b""
    assert err.startswith("dockerfix: error: ") and message in err, err
    for leak in ("Usage:", "Try '", "Error:", "Value error", "Input should be", "validation error", "Traceback"):
        assert leak not in err, err


def test_unknown_code_in_config_keeps_its_spelling(env, tmp_path):
    project(tmp_path, {"Dockerfile": FIXABLE, ".dockerfix.toml": 'ignore = ["Add-Local-To-Cpy"]\n'})
    r = dfx(env, "--check", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 2 and b"Add-Local-To-Cpy" in r.stderr


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(env, flag):
    from dockerfix import __version__

    r = dfx(env, flag)
    assert (r.returncode, r.stdout.decode(), r.stderr) == (0, f"dockerfix {__version__}\n", b"")


# ------------------------------------------------------------------ --check names files
def test_check_names_every_file_that_would_change(env, tmp_path):
    project(tmp_path, {"a/Dockerfile": FIXABLE, "a/app.py": "", "b/Dockerfile": "FROM alpine\n",
                       "c/Dockerfile-dev": FIXABLE, "c/app.py": ""})
    r = dfx(env, "--check", ".", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == b""
    lines = r.stderr.decode().splitlines()
    assert lines[:2] == ["would rewrite a/Dockerfile", "would rewrite c/Dockerfile-dev"]
    assert lines[2].startswith("Would rewrite 2 files") and len(lines) == 3
    assert dfx(env, "--check", "-q", ".", cwd=tmp_path).stderr == b""


# ------------------------------------------------------------------ stdin
def test_json_with_stdin_is_refused(env):
    r = dfx(env, "--format", "json", "-", input=FIXABLE.encode())
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode().startswith("dockerfix: error: --format json cannot be combined with '-'")


@pytest.mark.parametrize("text", ["", "\n\n", "# syntax=docker/dockerfile:1\n# nothing yet\n", "\ufeff"])
def test_empty_file_comes_back_unchanged(env, tmp_path, text):
    r = dfx(env, "-", "--stdin-filename", "Dockerfile", input=text.encode(), cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, text.encode()), r.stderr
    (tmp_path / "Dockerfile").write_text(text)
    for mode in ("--check", "--write"):
        r = dfx(env, mode, "Dockerfile", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "Dockerfile").read_text() == text


def test_stdin_over_the_size_limit_comes_back_unchanged(env, tmp_path):
    from dockerfix.cli_core import STDIN_MAX_BYTES

    big = FIXABLE + "".join(f"LABEL n{i}=\"{'x' * 90}\"\n" for i in range(STDIN_MAX_BYTES // 100 + 10))
    assert len(big) > STDIN_MAX_BYTES
    r = dfx(env, "-", "--stdin-filename", "Dockerfile", input=big.encode(), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == big.encode()
    assert b"warning: not rewritten: larger than the format-on-save limit" in r.stderr
    (tmp_path / "Dockerfile").write_text(big)
    (tmp_path / "app.py").write_text("")
    r = dfx(env, "--check", "Dockerfile", cwd=tmp_path)  # the same file on disk is still processed in full
    assert r.returncode == 1 and b"would rewrite Dockerfile" in r.stderr


def test_stdin_over_the_time_budget_comes_back_unchanged(env, tmp_path):
    blocks = "RUN apt-get update\nRUN apt-get install -y curl\nADD app.tar /opt/\n" * 60
    text = "FROM debian:12\n" + blocks + "ADD app.py /app/\n"
    r = dfx(env, "-", input=text.encode(), cwd=tmp_path, extra_env={"DOCKERFIX_STDIN_TIMEOUT": "0.001"})
    assert r.returncode == 0 and r.stdout == text.encode(), r.stderr
    assert b"warning: not rewritten: the rewrite took longer than the format-on-save budget" in r.stderr
    r = dfx(env, "-", input=text.encode(), cwd=tmp_path, extra_env={"DOCKERFIX_STDIN_TIMEOUT": "0"})
    assert r.returncode == 0 and r.stdout != text.encode()  # no budget: rewritten


# ------------------------------------------------------------------ companion files
def test_write_creates_no_file_unless_asked(env, tmp_path):
    project(tmp_path, PY_PROJECT)
    r = dfx(env, "--write", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / ".dockerignore").exists()
    report = dfx(env, "Dockerfile", cwd=tmp_path)
    assert b"DFX203 the build context has no .dockerignore" in report.stdout and b"--add-files" in report.stdout
    assert b"[*]" not in report.stdout and report.returncode == 0  # nothing --write would do
    r = dfx(env, "--check", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0 and b"would rewrite" not in r.stderr  # the pre-commit check hook passes
    r = dfx(env, "--write", "--add-files", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / ".dockerignore").exists()


def test_create_files_in_config(env, tmp_path):
    project(tmp_path, {**PY_PROJECT, ".dockerfix.toml": "create-files = true\n"})
    r = dfx(env, "--check", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 1 and b"would rewrite Dockerfile" in r.stderr
    r = dfx(env, "--write", "--no-add-files", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0 and not (tmp_path / ".dockerignore").exists()
    r = dfx(env, "--write", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / ".dockerignore").exists()


def test_format_on_save_never_claims_a_companion_file(env, tmp_path):
    project(tmp_path, PY_PROJECT)
    r = dfx(env, "-", "--stdin-filename", "Dockerfile", "--add-files", input=PY_PROJECT["Dockerfile"].encode(),
            cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == PY_PROJECT["Dockerfile"].encode()
    assert b"Applied 0 fixes" in r.stderr and b"DFX203" in r.stderr
    assert not (tmp_path / ".dockerignore").exists()


# ------------------------------------------------------------------ start-up
@pytest.mark.parametrize("mode", ["--write", "--check"])
def test_pre_commit_path_imports_no_typer(env, tmp_path, mode):
    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": ""})
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "dockerfix", mode, "Dockerfile"], cwd=tmp_path,
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == (0 if mode == "--write" else 1)
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.decode().splitlines() if "|" in line}
    assert "dockerfix.cli_core" in imported
    heavy = {m for m in imported if m.split(".")[0] in ("typer", "click", "rich", "jinja2", "pydantic")}
    assert heavy == set()


# ------------------------------------------------------------------ what BuildKit would refuse
def test_unknown_instruction_is_reported_with_its_position(env, tmp_path):
    project(tmp_path, {"Dockerfile": "FROM alpine\nCOPY a /a\n  RUNN make\n"})
    r = dfx(env, "--check", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0  # a finding, nothing to rewrite
    r = dfx(env, "Dockerfile", cwd=tmp_path)
    assert b"Dockerfile:3:3: DFX902 unknown instruction RUNN: BuildKit fails the build here (did you mean RUN?)" \
        in r.stdout


# ------------------------------------------------------------------ subcommands share the error style
@pytest.mark.parametrize("argv, command", [
    (["verify", "--bogus", "Dockerfile"], "verify"),
    (["pr", "--bogus"], "pr"),
    (["lsp", "--bogus"], "lsp"),
])
def test_subcommand_errors_use_the_one_error_style(argv, command):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "dockerfix", *argv], capture_output=True, text=True)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if "error" in ln]
    assert lines and lines[0].startswith(f"dockerfix: error: {command}: "), p.stderr
