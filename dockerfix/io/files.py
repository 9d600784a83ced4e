"""Safe file I/O for the frontends: find Dockerfiles, read them strictly, write them back atomically.

Reading
    Bytes are read whole. A UTF-8 BOM is kept in the text as ``'\\ufeff'`` (the parser is lossless and prints it
    back); UTF-16/UTF-32 BOMs, NUL bytes (binary files), invalid UTF-8 and files over :data:`MAX_BYTES` are refused
    with a :class:`FileError` naming the path (and ``line:col`` for bad UTF-8). Line endings are never touched.

Writing (:func:`write_text`)
    Only when the text changed. The new bytes go to a temporary file in the target's folder, are fsynced, get the
    original mode (and owner and group when running as root), and replace the target with ``os.replace``; the folder
    is then fsynced. Before replacing, the target is checked against what was read (``mtime_ns``, size and SHA-256 of
    the content): if it changed on disk meanwhile, nothing is written and a :class:`FileError` says so.

    Crash safety: a crash or SIGKILL at any point leaves the target byte-identical to the old or the new content, never
    a mix or a truncated file; what may be left behind is the temporary file, named
    ``.<name>.<pid>.<n>.dockerfix-tmp`` next to the target (:data:`TEMP_PATTERN`; discovery never takes it for a
    Dockerfile, and it can be deleted). The one exception is a hard-linked target, see below.

    Read-only files: a file is written only when its user could write it in place (``os.access(W_OK)``), although the
    rename would only need a writable folder; so ``chmod a-w`` protects a file from dockerfix as it does from an
    editor. Root can write any file, and a 0444 file it rewrites keeps mode 0444.

    Between reading and replacing there is a short window (after the last check) in which another writer's change
    would be lost; every other change on disk is detected and refused.

    Symlinks: the write goes to the link's final target; the link itself stays a link.

    Hard links (``st_nlink > 1``): ``os.replace`` would give this name a new inode and silently split it from its
    other names. Instead, once the temporary copy is complete and fsynced (a durable backup of the new content), the
    target is rewritten in place (truncate + write + fsync), so every name keeps sharing the inode, and the temporary
    copy is removed. If the in-place write fails, the temporary copy is kept and the error names it. This write cannot
    be atomic: a SIGKILL or power loss during it can leave the target truncated, with the complete new content in the
    temporary file beside it (the only case where the target itself may be neither old nor new).

Discovery (:func:`discover`)
    Folders are walked iteratively (no recursion limit), in sorted order, without following symlinked folders,
    skipping what :class:`dockerfix.io.ignore.Excluder` excludes: the default folders (``.git``, ``.venv``,
    ``node_modules``, ``vendor``... :data:`dockerfix.io.ignore.DEFAULT_EXCLUDE`), the configuration's ``exclude`` /
    ``extend-exclude``, and what git ignores (``.gitignore`` files and ``.git/info/exclude``). A file is a Dockerfile
    when its name matches :data:`DOCKERFILE_NAME` and not :data:`NOT_DOCKERFILE` (the same two expressions are the
    pre-commit hooks' ``files`` and ``exclude``). Explicit files are taken as given, whatever their name, unless
    ``force_exclude`` (pre-commit's file lists) and a scan would have skipped them. The same file reached twice
    (symlink, hard link, repeated argument) is processed once.
"""

from __future__ import annotations

import os
import stat as _stat
from dockerfix._record import dataclass

MAX_BYTES = 10 * 1024 * 1024
DOCKERFILE_NAME = r"(?i)(^|/)((dockerfile|containerfile)([._-][^/]*)?|[^/]*\.(dockerfile|containerfile))$"
"""Which paths are Dockerfiles, as a regular expression over a ``/``-separated path (or a bare name): ``Dockerfile``,
``Containerfile``, either followed by ``.``, ``-`` or ``_`` and anything (``Dockerfile.dev``, ``Dockerfile-windows``,
``Dockerfile_dev``), or anything ending in ``.dockerfile`` / ``.containerfile``; any case. The pre-commit hooks'
``files`` is this exact string (tests/test_discovery.py)."""
NOT_DOCKERFILE = r"(?i)(\.dockerignore|\.md|\.txt|\.orig|\.rej|\.bak|\.swp|\.swo|\.tmp|~|\.dockerfix-tmp)$|(^|/)\.#[^/]*$"
"""Names that match :data:`DOCKERFILE_NAME` but are not Dockerfiles (documents, ignore files, editor and patch
leftovers, dockerfix's own temporary files); the hooks' ``exclude``."""
_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)


class FileError(Exception):
    """A file dockerfix cannot read or write safely; ``str()`` is ``path[:line:col]: message``."""

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f":{self.line}:{self.column}" if self.line is not None else ""
        return f"{self.path}{where}: {self.message}"


@dataclass(frozen=True)
class Snapshot:
    """What was read, to detect a change on disk before writing."""

    mtime_ns: int
    size: int
    sha256: bytes


@dataclass(frozen=True)
class SourceFile:
    path: str
    """The path as given (for messages)."""
    real_path: str
    """Where the bytes live (symlinks resolved); writes go here."""
    text: str
    snapshot: Snapshot


# ------------------------------------------------------------------ decoding
def decode(data: bytes, path: str = "-") -> str:
    """Decode Dockerfile bytes strictly as UTF-8, keeping a UTF-8 BOM as ``'\\ufeff'``; raise :class:`FileError`."""
    if len(data) > MAX_BYTES:
        raise FileError(path, f"file is larger than {MAX_BYTES // (1024 * 1024)} MB ({len(data)} bytes); refusing to process it")
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise FileError(path, f"file starts with a {name} byte-order mark; only UTF-8 Dockerfiles are supported")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(data, nul)
        raise FileError(path, "file contains a NUL byte; it looks binary, not a Dockerfile", line, col)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        raise FileError(
            path, f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})", line, col
        ) from None


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    col = len(data[start:offset].decode("utf-8", "replace")) + 1
    return line, col


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


# ------------------------------------------------------------------ reading
def read_text(path: str) -> SourceFile:
    """Read and decode one Dockerfile; raise :class:`FileError` (never ``OSError``)."""
    try:
        real = os.path.realpath(path)
        with open(real, "rb") as f:
            st = os.fstat(f.fileno())
            if not _stat.S_ISREG(st.st_mode):
                raise FileError(path, "not a regular file")
            if st.st_size > MAX_BYTES:
                raise FileError(
                    path, f"file is larger than {MAX_BYTES // (1024 * 1024)} MB ({st.st_size} bytes); refusing to process it"
                )
            data = f.read(MAX_BYTES + 1)
    except FileError:
        raise
    except IsADirectoryError:
        raise FileError(path, "is a directory") from None
    except FileNotFoundError:
        raise FileError(path, "no such file") from None
    except PermissionError:
        raise FileError(path, "permission denied") from None
    except OSError as exc:
        raise FileError(path, f"cannot read: {exc.strerror or exc}") from None
    text = decode(data, path)
    return SourceFile(path, real, text, Snapshot(st.st_mtime_ns, len(data), _sha256(data)))


def read_stdin_bytes(stream=None) -> bytes:
    import sys

    stream = stream if stream is not None else sys.stdin.buffer
    data = stream.read(MAX_BYTES + 1)
    return data


# ------------------------------------------------------------------ writing
_counter = 0
TEMP_PATTERN = r"^\..+\.[0-9]+\.[0-9]+\.dockerfix-tmp$"
"""What a temporary file left by a killed ``--write`` looks like (a regular expression over the file name)."""


def _temp_path(real: str) -> str:
    global _counter
    _counter += 1
    d, name = os.path.split(real)
    return os.path.join(d, f".{name}.{os.getpid()}.{_counter}.dockerfix-tmp")


def _check_unchanged(src: SourceFile) -> os.stat_result:
    try:
        st = os.stat(src.real_path)
        with open(src.real_path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise FileError(src.path, f"cannot re-read before writing: {exc.strerror or exc}; not written") from None
    snap = src.snapshot
    if st.st_mtime_ns != snap.mtime_ns or len(data) != snap.size or _sha256(data) != snap.sha256:
        raise FileError(src.path, "file changed on disk while dockerfix was working on it; not written")
    return st


def _fsync_dir(d: str) -> None:
    try:
        fd = os.open(d or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(src: SourceFile, new_text: str) -> bool:
    """Write ``new_text`` over ``src`` safely (see the module docs). Return False when nothing had to be written."""
    if new_text == src.text:
        return False
    data = new_text.encode("utf-8")
    real = src.real_path
    st = _check_unchanged(src)
    if not os.access(real, os.W_OK):
        # The rename below only needs the folder to be writable; a file its user could not write in place stays as is.
        raise FileError(src.path, "file is read-only (no write permission); not written")
    tmp = _temp_path(real)
    keep_tmp = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise FileError(src.path, f"cannot create a temporary file next to it: {exc.strerror or exc}; not written") from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                os.chown(tmp, st.st_uid, st.st_gid)  # before chmod: chown clears the set-user/group-ID bits
            os.chmod(tmp, _stat.S_IMODE(st.st_mode))
        except OSError as exc:
            raise FileError(src.path, f"cannot write the temporary file: {exc.strerror or exc}; not written") from None
        _check_unchanged(src)
        if st.st_nlink > 1:
            try:
                _write_in_place(src, data, tmp)
            except FileError:
                keep_tmp = True  # the complete, fsynced copy is the user's way back
                raise
            return True
        try:
            os.replace(tmp, real)
        except OSError as exc:
            raise FileError(src.path, f"cannot replace the file: {exc.strerror or exc}; not written") from None
        _fsync_dir(os.path.dirname(real))
        return True
    finally:
        if not keep_tmp and os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def write_side_file(path: str, before: str | None, after: str) -> bool:
    """Create or update a companion file (``.dockerignore``) atomically; refuse when it is no longer ``before``."""
    display = display_path(path)
    if before is None:
        if os.path.lexists(path):
            raise FileError(display, "exists now but did not when the fix was computed; not written")
        mode = 0o644
    else:
        try:
            current = read_text(path)
        except FileError:
            raise
        if current.text != before:
            raise FileError(display, "changed on disk since it was read; not written")
        return write_text(current, after)
    tmp = _temp_path(os.path.abspath(path))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(after.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode & ~_umask())
        if os.path.lexists(path):
            raise FileError(display, "appeared while writing; not written")
        os.replace(tmp, path)
        _fsync_dir(os.path.dirname(os.path.abspath(path)))
        return True
    except OSError as exc:
        raise FileError(display, f"cannot write: {exc.strerror or exc}; not written") from None
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def _write_in_place(src: SourceFile, data: bytes, tmp: str) -> None:
    """Hard-linked target: keep the inode; the fsynced ``tmp`` is the backup until the in-place write is durable."""
    try:
        fd = os.open(src.real_path, os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise FileError(
            src.path,
            f"writing the hard-linked file in place failed: {exc.strerror or exc}; the new content is in {tmp}",
        ) from None


# ------------------------------------------------------------------ discovery
_NAME_RE = None


def is_dockerfile_name(name: str) -> bool:
    """Does a file of this name (or ``/``-separated path) look like a Dockerfile? See :data:`DOCKERFILE_NAME`."""
    global _NAME_RE
    if _NAME_RE is None:
        import re

        _NAME_RE = (re.compile(DOCKERFILE_NAME), re.compile(NOT_DOCKERFILE))
    return _NAME_RE[0].search(name) is not None and _NAME_RE[1].search(name) is None


def _sort_key(p: str) -> tuple[str, ...]:
    return tuple(p.split(os.sep))


def walk(root: str, excluder=None, skipped: list[tuple[str, str]] | None = None) -> list[str]:
    """Dockerfiles under folder ``root``, iteratively, sorted by path components. ``excluder``
    (:class:`~dockerfix.io.ignore.Excluder`, default: one without configuration) decides what to skip; each skipped
    folder or Dockerfile goes to ``skipped`` as ``(path, reason)``."""
    if excluder is None:
        from dockerfix.io.ignore import Excluder

        excluder = Excluder()
    found: list[str] = []
    stack = [os.path.abspath(root)]
    given = root
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # unreadable folders are skipped, like git does
        subdirs = []
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    why = excluder.reason(e.path, True)
                    if why is None:
                        subdirs.append(e.path)
                    elif skipped is not None:
                        skipped.append((e.path, why))
                    continue
                if is_dockerfile_name(e.name) and e.is_file():
                    why = excluder.reason(e.path, False)
                    if why is None:
                        found.append(e.path)
                    elif skipped is not None:
                        skipped.append((e.path, why))
            except OSError:
                continue
        stack.extend(reversed(subdirs))
    if not os.path.isabs(given):  # keep the caller's spelling (relative paths stay relative)
        cwd = os.path.abspath(given)
        found = [os.path.join(given, os.path.relpath(f, cwd)) for f in found]
    found.sort(key=_sort_key)
    return found


def discover(
    paths: list[str], *, force_exclude: bool = False, excluder=None, skipped: list[tuple[str, str]] | None = None
) -> tuple[list[str], list[FileError]]:
    """Files to process for the given paths, each once, plus an error for each path that yields nothing.

    Folders are scanned (see the module docs); explicit files are taken whatever their name, except with
    ``force_exclude`` when a scan would skip them (then they go to ``skipped``, without an error)."""
    if excluder is None:
        from dockerfix.io.ignore import Excluder

        excluder = Excluder()
    out: list[str] = []
    errors: list[FileError] = []
    seen: set[tuple[int, int]] = set()
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            errors.append(FileError(p, "no such file or directory"))
            continue
        except OSError as exc:
            errors.append(FileError(p, f"cannot access: {exc.strerror or exc}"))
            continue
        if force_exclude:
            why = excluder.excluded_path(p, _stat.S_ISDIR(st.st_mode))
            if why is not None:
                if skipped is not None:
                    skipped.append((p, why))
                continue
        if _stat.S_ISDIR(st.st_mode):
            files = walk(p, excluder, skipped)
            if not files:
                errors.append(FileError(p, "no Dockerfiles found in this directory"))
                continue
        else:
            files = [p]
        for f in files:
            try:
                fst = os.stat(f)
                key = (fst.st_dev, fst.st_ino)
            except OSError:
                key = (-1, len(out))  # reported when read
            if key in seen:
                continue
            seen.add(key)
            out.append(f)
    return out, errors


def display_path(path: str) -> str:
    """The path for messages and diffs: relative to the cwd when below it, ``/``-separated, no leading ``./``."""
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path)
        except ValueError:
            rel = path
        if not rel.startswith(".."):
            path = rel
    else:
        path = os.path.normpath(path)
    return path.replace(os.sep, "/")
