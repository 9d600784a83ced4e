"""The CLI end to end: exit codes, stdout/stderr separation, --diff | patch, byte-exact rewrites, both start-up paths.

Subprocess tests run ``[sys.executable, "-m", "dockerfix", ...]``; the rest call :func:`dockerfix.cli_core.run`,
the fast-path parser or the typer app in-process.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys

import pytest

from dockerfix import cli_core, cli_fast
from dockerfix.cli_core import exit_code, resolve_mode, run
from dockerfix.outputs import FileError, FileReport

FIXABLE = "FROM alpine\nADD app.py /app/\nRUN echo hi\n"
FIXED = "FROM alpine\nCOPY app.py /app/\nRUN echo hi\n"
CLEAN = "FROM alpine\nCOPY app.py /app/\n"
HEREDOC = b"FROM x\nRUN <<EOF\necho\n"


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    """Subprocess environment: bytecode cached outside the repo so each process does not recompile everything."""
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    e.pop("NO_COLOR", None)
    e.pop("DOCKERFIX_DEBUG", None)
    return e


def dfx(env, *args, cwd=None, input=b""):
    return subprocess.run(
        [sys.executable, "-m", "dockerfix", *args], input=input, cwd=cwd, env=env, capture_output=True, timeout=60
    )


def invoke(*argv: str, stdin: bytes = b"", cwd=None):
    """In-process ``dockerfix argv``: the fast path when it applies, the typer app otherwise."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        try:
            opts = cli_fast.parse(list(argv))
        except cli_core.UsageError as exc:
            return 2, b"", f"dockerfix: error: {exc}\n".encode()
        if isinstance(opts, cli_fast.Info):
            opts = None  # --version, --list-transforms, --explain: the typer app answers the same way
        if opts is not None:
            out, err = io.BytesIO(), io.BytesIO()
            code = run(opts, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
            return code, out.getvalue(), err.getvalue()
        from typer.testing import CliRunner

        from dockerfix.cli import app

        r = CliRunner().invoke(app, list(argv), input=stdin, prog_name="dockerfix")
        return r.exit_code, r.stdout_bytes, r.stderr_bytes
    finally:
        os.chdir(old)


def project(tmp_path, files: dict[str, str | bytes]):
    for rel, content in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


# ------------------------------------------------------------------ exit-code matrix
@pytest.mark.parametrize("flag", [None, "--diff", "--check"])
def test_clean_exits_0(tmp_path, flag):
    project(tmp_path, {"Dockerfile": CLEAN, "app.py": ""})
    code, out, err = invoke(*([flag] if flag else []), ".", cwd=tmp_path)
    assert code == 0, err
    assert out == b""


@pytest.mark.parametrize("flag", [None, "--diff", "--check"])
def test_fixable_exits_1_and_leaves_file(tmp_path, flag):
    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": ""})
    code, out, err = invoke(*([flag] if flag else []), ".", cwd=tmp_path)
    assert code == 1, err
    assert (tmp_path / "Dockerfile").read_text() == FIXABLE
    if flag == "--check":
        assert out == b"" and b"Would rewrite 1 file" in err
    elif flag is None:
        assert out == b"Dockerfile:2:1: DFX001 [*] " + out.split(b"[*] ", 1)[1]
        assert b"Found 1 issue" in err


def test_write_exits_0_and_rewrites(tmp_path):
    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": ""})
    code, out, err = invoke("--write", ".", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "Dockerfile").read_text() == FIXED
    assert b"Rewrote 1 file" in err
    assert invoke("--check", ".", cwd=tmp_path)[0] == 0


@pytest.mark.parametrize("flag", [None, "--diff", "--check", "--write"])
def test_syntax_error_exits_2_untouched(tmp_path, flag):
    project(tmp_path, {"Dockerfile": HEREDOC, "ok/Dockerfile": FIXABLE})
    code, out, err = invoke(*([flag] if flag else []), ".", cwd=tmp_path)
    assert code == 2
    assert b"Dockerfile:2:5: error: unterminated heredoc" in err
    assert (tmp_path / "Dockerfile").read_bytes() == HEREDOC


def test_unknown_code_exits_2(tmp_path):
    project(tmp_path, {"Dockerfile": FIXABLE})
    for args in (["--select", "DFX999", "."], ["--ignore", "nope", "."], ["--select", "DFX999", "-"]):
        code, out, err = invoke(*args, cwd=tmp_path)
        assert code == 2 and b"unknown transform" in err and out == b"", args
    assert invoke("--explain", "DFX999")[0] == 2


def test_non_utf8_exits_2_untouched(tmp_path):
    data = b"FROM alpine\nADD caf\xe9.py /app/\n"
    project(tmp_path, {"Dockerfile": data})
    code, out, err = invoke("--write", ".", cwd=tmp_path)
    assert code == 2 and b"Dockerfile:2:8: error: file is not valid UTF-8" in err
    assert (tmp_path / "Dockerfile").read_bytes() == data


def test_empty_dir_and_missing_path_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = invoke("empty", cwd=tmp_path)
    assert code == 2 and b"empty: error: no Dockerfiles found" in err
    code, out, err = invoke("nope", cwd=tmp_path)
    assert code == 2 and b"nope: error: no such file" in err


@pytest.mark.parametrize(
    "args",
    [["--diff", "--write", "."], ["--format", "json", "--diff", "."], ["-", "."], ["--write", "-"], [],
     ["--bogus", "."], ["--jobs", "0", "."], ["--stdin-filename", "x", "."], ["--context", "nope", "."]],
)
def test_usage_errors_exit_2(tmp_path, args):
    project(tmp_path, {"Dockerfile": FIXABLE})
    code, out, err = invoke(*args, cwd=tmp_path)
    assert code == 2 and out == b"", (args, err)


def test_exit_code_is_computed_in_one_place():
    ok = FileReport("a", original="x", text="x")
    changed = FileReport("b", original="x", text="y")
    bad = FileReport("c", error=FileError("io", "boom"))
    assert resolve_mode(["."]) == "report" and resolve_mode(["-"]) == "stdin"
    assert [exit_code(m, [ok]) for m in ("report", "diff", "check", "write", "stdin")] == [0, 0, 0, 0, 0]
    assert [exit_code(m, [ok, changed]) for m in ("report", "diff", "check", "write", "stdin")] == [1, 1, 1, 0, 0]
    assert exit_code("write", [changed, bad]) == 2 and exit_code("report", []) == 2
    internal = FileReport("d", original="x", text="x", internal_errors=["fix reverted"])
    assert exit_code("report", [internal]) == 2


# ------------------------------------------------------------------ stdin / stdout
def test_stdin_subprocess_separation(env, tmp_path):
    project(tmp_path, {"svc/app.py": "print(1)\n"})  # the build context of svc/Dockerfile, so DFX001 is safe
    r = dfx(env, "-", "--stdin-filename", "svc/Dockerfile", cwd=tmp_path, input=FIXABLE.encode())
    assert r.returncode == 0, r.stderr
    assert r.stdout == FIXED.encode()
    assert b"Applied 1 fix" in r.stderr


def test_add_local_to_copy_is_safe_only_with_a_build_context(env, tmp_path):
    # Issue "Safe must mean safe", case 5: ADD unpacks a local tar archive found by content, COPY does not, so
    # DFX001 is safe only when the build context shows the source is not one.
    text = b"FROM alpine\nADD app.py /app/\n"
    copied = b"FROM alpine\nCOPY app.py /app/\n"
    (tmp_path / "nowhere").mkdir()
    # stdin without --stdin-filename: no build context, so the fix is unsafe: reported, not applied
    r = dfx(env, "-", cwd=tmp_path / "nowhere", input=text)
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    assert b"-:2:1: DFX001 " in r.stderr and b"(unsafe fix: --unsafe)" in r.stderr
    assert b"Applied 0 fixes" in r.stderr and b"1 more fixable with --unsafe" in r.stderr
    # ... and --unsafe applies it
    r = dfx(env, "-", "--unsafe", cwd=tmp_path / "nowhere", input=text)
    assert r.returncode == 0, r.stderr
    assert r.stdout == copied and b"Applied 1 fix" in r.stderr
    # --write on a project whose app.py is a plain file: safe, rewritten without --unsafe
    proj = project(tmp_path / "proj", {"Dockerfile": text, "app.py": "print('hi')\n"})
    r = dfx(env, "--write", ".", cwd=proj)
    assert r.returncode == 0, r.stderr
    assert (proj / "Dockerfile").read_bytes() == copied and b"Rewrote 1 file" in r.stderr
    # the same name holding a gzip tar (what ADD would unpack): ADD is kept, even with --unsafe
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))
    arch = project(tmp_path / "arch", {"Dockerfile": text, "app.py": buf.getvalue()})
    r = dfx(env, "--write", "--unsafe", ".", cwd=arch)
    assert r.returncode == 0, r.stderr
    assert (arch / "Dockerfile").read_bytes() == text


def test_unterminated_heredoc_on_stdin(env, tmp_path):
    r = dfx(env, "-", cwd=tmp_path, input=HEREDOC)
    assert r.returncode == 2
    assert r.stdout == b""
    assert b"-:2:5: error: unterminated heredoc" in r.stderr


def test_diff_subprocess_add_to_copy(env, tmp_path):
    project(tmp_path, {"Dockerfile": "FROM python:3.12\nADD app.py /app/\n", "app.py": "print(1)\n"})
    r = dfx(env, "--diff", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout == (
        b"--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n FROM python:3.12\n-ADD app.py /app/\n+COPY app.py /app/\n"
    )
    assert b"\x1b[" not in r.stdout


def test_diff_color_always(tmp_path):
    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": ""})
    code, out, err = invoke("--diff", "--color", "always", ".", cwd=tmp_path)
    assert code == 1 and b"\x1b[32m+COPY app.py /app/\x1b[0m\n" in out


SHAPES = {
    "crlf/Dockerfile": FIXABLE.replace("\n", "\r\n").encode(),
    "bom/Dockerfile": b"\xef\xbb\xbf" + FIXABLE.encode(),
    "nonl/Dockerfile": b"FROM alpine\nADD app.py /app/",
    "mixed/Dockerfile": b"FROM alpine\r\nADD a /a\nRUN x\r\nADD b /b",
}
# The ADD sources of SHAPES, next to each Dockerfile (its build context): plain files, so DFX001 is a safe fix.
SOURCES = {"crlf/app.py": "", "bom/app.py": "", "nonl/app.py": "", "mixed/a": "", "mixed/b": ""}


@pytest.mark.parametrize("rel", sorted(SHAPES))
def test_byte_shapes_preserved_by_write_and_stdin(tmp_path, rel):
    data = SHAPES[rel]
    expected = data.replace(b"ADD", b"COPY")
    project(tmp_path, {rel: data, **SOURCES})
    code, out, err = invoke("-", "--stdin-filename", rel, stdin=data, cwd=tmp_path)
    assert code == 0 and out == expected, err
    code, out, err = invoke("--write", rel, cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / rel).read_bytes() == expected


def test_diff_applies_with_patch_and_matches_write(env, tmp_path):
    if shutil.which("patch") is None:
        pytest.skip("patch not installed")
    files = dict(SHAPES)
    files["deep/er/api.Dockerfile"] = "FROM a\nADD x /x\n" + "RUN echo\n" * 10 + "ADD y /y\n"
    files["clean/Dockerfile"] = CLEAN
    files["Containerfile"] = "FROM a\nADD z /z\n"
    sources = {**SOURCES, "deep/er/x": "", "deep/er/y": "", "clean/app.py": "", "z": ""}
    a, b = tmp_path / "a", tmp_path / "b"
    project(a, {**files, **sources})
    project(b, {**files, **sources})
    r = dfx(env, "--diff", ".", cwd=a)
    assert r.returncode == 1, r.stderr
    assert r.stdout.count(b"\n+COPY ") == 8  # every ADD of every shape is in the patch
    p = subprocess.run(["patch", "-p1", "--binary", "--quiet"], input=r.stdout, cwd=a, capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    code, _, err = invoke("--write", ".", cwd=b)
    assert code == 0, err
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert invoke("--check", ".", cwd=a)[0] == 0


def test_write_keeps_mode(tmp_path):
    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": ""})
    (tmp_path / "Dockerfile").chmod(0o604)
    assert invoke("--write", ".", cwd=tmp_path)[0] == 0
    assert (tmp_path / "Dockerfile").read_text() == FIXED  # really rewritten
    assert stat.S_IMODE((tmp_path / "Dockerfile").stat().st_mode) == 0o604


# ------------------------------------------------------------------ both start-up paths
def test_fast_path_parses_every_run_and_leaves_help_to_typer():
    p = cli_fast.parse
    o = p(["-", "--stdin-filename=x/Dockerfile", "--select", "DFX001,DFX101", "--select=DFX102", "--unsafe", "-q"])
    assert isinstance(o, cli_core.Options) and o.mode == "stdin" and o.stdin_filename == "x/Dockerfile"
    assert o.select == ("DFX001", "DFX101", "DFX102") and o.unsafe is True and o.quiet is True
    o = p(["--write", "-j2", "--color=never", "--format", "json", "--", "-x", "a"])
    assert o.mode == "write" and o.jobs == 2 and o.color == "never" and o.fmt == "json" and o.paths == ("-x", "a")
    assert p(["--version"]) == cli_fast.Info("version") and p(["-V"]) == cli_fast.Info("version")
    assert p(["--explain", "DFX001", "--color", "never"]) == cli_fast.Info("explain", "DFX001", "never")
    for argv in (["--help"], ["-h", "."], ["--show-completion"], ["-qj2", "."]):
        assert p(argv) is None, argv
    for argv, message in ((["--bogus", "."], "no such option: --bogus"), (["-", "--select"], "requires a value"),
                          (["--jobs", "x", "."], "'x' is not a whole number"),
                          (["--diff", "--write", "."], "cannot be combined")):
        with pytest.raises(cli_core.UsageError, match=message):
            p(argv)


CASES = {
    "fixable": (["-", "--stdin-filename", "Dockerfile"], FIXABLE.encode()),
    "clean": (["-"], CLEAN.encode()),
    "heredoc": (["-"], HEREDOC),
    "unknown": (["-", "--select", "DFX999"], FIXABLE.encode()),
    "latin1": (["-"], b"FROM a\nADD \xe9 /x\n"),
    "utf16": (["-"], "FROM a\n".encode("utf-16")),
    "ignored": (["-", "--ignore", "add-local-to-copy"], FIXABLE.encode()),
    "write": (["--write", "Dockerfile"], None),
    "check": (["--check", "Dockerfile"], None),
}


def typer_invoke(*argv: str, stdin: bytes = b"", cwd=None):
    from typer.testing import CliRunner

    from dockerfix.cli import app

    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(app, list(argv), input=stdin, prog_name="dockerfix")
        return r.exit_code, r.stdout_bytes, r.stderr_bytes
    finally:
        os.chdir(old)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_and_typer_paths_agree(tmp_path, case):
    argv, data = CASES[case]
    project(tmp_path, {"app.py": ""})  # the build context of --stdin-filename Dockerfile
    if data is None:
        (tmp_path / "Dockerfile").write_text(FIXABLE)
    fast = invoke(*argv, stdin=data or b"", cwd=tmp_path)
    if data is None:
        (tmp_path / "Dockerfile").write_text(FIXABLE)
    slow = typer_invoke(*argv, stdin=data or b"", cwd=tmp_path)
    assert isinstance(cli_fast.parse(argv), cli_core.Options)
    assert fast == slow
    if fast[0] != 0:
        assert fast[1] == b""


def test_fast_path_imports_no_typer_rich_jinja(env, tmp_path):
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dockerfix", "-", "--stdin-filename", "Dockerfile"],
        input=FIXABLE.encode(), cwd=project(tmp_path, {"app.py": ""}), env=env, capture_output=True, timeout=60,
    )
    assert r.returncode == 0 and r.stdout == FIXED.encode()
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.decode().splitlines() if "|" in line}
    assert "dockerfix.cli_core" in imported
    heavy = {m for m in imported if m.split(".")[0] in ("typer", "click", "rich", "jinja2")}
    assert heavy == set()


def test_typer_path_subprocess_matches(env, tmp_path):
    project(tmp_path, {"app.py": ""})
    r = dfx(env, "--color", "never", "-", "--stdin-filename", "Dockerfile", cwd=tmp_path, input=FIXABLE.encode())
    assert r.returncode == 0 and r.stdout == FIXED.encode()


# ------------------------------------------------------------------ formats, jobs, info commands
def test_jobs_output_identical(tmp_path):
    files = {f"s{i:02d}/Dockerfile": (FIXABLE if i % 3 else CLEAN) for i in range(12)}
    files.update({f"s{i:02d}/app.py": "" for i in range(12)})
    files["s05/Dockerfile"] = HEREDOC
    project(tmp_path, files)
    results = {}
    for jobs in ("1", "2", "4"):
        for fmt in ("text", "json"):
            results[jobs, fmt] = invoke("--jobs", jobs, "--format", fmt, ".", cwd=tmp_path)
    for fmt in ("text", "json"):
        assert results["1", fmt] == results["2", fmt] == results["4", fmt]
        assert results["1", fmt][0] == 2
    assert invoke("--jobs", "1", "--diff", ".", cwd=tmp_path) == invoke("--jobs", "2", "--diff", ".", cwd=tmp_path)


def test_pool_is_really_used(tmp_path, monkeypatch):
    files = {f"s{i}/Dockerfile": FIXABLE for i in range(cli_core.POOL_MIN_FILES)}
    project(tmp_path, {**files, **{f"s{i}/app.py": "" for i in range(cli_core.POOL_MIN_FILES)}})
    used = []
    import concurrent.futures

    real = concurrent.futures.ProcessPoolExecutor

    def spy(*a, **kw):
        used.append(kw.get("max_workers"))
        return real(*a, **kw)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", spy)
    code, out, err = invoke("--jobs", "2", "--write", ".", cwd=tmp_path)
    assert code == 0 and used == [2], err
    assert all((tmp_path / rel).read_text() == FIXED for rel in files)


def test_json_and_sarif_and_github_formats(tmp_path):
    import json

    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": "", "bad/Dockerfile": HEREDOC})
    code, out, err = invoke("--format", "json", ".", cwd=tmp_path)
    doc = json.loads(out)
    assert code == 2 and [f["path"] for f in doc["files"]] == ["Dockerfile", "bad/Dockerfile"]
    assert doc["files"][0]["changes"][0]["code"] == "DFX001"
    assert doc["files"][1]["error"]["line"] == 2
    code, out, err = invoke("--format", "sarif", ".", cwd=tmp_path)
    sys.path.insert(0, os.path.dirname(__file__))
    from test_outputs import check_sarif_structure

    check_sarif_structure(json.loads(out))
    code, out, err = invoke("--format", "github", ".", cwd=tmp_path)
    assert out.startswith(b"::warning file=Dockerfile,line=2,col=1,")
    code, out, err = invoke("--format", "json", "--write", ".", cwd=tmp_path)
    assert json.loads(out)["files"][0]["written"] is True


def test_list_transforms_and_explain_piped():
    from dockerfix.api import transforms

    code, out, err = invoke("--list-transforms")
    assert code == 0
    lines = out.decode().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == [t.code for t in transforms()]
    assert "\x1b" not in out.decode()
    code, out, err = invoke("--explain", "add-local-to-copy")
    assert code == 0 and out.startswith(b"# DFX001 add-local-to-copy\n") and b"Fix safety" in out


def test_version_and_help(env):
    from dockerfix import __version__

    assert invoke("--version")[:2] == (0, f"dockerfix {__version__}\n".encode())
    code, out, err = invoke("--help")
    assert code == 0 and b"Exit codes:" in out and b"2  error" in out
    r = dfx(env, "--help")
    assert r.returncode == 0 and b"Usage: dockerfix" in r.stdout
    docs = os.path.join(os.path.dirname(__file__), "..", "docs", "cli.md")
    assert "Exit codes" in open(docs, encoding="utf-8").read()


def test_quiet_prints_no_summary(tmp_path):
    project(tmp_path, {"Dockerfile": FIXABLE, "app.py": ""})
    code, out, err = invoke("--check", "-q", ".", cwd=tmp_path)
    assert code == 1 and out == b"" and err == b""
