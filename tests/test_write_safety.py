"""Files on disk under ``--write``: never a truncated file, never a lost change, whatever happens.

The crash tests run the real CLI in a subprocess with a hook (``_HOOK`` below) that blocks at one step of the write
(writing the temporary file, its fsync, the rename, the folder fsync, the in-place write of a hard-linked file), then
SIGKILL it and look at what is on disk: the target must be byte-identical to the old or the new content, and the only
thing allowed to be left behind is a temporary file matching ``dockerfix.io.files.TEMP_PATTERN``.
"""

from __future__ import annotations

import io
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import dockerfix
from dockerfix.cli_core import Options, run
from dockerfix.io import files

ROOT = Path(__file__).resolve().parents[1]
TEMP = re.compile(files.TEMP_PATTERN)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# Big enough that a half-written file is visibly different from both the old and the new one. The rewrite is
# DFX107 pip-no-cache-dir, a fix that is safe with or without a build context (these tests are about writing files,
# and none of their folders holds the files an ADD would copy).
SELECT = "pip-no-cache-dir"
OLD = "FROM alpine:3.20\n" + "".join(f"RUN pip install app{i}\n" for i in range(1500))
NEW = dockerfix.fix(OLD, select=[SELECT]).text
assert NEW == OLD.replace("pip install", "pip install --no-cache-dir")

_HOOK = r"""
import os, sys, time
marker, step = sys.argv[1], sys.argv[2]

def hang():
    with open(marker, "w") as f:
        f.write(step)
    while True:
        time.sleep(1)

def is_tmp(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}").endswith(".dockerfix-tmp")
    except OSError:
        return False

if step == "temp-write":            # half of the temporary file written, then killed
    real_fdopen = os.fdopen
    class Half:
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *a): self.f.close()
        def write(self, data):
            self.f.write(data[: len(data) // 2]); self.f.flush(); hang()
        def __getattr__(self, name): return getattr(self.f, name)
    def fdopen(fd, *a, **k):
        f = real_fdopen(fd, *a, **k)
        return Half(f) if is_tmp(fd) else f
    os.fdopen = fdopen
elif step == "temp-fsync":          # the temporary file complete but not yet durable
    real_fsync = os.fsync
    def fsync(fd):
        if is_tmp(fd): hang()
        return real_fsync(fd)
    os.fsync = fsync
elif step == "replace":             # everything ready, the rename not done
    os.replace = lambda *a, **k: hang()
elif step == "dir-fsync":           # renamed, the folder not yet fsynced
    import dockerfix.io.files as files
    files._fsync_dir = lambda d: hang()
elif step == "in-place":            # hard-linked target: half of the in-place write done
    real_write = os.write
    def write(fd, data):
        if not is_tmp(fd) and fd > 2:
            real_write(fd, bytes(data[: len(data) // 2])); hang()
        return real_write(fd, data)
    os.write = write

from dockerfix.__main__ import main
sys.argv = ["dockerfix"] + sys.argv[3:]
main()
"""


def _kill_at(step: str, tmp_path: Path, *args: str) -> None:
    marker = tmp_path / "reached"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOOK, str(marker), step, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"the CLI ended (exit {proc.returncode}) before reaching {step}: {proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail(f"the CLI never reached {step}")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        marker.unlink(missing_ok=True)


def _leftovers(d: Path, keep: set[str]) -> list[str]:
    return sorted(n for n in os.listdir(d) if n not in keep)


@pytest.mark.parametrize(
    "step, expect", [("temp-write", OLD), ("temp-fsync", OLD), ("replace", OLD), ("dir-fsync", NEW)]
)
def test_sigkill_during_write_leaves_old_or_new_never_truncated(tmp_path, step, expect):
    d = tmp_path / "repo"
    d.mkdir()
    p = d / "Dockerfile"
    p.write_text(OLD)
    os.chmod(p, 0o640)
    _kill_at(step, tmp_path, "--write", "--select", SELECT, str(p))
    assert p.read_bytes() == expect.encode()
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    left = _leftovers(d, {"Dockerfile"})
    assert all(TEMP.match(n) for n in left), left  # only the documented temporary file may be left
    if step in ("temp-write", "temp-fsync", "replace"):
        assert len(left) == 1
        # a leftover temporary file is never taken for a Dockerfile, and a rerun finishes the job
        assert files.discover([str(d)])[0] == [str(p)]
        out, err = io.BytesIO(), io.BytesIO()
        assert run(Options(paths=(str(d),), mode="write", select=(SELECT,), jobs=1, quiet=True),
                   stdout=out, stderr=err) == 0, err.getvalue()
        assert p.read_bytes() == NEW.encode()
    else:
        assert left == []


def test_sigkill_during_in_place_write_of_a_hard_link_keeps_a_complete_copy(tmp_path):
    # The documented exception (dockerfix/io/files.py): a hard-linked file is rewritten in place to keep its inode,
    # which cannot be atomic. What a kill cannot take away: the complete, fsynced new content next to it.
    p = tmp_path / "Dockerfile"
    p.write_text(OLD)
    os.link(p, tmp_path / "Dockerfile.linked")
    _kill_at("in-place", tmp_path, "--write", "--select", SELECT, str(p))
    left = _leftovers(tmp_path, {"Dockerfile", "Dockerfile.linked"})
    assert len(left) == 1 and TEMP.match(left[0]), left
    assert (tmp_path / left[0]).read_bytes() == NEW.encode()
    assert os.stat(p).st_ino == os.stat(tmp_path / "Dockerfile.linked").st_ino


# ------------------------------------------------------------------ read-only, ownership, mode
def _write(path: Path, *, select=(SELECT,)) -> tuple[int, str]:
    out, err = io.BytesIO(), io.BytesIO()
    code = run(Options(paths=(str(path),), mode="write", select=select, jobs=1, quiet=True), stdout=out, stderr=err)
    return code, err.getvalue().decode()


@pytest.mark.skipif(not IS_ROOT, reason="root can write a 0444 file; other users are refused (next test)")
def test_root_rewrites_a_0444_file_and_keeps_mode_0444(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_text(OLD)
    os.chmod(p, 0o444)
    assert _write(p) == (0, "")
    assert p.read_text() == NEW
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o444


_AS_NOBODY = r"""
import io, os, sys
from dockerfix.cli_core import Options, run
warm, path = sys.argv[1], sys.argv[2]
def go(p):
    out, err = io.BytesIO(), io.BytesIO()
    code = run(Options(paths=(p,), mode="write", select=("pip-no-cache-dir",), jobs=1, quiet=True),
               stdout=out, stderr=err)
    return code, err.getvalue().decode()
assert go(warm)[0] == 0  # imports everything while still root (the interpreter may live in /root)
os.setgid(65534)
os.setuid(65534)
code, err = go(path)
sys.stderr.write(err)
sys.exit(code)
"""


def test_read_only_file_of_an_ordinary_user_is_refused(tmp_path):
    if not IS_ROOT:
        p = tmp_path / "Dockerfile"
        p.write_text(OLD)
        os.chmod(p, 0o444)
        r = subprocess.run([sys.executable, "-m", "dockerfix", "--write", "--select", SELECT, str(p)],
                           cwd=ROOT, capture_output=True, text=True)
        _assert_refused_read_only(r, tmp_path)
        return
    # Root may write anything: drop to an ordinary user, in a folder that user can reach and write.
    d = Path(tempfile.mkdtemp(prefix="dockerfix-ro-", dir="/tmp"))
    try:
        os.chmod(d, 0o777)
        p = d / "Dockerfile"
        p.write_text(OLD)
        os.chmod(p, 0o444)
        os.chown(p, 65534, 65534)
        (tmp_path / "Dockerfile").write_text(OLD)
        r = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(tmp_path / "Dockerfile"), str(p)], cwd=ROOT,
                           capture_output=True, text=True)
        _assert_refused_read_only(r, d)
    finally:
        import shutil

        shutil.rmtree(d)


def _assert_refused_read_only(r, d: Path) -> None:
    p = d / "Dockerfile"
    assert r.returncode == 2, r.stderr
    assert "read-only" in r.stderr and "not written" in r.stderr
    assert p.read_text() == OLD and stat.S_IMODE(os.stat(p).st_mode) == 0o444
    assert os.listdir(d) == ["Dockerfile"]


@pytest.mark.skipif(not IS_ROOT, reason="chown needs root")
@pytest.mark.parametrize("mode", [0o640, 0o755, 0o600, 0o2775])
def test_mode_and_ownership_kept(tmp_path, mode):
    p = tmp_path / "Dockerfile"
    p.write_text(OLD)
    os.chown(p, 1234, 2345)
    os.chmod(p, mode)
    assert _write(p)[0] == 0
    st = os.stat(p)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 2345, mode)
    assert p.read_text() == NEW


# ------------------------------------------------------------------ changed on disk, symlinks, hard links
@pytest.mark.parametrize("how", ["other-content", "same-size", "appended", "deleted"])
def test_file_changed_between_read_and_write_is_refused(tmp_path, monkeypatch, how):
    import dockerfix.api

    p = tmp_path / "Dockerfile"
    p.write_text(OLD)
    theirs = {
        "other-content": "FROM debian\n",
        "same-size": OLD.replace("alpine:3.20", "alpine:3.19"),
        "appended": OLD + "RUN echo more\n",
    }.get(how)
    real_fix = dockerfix.api.fix

    def fix_while_someone_edits(*a, **k):
        result = real_fix(*a, **k)
        if theirs is None:
            p.unlink()
        else:
            st = os.stat(p)
            p.write_text(theirs)
            if how == "same-size":  # same size and same mtime: only the content tells
                os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        return result

    monkeypatch.setattr(dockerfix.api, "fix", fix_while_someone_edits)
    code, err = _write(p)
    assert code == 2
    assert "not written" in err, err
    if theirs is None:
        assert not p.exists()
    else:
        assert "changed on disk" in err and p.read_text() == theirs
    assert [n for n in os.listdir(tmp_path) if n.endswith(".dockerfix-tmp")] == []


def test_symlink_target_rewritten_link_kept(tmp_path):
    real_dir = tmp_path / "elsewhere"
    real_dir.mkdir()
    target = real_dir / "Dockerfile.real"
    target.write_text(OLD)
    link = tmp_path / "Dockerfile"
    link.symlink_to(os.path.relpath(target, tmp_path))
    chain = tmp_path / "Dockerfile.chain"
    chain.symlink_to("Dockerfile")
    assert _write(chain) == (0, "")
    assert link.is_symlink() and chain.is_symlink() and os.readlink(chain) == "Dockerfile"
    assert target.read_text() == NEW and not target.is_symlink()
    assert sorted(os.listdir(real_dir)) == ["Dockerfile.real"]


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_broken_symlinks_are_errors(tmp_path, kind):
    link = tmp_path / "Dockerfile"
    if kind == "dangling":
        link.symlink_to("missing")
    else:
        link.symlink_to("Dockerfile.b")
        (tmp_path / "Dockerfile.b").symlink_to("Dockerfile")
    code, err = _write(link)
    assert code == 2 and err.startswith(str(link)), err


def test_hard_links_share_the_new_content(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_text(OLD)
    q = tmp_path / "Dockerfile.other"
    os.link(p, q)
    assert _write(p) == (0, "")
    assert p.read_text() == q.read_text() == NEW
    assert os.stat(p).st_ino == os.stat(q).st_ino and os.stat(p).st_nlink == 2
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile", "Dockerfile.other"]


# ------------------------------------------------------------------ size, binary, deep trees
def test_file_of_ten_megabytes_is_handled(tmp_path):
    # One long RUN line and one pip install: at the limit exactly, rewritten byte-exactly.
    head = "FROM alpine\nRUN pip install flask\nRUN echo "
    text = head + "x" * (files.MAX_BYTES - len(head) - 1) + "\n"
    assert len(text.encode()) == files.MAX_BYTES
    p = tmp_path / "Dockerfile"
    p.write_text(text)
    assert _write(p) == (0, "")
    assert p.read_text() == text.replace("pip install", "pip install --no-cache-dir", 1)


def test_file_over_ten_megabytes_is_refused_with_a_message(tmp_path):
    p = tmp_path / "Dockerfile"
    data = ("FROM alpine\nRUN pip install flask\n# " + "x" * files.MAX_BYTES + "\n").encode()
    p.write_bytes(data)
    t0 = time.monotonic()
    code, err = _write(p)
    assert time.monotonic() - t0 < 5
    assert code == 2 and "larger than 10 MB" in err and "refusing" in err
    assert p.read_bytes() == data


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"FROM alpine\nADD a /a\n\x00\x01\x02", b"\x7fELF\x02\x01\x01\x00"]
)
def test_binary_files_are_refused_untouched(tmp_path, data):
    p = tmp_path / "Dockerfile"
    p.write_bytes(data)
    code, err = _write(p)
    assert code == 2 and "binary" in err, err
    assert p.read_bytes() == data and os.listdir(tmp_path) == ["Dockerfile"]


def test_one_bad_file_in_a_tree_does_not_stop_the_others(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "Dockerfile").write_bytes(b"\xff\xfeF\x00R\x00")
    (tmp_path / "b" / "Dockerfile").write_text(OLD)
    code, err = _write(tmp_path)
    assert code == 2 and "UTF-16" in err
    assert (tmp_path / "b" / "Dockerfile").read_text() == NEW
    assert (tmp_path / "a" / "Dockerfile").read_bytes() == b"\xff\xfeF\x00R\x00"


def test_three_thousand_files_two_hundred_levels_deep(tmp_path):
    small_old, small_new = "FROM alpine\nRUN pip install flask\n", "FROM alpine\nRUN pip install --no-cache-dir flask\n"
    expected = []
    for chain in range(15):
        d = tmp_path / f"chain{chain:02d}"
        for level in range(200):
            d = d / "d"
            d.mkdir(parents=True)
            f = d / "Dockerfile"
            f.write_text(small_old)
            expected.append(str(f))
    assert len(expected) == 3000 and len(str(expected[-1]).split(os.sep)) > 200
    r = subprocess.run(
        [sys.executable, "-m", "dockerfix", "--write", "--jobs", "2", "--select", SELECT, "-q", "."],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert all(Path(f).read_text() == small_new for f in expected)
    assert not [n for _, _, fs in os.walk(tmp_path) for n in fs if n.endswith(".dockerfix-tmp")]
