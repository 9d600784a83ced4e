"""Safe file I/O: strict decoding, refusals, atomic writes, symlinks, hard links, discovery."""

from __future__ import annotations

import os
import stat

import pytest

from dockerfix.io import files
from dockerfix.io.files import FileError, decode, discover, display_path, is_dockerfile_name, read_text, write_text


# ------------------------------------------------------------------ decoding
def test_decode_keeps_utf8_bom_and_line_endings():
    assert decode(b"\xef\xbb\xbfFROM a\r\nRUN x") == "\ufeffFROM a\r\nRUN x"


@pytest.mark.parametrize(
    "data, word",
    [
        (b"\xff\xfeF\x00R\x00", "UTF-16"),
        (b"\xfe\xff\x00F\x00R", "UTF-16"),
        (b"\xff\xfe\x00\x00F\x00\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff\x00\x00\x00F", "UTF-32"),
    ],
)
def test_decode_rejects_utf16_and_utf32_boms(data, word):
    with pytest.raises(FileError, match=word):
        decode(data, "Dockerfile")


def test_decode_rejects_nul_and_bad_utf8_with_position():
    with pytest.raises(FileError, match="NUL") as e:
        decode(b"FROM a\nRUN \x00", "Dockerfile")
    assert (e.value.line, e.value.column) == (2, 5)
    with pytest.raises(FileError, match="not valid UTF-8") as e:
        decode("FROM a\nRUN é \xe9".encode("utf-8")[:-2] + b"\xe9 x\n", "Dockerfile")
    assert e.value.line == 2 and e.value.column == 7
    assert str(e.value).startswith("Dockerfile:2:7: ")


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_BYTES", 100)
    p = tmp_path / "Dockerfile"
    p.write_bytes(b"#" * 101)
    with pytest.raises(FileError, match="larger than"):
        read_text(str(p))
    with pytest.raises(FileError, match="larger than"):
        decode(b"#" * 101)


def test_real_limit_is_ten_megabytes():
    assert files.MAX_BYTES == 10 * 1024 * 1024


def test_read_errors_name_the_path(tmp_path):
    with pytest.raises(FileError, match="no such file") as e:
        read_text(str(tmp_path / "nope"))
    assert e.value.path.endswith("nope")
    with pytest.raises(FileError, match="directory"):
        read_text(str(tmp_path))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_text("FROM a\n")
    p.chmod(0)
    try:
        with pytest.raises(FileError, match="permission denied"):
            read_text(str(p))
    finally:
        p.chmod(0o644)


# ------------------------------------------------------------------ writing
def _read_write(p, new: str) -> bool:
    return write_text(read_text(str(p)), new)


def test_write_only_when_changed(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_bytes(b"FROM a\n")
    os.utime(p, ns=(1, 1))
    assert _read_write(p, "FROM a\n") is False
    assert p.stat().st_mtime_ns == 1


def test_write_byte_exact_mode_kept_no_temp_left(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_bytes(b"\xef\xbb\xbfFROM a\r\nADD x /y")
    p.chmod(0o640)
    src = read_text(str(p))
    assert write_text(src, src.text.replace("ADD", "COPY")) is True
    assert p.read_bytes() == b"\xef\xbb\xbfFROM a\r\nCOPY x /y"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile"]


def test_refuses_when_file_changed_on_disk(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_bytes(b"FROM a\nADD x /y\n")
    src = read_text(str(p))
    p.write_bytes(b"FROM b\nADD x /y\n")  # same size, different content
    with pytest.raises(FileError, match="changed on disk"):
        write_text(src, "FROM a\nCOPY x /y\n")
    assert p.read_bytes() == b"FROM b\nADD x /y\n"
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile"]


def test_refuses_when_only_mtime_changed(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_bytes(b"FROM a\nADD x /y\n")
    src = read_text(str(p))
    os.utime(p, ns=(src.snapshot.mtime_ns + 10**9, src.snapshot.mtime_ns + 10**9))
    with pytest.raises(FileError, match="changed on disk"):
        write_text(src, "FROM a\nCOPY x /y\n")


def test_symlink_written_through_and_kept(tmp_path):
    target = tmp_path / "real.Dockerfile"
    target.write_bytes(b"ADD x /y\n")
    link = tmp_path / "Dockerfile"
    link.symlink_to("real.Dockerfile")
    assert _read_write(link, "COPY x /y\n")
    assert link.is_symlink() and os.readlink(link) == "real.Dockerfile"
    assert target.read_bytes() == b"COPY x /y\n"


def test_hard_links_keep_sharing_the_inode(tmp_path):
    a = tmp_path / "Dockerfile"
    a.write_bytes(b"ADD x /y\n")
    b = tmp_path / "other.Dockerfile"
    os.link(a, b)
    ino = a.stat().st_ino
    assert _read_write(a, "COPY x /y\n")
    assert a.stat().st_ino == b.stat().st_ino == ino
    assert b.read_bytes() == b"COPY x /y\n"
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile", "other.Dockerfile"]


def test_write_into_readonly_folder_fails_cleanly(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    d = tmp_path / "ro"
    d.mkdir()
    p = d / "Dockerfile"
    p.write_bytes(b"ADD x /y\n")
    src = read_text(str(p))
    d.chmod(0o555)
    try:
        with pytest.raises(FileError, match="not written"):
            write_text(src, "COPY x /y\n")
        assert p.read_bytes() == b"ADD x /y\n"
    finally:
        d.chmod(0o755)


# ------------------------------------------------------------------ discovery
@pytest.mark.parametrize(
    "name, ok",
    [
        ("Dockerfile", True), ("dockerfile", True), ("DOCKERFILE", True), ("Dockerfile.dev", True),
        ("api.Dockerfile", True), ("api.dockerfile", True), ("Containerfile", True), ("Containerfile.prod", True),
        ("containerfile", True), ("Dockerfile.dockerignore", False), ("Dockerfile.orig", False),
        ("Dockerfile~", False), ("README.md", False), ("Dockerfiles", False), ("mydockerfile", False),
        ("Dockerfile.md", False), (".Dockerfile.1.2.dockerfix-tmp", False),
    ],
)
def test_dockerfile_names(name, ok):
    assert is_dockerfile_name(name) is ok


def test_discover_sorted_skips_vcs_and_dedupes(tmp_path):
    for rel in ["b/Dockerfile", "a/Dockerfile.dev", "a/Dockerfile", "a-b/x.dockerfile", ".git/Dockerfile",
                "sub/.hg/Containerfile", "Containerfile", "README.md", "a/notes.txt"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("FROM x\n")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "Dockerfile").symlink_to("../b/Dockerfile")
    found, errors = discover([str(tmp_path), str(tmp_path / "a" / "Dockerfile")])
    assert errors == []
    rel = [os.path.relpath(f, tmp_path) for f in found]
    assert rel == ["Containerfile", "a/Dockerfile", "a/Dockerfile.dev", "a-b/x.dockerfile", "b/Dockerfile"]


def test_discover_deep_tree_without_recursion_limit(tmp_path):
    import sys

    depth = sys.getrecursionlimit() + 50
    deep = str(tmp_path)
    for _ in range(depth):  # os.makedirs recurses
        deep = os.path.join(deep, "d")
        os.mkdir(deep)
    with open(os.path.join(deep, "Dockerfile"), "w") as f:
        f.write("FROM x\n")
    try:
        found, errors = discover([str(tmp_path)])
        assert errors == [] and len(found) == 1
    finally:
        os.remove(os.path.join(deep, "Dockerfile"))
        while deep != str(tmp_path):  # pytest's recursive rmtree would hit the recursion limit
            os.rmdir(deep)
            deep = os.path.dirname(deep)


def test_discover_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    found, errors = discover([str(tmp_path / "empty"), str(tmp_path / "missing")])
    assert found == []
    assert [e.message for e in errors] == ["no Dockerfiles found in this directory", "no such file or directory"]


def test_explicit_file_with_any_name_is_taken(tmp_path):
    p = tmp_path / "build.txt"
    p.write_text("FROM x\n")
    assert discover([str(p)]) == ([str(p)], [])


def test_display_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path("./a/../b/Dockerfile") == "b/Dockerfile"
    assert display_path(str(tmp_path / "x" / "Dockerfile")) == "x/Dockerfile"
    assert display_path("/elsewhere/Dockerfile") == "/elsewhere/Dockerfile"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing owners needs root")
def test_owner_kept_when_root(tmp_path):
    p = tmp_path / "Dockerfile"
    p.write_bytes(b"ADD x /y\n")
    os.chown(p, 4321, 4322)
    assert _read_write(p, "COPY x /y\n")
    st = p.stat()
    assert (st.st_uid, st.st_gid) == (4321, 4322)


def test_hard_link_in_place_failure_keeps_the_copy(tmp_path, monkeypatch):
    a = tmp_path / "Dockerfile"
    a.write_bytes(b"ADD x /y\n")
    os.link(a, tmp_path / "twin")
    src = read_text(str(a))

    def boom(fd, n):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "ftruncate", boom)
    with pytest.raises(FileError, match="the new content is in") as e:
        write_text(src, "COPY x /y\n")
    tmp = e.value.message.rsplit(" ", 1)[-1]
    assert open(tmp, "rb").read() == b"COPY x /y\n"
    assert a.read_bytes() == b"ADD x /y\n"
