"""Read a built image and flatten its layers into one file tree (stdlib only).

Three on-disk forms are read, told apart by their contents rather than their names:

- an OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``),
- an OCI archive: the same layout inside a tar (``buildah push IMG oci-archive:x.tar:name``),
- a ``docker save`` tarball (``manifest.json`` naming a config and layer tars; newer docker also writes an
  OCI ``index.json``, which is then preferred).

Layers are applied in order: a whiteout ``.wh.NAME`` deletes ``NAME`` (and everything below it) from the lower
layers, an opaque marker ``.wh..wh..opq`` empties its directory of everything the lower layers put there, and a
non-directory that replaces a directory takes its children with it. Layers may be plain tar, gzip or zstd. zstd
is read with ``compression.zstd`` (Python 3.14+), the ``zstandard`` package, or the ``zstd`` program, in that
order; without any of them such a layer raises :class:`UnsupportedCompression`.

Every path in the result is relative to the image root, without a leading slash (``usr/bin/python3``). Content
hashes of timestamp-based ``.pyc`` files mask header bytes 8-16 (source mtime and size), which differ between
any two ``pip install`` runs of the same packages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = [
    "DirectoryLayerCache",
    "Entry",
    "FlatImage",
    "ImageConfig",
    "ImageFormatError",
    "LayerInfo",
    "UnsupportedCompression",
    "flatten_image",
    "read_image",
]

_CHUNK = 1 << 20

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

FILE, DIR, SYMLINK, CHAR, BLOCK, FIFO = "file", "dir", "symlink", "char", "block", "fifo"


class ImageFormatError(Exception):
    """The input is not an image this module can read (or the chosen image is not in it)."""


class UnsupportedCompression(ImageFormatError):
    """A layer uses a compression this Python cannot decompress."""


# ---------------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of a flattened image."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int = 0
    sha256: str | None = None
    link: str | None = None
    """Symlink target, verbatim."""
    hardlink: str | None = None
    """For a hard link: the path it was linked to in its layer (content and size are the target's)."""
    device: str | None = None
    """``major:minor`` for character and block devices."""
    xattrs: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "path": self.path,
            "type": self.type,
            "mode": f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
        }
        if self.type == FILE:
            d["size"] = self.size
            d["sha256"] = self.sha256
        for name in ("link", "hardlink", "device"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        if self.xattrs:
            d["xattrs"] = dict(self.xattrs)
        return d


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config, in Docker's field names via :meth:`to_dict`."""

    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    user: str = ""
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    healthcheck: Mapping[str, Any] | None = None
    stop_signal: str = ""
    shell: tuple[str, ...] | None = None
    onbuild: tuple[str, ...] = ()

    FIELDS = {
        "Env": "env",
        "Entrypoint": "entrypoint",
        "Cmd": "cmd",
        "User": "user",
        "WorkingDir": "working_dir",
        "ExposedPorts": "exposed_ports",
        "Volumes": "volumes",
        "Labels": "labels",
        "Healthcheck": "healthcheck",
        "StopSignal": "stop_signal",
        "Shell": "shell",
        "OnBuild": "onbuild",
    }

    @classmethod
    def from_json(cls, config: Mapping[str, Any] | None) -> ImageConfig:
        c = config or {}

        def seq(name: str) -> tuple[str, ...] | None:
            value = c.get(name)
            return None if value is None else tuple(value)

        return cls(
            env=tuple(c.get("Env") or ()),
            entrypoint=seq("Entrypoint"),
            cmd=seq("Cmd"),
            user=c.get("User") or "",
            working_dir=c.get("WorkingDir") or "",
            exposed_ports=tuple(sorted(c.get("ExposedPorts") or ())),
            volumes=tuple(sorted(c.get("Volumes") or ())),
            labels=dict(c.get("Labels") or {}),
            healthcheck=dict(c["Healthcheck"]) if c.get("Healthcheck") else None,
            stop_signal=c.get("StopSignal") or "",
            shell=seq("Shell"),
            onbuild=tuple(c.get("OnBuild") or ()),
        )

    def env_map(self) -> dict[str, str]:
        """``Env`` as a mapping; a later duplicate wins, as at run time."""
        out: dict[str, str] = {}
        for item in self.env:
            name, _, value = item.partition("=")
            out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, attr in self.FIELDS.items():
            value = getattr(self, attr)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[key] = value
        return out


@dataclass(frozen=True)
class LayerInfo:
    digest: str | None
    """Digest of the blob as stored; ``None`` for a ``docker save`` layer without one."""
    diff_id: str | None
    """Digest of the uncompressed layer tar, from the config (the same whatever the export's compression)."""
    media_type: str
    compression: str
    """``gzip``, ``zstd`` or ``none`` (what the bytes are, whatever the media type says)."""
    compressed_size: int
    """Bytes as stored in the image (for an uncompressed layer, the tar size)."""
    uncompressed_size: int
    """Bytes of the layer tar."""
    entries: int
    whiteouts: int
    created_by: str | None = None
    """The history entry of the step that made this layer (``/bin/sh -c apt-get install ...``, ``#(nop) COPY
    file:<sha> in /app``), when the image's history has one non-empty entry per layer; else ``None``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FlatImage:
    """An image reduced to what a container started from it sees, plus its size facts."""

    source: str
    entries: Mapping[str, Entry] = field(repr=False)
    config: ImageConfig
    layers: tuple[LayerInfo, ...] = field(repr=False)
    os: str = ""
    architecture: str = ""
    history: int = 0
    """Number of history entries (one per Dockerfile instruction in most builders)."""
    origins: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)
    """For each path of :attr:`entries`, the index in :attr:`layers` of the layer that last wrote it."""

    def written_by(self, path: str) -> LayerInfo | None:
        """The layer that last wrote ``path`` (``None`` for a path not in the image, or unknown)."""
        index = self.origins.get(path)
        return self.layers[index] if index is not None and 0 <= index < len(self.layers) else None

    @property
    def layer_count(self) -> int:
        return len(self.layers)

    @property
    def compressed_size(self) -> int:
        return sum(layer.compressed_size for layer in self.layers)

    @property
    def uncompressed_size(self) -> int:
        return sum(layer.uncompressed_size for layer in self.layers)

    @property
    def file_bytes(self) -> int:
        """Bytes of regular-file content visible in the flattened tree, each hard-linked file counted once."""
        return sum(e.size for e in self.entries.values() if e.type == FILE and e.hardlink is None)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "os": self.os,
            "architecture": self.architecture,
            "layer_count": self.layer_count,
            "history": self.history,
            "compressed_size": self.compressed_size,
            "uncompressed_size": self.uncompressed_size,
            "file_bytes": self.file_bytes,
            "entry_count": len(self.entries),
            "config": self.config.to_dict(),
        }

    def to_dict(self, *, entries: bool = False) -> dict[str, Any]:
        d = self.summary()
        d["layers"] = [layer.to_dict() for layer in self.layers]
        if entries:
            d["entries"] = [self.entries[p].to_dict() for p in sorted(self.entries)]
        return d


# ---------------------------------------------------------------------------------------------------- storage


class _Store:
    """Named files of an image, from a directory or a tar."""

    def names(self) -> set[str]:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def read_json(self, name: str) -> Any:
        try:
            with self.open(name) as f:
                return json.load(f)
        except KeyError:
            raise ImageFormatError(f"missing {name}") from None
        except ValueError as exc:
            raise ImageFormatError(f"{name} is not JSON: {exc}") from None

    def close(self) -> None:
        pass


class _DirStore(_Store):
    def __init__(self, root: str):
        self.root = root

    def _path(self, name: str) -> str:
        path = os.path.join(self.root, *name.split("/"))
        if not os.path.isfile(path):
            raise KeyError(name)
        return path

    def names(self) -> set[str]:
        return {n for n in ("index.json", "manifest.json", "oci-layout") if os.path.isfile(os.path.join(self.root, n))}

    def open(self, name: str) -> IO[bytes]:
        return open(self._path(name), "rb")

    def size(self, name: str) -> int:
        return os.path.getsize(self._path(name))


class _TarStore(_Store):
    def __init__(self, path: str):
        try:
            self.tar = tarfile.open(path, "r:")
        except tarfile.TarError as exc:
            raise ImageFormatError(f"{path}: not a tar archive ({exc})") from None
        self.members = {_normalize(m.name): m for m in self.tar.getmembers()}

    def names(self) -> set[str]:
        return set(self.members)

    def open(self, name: str) -> IO[bytes]:
        f = self.tar.extractfile(self.members[name])
        if f is None:
            raise KeyError(name)
        return f

    def size(self, name: str) -> int:
        member = self.members[name]
        if member.issym() or member.islnk():
            with self.open(name) as f:
                return f.seek(0, io.SEEK_END)
        return member.size

    def close(self) -> None:
        self.tar.close()


def _blob_name(digest: str) -> str:
    algorithm, sep, hexdigest = digest.partition(":")
    if not sep or not hexdigest or "/" in digest:
        raise ImageFormatError(f"bad digest {digest!r}")
    return f"blobs/{algorithm}/{hexdigest}"


# ------------------------------------------------------------------------------------------------- locating


@dataclass(frozen=True)
class _LayerRef:
    name: str
    digest: str | None
    media_type: str
    size: int
    diff_id: str | None = None


@dataclass(frozen=True)
class _Located:
    config: Mapping[str, Any]
    layers: tuple[_LayerRef, ...]


def _platform_matches(platform: Mapping[str, Any] | None, wanted: str) -> bool:
    if not platform:
        return False
    parts = wanted.split("/")
    have = [platform.get("os", ""), platform.get("architecture", ""), platform.get("variant", "")]
    return all(w == h for w, h in zip(parts, have))


def _ref_matches(annotations: Mapping[str, str] | None, ref: str) -> bool:
    a = annotations or {}
    names = [a.get(REF_NAME), a.get(CONTAINERD_NAME)]
    return any(n and (n == ref or n.endswith(":" + ref) or n.rsplit(":", 1)[0] == ref) for n in names)


def _resolve_manifest(store: _Store, descriptors: list[Mapping[str, Any]], platform: str, where: str) -> Mapping[str, Any]:
    """Follow descriptors (possibly through nested indexes) down to one image manifest."""
    if not descriptors:
        raise ImageFormatError(f"{where}: no manifests")
    if len(descriptors) > 1 or descriptors[0].get("platform"):
        matching = [d for d in descriptors if _platform_matches(d.get("platform"), platform)]
        if matching:
            descriptors = matching
        elif all(d.get("platform") for d in descriptors):
            found = sorted({"/".join(filter(None, (d["platform"].get("os"), d["platform"].get("architecture"))))
                            for d in descriptors})
            raise ImageFormatError(f"{where}: no manifest for {platform} (has {', '.join(found)})")
    desc = descriptors[0]
    doc = store.read_json(_blob_name(desc["digest"]))
    if desc.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in doc:
        return _resolve_manifest(store, list(doc.get("manifests") or ()), platform, desc["digest"])
    return doc


def _with_diff_ids(layers: tuple[_LayerRef, ...], config: Mapping[str, Any]) -> tuple[_LayerRef, ...]:
    """Attach the config's rootfs.diff_ids (digests of the uncompressed layer tars) to the layers."""
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        return layers
    return tuple(dataclasses.replace(layer, diff_id=d) for layer, d in zip(layers, diff_ids))


def _locate(store: _Store, ref: str | None, platform: str) -> _Located:
    names = store.names()
    if "index.json" in names:
        index = store.read_json("index.json")
        descriptors = list(index.get("manifests") or ())
        if ref is not None:
            descriptors = [d for d in descriptors if _ref_matches(d.get("annotations"), ref)]
            if not descriptors:
                raise ImageFormatError(f"no image named {ref!r} in index.json")
        manifest = _resolve_manifest(store, descriptors, platform, "index.json")
        config = store.read_json(_blob_name(manifest["config"]["digest"]))
        layers = tuple(
            _LayerRef(_blob_name(d["digest"]), d["digest"], d.get("mediaType", ""), int(d.get("size", 0)))
            for d in manifest.get("layers") or ()
        )
        return _Located(config, _with_diff_ids(layers, config))
    if "manifest.json" in names:
        items = store.read_json("manifest.json")
        if not isinstance(items, list) or not items:
            raise ImageFormatError("manifest.json: expected a non-empty list")
        if ref is not None:
            items = [m for m in items if any(t == ref or t.endswith("/" + ref) or t.endswith(":" + ref)
                                             for t in m.get("RepoTags") or ())]
            if not items:
                raise ImageFormatError(f"no image tagged {ref!r} in manifest.json")
        item = items[0]
        config = store.read_json(_normalize(item["Config"]))
        refs = []
        for name in item.get("Layers") or ():
            name = _normalize(name)
            digest = f"sha256:{name.rsplit('/', 1)[-1]}" if name.startswith("blobs/sha256/") else None
            refs.append(_LayerRef(name, digest, "application/vnd.docker.image.rootfs.diff.tar", store.size(name)))
        return _Located(config, _with_diff_ids(tuple(refs), config))
    raise ImageFormatError("neither an OCI layout (index.json) nor a docker save archive (manifest.json)")


# ---------------------------------------------------------------------------------------------- decompression


class _Counter(io.RawIOBase):
    """Counts the bytes read through it (the uncompressed layer size)."""

    def __init__(self, inner: IO[bytes]):
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def read_rest(self) -> None:
        while True:
            data = self.inner.read(_CHUNK)
            if not data:
                return
            self.count += len(data)


def _sniff(f: IO[bytes]) -> str:
    magic = f.read(4)
    f.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "none"


@contextlib.contextmanager
def _zstd_reader(f: IO[bytes]) -> Iterator[IO[bytes]]:
    try:
        from compression import zstd  # Python 3.14+

        with zstd.ZstdFile(f) as z:
            yield z
        return
    except ImportError:
        pass
    try:
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(f) as z:
            yield z
        return
    except ImportError:
        pass
    program = shutil.which("zstd")
    if program is None:
        raise UnsupportedCompression(
            "zstd-compressed layer: install the zstd program (apt-get install zstd) or the zstandard package"
        )
    proc = subprocess.Popen([program, "-dcq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        try:
            while chunk := f.read(_CHUNK):
                proc.stdin.write(chunk)  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield proc.stdout
    finally:
        proc.stdout.close()
        feeder.join()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() not in (0, -13) and stderr:  # -13: SIGPIPE after an early close
            raise ImageFormatError(f"zstd: {stderr.strip()}")


@contextlib.contextmanager
def _decompressed(f: IO[bytes], compression: str) -> Iterator[IO[bytes]]:
    if compression == "gzip":
        with gzip.GzipFile(fileobj=f, mode="rb") as g:
            yield g  # type: ignore[misc]
    elif compression == "zstd":
        with _zstd_reader(f) as z:
            yield z
    else:
        yield f


# --------------------------------------------------------------------------------------------------- layers


@dataclass
class _LayerDelta:
    """What one layer does to the tree below it."""

    entries: dict[str, Entry]
    whiteouts: set[str]
    opaque: set[str]
    compression: str
    uncompressed_size: int


def _normalize(name: str) -> str:
    """Tar member name -> path relative to the image root ('' for the root itself)."""
    return posixpath.normpath("/" + name).lstrip("/")


_DAY_STAMPED = frozenset({"etc/shadow", "etc/shadow-"})
"""Files whose lines carry the day they were written: shadow(5)'s third field, the day of the last password change,
is set by useradd, adduser and chpasswd to the build's date, so two builds on either side of midnight differ there."""


def _mask_days(content: bytes) -> bytes:
    """shadow(5) lines with the last-change field (the third) blanked; other lines as they are."""
    lines = content.split(b"\n")
    for i, line in enumerate(lines):
        fields = line.split(b":")
        if len(fields) >= 3 and fields[2].isdigit():
            fields[2] = b""
            lines[i] = b":".join(fields)
    return b"\n".join(lines)


def _hash_content(path: str, f: IO[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    if path in _DAY_STAMPED:
        content = f.read()
        h.update(_mask_days(content))
        return h.hexdigest(), len(content)
    if path.endswith(".pyc"):
        header = f.read(16)
        size += len(header)
        # PEP 552 header: magic(4) flags(4) then mtime(4)+source size(4), or a source hash when flags bit 0 is set
        if len(header) == 16 and int.from_bytes(header[4:8], "little") & 1 == 0:
            header = header[:8] + b"\0" * 8
        h.update(header)
    while chunk := f.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def _xattrs(member: tarfile.TarInfo) -> tuple[tuple[str, str], ...]:
    pax = member.pax_headers or {}
    found = []
    for key, value in pax.items():
        if key.startswith("SCHILY.xattr."):
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            found.append((key[len("SCHILY.xattr."):], raw.hex()))
    return tuple(sorted(found))


def _read_layer(stream: IO[bytes]) -> tuple[dict[str, Entry], set[str], set[str]]:
    entries: dict[str, Entry] = {}
    whiteouts: set[str] = set()
    opaque: set[str] = set()
    try:
        tar = tarfile.open(fileobj=stream, mode="r|")
    except tarfile.ReadError as exc:
        raise ImageFormatError(f"layer is not a tar: {exc}") from None
    with tar:
        for m in tar:
            path = _normalize(m.name)
            if not path:
                continue
            parent, base = posixpath.split(path)
            if base == ".wh..wh..opq":
                opaque.add(parent)
                continue
            if base.startswith(".wh."):
                whiteouts.add(posixpath.join(parent, base[4:]))
                continue
            common: dict[str, Any] = dict(path=path, mode=m.mode & 0o7777, uid=m.uid, gid=m.gid, xattrs=_xattrs(m))
            if m.isreg():
                f = tar.extractfile(m)
                assert f is not None
                digest, size = _hash_content(path, f)
                entry = Entry(type=FILE, size=size, sha256=digest, **common)
            elif m.islnk():
                target = _normalize(m.linkname)
                source = entries.get(target)
                entry = Entry(type=FILE, hardlink=target, size=source.size if source else 0,
                              sha256=source.sha256 if source else None, **common)
            elif m.issym():
                entry = Entry(type=SYMLINK, link=m.linkname, **common)
            elif m.isdir():
                entry = Entry(type=DIR, **common)
            elif m.ischr() or m.isblk():
                entry = Entry(type=CHAR if m.ischr() else BLOCK, device=f"{m.devmajor}:{m.devminor}", **common)
            elif m.isfifo():
                entry = Entry(type=FIFO, **common)
            else:
                continue
            entries[path] = entry
    return entries, whiteouts, opaque


def _layer_delta(store: _Store, layer: _LayerRef) -> _LayerDelta:
    with store.open(layer.name) as raw:
        compression = _sniff(raw)
        with _decompressed(raw, compression) as plain:
            counter = _Counter(plain)
            buffered = io.BufferedReader(counter, _CHUNK)
            entries, whiteouts, opaque = _read_layer(buffered)
            counter.read_rest()
    return _LayerDelta(entries, whiteouts, opaque, compression, counter.count)


def _is_under(path: str, roots: set[str]) -> bool:
    """True when path is strictly below one of roots ('' stands for the image root)."""
    if "" in roots:
        return True
    parent = posixpath.dirname(path)
    while parent:
        if parent in roots:
            return True
        parent = posixpath.dirname(parent)
    return False


def _apply(tree: dict[str, Entry], delta: _LayerDelta) -> None:
    removed_trees = set(delta.whiteouts)  # the path and everything below
    emptied = set(delta.opaque)  # everything below, lower layers only
    for path, entry in delta.entries.items():
        old = tree.get(path)
        if old is not None and old.type == DIR and entry.type != DIR:
            emptied.add(path)
    if removed_trees or emptied:
        doomed = [p for p in tree if p in removed_trees or _is_under(p, removed_trees) or _is_under(p, emptied)]
        for p in doomed:
            del tree[p]
    for path, entry in delta.entries.items():
        if entry.hardlink is not None and entry.sha256 is None:
            target = tree.get(entry.hardlink)
            if target is not None:
                entry = dataclasses.replace(entry, size=target.size, sha256=target.sha256)
        tree[path] = entry


# ------------------------------------------------------------------------------------------------ layer cache


class DirectoryLayerCache(MutableMapping[str, Any]):
    """A ``layer_cache`` for :func:`flatten_image` kept on disk (one gzip'd JSON file per layer digest), so
    base layers are parsed once across runs. Corrupt or foreign files read as missing."""

    VERSION = 2  # 2: shadow(5) last-change days masked

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)

    def _path(self, digest: str) -> str:
        return os.path.join(self.directory, digest.replace(":", "-") + ".json.gz")

    def __getitem__(self, digest: str) -> _LayerDelta:
        try:
            with gzip.open(self._path(digest), "rt", encoding="utf-8") as f:
                doc = json.load(f)
            if doc.get("version") != self.VERSION:
                raise KeyError(digest)
            entries = {}
            for row in doc["entries"]:
                row["xattrs"] = tuple(tuple(x) for x in row.get("xattrs", ()))
                entries[row["path"]] = Entry(**row)
            return _LayerDelta(entries, set(doc["whiteouts"]), set(doc["opaque"]), doc["compression"],
                               doc["uncompressed_size"])
        except (OSError, ValueError, TypeError, KeyError):
            raise KeyError(digest) from None

    def __setitem__(self, digest: str, delta: _LayerDelta) -> None:
        doc = {
            "version": self.VERSION,
            "entries": [{k: v for k, v in dataclasses.asdict(e).items() if v not in (None, ())}
                        for e in delta.entries.values()],
            "whiteouts": sorted(delta.whiteouts),
            "opaque": sorted(delta.opaque),
            "compression": delta.compression,
            "uncompressed_size": delta.uncompressed_size,
        }
        tmp = self._path(digest) + f".{os.getpid()}.tmp"
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as f:
            json.dump(doc, f, separators=(",", ":"))
        os.replace(tmp, self._path(digest))

    def __delitem__(self, digest: str) -> None:
        try:
            os.unlink(self._path(digest))
        except FileNotFoundError:
            raise KeyError(digest) from None

    def __iter__(self) -> Iterator[str]:
        for name in os.listdir(self.directory):
            if name.endswith(".json.gz"):
                yield name[: -len(".json.gz")].replace("-", ":", 1)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# ------------------------------------------------------------------------------------------------------ api


@contextlib.contextmanager
def _open_store(path: str | os.PathLike[str]) -> Iterator[_Store]:
    p = os.fspath(path)
    if os.path.isdir(p):
        store: _Store = _DirStore(p)
    elif os.path.isfile(p):
        store = _TarStore(p)
    else:
        raise ImageFormatError(f"{p}: no such file or directory")
    try:
        yield store
    finally:
        store.close()


def read_image(path: str | os.PathLike[str], *, ref: str | None = None,
               platform: str = "linux/amd64") -> dict[str, Any]:
    """Return the raw image config JSON of the selected image, without reading any layer."""
    with _open_store(path) as store:
        return dict(_locate(store, ref, platform).config)


def flatten_image(
    path: str | os.PathLike[str],
    *,
    ref: str | None = None,
    platform: str = "linux/amd64",
    layer_cache: MutableMapping[str, Any] | None = None,
) -> FlatImage:
    """Read the image at ``path`` and apply its layers in order.

    ``ref`` picks one image out of several (the OCI ``ref.name`` annotation, e.g. ``a`` for
    ``oci-archive:x.tar:a``, or a ``docker save`` repo tag); without it the first one is used. ``platform``
    (``os/arch[/variant]``) picks a member of a multi-platform index. ``layer_cache`` (any mutable mapping,
    e.g. a dict shared between calls, or a :class:`DirectoryLayerCache`) keeps parsed layers by diff_id (else by
    blob digest), so comparing two images built from the same base reads the base layers once, whatever the
    archive format or compression of each export.
    """
    with _open_store(path) as store:
        located = _locate(store, ref, platform)
        tree: dict[str, Entry] = {}
        origins: dict[str, int] = {}
        infos = []
        steps = _layer_history(located.config, len(located.layers))
        for index, layer in enumerate(located.layers):
            key = layer.diff_id or layer.digest
            delta = layer_cache.get(key) if (layer_cache is not None and key) else None
            if delta is None:
                delta = _layer_delta(store, layer)
                if layer_cache is not None and key:
                    layer_cache[key] = delta
                compression = delta.compression
            else:
                with store.open(layer.name) as raw:
                    compression = _sniff(raw)
            _apply(tree, delta)
            origins.update(dict.fromkeys(delta.entries, index))
            infos.append(LayerInfo(
                digest=layer.digest,
                diff_id=layer.diff_id,
                media_type=layer.media_type,
                compression=compression,
                compressed_size=layer.size or store.size(layer.name),
                uncompressed_size=delta.uncompressed_size,
                entries=len(delta.entries),
                whiteouts=len(delta.whiteouts) + len(delta.opaque),
                created_by=steps[index],
            ))
    cfg = located.config
    return FlatImage(
        source=os.fspath(path),
        entries=tree,
        config=ImageConfig.from_json(cfg.get("config")),
        layers=tuple(infos),
        os=cfg.get("os", ""),
        architecture=cfg.get("architecture", ""),
        history=len(cfg.get("history") or ()),
        origins={p: origins[p] for p in tree},
    )


def _layer_history(config: Mapping[str, Any], layers: int) -> list[str | None]:
    """``created_by`` of each layer: the history entries without ``empty_layer``, when they are one per layer."""
    made = [h for h in (config.get("history") or ()) if isinstance(h, Mapping) and not h.get("empty_layer")]
    if len(made) != layers:
        return [None] * layers
    return [h.get("created_by") if isinstance(h.get("created_by"), str) else None for h in made]
