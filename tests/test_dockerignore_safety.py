"""DFX203 dockerignore: what the fixtures cannot show (the proposed file's content, the walk, its bound).

A rule is safe only when nothing the build can read matches it: COPY/ADD sources, RUN bind mounts, and the trees
they copy or mount."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.model.manifests import DockerIgnore
from dockerfix.transforms import dockerignore as mod


def _ctx(tmp_path, files):
    for name, content in files.items():
        p = tmp_path / name
        if name.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return str(tmp_path)


def _fix(tmp_path, files, text, *, unsafe=True, path=None):
    r = dockerfix.fix(text, select=["DFX203"], context=_ctx(tmp_path, files), unsafe=unsafe, path=path)
    (d,) = [c for c in r.changes + r.findings if c.code == "DFX203"]
    return r, d


def _nothing(tmp_path, files, text, *, path=None):
    """No proposal at all, not even with --unsafe."""
    r = dockerfix.fix(text, select=["DFX203"], context=_ctx(tmp_path, files), unsafe=True, path=path)
    assert not r.files and not [c for c in r.changes + r.findings if c.code == "DFX203"], r.all
    return r


# ------------------------------------------------------------------ the ignore file itself
def test_new_file_excludes_itself(tmp_path):
    r, d = _fix(tmp_path, {"app.py": "", ".git/HEAD": "x"}, "FROM python:3.12\nCOPY . /app\n")
    fc = r.files[".dockerignore"]
    assert fc.before is None and fc.after.splitlines()[1] == ".dockerignore"
    ig = DockerIgnore(fc.after)
    assert ig.excludes(".dockerignore") and ig.excludes(".git/HEAD") and not ig.excludes("app.py")
    assert d.safe and d.fix_title == "Create .dockerignore (.git)"  # the title lists what it keeps out, not itself


def test_edited_file_excludes_itself_when_the_build_copies_the_root(tmp_path):
    files = {".dockerignore": "*.log\n", "package.json": "{}", "node_modules/a/i.js": ""}
    r, d = _fix(tmp_path, files, "FROM node:20\nCOPY . .\nRUN npm ci\n")
    fc = r.files[".dockerignore"]
    assert fc.before == "*.log\n"
    assert fc.after.startswith("*.log\n# Keep") and ".dockerignore" in fc.after.splitlines()
    assert DockerIgnore(fc.after).excludes(".dockerignore") and d.safe


@pytest.mark.parametrize("copy", ["COPY * /app/", "COPY .* /app/", "COPY ./ /app/"])
def test_edited_file_excludes_itself_for_globs_and_root_spellings(tmp_path, copy):
    files = {".dockerignore": "*.log\n", "package.json": "{}", "node_modules/a/i.js": ""}
    r, d = _fix(tmp_path, files, f"FROM node:20\n{copy}\nRUN npm ci\n")
    assert ".dockerignore" in r.files[".dockerignore"].after.splitlines() and d.safe, d.reason


def test_broad_glob_copies_are_folder_copies(tmp_path):
    files = {"app.py": "", "requirements.txt": "", "__pycache__/app.cpython-312.pyc": "", ".env": "X=1"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY * /app/\n", unsafe=False)
    assert not d.safe and "copies .env into the image" in d.reason and "__pycache__" not in d.reason


def test_broad_glob_inside_an_excluded_folder(tmp_path):
    # excluding node_modules would leave `COPY node_modules/*` with nothing to copy: the rule is never proposed
    files = {"package.json": "{}", "node_modules/a/index.js": ""}
    _nothing(tmp_path, files, "FROM node:20\nCOPY node_modules/* /opt/modules/\n")


def test_edited_file_excludes_itself_for_a_bind_mount_of_the_root(tmp_path):
    files = {".dockerignore": "*.log\n", "package.json": "{}", "node_modules/a/i.js": ""}
    text = "# syntax=docker/dockerfile:1\nFROM node:20\nRUN --mount=type=bind,target=/src npm ci --prefix /src\n"
    r, d = _fix(tmp_path, files, text)
    assert ".dockerignore" in r.files[".dockerignore"].after.splitlines()


def test_edited_file_left_alone_when_the_build_does_not_copy_it(tmp_path):
    files = {".dockerignore": "*.log\n", "package.json": "{}", "package-lock.json": "{}", "node_modules/a/i.js": ""}
    r, d = _fix(tmp_path, files, "FROM node:20\nCOPY package.json package-lock.json ./\nRUN npm ci\n")
    assert ".dockerignore" not in r.files[".dockerignore"].after.splitlines() and d.safe


def test_edited_file_already_excluded_is_not_listed_twice(tmp_path):
    files = {".dockerignore": ".dockerignore\n", "package.json": "{}", "node_modules/a/i.js": ""}
    r, d = _fix(tmp_path, files, "FROM node:20\nCOPY . .\nRUN npm ci\n")
    assert r.files[".dockerignore"].after.splitlines().count(".dockerignore") == 1 and d.safe


def test_per_dockerfile_ignore_file_lists_its_own_name(tmp_path):
    files = {"Dockerfile.dockerignore": "*.log\n", "package.json": "{}", "node_modules/a/i.js": ""}
    r, d = _fix(tmp_path, files, "FROM node:20\nCOPY . .\nRUN npm ci\n", path=str(tmp_path / "Dockerfile"))
    fc = r.files["Dockerfile.dockerignore"]
    assert "Dockerfile.dockerignore" in fc.after.splitlines() and d.safe


def test_copy_of_the_ignore_file_by_name_is_unsafe(tmp_path):
    files = {".dockerignore": "*.log\n", "package.json": "{}", "node_modules/a/i.js": ""}
    r, d = _fix(tmp_path, files, "FROM node:20\nCOPY .dockerignore package.json /app/\nRUN npm ci\n", unsafe=False)
    assert not r.files and not d.safe and ".dockerignore" in d.reason


# ------------------------------------------------------------------ one walk for the proposal and the check
def test_a_deep_key_is_seen_by_the_check(tmp_path):
    """The rule comes from a shallow key; the same rule drops a key far down a folder the Dockerfile copies."""
    files = {"pom.xml": "<project/>", "certs/dev.pem": "k", "conf/a/b/c/d/e/server.pem": "k"}
    r, d = _fix(tmp_path, files, "FROM eclipse-temurin:21\nCOPY conf/ /etc/app/\n", unsafe=False)
    assert not d.safe and "conf/a/b/c/d/e/server.pem" in d.reason
    # the same context, but the Dockerfile copies only what the rule leaves alone
    r2 = dockerfix.fix("FROM eclipse-temurin:21\nCOPY pom.xml /app/\n", select=["DFX203"], context=str(tmp_path))
    assert r2.files and all(c.safe for c in r2.changes)


def test_a_deep_key_alone_makes_the_rule(tmp_path):
    files = {"app.py": "", "deploy/k8s/overlays/prod/secrets/tls.key": "k"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY app.py /app/\n")
    assert "**/*.key" in r.files[".dockerignore"].after.splitlines() and d.safe


def test_every_path_a_rule_excludes_was_walked(tmp_path):
    """The tree the check uses holds every path the proposed rules exclude, except under folders a rule excludes
    as a whole (whose fate that rule decides)."""
    files = {"package.json": "{}", "node_modules/x/test/key.pem": "k", "a/b/c/d/e/f/g/h/x.pem": "k", ".env": "X=1",
             "src/index.js": "", "src/certs/dev.key": "k"}
    ctx = _ctx(tmp_path, files)
    from dockerfix.io.context import DirectoryContext

    bc = DirectoryContext(ctx)
    t = mod.DockerIgnoreTransform()
    base = t._entries(bc, DockerIgnore())
    tree = mod.ContextTree.walk(bc, DockerIgnore(), DockerIgnore("\n".join(e for e, k in base)))
    assert tree.complete and "node_modules" in tree.skipped
    entries = base + t._secret_entries(tree, DockerIgnore(), base)
    new = DockerIgnore("\n".join(e for e, _ in entries))
    on_disk = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")]
    for p in on_disk:
        if new.excludes(p) and not p.startswith("node_modules/"):
            assert p in tree.paths, p


def test_walk_bound_makes_tree_copies_unsafe(tmp_path, monkeypatch):
    files = {"app.py": "", ".git/HEAD": "x"} | {f"pkg/m{i}.py": "" for i in range(30)}
    monkeypatch.setattr(mod, "WALK_LIMIT", 10)
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY . /app\n", unsafe=False)
    assert not d.safe and "more than 10 paths" in d.reason
    # a Dockerfile that copies named files only is not affected by the bound
    r2 = dockerfix.fix("FROM python:3.12\nCOPY app.py /app/\n", select=["DFX203"], context=str(tmp_path))
    assert all(c.safe for c in r2.changes) and r2.files


# ------------------------------------------------------------------ bind mounts
@pytest.mark.parametrize("mount,safe", [
    ("--mount=type=bind,target=/src", False),                       # the whole context: .git is read
    ("--mount=type=bind,source=.,target=/src", False),
    ("--mount=source=.git,target=/src/.git", None),                 # type defaults to bind: .git never excluded
    ("--mount=type=bind,source=src,target=/src", True),             # nothing excluded in src/
    ("--mount=type=bind,from=build,source=/out,target=/o", True),   # another stage, not the context
    ("--mount=type=cache,target=/root/.cache", True),
])
def test_bind_mounts(tmp_path, mount, safe):
    files = {"go.mod": "module x", "src/main.go": "package main", ".git/HEAD": "x"}
    text = f"# syntax=docker/dockerfile:1\nFROM golang:1.22 AS build\nRUN {mount} go env\nFROM scratch\n"
    if safe is None:
        _nothing(tmp_path, files, text)
        return
    r, d = _fix(tmp_path, files, text)
    assert d.safe is safe, d.reason


def test_bind_mount_drops_only_caches_safely(tmp_path):
    files = {"requirements.txt": "flask", "app/main.py": "", "app/__pycache__/main.cpython-312.pyc": ""}
    text = ("# syntax=docker/dockerfile:1\nFROM python:3.12\n"
            "RUN --mount=type=bind,target=/src python -m compileall /src\n")
    r, d = _fix(tmp_path, files, text)
    assert "**/__pycache__" in r.files[".dockerignore"].after.splitlines() and d.safe


# ------------------------------------------------------------------ build outputs and sources
def test_build_folder_of_sources_is_never_excluded_even_when_the_dockerfile_builds(tmp_path):
    files = {"package.json": "{}", "build/webpack.config.js": "module.exports = {}", "src/index.js": "",
             ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, "FROM node:20\nCOPY . .\nRUN npm ci && npm run build\n", unsafe=False)
    lines = r.files[".dockerignore"].after.splitlines()
    assert d.safe and "build" not in lines and ".git" in lines


def test_build_output_without_sources_is_safe_when_the_dockerfile_builds_it(tmp_path):
    files = {"build.gradle": "", "src/Main.java": "", "build/libs/app.jar": "PK", "build/tmp/x.bin": ""}
    r, d = _fix(tmp_path, files, "FROM gradle:8\nCOPY . /src\nRUN gradle -p /src build\n")
    assert "build" in r.files[".dockerignore"].after.splitlines() and d.safe


def test_report_folders_may_hold_scripts(tmp_path):
    files = {"requirements.txt": "", "app.py": "", "htmlcov/index.html": "", "htmlcov/coverage_html.js": ""}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY . /app\nRUN make -C /app\n")
    assert "htmlcov" in r.files[".dockerignore"].after.splitlines() and d.safe


def test_a_run_naming_a_file_of_an_output_folder(tmp_path):
    files = {"pom.xml": "", "target/app.jar": "PK"}
    text = "FROM maven:3\nWORKDIR /w\nCOPY . .\nRUN mvn package && cp target/app.jar /app.jar\n"
    r, d = _fix(tmp_path, files, text, unsafe=False)
    assert not d.safe and "target/app.jar" in d.reason


# ------------------------------------------------------------------ the RUNs, read with the shell model
def test_git_through_a_wrapper_reads_vcs(tmp_path):
    files = {"app.py": "", ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY . /app\nRUN cd /app && sudo -E git describe --tags\n",
                unsafe=False)
    assert not d.safe and "git" in d.reason


def test_the_word_git_in_an_argument_is_not_git(tmp_path):
    files = {"app.py": "", ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY . /app\nRUN echo 'no git here' && pip install flask\n")
    assert d.safe


def test_an_unreadable_run_may_read_vcs(tmp_path):
    files = {"app.py": "", ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, 'FROM python:3.12\nCOPY . /app\nSHELL ["pwsh", "-c"]\nRUN Get-ChildItem\n',
                unsafe=False)
    assert not d.safe


def test_installed_node_modules_the_dockerfile_reinstalls(tmp_path):
    files = {"package.json": "{}", "node_modules/a/index.js": ""}
    assert _fix(tmp_path, files, "FROM node:20\nCOPY . .\nRUN yarn --frozen-lockfile\n")[1].safe
    # without an install, the image runs the context's node_modules: excluding it breaks the app, never proposed
    _nothing(tmp_path, files, "FROM node:20\nCOPY . .\nCMD [\"node\", \"server.js\"]\n")


# ------------------------------------------------------------------ exceptions
def test_env_templates_stay_in_but_are_never_added(tmp_path):
    files = {"app.py": "", ".env.prod": "X=1", ".env.example": "X=", ".env.sample": "X="}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY app.py /app/\n")
    lines = r.files[".dockerignore"].after.splitlines()
    assert ".env.*" in lines and "!.env.example" in lines and "!.env.sample" in lines and d.safe


def test_an_exception_never_re_includes_what_the_current_file_excludes(tmp_path):
    files = {".dockerignore": "*.sample\n", "app.py": "", ".env.prod": "X=1", ".env.example": "X=",
             ".env.sample": "X="}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY app.py /app/\n")
    after = r.files[".dockerignore"].after
    assert "!.env.example" in after.splitlines() and "!.env.sample" not in after.splitlines()
    assert DockerIgnore(after).excludes(".env.sample")


# ------------------------------------------------------------------ issue 19: rules that break, other contexts
def test_a_rule_excluding_a_copied_file_is_left_out_and_the_rest_stays_safe(tmp_path):
    files = {"app.py": "", ".env": "X=1", ".env.local": "X=2", ".env.example": "X=", ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY app.py .env /app/\n", unsafe=False)
    lines = r.files[".dockerignore"].after.splitlines()
    assert ".env" not in lines and ".git" in lines and ".env.*" in lines and "!.env.example" in lines
    ig = DockerIgnore(r.files[".dockerignore"].after)
    assert not ig.excludes(".env") and ig.excludes(".env.local")
    assert d.safe and d.applied


def test_dropping_env_star_drops_its_exceptions(tmp_path):
    files = {"app.py": "", ".env.local": "X=2", ".env.example": "X=", ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY app.py .env.local /app/\n", unsafe=False)
    lines = r.files[".dockerignore"].after.splitlines()
    assert ".env.*" not in lines and not any(x.startswith("!") for x in lines) and ".git" in lines


def test_every_breaking_rule_is_left_out_even_with_unsafe(tmp_path):
    files = {"package.json": "{}", "dist/index.js": "", "node_modules/a/index.js": "", ".git/HEAD": "x"}
    text = "FROM node:20\nCOPY dist/ /srv/\nCOPY node_modules/ /srv/node_modules/\n"
    r, d = _fix(tmp_path, files, text, unsafe=True)
    lines = r.files[".dockerignore"].after.splitlines()
    assert "dist" not in lines and "**/node_modules" not in lines and ".git" in lines and d.safe


def test_missing_copy_sources_mean_the_context_is_elsewhere(tmp_path):
    files = {"app.py": "", ".git/HEAD": "x"}
    r, d = _fix(tmp_path, files, "FROM python:3.12\nCOPY services/api/ /app/\nCOPY services/lib/x.py /x\n")
    assert not r.files and not d.fixable
    assert "services/api" in d.message and "1 more" in d.message and "another folder" in d.reason


def test_onbuild_and_variable_sources_are_no_sign_of_another_context(tmp_path):
    files = {"app.py": "", ".git/HEAD": "x"}
    text = "FROM python:3.12\nONBUILD COPY requirements.txt /app/\nCOPY app.py /app/\n"
    r, d = _fix(tmp_path, files, text, unsafe=False)
    assert d.safe and ".git" in r.files[".dockerignore"].after.splitlines()


def test_a_proposal_of_only_preventive_rules_is_dropped(tmp_path):
    files = {"package.json": "{}", "requirements.txt": "", "app.py": ""}
    _nothing(tmp_path, files, "FROM python:3.12\nCOPY . /app\n")
