"""dockerfix verify's flow with a fake builder (always runs): which files are built, what is compared, which
differences the applied transforms declare, the rebuild measurement, exit codes and reports."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from dockerfix.verify.builders import BuildResult, Capabilities, Step
from dockerfix.verify.run import VerifyError, allowed_for, pick_source_file, verify


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_archive(path: Path, layers: list[dict[str, bytes]], env: list[str]) -> Path:
    """A minimal `docker save` tarball."""
    import hashlib

    blobs = [_tar(l) for l in layers]
    config = json.dumps({"config": {"Env": env, "Cmd": ["app"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest()
                                                                   for b in blobs]}}).encode()
    with tarfile.open(path, "w") as t:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        add("config.json", config)
        for i, b in enumerate(blobs):
            add(f"l{i}/layer.tar", b)
        add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["x:y"],
                                          "Layers": [f"l{i}/layer.tar" for i in range(len(blobs))]}]).encode())
    return path


class FakeBuilder:
    """Builds by looking at the Dockerfile text: leftover apt lists unless the RUN removes them."""

    name = "fake"
    capabilities = Capabilities(cache_mounts=True, copy_chmod=True)

    def __init__(self, bad: bool = False) -> None:
        self.builds: list[tuple[str, str]] = []
        self.images: dict[str, str] = {}
        self.bad = bad
        self.removed: tuple[str, ...] = ()

    def available(self) -> bool:
        return True

    def build(self, dockerfile, context, tag, **kw) -> BuildResult:
        text = Path(dockerfile).read_text()
        self.builds.append((text, str(context)))
        rebuild = tag in self.images
        self.images[tag] = text
        n = sum(1 for ln in text.splitlines() if ln.split(" ", 1)[0] in ("RUN", "COPY"))
        steps = tuple(Step(i + 1, "RUN x", cached=rebuild and i < n - 1) for i in range(n))
        return BuildResult(tag, 1.0, (Step(0, "FROM base", False),) + steps, "log")

    def export(self, tag, dest, *, fmt="oci-archive") -> Path:
        text = self.images[tag]
        layer = {"app/app.py": b"print(1)\n", "usr/bin/curl": b"curl"}
        if "rm -rf /var/lib/apt/lists/*" not in text:
            layer["var/lib/apt/lists/deb.debian.org_dists"] = b"index" * 100
        if self.bad and tag.endswith("after"):
            del layer["usr/bin/curl"]
        return docker_archive(Path(dest), [{"etc/os-release": b"debian"}, layer], ["PATH=/usr/bin"])

    def remove(self, *tags):
        self.removed = tags


def _app(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "requirements.txt").write_text("flask\n")
    df = tmp_path / "Dockerfile"
    df.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\nCOPY . /app\n")
    return df


def test_safe_rewrite_verifies_equal_with_declared_differences(tmp_path):
    (tmp_path / "ctx").mkdir()
    df = _app(tmp_path / "ctx")
    b = FakeBuilder()
    rep = verify(df, b, select=["apt-lists-cleanup"], workdir=tmp_path / "work")
    assert rep.rewritten and rep.equal
    assert [c["code"] for c in rep.changes] == ["DFX103"]
    allowed = rep.comparison.allowed
    assert allowed and all(x.allowed_by.code == "DFX103" for x in allowed)
    assert rep.before.file_bytes > rep.after.file_bytes
    # both Dockerfiles built from outside the copied contexts; original first
    assert b.builds[0][0] == df.read_text() and "rm -rf /var/lib/apt/lists/*" in b.builds[1][0]
    assert all("context-" in c for _, c in b.builds)
    # the rebuild edited app.py (not the manifest) in both copies
    assert rep.edited == "app.py" and rep.after.rebuild is not None
    assert "dockerfix verify edit" in (tmp_path / "work" / "context-after" / "app.py").read_text()
    assert b.removed and (tmp_path / "ctx" / "app.py").read_text() == "print(1)\n", "the real context is untouched"
    d = rep.to_dict()
    assert d["equal"] is True and d["before"]["rebuild_steps"] is not None
    json.dumps(d)


def test_a_wrong_rewrite_fails_for_the_right_reason(tmp_path):
    (tmp_path / "ctx").mkdir()
    df = _app(tmp_path / "ctx")
    rep = verify(df, FakeBuilder(bad=True), select=["apt-lists-cleanup"], rebuild=False)
    assert not rep.equal
    assert [v.path for v in rep.comparison.violations] == ["usr/bin/curl"]


def test_undeclared_cache_removal_is_a_violation(tmp_path):
    (tmp_path / "ctx").mkdir()
    df = _app(tmp_path / "ctx")
    assert allowed_for({"DFX101"}) == []  # merge-runs declares nothing: its rewrite must be byte-equal
    rep = verify(df, FakeBuilder(), select=["DFX001"], rebuild=False)
    assert rep.equal and not rep.rewritten


def test_builder_that_cannot_build_the_syntax_is_explained(tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_text("FROM debian\nRUN <<EOF\necho hi\nEOF\n")
    b = FakeBuilder()
    with pytest.raises(VerifyError, match="heredocs need BuildKit"):
        verify(df, b)


def test_pick_source_file_skips_manifests_and_vendored(tmp_path):
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "big.js").write_text("x" * 1000)
    (tmp_path / "package.json").write_text("{}" * 100)
    (tmp_path / "server.js").write_text("x")
    assert pick_source_file(tmp_path) == "server.js"


def test_cli_reports_and_exit_codes(tmp_path, monkeypatch, capsys):
    from dockerfix.verify import cli, run

    (tmp_path / "ctx").mkdir()
    df = _app(tmp_path / "ctx")
    monkeypatch.setattr(run, "choose_builder", lambda name, lab: FakeBuilder())
    code = cli.main([str(df), "--select", "apt-lists-cleanup", "--json", str(tmp_path / "r.json"), "--color", "never"])
    out = capsys.readouterr().out
    assert code == 0 and "EQUAL apart from declared differences" in out and "steps rebuilt after edit" in out
    assert json.loads((tmp_path / "r.json").read_text())["equal"] is True
    monkeypatch.setattr(run, "choose_builder", lambda name, lab: FakeBuilder(bad=True))
    code = cli.main([str(df), "--select", "apt-lists-cleanup", "--no-rebuild", "--color", "never"])
    out = capsys.readouterr().out
    assert code == 1 and "removed /usr/bin/curl" in out
    monkeypatch.setattr(run, "choose_builder", lambda name, lab: (_ for _ in ()).throw(run.VerifyError("no builder")))
    assert cli.main([str(df)]) == 2


class NoisyBuilder(FakeBuilder):
    """Every build writes a different `.so` (like a native compile that is not reproducible)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def export(self, tag, dest, *, fmt="oci-archive") -> Path:
        self.n += 1
        text = self.images[tag]
        layer = {"app/app.py": b"print(1)\n", "usr/lib/native.so": b"build %d" % self.n}
        if "rm -rf /var/lib/apt/lists/*" not in text:
            layer["var/lib/apt/lists/x"] = b"index"
        return docker_archive(Path(dest), [layer], [])


def test_baseline_learns_the_builds_own_nondeterminism(tmp_path):
    (tmp_path / "ctx").mkdir()
    df = _app(tmp_path / "ctx")
    plain = verify(df, NoisyBuilder(), select=["apt-lists-cleanup"], rebuild=False)
    assert not plain.equal and [v.path for v in plain.comparison.violations] == ["usr/lib/native.so"]
    b = NoisyBuilder()
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False, baseline=True)
    assert rep.equal and any("differ between two builds" in n for n in rep.notes)
    assert len(b.builds) == 3 and b.builds[2][0] == df.read_text(), "the original is built a second time"
