"""Flattening and comparison of images built synthetically in Python: no builder, no network, fast."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockerfix.verify.compare import BUILD_NOISE, AllowedDifference, compare_images
from dockerfix.verify.imagefs import (
    DIR,
    DirectoryLayerCache,
    FILE,
    SYMLINK,
    ImageFormatError,
    UnsupportedCompression,
    flatten_image,
    read_image,
)

# ------------------------------------------------------------------------------------------ synthetic images


@dataclass
class L:
    """One layer: a list of tar members in order. Helpers return self so layers read like a listing."""

    members: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def _add(self, info: tarfile.TarInfo, data: bytes | None = None) -> L:
        self.members.append((info, data))
        return self

    def dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> L:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
        return self._add(info)

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
             xattrs: dict[str, str] | None = None) -> L:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        return self._add(info, data)

    def symlink(self, name: str, target: str) -> L:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        return self._add(info)

    def hardlink(self, name: str, target: str) -> L:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.LNKTYPE, target, 0o644
        return self._add(info)

    def whiteout(self, path: str) -> L:
        parent, _, base = path.rpartition("/")
        return self.file(f"{parent}/.wh.{base}" if parent else f".wh.{base}")

    def opaque(self, directory: str) -> L:
        return self.file(f"{directory}/.wh..wh..opq")

    def tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for info, data in self.members:
                t.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    return data


MEDIA = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip", "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
         "none": "application/vnd.oci.image.layer.v1.tar"}

CONFIG = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_ENV=prod"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["serve", "--port", "8000"],
    "User": "app",
    "WorkingDir": "/app",
    "ExposedPorts": {"8000/tcp": {}, "443/tcp": {}},
    "Volumes": {"/data": {}},
    "Labels": {"org.opencontainers.image.title": "demo"},
    "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:8000/ || exit 1"], "Interval": 30000000000},
    "StopSignal": "SIGTERM",
}


def image_config(layers: list[bytes], config: dict | None = None, arch: str = "amd64") -> dict:
    return {
        "architecture": arch,
        "os": "linux",
        "config": CONFIG if config is None else config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in layers]},
        "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
    }


class Blobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest

    def descriptor(self, data: bytes, media_type: str, **extra) -> dict:
        return {"mediaType": media_type, "digest": self.put(data), "size": len(data), **extra}

    def manifest(self, layers: list[L], compression: str = "gzip", config: dict | None = None,
                 arch: str = "amd64") -> dict:
        tars = [layer.tar() for layer in layers]
        cfg = json.dumps(image_config(tars, config, arch)).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": self.descriptor(cfg, "application/vnd.oci.image.config.v1+json"),
            "layers": [self.descriptor(compress(t, compression), MEDIA[compression]) for t in tars],
        }
        return manifest


def write_layout(root: Path, index_manifests: list[dict], blobs: Blobs) -> Path:
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": index_manifests}))
    for digest, data in blobs.blobs.items():
        (root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return root


def oci_layout(tmp: Path, layers: list[L], compression: str = "gzip", config: dict | None = None,
               name: str = "latest") -> Path:
    blobs = Blobs()
    manifest = blobs.manifest(layers, compression, config)
    desc = blobs.descriptor(json.dumps(manifest).encode(), manifest["mediaType"],
                            annotations={"org.opencontainers.image.ref.name": name})
    return write_layout(tmp / "layout", [desc], blobs)


def tar_directory(src: Path, dest: Path, prefix: str = "") -> Path:
    with tarfile.open(dest, "w") as t:
        for path in sorted(src.rglob("*")):
            t.add(path, arcname=prefix + path.relative_to(src).as_posix(), recursive=False)
    return dest


def oci_archive(tmp: Path, layers: list[L], compression: str = "gzip", config: dict | None = None) -> Path:
    return tar_directory(oci_layout(tmp, layers, compression, config), tmp / "image.oci.tar", prefix="./")


def docker_save(tmp: Path, layers: list[L], config: dict | None = None, tag: str = "demo:latest") -> Path:
    tars = [layer.tar() for layer in layers]
    cfg = json.dumps(image_config(tars, config)).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    root = tmp / "save"
    root.mkdir()
    (root / cfg_name).write_bytes(cfg)
    names = []
    for i, t in enumerate(tars):
        layer_dir = root / f"{i:064x}"
        layer_dir.mkdir()
        (layer_dir / "layer.tar").write_bytes(t)
        (layer_dir / "VERSION").write_text("1.0")
        names.append(f"{i:064x}/layer.tar")
    (root / "manifest.json").write_text(json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]))
    return tar_directory(root, tmp / "image.docker.tar")


BASE = (
    L()
    .dir("etc").file("etc/os-release", b"ID=debian\n")
    .dir("usr").dir("usr/bin").file("usr/bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755)
    .symlink("usr/bin/tool-alias", "tool")
    .dir("var").dir("var/lib").dir("var/lib/apt").file("var/lib/apt/extended_states", b"").dir("var/lib/apt/lists")
    .file("var/lib/apt/lists/deb_Packages", b"Package: x\n")
    .dir("opt").dir("opt/old").file("opt/old/a", b"a").dir("opt/old/sub").file("opt/old/sub/b", b"b")
)


# ------------------------------------------------------------------------------------------------- flatten


def test_single_layer_entries_carry_type_mode_owner_size_hash_link(tmp_path):
    img = flatten_image(oci_layout(tmp_path, [BASE]))
    tool = img.entries["usr/bin/tool"]
    assert (tool.type, tool.mode, tool.uid, tool.gid, tool.size) == (FILE, 0o755, 0, 0, 20)
    assert tool.sha256 == hashlib.sha256(b"#!/bin/sh\necho tool\n").hexdigest()
    alias = img.entries["usr/bin/tool-alias"]
    assert (alias.type, alias.link) == (SYMLINK, "tool")
    assert img.entries["etc"].type == DIR
    assert "" not in img.entries and "./etc" not in img.entries


def test_whiteout_deletes_a_file_and_a_whole_directory_from_lower_layers(tmp_path):
    upper = L().whiteout("etc/os-release").whiteout("opt/old")
    img = flatten_image(oci_layout(tmp_path, [BASE, upper]))
    assert "etc/os-release" not in img.entries
    assert not [p for p in img.entries if p.startswith("opt/old")]
    assert "opt" in img.entries and "etc" in img.entries
    assert not [p for p in img.entries if ".wh." in p]


def test_whiteout_then_recreate_in_the_same_layer_keeps_the_new_entry(tmp_path):
    upper = L().whiteout("opt/old").dir("opt/old", mode=0o700).file("opt/old/new", b"n")
    img = flatten_image(oci_layout(tmp_path, [BASE, upper]))
    assert sorted(p for p in img.entries if p.startswith("opt/old")) == ["opt/old", "opt/old/new"]
    assert img.entries["opt/old"].mode == 0o700


def test_opaque_directory_hides_lower_children_but_keeps_its_own(tmp_path):
    upper = L().dir("opt/old", uid=1000, gid=1000).opaque("opt/old").file("opt/old/c", b"c")
    img = flatten_image(oci_layout(tmp_path, [BASE, upper]))
    assert sorted(p for p in img.entries if p.startswith("opt/old")) == ["opt/old", "opt/old/c"]
    assert img.entries["opt/old"].uid == 1000


def test_file_replacing_a_directory_takes_its_children(tmp_path):
    img = flatten_image(oci_layout(tmp_path, [BASE, L().file("opt/old", b"now a file")]))
    assert img.entries["opt/old"].type == FILE
    assert not [p for p in img.entries if p.startswith("opt/old/")]


def test_upper_layer_overrides_metadata_and_content(tmp_path):
    upper = L().file("usr/bin/tool", b"v2", mode=0o750, uid=1000, gid=1001)
    tool = flatten_image(oci_layout(tmp_path, [BASE, upper])).entries["usr/bin/tool"]
    assert (tool.mode, tool.uid, tool.gid, tool.size) == (0o750, 1000, 1001, 2)


def test_hardlinks_get_the_content_of_their_target_in_the_same_or_a_lower_layer(tmp_path):
    upper = L().file("usr/bin/x", b"xx").hardlink("usr/bin/x-link", "usr/bin/x").hardlink("usr/bin/t2", "usr/bin/tool")
    img = flatten_image(oci_layout(tmp_path, [BASE, upper]))
    x, link, t2 = img.entries["usr/bin/x"], img.entries["usr/bin/x-link"], img.entries["usr/bin/t2"]
    assert (link.type, link.sha256, link.size, link.hardlink) == (FILE, x.sha256, 2, "usr/bin/x")
    assert t2.sha256 == img.entries["usr/bin/tool"].sha256
    assert img.file_bytes == sum(e.size for e in img.entries.values() if e.type == FILE and not e.hardlink)


def test_leading_slash_and_dot_slash_member_names_normalise(tmp_path):
    layer = L().dir("./srv").file("/srv/a", b"1").file("./srv/.hidden", b"2").file("srv//b/../c", b"3")
    img = flatten_image(oci_layout(tmp_path, [layer]))
    assert {"srv", "srv/a", "srv/.hidden", "srv/c"} <= set(img.entries)


def test_xattrs_are_recorded(tmp_path):
    layer = L().file("bin/ping", b"p", mode=0o755, xattrs={"security.capability": "cap"})
    entry = flatten_image(oci_layout(tmp_path, [layer])).entries["bin/ping"]
    assert entry.xattrs == (("security.capability", b"cap".hex()),)


def pyc(flags: int, word1: bytes, body: bytes = b"\xe3code") -> bytes:
    return b"\xa7\r\r\n" + flags.to_bytes(4, "little") + word1 + body


def test_timestamp_pyc_header_is_masked_but_hash_based_pyc_and_other_files_are_not(tmp_path):
    def entries(stamp: bytes, sub: str):
        layer = (L().file("m/__pycache__/a.cpython-311.pyc", pyc(0, stamp))
                 .file("m/__pycache__/h.cpython-311.pyc", pyc(1, stamp))
                 .file("m/data.bin", pyc(0, stamp)))
        d = tmp_path / sub
        d.mkdir()
        return flatten_image(oci_layout(d, [layer])).entries

    one, two = entries(b"\x01" * 8, "one"), entries(b"\x02" * 8, "two")
    assert one["m/__pycache__/a.cpython-311.pyc"].sha256 == two["m/__pycache__/a.cpython-311.pyc"].sha256
    assert one["m/__pycache__/a.cpython-311.pyc"].size == len(pyc(0, b"\x01" * 8))
    assert one["m/__pycache__/h.cpython-311.pyc"].sha256 != two["m/__pycache__/h.cpython-311.pyc"].sha256
    assert one["m/data.bin"].sha256 != two["m/data.bin"].sha256


SHADOW = (b"root:*:{day}:0:99999:7:::\n"
          b"_apt:*:{day}:0:99999:7:::\n"
          b"app:$y$j9T$salt$hash:{day}:0:99999:7:::\n")


def test_shadow_last_change_day_is_masked_but_passwords_and_users_are_not(tmp_path):
    """Two builds either side of midnight write different last-change days (the 2026-12-03 CI failure)."""
    def entry(content: bytes, sub: str, path: str = "etc/shadow"):
        d = tmp_path / sub
        d.mkdir()
        return flatten_image(oci_layout(d, [L().file(path, content, mode=0o640)])).entries[path]

    monday, tuesday = entry(SHADOW.replace(b"{day}", b"20425"), "a"), entry(SHADOW.replace(b"{day}", b"20426"), "b")
    assert monday.sha256 == tuesday.sha256
    assert monday.size == len(SHADOW.replace(b"{day}", b"20425"))
    backup = entry(SHADOW.replace(b"{day}", b"20426"), "c", "etc/shadow-")
    assert backup.sha256 == monday.sha256
    other_hash = entry(SHADOW.replace(b"{day}", b"20425").replace(b"$hash", b"$HASH"), "d")
    assert other_hash.sha256 != monday.sha256
    extra_user = entry(SHADOW.replace(b"{day}", b"20425") + b"bob:!:20425:0:99999:7:::\n", "e")
    assert extra_user.sha256 != monday.sha256
    elsewhere = entry(SHADOW.replace(b"{day}", b"20426"), "f", "srv/shadow")
    assert elsewhere.sha256 != entry(SHADOW.replace(b"{day}", b"20425"), "g", "srv/shadow").sha256


# ------------------------------------------------------------------------------------------ formats, config


def _zstd_available() -> bool:
    return shutil.which("zstd") is not None


@pytest.mark.parametrize("form", ["layout-gzip", "layout-none", "archive-gzip", "layout-zstd", "docker-save"])
def test_every_form_flattens_to_the_same_tree_and_config(tmp_path, form):
    if form.endswith("zstd") and not _zstd_available():
        pytest.skip("zstd program not installed")
    layers = [BASE, L().whiteout("etc/os-release").dir("app", uid=1000).file("app/main.py", b"print(1)\n", uid=1000)]
    (tmp_path / "ref").mkdir()
    reference = flatten_image(oci_layout(tmp_path / "ref", layers))
    kind, _, compression = form.partition("-")
    if kind == "layout":
        path = oci_layout(tmp_path, layers, compression)
    elif kind == "archive":
        path = oci_archive(tmp_path, layers, compression)
    else:
        path = docker_save(tmp_path, layers)
    img = flatten_image(path)
    assert img.entries == reference.entries
    assert img.config == reference.config
    assert img.layer_count == 2
    assert [layer.compression for layer in img.layers] == [compression if kind != "docker" else "none"] * 2


def test_config_fields_and_sizes(tmp_path):
    layers = [BASE, L().file("app/x", b"x" * 5000)]
    img = flatten_image(oci_archive(tmp_path, layers))
    c = img.config
    assert c.env_map() == {"PATH": "/usr/local/bin:/usr/bin:/bin", "APP_ENV": "prod"}
    assert (c.entrypoint, c.cmd, c.user, c.working_dir) == (("/docker-entrypoint.sh",), ("serve", "--port", "8000"),
                                                            "app", "/app")
    assert (c.exposed_ports, c.volumes, c.stop_signal) == (("443/tcp", "8000/tcp"), ("/data",), "SIGTERM")
    assert c.labels == {"org.opencontainers.image.title": "demo"}
    assert c.healthcheck["Test"][0] == "CMD-SHELL"
    tars = [layer.tar() for layer in layers]
    assert img.uncompressed_size == sum(len(t) for t in tars)
    assert img.compressed_size == sum(len(gzip.compress(t, mtime=0)) for t in tars)
    assert img.compressed_size < img.uncompressed_size
    summary = json.loads(json.dumps(img.to_dict(entries=True)))
    assert summary["config"]["ExposedPorts"] == ["443/tcp", "8000/tcp"]
    assert summary["layer_count"] == 2 and summary["history"] == 2
    assert {"path": "app/x", "type": "file", "mode": "0644", "uid": 0, "gid": 0, "size": 5000,
            "sha256": hashlib.sha256(b"x" * 5000).hexdigest()} in summary["entries"]


def test_empty_config_gives_empty_defaults(tmp_path):
    img = flatten_image(oci_layout(tmp_path, [BASE], config={}))
    assert img.config.env == () and img.config.cmd is None and img.config.healthcheck is None


def test_ref_and_platform_select_one_image(tmp_path):
    blobs = Blobs()
    amd = blobs.manifest([L().file("arch", b"amd64")])
    arm = blobs.manifest([L().file("arch", b"arm64")], arch="arm64")
    other = blobs.manifest([L().file("other", b"")])
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            blobs.descriptor(json.dumps(amd).encode(), amd["mediaType"],
                             platform={"os": "linux", "architecture": "amd64"}),
            blobs.descriptor(json.dumps(arm).encode(), arm["mediaType"],
                             platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ],
    }
    root = write_layout(tmp_path / "multi", [
        blobs.descriptor(json.dumps(other).encode(), other["mediaType"],
                         annotations={"org.opencontainers.image.ref.name": "other"}),
        blobs.descriptor(json.dumps(index).encode(), index["mediaType"],
                         annotations={"org.opencontainers.image.ref.name": "multi"}),
    ], blobs)

    def arch(**kw) -> bytes:
        return flatten_image(root, ref="multi", **kw).entries["arch"].sha256

    assert arch() == hashlib.sha256(b"amd64").hexdigest()
    assert arch(platform="linux/arm64") == hashlib.sha256(b"arm64").hexdigest()
    assert "other" in flatten_image(root).entries  # first image when no ref is given
    assert read_image(root, ref="multi", platform="linux/arm64")["architecture"] == "arm64"
    with pytest.raises(ImageFormatError, match="no image named 'nope'"):
        flatten_image(root, ref="nope")
    with pytest.raises(ImageFormatError, match="no manifest for linux/s390x"):
        flatten_image(root, ref="multi", platform="linux/s390x")


def test_docker_save_ref_selects_by_repo_tag(tmp_path):
    path = docker_save(tmp_path, [BASE], tag="registry.local/team/demo:1.0")
    assert flatten_image(path, ref="team/demo:1.0").layer_count == 1
    with pytest.raises(ImageFormatError):
        flatten_image(path, ref="demo:2.0")


def test_not_an_image_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageFormatError, match="neither an OCI layout"):
        flatten_image(tmp_path / "empty")
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageFormatError):
        flatten_image(tmp_path / "junk.tar")
    with pytest.raises(ImageFormatError, match="no such file"):
        flatten_image(tmp_path / "missing")


def test_zstd_without_any_decoder_is_a_clear_error(tmp_path, monkeypatch):
    if not _zstd_available():
        pytest.skip("zstd program not installed (needed to make the test image)")
    path = oci_layout(tmp_path, [BASE], "zstd")
    import builtins

    real_import = builtins.__import__

    def no_zstd_modules(name, *args, **kwargs):
        if name in ("compression", "zstandard"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zstd_modules)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UnsupportedCompression, match="apt-get install zstd"):
        flatten_image(path)


def test_layer_cache_is_shared_between_images_by_digest(tmp_path):
    cache: dict = {}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = flatten_image(oci_layout(tmp_path / "a", [BASE, L().file("x", b"a")]), layer_cache=cache)
    assert len(cache) == 2
    b = flatten_image(oci_layout(tmp_path / "b", [BASE, L().file("x", b"b")]), layer_cache=cache)
    assert len(cache) == 3  # the base layer was read once
    assert set(cache) == {layer.diff_id for layer in a.layers + b.layers}
    saved = flatten_image(docker_save(tmp_path, [BASE, L().file("x", b"a")]), layer_cache=cache)
    assert len(cache) == 3 and saved.entries == a.entries  # diff_ids are shared between archive formats
    assert [layer.compression for layer in saved.layers] == ["none", "none"]
    assert a.entries["x"].sha256 != b.entries["x"].sha256
    assert a.entries["usr/bin/tool"] == b.entries["usr/bin/tool"]


def test_directory_layer_cache_round_trips_across_instances(tmp_path):
    upper = L().file("bin/ping", b"p", xattrs={"security.capability": "cap"}).hardlink("bin/ping6", "bin/ping")
    upper.symlink("bin/p", "ping").whiteout("etc/os-release").opaque("opt/old")
    path = oci_layout(tmp_path, [BASE, upper])
    plain = flatten_image(path)
    cache_dir = tmp_path / "cache"
    first = flatten_image(path, layer_cache=DirectoryLayerCache(cache_dir))
    cache = DirectoryLayerCache(cache_dir)
    assert len(cache) == 2 and all(k.startswith("sha256:") for k in cache)
    second = flatten_image(path, layer_cache=cache)
    assert plain.entries == first.entries == second.entries
    assert plain.layers == second.layers
    (cache_dir / (next(iter(cache)).replace(":", "-") + ".json.gz")).write_bytes(b"garbage")
    assert flatten_image(path, layer_cache=DirectoryLayerCache(cache_dir)).entries == plain.entries


# ------------------------------------------------------------------------------------------------- compare


def two(tmp_path, upper_a: L, upper_b: L, config_b: dict | None = None):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cache: dict = {}
    a = flatten_image(oci_layout(tmp_path / "a", [BASE, upper_a]), layer_cache=cache)
    b = flatten_image(oci_layout(tmp_path / "b", [BASE, upper_b], config=config_b), layer_cache=cache)
    return a, b


APP = L().dir("app", uid=1000, gid=1000).file("app/main.py", b"print(1)\n", uid=1000, gid=1000)


def test_identical_images_are_equal(tmp_path):
    a, b = two(tmp_path, APP, APP)
    result = compare_images(a, b)
    assert result.equal and not result.allowed
    assert result.to_dict()["equal"] is True


def test_differences_are_reported_by_kind_and_attribute(tmp_path):
    upper_b = (L().dir("app", uid=0, gid=0).file("app/main.py", b"print(2)\n", uid=1000, gid=1000, mode=0o600)
               .file("app/new.txt", b"").whiteout("etc/os-release").symlink("usr/bin/tool-alias", "../bin/tool"))
    a, b = two(tmp_path, APP, upper_b)
    r = compare_images(a, b)
    assert not r.equal
    assert [d.path for d in r.only_a] == ["etc/os-release"]
    assert [d.path for d in r.only_b] == ["app/new.txt"]
    changed = {d.path: d.attributes for d in r.changed}
    assert changed == {"app": ("uid", "gid"), "app/main.py": ("mode", "sha256"), "usr/bin/tool-alias": ("link",)}
    d = json.loads(json.dumps(r.to_dict()))
    main = next(c for c in d["changed"] if c["path"] == "app/main.py")
    assert main["attributes"]["mode"] == ["0644", "0600"]


def test_allowed_differences_are_listed_apart_with_their_reason_and_code(tmp_path):
    upper_a = L(list(APP.members))
    upper_a.dir("root").dir("root/.cache").dir("root/.cache/pip").dir("root/.cache/pip/http")
    upper_a.file("root/.cache/pip/http/x", b"cached").whiteout("var/lib/apt/lists")
    upper_b = L(list(APP.members))
    pip = AllowedDifference(("/root/.cache/pip/*",), "pip's download cache is not kept", "DFX201")
    apt = AllowedDifference(("var/lib/apt/lists/*",), "apt lists are removed after install", "DFX101")
    a, b = two(tmp_path, upper_a, upper_b)
    r = compare_images(a, b, [pip, apt])
    assert r.equal, r.to_dict()
    by_path = {d.path: d.allowed_by.code for d in r.allowed}
    # the cache contents match the pattern; root/.cache and root/.cache/pip only held it
    assert by_path["root/.cache/pip/http/x"] == "DFX201"
    assert by_path["root/.cache"] == by_path["root/.cache/pip"] == "DFX201"
    assert by_path["var/lib/apt/lists"] == by_path["var/lib/apt/lists/deb_Packages"] == "DFX101"
    r2 = compare_images(a, b, [pip])
    assert {d.path for d in r2.only_b} == {"var/lib/apt/lists", "var/lib/apt/lists/deb_Packages"}
    assert json.loads(json.dumps(r.to_dict()))["allowed"][0]["allowed_by"]["code"] in {"DFX201", "DFX101"}


def test_a_container_directory_that_holds_anything_else_is_not_allowed(tmp_path):
    apt = AllowedDifference(("var/lib/apt/lists/*",), "apt lists are removed after install", "DFX101")
    a, b = two(tmp_path, L().whiteout("var/lib/apt"), L())
    r = compare_images(a, b, [apt])
    assert {d.path for d in r.only_b} == {"var/lib/apt", "var/lib/apt/extended_states"}
    assert {d.path for d in r.allowed} == {"var/lib/apt/lists", "var/lib/apt/lists/deb_Packages"}


def test_a_container_directory_is_not_allowed_when_it_exists_in_both(tmp_path):
    upper_a = L().dir("root").dir("root/.cache", mode=0o700).dir("root/.cache/pip").file("root/.cache/pip/x")
    upper_b = L().dir("root").dir("root/.cache", mode=0o755)
    a, b = two(tmp_path, upper_a, upper_b)
    r = compare_images(a, b, [AllowedDifference(("root/.cache/pip/*",), "pip cache", "DFX201")])
    assert [(d.path, d.attributes) for d in r.changed] == [("root/.cache", ("mode",))]


def test_config_differences_key_by_key_and_allowable(tmp_path):
    config_b = dict(CONFIG, Env=["PATH=/usr/local/bin:/usr/bin:/bin", "APP_ENV=dev", "PIP_NO_CACHE_DIR=1"],
                    User="root", Labels={})
    a, b = two(tmp_path, APP, APP, config_b)
    r = compare_images(a, b)
    assert {d.field for d in r.config} == {"Env.APP_ENV", "Env.PIP_NO_CACHE_DIR", "User",
                                           "Labels.org.opencontainers.image.title"}
    allow = AllowedDifference(("@config/Env.PIP_NO_CACHE_DIR", "@config/Labels.*"), "declared", "DFX202")
    r2 = compare_images(a, b, [allow])
    assert {d.field for d in r2.config} == {"Env.APP_ENV", "User"}
    assert {d.field for d in r2.allowed} == {"Env.PIP_NO_CACHE_DIR", "Labels.org.opencontainers.image.title"}
    assert json.loads(json.dumps(r2.to_dict()))["config"][0]["field"] in {"Env.APP_ENV", "User"}


def test_env_order_alone_is_not_a_difference(tmp_path):
    config_b = dict(CONFIG, Env=list(reversed(CONFIG["Env"])))
    a, b = two(tmp_path, APP, APP, config_b)
    assert compare_images(a, b).equal


def test_build_noise_covers_apt_logs_and_dpkg_backups(tmp_path):
    upper_a = L().file("var/log/dpkg.log", b"2026-11-22 11:00 install").file("var/lib/dpkg/status-old", b"a")
    upper_b = L().file("var/log/dpkg.log", b"2026-11-22 11:05 install").file("var/lib/dpkg/status-old", b"b")
    a, b = two(tmp_path, upper_a, upper_b)
    assert not compare_images(a, b).equal
    r = compare_images(a, b, BUILD_NOISE)
    assert r.equal and {d.allowed_by.code for d in r.allowed} == {"build"}


def test_sizes_are_reported_for_both_images(tmp_path):
    a, b = two(tmp_path, APP, L(list(APP.members)).file("app/big", b"x" * 10000))
    sizes = compare_images(a, b).sizes
    assert sizes["layer_count"] == [2, 2]
    assert sizes["file_bytes"][1] - sizes["file_bytes"][0] == 10000
    assert sizes["entry_count"][1] == sizes["entry_count"][0] + 1
