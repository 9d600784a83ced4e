"""DFX201-DFX203 beyond the fixtures: the .dockerignore matcher (BuildKit's rules), the side files DFX203 writes,
the shared strategy decision, and the app Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

import dockerfix
from dockerfix.model.manifests import DockerIgnore, cache_strategy, needs_buildkit
from dockerfix.syntax import parse

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


# ------------------------------------------------------------------ .dockerignore matching
@pytest.mark.parametrize("patterns,path,excluded", [
    ("node_modules", "node_modules", True),
    ("node_modules", "node_modules/x/index.js", True),  # a matched folder excludes its contents
    ("node_modules", "src/node_modules", False),  # patterns are anchored at the context root
    ("**/node_modules", "src/node_modules/a", True),
    ("**/node_modules", "node_modules", True),  # **/ also matches zero folders
    ("*.md", "README.md", True),
    ("*.md", "docs/a.md", False),  # * never crosses /
    ("**/*.md", "docs/a.md", True),
    ("docs/**", "docs/a/b.md", True),
    ("/build", "build/x", True),  # a leading / is dropped
    ("./build/", "build", True),  # cleaned like filepath.Clean
    ("*.md\n!README.md", "README.md", False),  # ! re-includes; the last match wins
    ("*.md\n!README.md\nREADME*", "README.md", True),
    ("# comment\n  .git  \n", ".git/HEAD", True),  # comments, surrounding blanks
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("[ab].txt", "b.txt", True),
    ("[^a].txt", "a.txt", False),
    (r"\*.txt", "*.txt", True),
    ("dist\n!dist/keep", "dist/keep/x", False),
    ("", "x", False),
])
def test_dockerignore_matching(patterns, path, excluded):
    assert DockerIgnore(patterns).excludes(path) is excluded


# ------------------------------------------------------------------ strategy
@pytest.mark.parametrize("text,buildkit", [
    ("FROM x\nRUN a\n", False),
    ("# syntax=docker/dockerfile:1\nFROM x\n", True),
    ("FROM x\nRUN --mount=type=secret,id=a a\n", True),
    ("FROM x\nRUN <<EOF\na\nEOF\n", True),
    ("FROM x\nCOPY --link a b\n", True),
    ("FROM x\nCOPY --chmod=755 a b\n", False),  # copy-chown adds --chmod: it must not switch the strategy
    ("FROM x\nCOPY --chown=1 a b\n", False),
])
def test_needs_buildkit(text, buildkit):
    doc = parse(text)
    assert needs_buildkit(doc) is buildkit
    assert cache_strategy({}, doc) == ("cache-mount" if buildkit else "clean-layer")
    assert cache_strategy({"strategy": "clean-layer"}, doc) == "clean-layer"
    assert cache_strategy({"strategy": "cache-mount"}, doc) == "cache-mount"


def test_cleanups_stand_down_exactly_where_cache_mounts_fire():
    text = "# syntax=docker/dockerfile:1\nFROM python:3.12 AS b\nRUN pip install flask\nFROM scratch\n"
    r = dockerfix.fix(text, select=["DFX107", "DFX202"])
    assert {c.code for c in r.changes} == {"DFX202"}
    assert "--no-cache-dir" not in r.text and "--mount=type=cache,target=/root/.cache/pip" in r.text
    plain = dockerfix.fix(text.split("\n", 1)[1], select=["DFX107", "DFX202"])
    assert {c.code for c in plain.changes} == {"DFX107"}


# ------------------------------------------------------------------ DFX203 side files
def _ctx(tmp_path, files):
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return str(tmp_path)


def test_dockerignore_new_file(tmp_path):
    ctx = _ctx(tmp_path, {"app.py": "", "requirements.txt": "flask\n", ".git/HEAD": "x", "certs/server.pem": "k"})
    r = dockerfix.fix("FROM python:3.12\nCOPY app.py /app/\n", select=["DFX203"], context=ctx)
    fc = r.files[".dockerignore"]
    assert fc.before is None
    lines = fc.after.splitlines()
    assert lines[0].startswith("#")
    assert {".git", "**/__pycache__", ".venv", "**/*.pem"} <= set(lines)
    assert "**/node_modules" not in lines  # no node project here
    assert r.text == "FROM python:3.12\nCOPY app.py /app/\n"
    assert all(c.safe for c in r.changes)
    # what it proposes excludes the offenders and keeps what the Dockerfile copies
    ig = DockerIgnore(fc.after)
    assert ig.excludes(".git/HEAD") and ig.excludes("certs/server.pem") and not ig.excludes("app.py")


def test_dockerignore_appends_to_existing_file(tmp_path):
    ctx = _ctx(tmp_path, {".dockerignore": "*.log", "package.json": "{}", "node_modules/a/i.js": ""})
    r = dockerfix.fix("FROM node:20\nCOPY . .\nRUN npm ci\n", select=["DFX203"], context=ctx)
    fc = r.files[".dockerignore"]
    assert fc.before == "*.log"
    assert fc.after.startswith("*.log\n#") and "**/node_modules" in fc.after


def test_dockerignore_unsafe_when_copy_needs_excluded_path(tmp_path):
    ctx = _ctx(tmp_path, {"pom.xml": "<project/>", "target/app.jar": "x"})
    text = "FROM eclipse-temurin:21\nCOPY target/app.jar /app.jar\n"
    assert not dockerfix.fix(text, select=["DFX203"], context=ctx).files
    # excluding target would break the COPY: the rule is never proposed, not even with --unsafe (issue 19)
    r = dockerfix.fix(text, select=["DFX203"], context=ctx, unsafe=True)
    assert not r.files and not r.changes


def test_dockerignore_not_for_a_folder_of_dockerfiles(tmp_path):
    ctx = _ctx(tmp_path, {"a__Dockerfile": "FROM x", "b__Dockerfile.dev": "FROM x", "README.md": ""})
    r = dockerfix.fix("FROM node:20\nCOPY . .\nRUN npm ci\n", select=["DFX203"], context=ctx)
    assert not r.files and not r.changes and not r.findings


def test_reorder_reads_the_dockerignore_dfx203_proposes(tmp_path):
    """The engine overlays the new .dockerignore for later passes: the two transforms compose."""
    ctx = _ctx(tmp_path, {"package.json": '{"name": "x"}', "package-lock.json": "{}", "server.js": "",
                          ".git/HEAD": "ref"})
    r = dockerfix.fix("FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n", select=["DFX201", "DFX203"], context=ctx)
    assert r.text == "FROM node:20\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\n"
    assert ".dockerignore" in r.files
    again = dockerfix.fix(r.text, select=["DFX201"], context=ctx)
    assert again.text == r.text


# ------------------------------------------------------------------ the apps
@pytest.mark.parametrize("app,install", [
    ("python-flask", "RUN pip install -r requirements.txt"),
    ("node-express", "RUN npm install"),
    ("go-http", "RUN go mod download"),
])
def test_apps_get_manifests_before_the_source(app, install):
    text = (APPS / app / "Dockerfile").read_text()
    r = dockerfix.fix(text, select=["DFX201"], unsafe=True, context=str(APPS / app))
    lines = r.text.splitlines()
    i = lines.index(install)
    assert lines[i - 1].startswith("COPY ") and lines[i - 1] != "COPY . ."
    assert lines[i + 1] == "COPY . ."

