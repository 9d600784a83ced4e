"""Where users run dockerfix: SARIF 2.1.0 against the official schema, the GitHub Action, the pre-commit hooks and the
integration docs, each checked against the real command line (flags that exist, names the CLI discovers).

The SARIF schema in ``tests/data/sarif-schema-2.1.0.json`` is the OASIS SARIF TC's published 2.1.0 schema (with
errata): repository oasis-tcs/sarif-spec, ``Schemata/sarif-schema-2.1.0.json`` at commit
85971b3e048f61a6d643b95fc6233d073302f5b8, whitespace reformatted and a ``$comment`` naming the source added. The
published file has one known defect: in ``region`` an ``anyOf`` sits inside ``properties`` (so a strict metaschema
check fails); it is kept as published, and instances are validated with a Draft 2020-12 validator directly.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dockerfix.cli_core import Options, run
from dockerfix.io.files import is_dockerfile_name

yaml = pytest.importorskip("yaml", reason="PyYAML (dev extra) parses action.yml and .pre-commit-hooks.yaml")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the SARIF output")

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"


# ------------------------------------------------------------------ the real command line's flags
def main_cli_flags() -> set[str]:
    import typer

    from dockerfix.cli import app

    cmd = typer.main.get_command(app)
    flags = set()
    for p in cmd.params:
        for o in list(getattr(p, "opts", [])) + list(getattr(p, "secondary_opts", [])):
            if o.startswith("-"):
                flags.add(o)
    return flags


def pr_cli_flags() -> set[str]:
    from dockerfix.bot.cli import build_parser

    flags = set()
    for action in build_parser()._actions:
        flags.update(o for o in action.option_strings)
    return flags


def test_flag_sets_are_sane():
    assert {"--write", "--check", "--diff", "--format", "--select", "--ignore", "--unsafe"} <= main_cli_flags()
    assert {"--select", "--ignore", "--unsafe", "--profile", "--dry-run", "--template", "--verify-report",
            "--api-url", "--repo"} <= pr_cli_flags()


# ------------------------------------------------------------------ SARIF 2.1.0
@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"].endswith("sarif-schema-2.1.0.json") and "oasis-tcs/sarif-spec" in schema["$comment"]
    assert len(schema["definitions"]) == 52
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def _project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text("print('hi')\n")
    (tmp_path / "app" / "Dockerfile").write_text(
        "FROM python:3.12\nADD app.py /app/\nRUN pip install flask\nRUN apt-get update && apt-get install -y curl\n")
    (tmp_path / "crlf").mkdir()
    (tmp_path / "crlf" / "Dockerfile").write_bytes(b"\xef\xbb\xbfFROM alpine\r\nRUN apk add curl\r\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text("FROM alpine\nRUN <<EOF\necho never closed\n")
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "Containerfile").write_text("FROM alpine\nCOPY . /src\n")
    return tmp_path


@pytest.mark.parametrize("mode, unsafe", [("report", False), ("report", True), ("write", False)])
def test_sarif_output_validates(tmp_path, sarif_validator, mode, unsafe, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    out, err = io.BytesIO(), io.BytesIO()
    code = run(Options(paths=(".",), mode=mode, fmt="sarif", unsafe=unsafe, quiet=True), stdout=out, stderr=err)
    assert code == 2  # the broken file
    doc = json.loads(out.getvalue())
    assert _errors(sarif_validator, doc) == []
    run_ = doc["runs"][0]
    assert run_["tool"]["driver"]["name"] == "dockerfix"
    assert {r["ruleId"] for r in run_["results"]} >= {"DFX001", "DFX107"}
    notes = run_["invocations"][0]["toolExecutionNotifications"]
    assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes] == ["broken/Dockerfile"]
    if mode == "report":
        assert any("fixes" in r for r in run_["results"])


def test_sarif_from_the_command_line_validates(tmp_path, sarif_validator):
    root = _project(tmp_path)
    shutil.rmtree(root / "broken")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "dockerfix", "--format", "sarif", "."], cwd=root, env=env,
                       capture_output=True, timeout=300)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert _errors(sarif_validator, doc) == []
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_schema_catches_a_broken_log(sarif_validator):
    """The validator is not vacuous: a result without a message and a bad level are rejected."""
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
                                         "results": [{"ruleId": "A", "level": "fatal"}]}]}
    errs = _errors(sarif_validator, bad)
    assert any("'message' is a required property" in e for e in errs)
    assert any("'fatal' is not one of" in e for e in errs)


# ------------------------------------------------------------------ the GitHub Action
@pytest.fixture(scope="module")
def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_action_shape(action):
    assert action["name"] == "dockerfix" and action["description"]
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {"paths", "select", "ignore", "unsafe", "mode", "token", "profile"} <= set(inputs)
    assert inputs["mode"]["default"] == "check" and inputs["unsafe"]["default"] == "false"
    assert inputs["token"]["default"] == "${{ github.token }}"
    steps = action["runs"]["steps"]
    (setup,) = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["update-environment"] is False, "the caller's Python must stay the caller's"
    runs = [s.get("run", "") for s in steps]
    script = '"$GITHUB_ACTION_PATH/dockerfix/bot/action_steps.py"'
    assert [r.split(script, 1)[1].split()[0] for r in runs if r] == ["setup", "check", "pr"]
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash"
            assert "${{" not in s["run"], "inputs must reach scripts through env, not interpolation"
            assert "pip install" not in s["run"], "installing belongs in action_steps.py setup (an isolated venv)"
        for value in (s.get("env") or {}).values():
            for name in re.findall(r"inputs\.([\w-]+)", str(value)):
                assert name in inputs
        if "if" in s:
            for name in re.findall(r"inputs\.([\w-]+)", s["if"]):
                assert name in inputs


def _recording_python(tmp_path: Path) -> Path:
    """A stand-in interpreter that records its arguments (``-m dockerfix ...``) and prints nothing else."""
    exe = tmp_path / "python"
    exe.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.mark.parametrize("step, env, expected", [
    ("check", {"INPUT_PATHS": ".", "INPUT_SELECT": "", "INPUT_IGNORE": "", "INPUT_UNSAFE": "false"},
     ["-m", "dockerfix", "--format", "github", "--", "."]),
    ("check", {"INPUT_PATHS": "app/Dockerfile\n  svc dir with space", "INPUT_SELECT": "DFX1,DFX001",
               "INPUT_IGNORE": "DFX113", "INPUT_UNSAFE": "true"},
     ["-m", "dockerfix", "--format", "github", "--select", "DFX1,DFX001", "--ignore", "DFX113", "--unsafe", "--",
      "app/Dockerfile", "svc", "dir", "with", "space"]),
    ("pr", {"INPUT_MODE": "pr", "INPUT_PATHS": "a b", "INPUT_SELECT": "", "INPUT_IGNORE": "",
            "INPUT_UNSAFE": "true", "INPUT_PROFILE": "weekly", "INPUT_TOKEN": "x"},
     ["-m", "dockerfix", "pr", "--profile", "weekly", "--unsafe", "--push-with-token", "--", "a", "b"]),
])
def test_action_scripts_build_arguments(tmp_path, capfd, step, env, expected):
    from dockerfix.bot import action_steps

    code = action_steps.main([step, str(_recording_python(tmp_path))], env=dict(env))
    assert code == 0
    out = capfd.readouterr().out
    assert json.loads(out.splitlines()[0]) == expected


def test_action_flags_exist():
    """The flags action_steps.py passes are flags of the CLI it runs."""
    src = (ROOT / "dockerfix" / "bot" / "action_steps.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(--[a-z][a-z-]+)"', src)) - {"--quiet", "--disable-pip-version-check"}
    assert used <= main_cli_flags() | pr_cli_flags(), used - main_cli_flags() - pr_cli_flags()
    assert "--push-with-token" in pr_cli_flags()


# ------------------------------------------------------------------ pre-commit
@pytest.fixture(scope="module")
def hooks() -> list[dict]:
    return yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_pre_commit_hooks(hooks):
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {"dockerfix", "dockerfix-check"}
    assert shlex.split(by_id["dockerfix"]["entry"]) == ["dockerfix", "--write", "--force-exclude"]
    assert shlex.split(by_id["dockerfix-check"]["entry"]) == ["dockerfix", "--check", "--force-exclude"]
    flags = main_cli_flags()
    for h in hooks:
        assert h["language"] == "python" and h["name"] and h["description"]
        argv = shlex.split(h["entry"])
        assert argv[0] == "dockerfix"
        assert all(a in flags for a in argv[1:] if a.startswith("-"))
        assert set(h) <= {"id", "name", "description", "entry", "language", "files", "exclude", "types",
                          "require_serial", "args", "pass_filenames", "minimum_pre_commit_version", "stages"}


NAMES = [
    "Dockerfile", "dockerfile", "DOCKERFILE", "Dockerfile.dev", "dockerfile.prod.arm64", "api.Dockerfile",
    "web.dockerfile", "Containerfile", "Containerfile.ubi", "containerfile",
    "Dockerfile.dockerignore", "Dockerfile.md", "Dockerfile.txt", "Dockerfile.orig", "Dockerfile.rej",
    "Dockerfile.bak", "Dockerfile~", ".#Dockerfile", "Dockerfile.swp", "README.md", "docker-compose.yml",
    "Dockerfiles", "mydockerfile", "Dockerfile-old", "x.Dockerfile.bak", "Makefile", ".dockerignore",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("folder", ["", "svc/", "deep/er/path/"])
def test_pre_commit_files_regex_matches_discovery(hooks, name, folder):
    for h in hooks:
        path = folder + name
        selected = bool(re.search(h["files"], path)) and not re.search(h["exclude"], path)
        assert selected == is_dockerfile_name(name), (h["id"], path)


def test_pre_commit_write_hook_fixes_passed_files(tmp_path, hooks):
    """What pre-commit does: run the entry with the staged file names; --write fixes, --check reports."""
    f = tmp_path / "Dockerfile"
    f.write_text("FROM alpine\nRUN apk add curl\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    by_id = {h["id"]: h for h in hooks}
    check = shlex.split(by_id["dockerfix-check"]["entry"])[1:]
    p = subprocess.run([sys.executable, "-m", "dockerfix", *check, str(f)], env=env, capture_output=True, timeout=300)
    assert p.returncode == 1 and f.read_text() == "FROM alpine\nRUN apk add curl\n"
    write = shlex.split(by_id["dockerfix"]["entry"])[1:]
    p = subprocess.run([sys.executable, "-m", "dockerfix", *write, str(f)], env=env, capture_output=True, timeout=300)
    assert p.returncode == 0 and "apk add --no-cache curl" in f.read_text()


# ------------------------------------------------------------------ docs
def test_integration_docs_name_real_commands():
    text = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    for needle in ("VS Code", "Neovim", "nvim-lspconfig", "conform.nvim", "Emacs", "eglot", "Helix",
                   "GitHub Action", "pre-commit", "dockerfix lsp", "dockerfix pr", "dockerfix -", "SARIF"):
        assert needle in text, needle
    main_flags, pr_flags = main_cli_flags(), pr_cli_flags()
    checked = 0
    for line in _code_lines(text):
        for m in re.finditer(r"(?<![\w/.-])dockerfix((?: [^|;&#]*)?)", line):
            words = m.group(1).split()
            known = pr_flags if words[:1] == ["pr"] else main_flags
            flags = {re.match(r"--[a-z][\w-]*", w).group(0) for w in words if re.match(r"--[a-z]", w)}
            assert flags <= known, (line, flags - known)
            checked += 1
    assert checked >= 10


def _code_lines(markdown: str) -> list[str]:
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append(line)
        else:
            lines.extend(re.findall(r"`([^`]*dockerfix[^`]*)`", line))
    return lines
