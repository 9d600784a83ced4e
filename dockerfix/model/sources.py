"""Sources of COPY/ADD: remote references and local archives ADD would unpack."""

from __future__ import annotations

# Suffixes of files ADD would unpack (tar, optionally gzip/bzip2/xz/zstd compressed). A plain `.gz` that is not a
# tar is copied as is, but without the file at hand we cannot tell, so every one of these keeps ADD.
ARCHIVE_SUFFIXES = (
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.lz",
    ".tar.lzma", ".tlz", ".gz", ".bz2", ".xz", ".zst", ".lzma", ".z", ".tar.z",
)
_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x5d\x00\x00")


def is_remote(src: str) -> bool:
    s = src.lower()
    return "://" in s or s.startswith("git@") or s.endswith(".git")


def looks_like_archive_name(src: str) -> bool:
    return src.lower().rstrip("/").endswith(ARCHIVE_SUFFIXES)


def is_archive_bytes(head: bytes) -> bool:
    if head.startswith(_MAGIC):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"
