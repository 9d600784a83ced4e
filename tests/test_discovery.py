"""Which files a run takes: Dockerfile names (one definition with the pre-commit hooks), git's ignore rules, the
default excludes, the configuration's exclude/extend-exclude, --force-exclude and --show-files."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerfix.cli_core import run
from dockerfix.config import Finder
from dockerfix.io.files import DOCKERFILE_NAME, NOT_DOCKERFILE, discover, is_dockerfile_name
from dockerfix.io.ignore import Excluder, compile_line

ROOT = Path(__file__).resolve().parents[1]
FIXABLE = "FROM alpine\nADD app.py /app/\n"


def tree(root: Path, files) -> Path:
    for rel in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            continue
        p.write_text(files[rel] if isinstance(files, dict) else FIXABLE)
    return root


def found(root: Path, *paths: str, **kw) -> list[str]:
    out, errors = discover([str(root / p) for p in (paths or ("",))], excluder=Excluder(Finder()), **kw)
    return sorted(os.path.relpath(f, root).replace(os.sep, "/") for f in out)


def cli(root: Path, *argv: str) -> tuple[int, str, str]:
    from dockerfix import cli_fast

    old = os.getcwd()
    os.chdir(root)
    try:
        opts = cli_fast.parse(list(argv))
        out, err = io.BytesIO(), io.BytesIO()
        code = run(opts, stdin=io.BytesIO(b""), stdout=out, stderr=err)
        return code, out.getvalue().decode(), err.getvalue().decode()
    finally:
        os.chdir(old)


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("name", [
    "Dockerfile-windows", "Dockerfile_dev", "build.Containerfile", "api.containerfile", "Containerfile-arm64",
    "dockerfile_test", "Containerfile_x",
])
def test_names_it_used_to_miss(name):
    assert is_dockerfile_name(name)


@pytest.mark.parametrize("name", ["Dockerfiles", "mydockerfile", "Dockerfile-windows.md", "x.containerfile.bak",
                                  "Dockerfile_dev~", "Containerfiles", "docker-compose.yml"])
def test_names_that_stay_out(name):
    assert not is_dockerfile_name(name)


def test_pre_commit_patterns_are_the_discovery_rule():
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"dockerfix", "dockerfix-check"}
    for h in hooks:
        assert h["files"] == DOCKERFILE_NAME and h["exclude"] == NOT_DOCKERFILE, h["id"]
        assert "--force-exclude" in h["entry"].split()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["docker", "Docker", "container", "file", "File", ".", "-", "_", "x", "md",
                                 "dockerignore", "~", "#", "bak"]), min_size=1, max_size=6).map("".join),
       st.sampled_from(["", "a/", "deep/er/"]))
def test_hooks_regexes_select_what_discovery_takes(name, folder):
    """pre-commit matches the hooks' expressions against the whole path; discovery looks at the name."""
    path = folder + name
    selected = bool(re.search(DOCKERFILE_NAME, path)) and not re.search(NOT_DOCKERFILE, path)
    assert selected == is_dockerfile_name(name)


def test_folder_scan_finds_the_new_names(tmp_path):
    tree(tmp_path, ["Dockerfile-windows", "Dockerfile_dev", "build.Containerfile", "x.containerfile", "README.md"])
    assert found(tmp_path) == ["Dockerfile-windows", "Dockerfile_dev", "build.Containerfile", "x.containerfile"]


# ------------------------------------------------------------------ default excludes
def test_default_excludes(tmp_path):
    tree(tmp_path, ["Dockerfile", ".venv/lib/site-packages/pkg/Dockerfile", "venv/Dockerfile",
                    "node_modules/x/Dockerfile", "vendor/github.com/x/Dockerfile", "__pycache__/Dockerfile",
                    ".tox/py/Dockerfile", ".mypy_cache/Dockerfile", "dist/app/Dockerfile", "a/.git/Dockerfile",
                    "build/package/Dockerfile", "target/Dockerfile", "svc/Dockerfile"])
    assert found(tmp_path) == ["Dockerfile", "build/package/Dockerfile", "svc/Dockerfile", "target/Dockerfile"]


def test_write_dot_leaves_site_packages_alone(tmp_path):
    """The report: `--write .` changed a Dockerfile inside a virtual environment's site-packages."""
    tree(tmp_path, {"Dockerfile": FIXABLE, "app.py": "", ".venv/lib/python3.11/site-packages/pkg/Dockerfile": FIXABLE,
                    ".venv/lib/python3.11/site-packages/pkg/app.py": ""})
    code, out, err = cli(tmp_path, "--write", ".")
    assert code == 0, err
    assert (tmp_path / "Dockerfile").read_text() != FIXABLE
    assert (tmp_path / ".venv/lib/python3.11/site-packages/pkg/Dockerfile").read_text() == FIXABLE


# ------------------------------------------------------------------ .gitignore
def test_gitignore_nested_negation_anchoring(tmp_path):
    tree(tmp_path, {
        ".git/info/exclude": "local-only/\n",
        ".gitignore": "# comment\n/generated\nout/\n*.gen.Dockerfile\n!keep.gen.Dockerfile\ndocs/**/Dockerfile\n",
        "svc/.gitignore": "Dockerfile.tmpl-out\n!/out/\n",
        "Dockerfile": FIXABLE, "generated/Dockerfile": FIXABLE, "svc/generated/Dockerfile": FIXABLE,
        "out/Dockerfile": FIXABLE, "svc/out/Dockerfile": FIXABLE, "a.gen.Dockerfile": FIXABLE,
        "keep.gen.Dockerfile": FIXABLE, "docs/x/y/Dockerfile": FIXABLE, "docs/Dockerfile": FIXABLE,
        "svc/Dockerfile.tmpl-out": FIXABLE, "local-only/Dockerfile": FIXABLE,
    })
    # what `git ls-files --others --exclude-standard` lists there (docs/**/Dockerfile matches docs/Dockerfile too)
    assert found(tmp_path) == ["Dockerfile", "keep.gen.Dockerfile", "svc/generated/Dockerfile", "svc/out/Dockerfile"]


def test_gitignore_outside_a_repository_does_not_count(tmp_path):
    tree(tmp_path, {".gitignore": "ignored/\n", "ignored/Dockerfile": FIXABLE, "Dockerfile": FIXABLE})
    assert found(tmp_path) == ["Dockerfile", "ignored/Dockerfile"]


def test_parent_gitignore_applies_when_scanning_a_subfolder(tmp_path):
    tree(tmp_path, {".git/HEAD": "", ".gitignore": "gen/\n", "app/gen/Dockerfile": FIXABLE, "app/Dockerfile": FIXABLE})
    assert found(tmp_path, "app") == ["app/Dockerfile"]


def test_submodule_starts_afresh(tmp_path):
    tree(tmp_path, {".git/HEAD": "", ".gitignore": "Dockerfile.dev\n", "sub/.git": "gitdir: ../.git/modules/sub\n",
                    "Dockerfile.dev": FIXABLE, "sub/Dockerfile.dev": FIXABLE})
    assert found(tmp_path) == ["sub/Dockerfile.dev"]


def test_respect_gitignore_false(tmp_path):
    tree(tmp_path, {".git/HEAD": "", ".gitignore": "gen/\n", "gen/Dockerfile": FIXABLE,
                    ".dockerfix.toml": "respect-gitignore = false\n"})
    assert found(tmp_path) == ["gen/Dockerfile"]


GIT = shutil.which("git")


@pytest.mark.skipif(GIT is None, reason="git compares our matcher with its own")
@settings(max_examples=int(os.environ.get("DFX_GIT_EXAMPLES", "60")), deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "*", "**", "/", "?", "!", "[ab]", "x", "[!a]", "\\*"]),
                min_size=1, max_size=5).map("".join),
       st.lists(st.sampled_from(["a", "b", "x", "ab", "ba", "*"]), min_size=1, max_size=4).map("/".join))
def test_matcher_agrees_with_git_check_ignore(tmp_path_factory, pattern, path):
    """The pattern language against git itself (``git check-ignore --no-index``), files and folders."""
    pat = compile_line(pattern)
    for is_dir in (False, True):
        root = tmp_path_factory.mktemp("git")
        subprocess.run([GIT, "init", "-q", str(root)], check=True)
        (root / ".gitignore").write_text(pattern + "\n")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.mkdir() if is_dir else target.write_text("")  # git looks at the path to know a folder
        r = subprocess.run([GIT, "-C", str(root), "check-ignore", "--no-index", "-q", path], capture_output=True)
        git_says = r.returncode == 0
        # a path is ignored when it matches, or when a folder above it does (git never looks inside)
        parts = path.split("/")
        candidates = [("/".join(parts[:i]), True) for i in range(1, len(parts))] + [(path, is_dir)]
        ours = pat is not None and not pat.negate and any(
            not (pat.dir_only and not d) and pat.regex.fullmatch(c) for c, d in candidates)
        assert ours == git_says, (pattern, path, is_dir)


# ------------------------------------------------------------------ configuration
def test_config_exclude_replaces_and_extend_exclude_adds(tmp_path):
    tree(tmp_path, {"node_modules/Dockerfile": FIXABLE, "legacy/Dockerfile": FIXABLE, "a/legacy/Dockerfile": FIXABLE,
                    "Dockerfile": FIXABLE, "pyproject.toml": '[tool.dockerfix]\nexclude = ["/legacy"]\n'})
    assert found(tmp_path) == ["Dockerfile", "a/legacy/Dockerfile", "node_modules/Dockerfile"]
    (tmp_path / "pyproject.toml").write_text('[tool.dockerfix]\nextend-exclude = ["legacy/"]\n')
    assert found(tmp_path) == ["Dockerfile"]


def test_config_exclude_must_be_a_list(tmp_path):
    tree(tmp_path, {"Dockerfile": FIXABLE, ".dockerfix.toml": 'exclude = "legacy"\n'})
    code, out, err = cli(tmp_path, "--check", "Dockerfile")
    assert code == 2 and "'exclude' must be a list of patterns" in err


# ------------------------------------------------------------------ explicit files, --force-exclude, --show-files
def test_explicit_file_is_processed_unless_force_exclude(tmp_path):
    tree(tmp_path, {".git/HEAD": "", ".gitignore": "gen/\n", "gen/Dockerfile": FIXABLE, "gen/app.py": "",
                    "node_modules/x/Dockerfile": FIXABLE})
    code, out, err = cli(tmp_path, "--check", "gen/Dockerfile")
    assert code == 1 and "would rewrite gen/Dockerfile" in err
    code, out, err = cli(tmp_path, "--check", "--force-exclude", "gen/Dockerfile", "node_modules/x/Dockerfile")
    assert code == 0, err
    assert "would rewrite" not in err


def test_force_exclude_keeps_the_rest(tmp_path):
    tree(tmp_path, {".dockerfix.toml": 'extend-exclude = ["legacy/"]\n', "legacy/Dockerfile": FIXABLE,
                    "app/Dockerfile": FIXABLE, "app/app.py": ""})
    code, out, err = cli(tmp_path, "--write", "--force-exclude", "legacy/Dockerfile", "app/Dockerfile")
    assert code == 0, err
    assert (tmp_path / "legacy/Dockerfile").read_text() == FIXABLE
    assert (tmp_path / "app/Dockerfile").read_text() != FIXABLE


def test_show_files(tmp_path):
    tree(tmp_path, {".git/HEAD": "", ".gitignore": "gen/\n", "gen/Dockerfile": FIXABLE, "b/Dockerfile_dev": FIXABLE,
                    "a/Dockerfile": "not even parseable\n", "node_modules/Dockerfile": FIXABLE})
    code, out, err = cli(tmp_path, "--show-files", ".")
    assert (code, out, err) == (0, "a/Dockerfile\nb/Dockerfile_dev\n", "")
    assert (tmp_path / "b/Dockerfile_dev").read_text() == FIXABLE
