"""The all-repos autofixer with the real all-repos: local repositories behind bare remotes, listed by the
``all_repos.source.json_file`` source, cloned by ``all-repos-clone``, fixed by ``python -m
dockerfix.fleet.all_repos`` and merged into each remote's main by ``all_repos.push.merge_to_master``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("all_repos")
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

NEEDS_FIX = "FROM python:3.12\nCOPY app.py /app/\nRUN pip install flask\n"
FIXED = "FROM python:3.12\nCOPY app.py /app/\nRUN pip install --no-cache-dir flask\n"
CLEAN = "FROM python:3.12\nCOPY app.py /app/\n"


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"HOME": str(tmp), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": "Fleet", "GIT_AUTHOR_EMAIL": "fleet@example.com",
                "GIT_COMMITTER_NAME": "Fleet", "GIT_COMMITTER_EMAIL": "fleet@example.com",
                "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    return env


def git(cwd, *args, env) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def fleet(tmp_path):
    env = _env(tmp_path)
    repos = {"svc-a": {"Dockerfile": NEEDS_FIX, "app.py": "x\n"},
             "svc-b": {"deploy/Dockerfile.prod": NEEDS_FIX, "deploy/app.py": "x\n"},
             "clean": {"Dockerfile": CLEAN, "app.py": "x\n"},
             "no-docker": {"README.md": "hi\n"}}
    listing = {}
    for name, files in repos.items():
        remote = tmp_path / "remotes" / f"{name}.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
        work = tmp_path / "src" / name
        git(tmp_path, "init", "-q", "-b", "main", str(work), env=env)
        for path, text in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        git(work, "add", ".", env=env)
        git(work, "commit", "-qm", "init", env=env)
        git(work, "push", "-q", str(remote), "main", env=env)
        listing[name] = str(remote)
    (tmp_path / "repos.json").write_text(json.dumps(listing))
    config = tmp_path / "all-repos.json"
    config.write_text(json.dumps({
        "output_dir": str(tmp_path / "output"),
        "source": "all_repos.source.json_file",
        "source_settings": {"filename": str(tmp_path / "repos.json")},
        "push": "all_repos.push.merge_to_master",
        "push_settings": {},
    }))
    config.chmod(0o600)  # all-repos refuses a config others can read
    clone = Path(sys.executable).with_name("all-repos-clone")
    subprocess.run([str(clone), "-C", str(config)], cwd=tmp_path, env=env, check=True, capture_output=True)
    return {"tmp": tmp_path, "env": env, "config": config, "remotes": listing}


def _fixer(fleet, *args):
    return subprocess.run([sys.executable, "-m", "dockerfix.fleet.all_repos", "-C", str(fleet["config"]), *args],
                          cwd=fleet["tmp"], env=fleet["env"], capture_output=True, text=True, timeout=600)


def _show(fleet, repo, path, ref="main"):
    return git(fleet["remotes"][repo], "show", f"{ref}:{path}", env=fleet["env"])


def test_find_repos_picks_repositories_with_dockerfiles(fleet):
    from all_repos.config import load_config

    from dockerfix.fleet import all_repos

    cwd = os.getcwd()
    os.chdir(fleet["tmp"])
    try:
        found = all_repos.find_repos(load_config(str(fleet["config"])))
    finally:
        os.chdir(cwd)
    assert sorted(Path(p).name for p in found) == ["clean", "svc-a", "svc-b"]


def test_autofixer_fixes_and_pushes_each_repository(fleet):
    p = _fixer(fleet, "--select", "DFX107")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Errored" not in p.stdout, p.stdout
    assert _show(fleet, "svc-a", "Dockerfile") == FIXED
    assert _show(fleet, "svc-b", "deploy/Dockerfile.prod") == FIXED
    assert _show(fleet, "clean", "Dockerfile") == CLEAN
    log = git(fleet["remotes"]["svc-a"], "log", "--format=%s", "main", env=fleet["env"]).splitlines()
    assert log[0].startswith("Merge branch 'all-repos_autofix_dockerfix'") or "dockerfix: apply" in "".join(log)
    # nothing to do for the clean one: no commit
    assert git(fleet["remotes"]["clean"], "rev-list", "--count", "main", env=fleet["env"]).strip() == "1"
    # a second run finds nothing left to change
    heads = {r: git(fleet["remotes"][r], "rev-parse", "main", env=fleet["env"]) for r in fleet["remotes"]}
    subprocess.run([str(Path(sys.executable).with_name("all-repos-clone")), "-C", str(fleet["config"])],
                   cwd=fleet["tmp"], env=fleet["env"], check=True, capture_output=True)
    assert _fixer(fleet, "--select", "DFX107").returncode == 0
    assert heads == {r: git(fleet["remotes"][r], "rev-parse", "main", env=fleet["env"]) for r in fleet["remotes"]}


def test_dry_run_pushes_nothing(fleet):
    heads = {r: git(fleet["remotes"][r], "rev-parse", "main", env=fleet["env"]) for r in fleet["remotes"]}
    p = _fixer(fleet, "--select", "DFX107", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "pip install --no-cache-dir flask" in p.stdout  # all-repos shows the diff
    assert heads == {r: git(fleet["remotes"][r], "rev-parse", "main", env=fleet["env"]) for r in fleet["remotes"]}


def test_unparseable_dockerfile_fails_only_that_repository(fleet):
    env = fleet["env"]
    work = fleet["tmp"] / "src" / "svc-a"
    (work / "Dockerfile").write_text("FROM python:3.12\nRUN <<EOF\nnever closed\n")
    git(work, "commit", "-qam", "broken", env=env)
    git(work, "push", "-q", fleet["remotes"]["svc-a"], "main", env=env)
    subprocess.run([str(Path(sys.executable).with_name("all-repos-clone")), "-C", str(fleet["config"])],
                   cwd=fleet["tmp"], env=env, check=True, capture_output=True)
    p = _fixer(fleet, "--select", "DFX107")
    assert "Errored" in p.stdout and "could not be processed" in p.stdout + p.stderr
    assert _show(fleet, "svc-a", "Dockerfile").startswith("FROM python:3.12\nRUN <<EOF")
    assert _show(fleet, "svc-b", "deploy/Dockerfile.prod") == FIXED


def test_dockerfix_import_does_not_load_all_repos():
    p = subprocess.run([sys.executable, "-c", "import dockerfix, dockerfix.fleet.all_repos, sys; "
                        "print('all_repos' in sys.modules)"], capture_output=True, text=True)
    assert p.stdout.strip() == "False", p.stderr
