"""dockerfix verify's flow with a fake builder (always runs): which files are built, what is compared, which
differences the applied transforms declare, the rebuild measurement, exit codes and reports."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from dockerfix.verify.builders import RUN_TIMEOUT, BuildResult, Capabilities, Step
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

    blobs = [_tar(layer) for layer in layers]
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
    with pytest.raises(VerifyError, match="line 2: heredocs need BuildKit"):
        verify(df, b)


# --------------------------------------------------------------------------- --target, heredocs per stage

AWESOME = """# syntax=docker/dockerfile:1.4
FROM python:3.11-slim AS builder
WORKDIR /app
COPY requirements.txt /app
RUN --mount=type=cache,target=/root/.cache/pip \\
    pip3 install -r requirements.txt
COPY . /app

FROM builder as dev-envs
RUN <<EOF
apk update
apk add git
EOF
COPY --from=gloursdocker/docker / /
"""
"""The shape of the awesome-compose Dockerfiles (compose-flask): heredocs only in the last stage, dev-envs."""


class StageBuilder(FakeBuilder):
    """A fake with buildah 1.28's view of heredocs (it skips them in stages it does not run), recording targets."""

    capabilities = Capabilities(cache_mounts=True, copy_chmod=True, heredocs_in_skipped_stages=True)

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str | None] = []

    def build(self, dockerfile, context, tag, **kw) -> BuildResult:
        self.targets.append(kw.get("target"))
        return super().build(dockerfile, context, tag, **kw)


class Dockerd2010(StageBuilder):
    """BuildKit in dockerd 20.10: no heredocs anywhere in the file (its parser fails on the body lines)."""

    capabilities = Capabilities(cache_mounts=True, copy_chmod=True)


def _awesome(tmp_path: Path, text: str = AWESOME) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "requirements.txt").write_text("flask\n")
    (ctx / "app.py").write_text("print(1)\n")
    df = ctx / "Dockerfile"
    df.write_text(text)
    return df


def test_target_builds_that_stage_and_skips_the_heredocs_of_stages_it_does_not_run(tmp_path):
    df = _awesome(tmp_path)
    with pytest.raises(VerifyError, match=r"line 10: heredocs need BuildKit .* \(in stage dev-envs, which the "
                                          r"build runs\)"):
        verify(df, StageBuilder(), rebuild=False)
    b = StageBuilder()
    rep = verify(df, b, target="builder", select=["dockerignore"])
    assert rep.equal and rep.target == "builder" and rep.to_dict()["target"] == "builder"
    assert b.targets == ["builder"] * 4, "original, rewrite and both rebuilds build the target"


def test_heredocs_are_refused_anywhere_by_a_builder_that_cannot_parse_them(tmp_path):
    df = _awesome(tmp_path)
    with pytest.raises(VerifyError, match="line 10: heredocs need BuildKit"):
        verify(df, Dockerd2010(), target="builder", rebuild=False)


def test_a_heredoc_line_starting_with_from_is_refused_even_in_a_skipped_stage(tmp_path):
    df = _awesome(tmp_path, AWESOME.replace("apk add git", "from alpine"))
    with pytest.raises(VerifyError, match="line 10: a heredoc line starting with FROM"):
        verify(df, StageBuilder(), target="builder", rebuild=False)


def test_an_unknown_target_is_an_error(tmp_path):
    df = _awesome(tmp_path)
    with pytest.raises(VerifyError, match=r"--target nope: the Dockerfile has no stage of that name \(stages named: "
                                          r"builder, dev-envs\)"):
        verify(df, FakeBuilder(), target="nope", rebuild=False)


def test_a_heredoc_in_a_stage_the_target_copies_from_is_built(tmp_path):
    text = ("FROM debian AS gen\nRUN <<EOF\necho hi > /x\nEOF\nFROM debian AS unused\nRUN <<EOF\nexit 1\nEOF\n"
            "FROM debian\nCOPY --from=gen /x /x\n")
    df = _awesome(tmp_path, text)
    with pytest.raises(VerifyError, match=r"line 2: heredocs need BuildKit .*stage gen") as err:
        verify(df, StageBuilder(), rebuild=False)
    assert "line 6" not in str(err.value), "the unused stage is skipped"


@pytest.mark.parametrize(("text", "target", "stages"), [
    ("FROM a AS one\nFROM b AS two\nFROM c\n", None, {2}),
    ("FROM a AS one\nFROM b AS two\nFROM c\n", "two", {1}),
    ("FROM a AS one\nFROM one AS two\nFROM c\nCOPY --from=two /x /x\n", None, {0, 1, 2}),
    ("FROM a AS one\nFROM b AS two\nFROM c\nCOPY --from=1 /x /x\n", None, {1, 2}),
    ("FROM a AS one\nFROM b AS two\nFROM c\nRUN --mount=type=bind,from=one,target=/m true\n", None, {0, 2}),
    ("FROM a AS one\nFROM b\nCOPY --from=alpine:3 /x /x\n", None, {1}),
    ("FROM a AS one\nFROM b\nARG SRC=one\nCOPY --from=$SRC /x /x\n", None, {0, 1}),
    ("FROM a AS one\nFROM b\nARG SRC\nCOPY --from=${SRC} /x /x\n", None, None),
    ("ARG BASE\nFROM a AS one\nFROM ${BASE}\n", None, None),
])
def test_built_stages(text, target, stages):
    from dockerfix.verify.run import built_stages

    assert built_stages(text, target) == stages


def test_cli_passes_the_target(tmp_path, monkeypatch, capsys):
    from dockerfix.verify import cli, run

    df = _awesome(tmp_path)
    b = StageBuilder()
    monkeypatch.setattr(run, "choose_builder", lambda name, lab: b)
    code = cli.main([str(df), "--target", "builder", "--no-rebuild", "--color", "never", "--json", "-"])
    assert code == 0 and json.loads(capsys.readouterr().out)["target"] == "builder"
    assert b.targets == ["builder", "builder"]
    assert cli.main([str(df), "--no-rebuild", "--color", "never"]) == 2
    assert "in stage dev-envs, which the build runs" in capsys.readouterr().err


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


# ------------------------------------------------------------------------------------- regenerated-path table

from dockerfix.verify.builders import ProcessResult  # noqa: E402
from dockerfix.verify.compare import (  # noqa: E402
    BUILD_NOISE,
    REGENERATED,
    baseline_allowances,
    compare_images,
    compare_runs,
    explain_for_baseline,
    normalise_output,
    regenerated_row,
    rewritten_files,
    same_steps,
)
from dockerfix.verify.imagefs import Entry, FlatImage, ImageConfig, LayerInfo  # noqa: E402
from dockerfix.verify.run import healthcheck_command, lay_out  # noqa: E402


def _file(path: str, content: bytes = b"x") -> Entry:
    import hashlib

    return Entry(path, "file", 0o644, 0, 0, len(content), hashlib.sha256(content).hexdigest())


def _link(path: str, target: str) -> Entry:
    return Entry(path, "symlink", 0o777, 0, 0, link=target)


def _flat(entries: dict[str, Entry], origins: dict[str, int] | None = None,
          layers: tuple[LayerInfo, ...] = (), name: str = "img") -> FlatImage:
    return FlatImage(name, entries, ImageConfig(), layers, origins=origins or {})


@pytest.mark.parametrize(("path", "row"), [
    ("var/cache/fontconfig/3830d5c3ddfd5cd38a049b759396e72e-le64.cache-8", "fontconfig caches"),
    ("usr/share/fonts/truetype/dejavu/.uuid", "fontconfig caches"),
    ("var/lib/dbus/machine-id", "machine-id"),
    ("etc/machine-id", "machine-id"),
    ("etc/ssl/private/ssl-cert-snakeoil.key", "snakeoil certificate"),
    ("etc/ssl/certs/ssl-cert-snakeoil.pem", "snakeoil certificate"),
    ("var/lib/postgresql/15/main/global/pg_control", "postgresql cluster"),
    ("usr/local/lib/python3.11/site-packages/flask/__pycache__/app.cpython-311.pyc", "python bytecode"),
    ("etc/ssh/ssh_host_ed25519_key", "ssh host keys"),
    ("etc/shadow", "shadow passwords"),
    ("etc/shadow-", "shadow passwords"),
    ("root/.config/configstore/nodemon.json", "configstore state"),
    ("home/node/.config/configstore/update-notifier-npm.json", "configstore state"),
])
def test_regenerated_rows_that_need_a_baseline(path, row):
    found = regenerated_row(path, _file(path))
    assert found is not None and found.name == row and found.when == "baseline"
    assert regenerated_row(path, _file(path), when="any") is None, "not allowed without a second build"


@pytest.mark.parametrize("path", [
    "var/log/dpkg.log", "var/log/apt/history.log", "var/log/apt/term.log", "var/log/alternatives.log",
    "var/cache/debconf/config.dat-old", "var/cache/ldconfig/aux-cache",
    "root/.npm/_logs/2024-05-01T12_00_00_000Z-debug-0.log",
])
def test_bookkeeping_rows_are_build_noise(path):
    assert regenerated_row(path, _file(path), when="any") is not None
    assert any(a.matches(path, _file(path)) for a in BUILD_NOISE)


@pytest.mark.parametrize("path", ["usr/bin/curl", "etc/ssl/certs/ca-certificates.crt", "app/app.py",
                                  "var/lib/dpkg/status", "etc/passwd", "usr/lib/x86_64-linux-gnu/libfontconfig.so.1"])
def test_other_paths_are_in_no_row(path):
    assert regenerated_row(path, _file(path)) is None and regenerated_row(path, _file(path), when="any") is None


def test_snakeoil_hash_link_row_takes_only_links_to_the_snakeoil_certificate():
    assert regenerated_row("etc/ssl/certs/a1b2c3d4.0", _link("etc/ssl/certs/a1b2c3d4.0", "ssl-cert-snakeoil.pem"))
    assert regenerated_row("etc/ssl/certs/a1b2c3d4.0", None, _link("x", "/etc/ssl/certs/ssl-cert-snakeoil.pem"))
    ca = _link("etc/ssl/certs/0b1b94ef.0", "ISRG_Root_X1.pem")
    assert regenerated_row("etc/ssl/certs/0b1b94ef.0", ca) is None, "a CA's hash link is not regenerated"
    assert regenerated_row("etc/ssl/certs/0b1b94ef.0", _file("etc/ssl/certs/0b1b94ef.0")) is None


def test_the_table_is_documented_once_with_every_row():
    import dockerfix.verify.compare as compare

    source = Path(compare.__file__).read_text()
    table = source[source.index("REGENERATED: tuple"):source.index("BUILD_NOISE: tuple")]
    for row in REGENERATED:
        assert f"- {row.name} [{row.when}]: " in table, row.name
    assert len({row.name for row in REGENERATED}) == len(REGENERATED)


def test_explain_for_baseline_table_rows_and_rerun_steps():
    step = "/bin/sh -c pip install -r requirements.txt"
    la = LayerInfo(None, "sha256:a1", "tar", "none", 1, 1, 1, 0, step)
    lb = LayerInfo(None, "sha256:b1", "tar", "none", 1, 1, 1, 0, step)
    other = LayerInfo(None, "sha256:b2", "tar", "none", 1, 1, 1, 0, "/bin/sh -c pip install flask")
    a = _flat({"var/cache/fontconfig/x.cache-8": _file("var/cache/fontconfig/x.cache-8", b"1"),
               "usr/lib/native.so": _file("usr/lib/native.so", b"1"),
               "usr/lib/other.so": _file("usr/lib/other.so", b"1")},
              {"usr/lib/native.so": 0, "usr/lib/other.so": 0, "var/cache/fontconfig/x.cache-8": 0}, (la,))
    b = _flat({"var/cache/fontconfig/x.cache-8": _file("var/cache/fontconfig/x.cache-8", b"2"),
               "usr/lib/native.so": _file("usr/lib/native.so", b"2"),
               "usr/lib/other.so": _file("usr/lib/other.so", b"2")},
              {"usr/lib/native.so": 0, "usr/lib/other.so": 1, "var/cache/fontconfig/x.cache-8": 0}, (lb, other))
    explained, rest = explain_for_baseline(compare_images(a, b), a, b)
    assert explained == {"var/cache/fontconfig/x.cache-8": "fontconfig caches",
                         "usr/lib/native.so": f"re-run step: {step}"}
    assert [v.path for v in rest] == ["usr/lib/other.so"], "written by a different instruction: not explained"


def _layer(step: str, diff_id: str) -> LayerInfo:
    return LayerInfo(None, diff_id, "tar", "none", 1, 1, 1, 0, step)


APT = "/bin/sh -c apt-get update && apt-get install -y openssh-server && echo 'root:Docker!' | chpasswd"


def test_a_step_the_rewrite_edited_in_place_explains_what_it_rewrote():
    """azure-vote-app-service: DFX103 edits the RUN that runs chpasswd and installs openssh-server; that RUN runs
    again and debconf's database (in no REGENERATED row) gets new bytes."""
    base, copy = _layer("/bin/sh -c #(nop) ADD file:1 in /", "sha256:0"), _layer("COPY . /app", "sha256:c")
    path = "var/cache/debconf/config.dat"
    a = _flat({path: _file(path, b"1"), "usr/lib/x.so": _file("usr/lib/x.so", b"1")},
              {path: 1, "usr/lib/x.so": 2}, (base, _layer(APT, "sha256:a1"), copy))
    b = _flat({path: _file(path, b"2"), "usr/lib/x.so": _file("usr/lib/x.so", b"2")},
              {path: 1, "usr/lib/x.so": 2},
              (base, _layer(APT + " && rm -rf /var/lib/apt/lists/*", "sha256:b1"), copy))
    explained, rest = explain_for_baseline(compare_images(a, b), a, b)
    assert explained == {path: f"re-run step: {APT} && rm -rf /var/lib/apt/lists/*"}
    assert [v.path for v in rest] == ["usr/lib/x.so"], "the COPY layer is the original's: nothing ran again"


def test_steps_the_rewrite_merged_explain_nothing():
    one, two = "/bin/sh -c apt-get update", "/bin/sh -c apt-get install -y curl"
    path = "var/cache/debconf/config.dat"
    a = _flat({path: _file(path, b"1")}, {path: 1}, (_layer(one, "sha256:a0"), _layer(two, "sha256:a1")))
    b = _flat({path: _file(path, b"2")}, {path: 0}, (_layer(f"{one} && {two[11:]}", "sha256:b0"),))
    assert same_steps(a, b) == {}
    explained, rest = explain_for_baseline(compare_images(a, b), a, b)
    assert not explained and [v.path for v in rest] == [path]


def test_same_steps_pairs_equal_and_edited_steps_one_for_one():
    a = _flat({}, {}, tuple(_layer(s, f"sha256:a{i}") for i, s in enumerate(["F", "R1", "R2", "C", "R3"])))
    b = _flat({}, {}, tuple(_layer(s, f"sha256:b{i}") for i, s in enumerate(["F", "R1'", "C", "R3", "R4"])))
    assert same_steps(a, b) == {0: 0, 3: 2, 4: 3}, "R1 R2 -> R1' is a merge: no pair"
    c = _flat({}, {}, tuple(_layer(s, f"sha256:c{i}") for i, s in enumerate(["F", "R1'", "R2'", "C", "R3"])))
    assert same_steps(a, c) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}
    assert same_steps(a, _flat({}, {}, (LayerInfo(None, "x", "tar", "none", 1, 1, 1, 0, None),))) == {}


def test_baseline_allowances_keep_the_kind_of_difference():
    a = _flat({"var/cache/fontconfig/a.cache-8": _file("var/cache/fontconfig/a.cache-8", b"1"),
               "usr/lib/native.so": _file("usr/lib/native.so", b"1")})
    again = _flat({"var/cache/fontconfig/a.cache-8": _file("var/cache/fontconfig/a.cache-8", b"2"),
                   "usr/lib/native.so": _file("usr/lib/native.so", b"2")})
    noise, rows = baseline_allowances(compare_images(a, again))
    assert rows == ["fontconfig caches"]
    changed = _flat({"var/cache/fontconfig/a.cache-8": _file("var/cache/fontconfig/a.cache-8", b"3"),
                     "var/cache/fontconfig/b.cache-8": _file("var/cache/fontconfig/b.cache-8", b"3"),
                     "usr/lib/native.so": _file("usr/lib/native.so", b"3")})
    assert [v.path for v in compare_images(a, changed, noise).violations] == ["var/cache/fontconfig/b.cache-8"], \
        "the second build only changed files: a new cache file is not covered"
    dropped = _flat({})
    assert {v.path for v in compare_images(a, dropped, noise).violations} == {
        "var/cache/fontconfig/a.cache-8", "usr/lib/native.so"}, "rewritten by every build is not removable"


# ------------------------------------------------------------------------------------------------ fake builds


def _ignored(rel: str, patterns: list[str]) -> bool:
    import fnmatch

    parts = rel.split("/")
    for p in patterns:
        p = p.removeprefix("**/")
        if fnmatch.fnmatch(rel, p) or any(fnmatch.fnmatch(part, p) for part in parts):
            return True
    return False


class WorldBuilder(FakeBuilder):
    """A fake that imitates more of a real build: ``COPY . /app`` copies the context (minus .dockerignore'd
    names); ``regen`` files get new content on every run of the apt step (like fc-cache, make-ssl-cert), and the
    original's cached steps keep theirs; ``run`` executes ``behave(image_text, command)``."""

    def __init__(self, regen=(), extra=None, behave=None, healthcheck=None) -> None:
        super().__init__()
        self.regen = tuple(regen)
        self.extra = extra or {}
        self.behave = behave or (lambda text, cmd: (0, "ok\n", ""))
        self.healthcheck = healthcheck
        self.contexts: dict[str, Path] = {}
        self.runs: list[tuple[str, str]] = []
        self.timeouts: list[float | None] = []
        self.serial = 0

    def build(self, dockerfile, context, tag, **kw) -> BuildResult:
        self.contexts[tag] = Path(context)
        self.serial += 1
        self.stamp = getattr(self, "stamp", {})
        self.stamp[tag] = self.serial
        return super().build(dockerfile, context, tag, **kw)

    def export(self, tag, dest, *, fmt="oci-archive") -> Path:
        text = self.images[tag]
        layer = {"usr/bin/curl": b"curl"}
        if "rm -rf /var/lib/apt/lists/*" not in text:
            layer["var/lib/apt/lists/deb.debian.org_dists"] = b"index"
        for path in self.regen:
            layer[path] = b"regenerated %d" % self.stamp[tag]
        for path, content in self.extra.get(tag.rsplit("-", 1)[-1], {}).items():
            layer[path] = content
        if "COPY . /app" in text:
            ctx = self.contexts[tag]
            ignore = []
            if (ctx / ".dockerignore").is_file():
                ignore = [ln.strip() for ln in (ctx / ".dockerignore").read_text().splitlines()
                          if ln.strip() and not ln.startswith("#")]
            for f in sorted(ctx.rglob("*")):
                rel = f.relative_to(ctx).as_posix()
                if f.is_file() and not _ignored(rel, ignore):
                    layer["app/" + rel] = f.read_bytes()
        path = docker_archive(Path(dest), [layer], ["PATH=/usr/bin"])
        if self.healthcheck:
            _set_config(path, {"Healthcheck": {"Test": self.healthcheck}})
        return path

    def run(self, tag, command, *, timeout=None) -> ProcessResult:
        self.runs.append((tag, command))
        self.timeouts.append(timeout)
        rc, out, err = self.behave(self.images[tag], command)
        if rc == "timeout":  # still running at the timeout: what subprocess_runner returns then
            limit = timeout or RUN_TIMEOUT  # the builder's default
            return ProcessResult(("run", tag, command), 124, out, err + f"\ntimed out after {limit:g} s", limit,
                                 timed_out=True)
        return ProcessResult(("run", tag, command), rc, out, err, 0.1)


def _set_config(archive: Path, extra: dict) -> None:
    with tarfile.open(archive) as t:
        members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    cfg = json.loads(members["config.json"])
    cfg["config"].update(extra)
    members["config.json"] = json.dumps(cfg).encode()
    with tarfile.open(archive, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _apt_app(tmp_path: Path, packages: str = "fontconfig ssl-cert") -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.py").write_text("print(1)\n")
    df = ctx / "Dockerfile"
    df.write_text(f"FROM debian\nRUN apt-get update && apt-get install -y {packages}\n")
    return df


REGEN = ("var/cache/fontconfig/4c599c202bc5c08e2d34565a40eac3b2-le64.cache-8",
         "etc/ssl/private/ssl-cert-snakeoil.key", "etc/ssl/certs/ssl-cert-snakeoil.pem")


def test_differences_only_in_regenerated_files_build_the_baseline_automatically(tmp_path):
    df = _apt_app(tmp_path)
    b = WorldBuilder(regen=REGEN)
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False)
    assert rep.equal and rep.images_equal
    assert rep.baseline.why == "automatic" and rep.baseline.built
    assert set(rep.baseline.explained) == set(REGEN)
    assert set(rep.baseline.regenerated) == {"fontconfig caches", "snakeoil certificate"}
    assert len(b.builds) == 3 and b.builds[2][0] == df.read_text(), "the original, built a second time"
    assert any("judged against that second build" in n for n in rep.notes)
    d = rep.to_dict()
    assert d["baseline"]["built"] is True and d["baseline"]["why"] == "automatic"
    assert {a["allowed_by"]["code"] for a in d["comparison"]["allowed"]} >= {"baseline", "DFX103"}


def test_a_difference_outside_the_table_fails_without_a_baseline_build(tmp_path):
    df = _apt_app(tmp_path)
    b = WorldBuilder(regen=REGEN, extra={"after": {"usr/lib/libextra.so": b"new"}})
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False)
    assert not rep.equal and rep.baseline.why is None and not rep.baseline.built
    assert len(b.builds) == 2
    assert {v.path for v in rep.comparison.violations} == {*REGEN, "usr/lib/libextra.so"}


def test_no_auto_baseline_keeps_the_plain_verdict(tmp_path):
    df = _apt_app(tmp_path)
    b = WorldBuilder(regen=REGEN)
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False, auto_baseline=False)
    assert not rep.equal and len(b.builds) == 2 and rep.to_dict()["baseline"]["built"] is False


def test_a_regenerated_file_the_original_rebuilds_identically_still_fails(tmp_path):
    """The table only decides whether a baseline is worth building; the baseline decides."""
    df = _apt_app(tmp_path)

    class Stable(WorldBuilder):
        def export(self, tag, dest, *, fmt="oci-archive"):
            if tag.endswith("baseline"):
                self.stamp[tag] = self.stamp[next(t for t in self.stamp if t.endswith("before"))]
            return super().export(tag, dest, fmt=fmt)

    b = Stable(regen=REGEN[:1])
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False)
    assert rep.baseline.built and rep.baseline.nondeterministic_paths == 0
    assert not rep.equal and [v.path for v in rep.comparison.violations] == [REGEN[0]]


# ----------------------------------------------------------------------------- built as --write leaves it


def test_rewrite_is_built_in_place_and_its_dockerfile_is_a_declared_difference(tmp_path):
    (tmp_path / "ctx").mkdir()
    df = _app(tmp_path / "ctx")
    (tmp_path / "ctx" / "__pycache__").mkdir()
    (tmp_path / "ctx" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"pyc")
    b = WorldBuilder()
    work = tmp_path / "work"
    rep = verify(df, b, select=["apt-lists-cleanup", "dockerignore"], rebuild=False, workdir=work)
    assert {c["code"] for c in rep.changes} == {"DFX103", "DFX203"}
    assert rep.in_context and rep.equal, rep.comparison.summary()
    # the Dockerfile the build read is the one at the original's path in the copied context
    assert (work / "context-after" / "Dockerfile").read_text() == b.builds[1][0]
    assert "rm -rf /var/lib/apt/lists/*" in b.builds[1][0]
    assert (work / "context-before" / "Dockerfile").read_text() == df.read_text()
    assert (work / "context-after" / ".dockerignore").is_file(), "the new .dockerignore is in the rewrite's context"
    assert not (work / "context-before" / ".dockerignore").exists()
    assert rep.declared_files == {"Dockerfile": ["app/Dockerfile"]}
    allowed = {x.path: x.allowed_by.code for x in rep.comparison.allowed}
    assert allowed["app/Dockerfile"] == "rewrite"
    assert allowed["app/__pycache__/app.cpython-311.pyc"] == "DFX203"
    assert not (tmp_path / "ctx" / ".dockerignore").exists(), "the user's context is untouched"
    d = rep.to_dict()
    assert d["declared_files"] == {"Dockerfile": ["app/Dockerfile"]} and d["in_context"] is True


def test_a_changed_dockerignore_that_lands_in_the_image_is_declared(tmp_path):
    a = _flat({"app/.dockerignore": _file("app/.dockerignore", b"old\n"),
               "app/Dockerfile": _file("app/Dockerfile", b"FROM a\n"),
               "srv/Dockerfile": _file("srv/Dockerfile", b"unrelated\n")})
    b = _flat({"app/.dockerignore": _file("app/.dockerignore", b"old\nnew\n"),
               "app/Dockerfile": _file("app/Dockerfile", b"FROM b\n"),
               "srv/Dockerfile": _file("srv/Dockerfile", b"changed\n")})
    allowances, found = rewritten_files(a, b, {"Dockerfile": (b"FROM a\n", b"FROM b\n"),
                                               ".dockerignore": (b"old\n", b"old\nnew\n")})
    assert found == {".dockerignore": ["app/.dockerignore"], "Dockerfile": ["app/Dockerfile"]}
    comp = compare_images(a, b, allowances)
    assert [v.path for v in comp.violations] == ["srv/Dockerfile"], "same name, other content: not the rewrite"


def test_dockerfile_outside_the_context_is_built_from_outside(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.py").write_text("print(1)\n")
    df = tmp_path / "build" / "Dockerfile"
    df.parent.mkdir()
    df.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\nCOPY . /app\n")
    b = WorldBuilder()
    rep = verify(df, b, context=ctx, select=["apt-lists-cleanup"], rebuild=False, workdir=tmp_path / "work")
    assert not rep.in_context and rep.equal and rep.declared_files == {}
    assert not (tmp_path / "work" / "context-after" / "Dockerfile").exists()


def test_lay_out_never_writes_through_a_symlink_out_of_the_context(tmp_path):
    from dockerfix.transforms.base import FileChange

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    outside = tmp_path / "real.dockerignore"
    outside.write_text("keep\n")
    (ctx / ".dockerignore").symlink_to(outside)
    df = ctx / "Dockerfile"
    df.write_text("FROM debian\n")

    class Result:
        text = "FROM debian\n"
        files = {".dockerignore": FileChange(".dockerignore", "keep\n", "keep\nmore\n")}

    with pytest.raises(VerifyError, match="symlink that leads out"):
        lay_out(df, ctx, df.read_bytes(), Result(), tmp_path / "work")
    assert outside.read_text() == "keep\n"


# ----------------------------------------------------------------------------------------------------- smoke


def test_normalise_output_masks_volatile_bits_only():
    text = ("2024-05-01T12:00:03.123Z started pid 4711\r\nsshd[22]: ready in 0.31s at 0x7f3a2c1d9e80\n"
            "12:00:03 items[1] = 42\n")
    assert normalise_output(text) == ("<TIME> started pid <PID>\nsshd[<PID>]: ready in <DURATION> at <ADDR>\n"
                                      "<TIME> items[1] = 42\n")
    assert normalise_output("id=abc123 ok", [r"id=\w+"]) == "<IGNORED> ok"


def _res(rc, out="", err=""):
    return ProcessResult(("x",), rc, out, err, 0.0)


def test_compare_runs():
    assert compare_runs("smoke", "date; echo ok", _res(0, "2024-01-01 10:00:00 ok\n"),
                        _res(0, "2024-01-01 10:00:07 ok\n")).passed
    failed = compare_runs("smoke", "python -V", _res(0, "Python 3.11.9\n"), _res(127, "", "sh: python: not found\n"))
    assert not failed.passed and failed.differences == ("exit status 0 -> 127", "stdout differs", "stderr differs")
    hc = compare_runs("healthcheck", "curl -f localhost", _res(7, "a"), _res(7, "b"), compare_output=False)
    assert hc.passed and hc.to_dict()["compared"] == ["exit_code"]
    assert compare_runs("smoke", "x", _res(0, "run 1"), _res(0, "run 2"), ignore=[r"run \d"]).passed


def _behave(text: str, cmd: str):
    """The rewrite (apt lists removed) behaves the same, except that it has no `ls` of the lists."""
    if cmd == "ls /var/lib/apt/lists":
        return (0, "deb.debian.org_dists\n", "") if "rm -rf /var/lib/apt/lists" not in text else (0, "", "")
    if cmd == "curl --version":
        return 0, "curl 7.88.1 (x86_64) at 2024-05-01 12:00:01\n", ""
    if cmd == "broken":
        return 125, "", "Error: creating container: no space left on device\n"
    return 0, "ok\n", ""


def test_smoke_commands_run_in_both_images_and_decide_the_verdict(tmp_path):
    df = _apt_app(tmp_path, "curl")
    b = WorldBuilder(behave=_behave)
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False,
                 smoke=["curl --version", "ls /var/lib/apt/lists"])
    assert rep.images_equal and not rep.behaviour_equal and not rep.equal
    assert [(c.command, c.passed) for c in rep.checks] == [("curl --version", True), ("ls /var/lib/apt/lists", False)]
    assert [t.rsplit("-", 1)[-1] for t, _ in b.runs] == ["before", "after", "before", "after"]
    d = rep.to_dict()
    assert d["equal"] is False and d["verdict"] == "DIFFERENT" and d["images_equal"] is True
    assert d["smoke"][1]["differences"] == ["stdout differs"]
    assert d["smoke"][1]["before"]["stdout"] == "deb.debian.org_dists\n"


def test_unsafe_changes_say_which_smoke_checks_passed(tmp_path):
    df = _apt_app(tmp_path, "curl")
    rep = verify(df, WorldBuilder(behave=_behave), select=["apt-lists-cleanup", "apt-no-install-recommends"],
                 unsafe=True, rebuild=False, smoke=["curl --version"])
    d = rep.to_dict()
    by_code = {c["code"]: c for c in d["changes"]}
    assert by_code["DFX113"]["safe"] is False
    assert by_code["DFX113"]["smoke"] == {"passed": ["curl --version"], "failed": []}
    assert "smoke" not in by_code["DFX103"], "safe changes need no behavioural evidence"


def test_a_smoke_command_the_builder_cannot_start_is_an_error(tmp_path):
    df = _apt_app(tmp_path, "curl")
    with pytest.raises(VerifyError, match="could not run the smoke command 'broken'.*no space left"):
        verify(df, WorldBuilder(behave=_behave), select=["apt-lists-cleanup"], rebuild=False, smoke=["broken"])


@pytest.mark.parametrize(("test", "command"), [
    (["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "curl -f http://localhost/ || exit 1"),
    (["CMD", "/bin/check", "--quiet", "a b"], "exec /bin/check --quiet 'a b'"),
    (["NONE"], None),
    ([], None),
])
def test_healthcheck_command(test, command):
    assert healthcheck_command({"Test": test}) == command


def test_healthcheck_is_mentioned_when_not_run_and_compared_when_asked(tmp_path):
    df = _apt_app(tmp_path, "curl")
    hc = ["CMD-SHELL", "curl -f http://localhost:8080/health"]
    rep = verify(df, WorldBuilder(healthcheck=hc), select=["apt-lists-cleanup"], rebuild=False)
    assert rep.equal and rep.checks == [] and rep.healthcheck["run"] is False
    assert any("HEALTHCHECK that was not run" in n for n in rep.notes)

    def behave(text, cmd):
        if cmd.startswith("curl"):
            return 7, "", "curl: (7) Failed to connect at 12:00:0%d\n" % len(text)
        return 0, "", ""

    b = WorldBuilder(healthcheck=hc, behave=behave)
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False, healthcheck=True)
    assert [(c.kind, c.command, c.passed) for c in rep.checks] == [("healthcheck", hc[1], True)]
    assert rep.equal and rep.healthcheck == {"before": hc, "after": hc, "run": True}
    assert not any("not run" in n for n in rep.notes)


def test_cli_smoke_flags_exit_code_and_both_outputs(tmp_path, monkeypatch, capsys):
    from dockerfix.verify import cli, run

    df = _apt_app(tmp_path, "curl")
    seen = {}

    def choose(name, lab, **kw):
        seen.update(kw, name=name, lab=lab)
        return WorldBuilder(behave=_behave)

    monkeypatch.setattr(run, "choose_builder", choose)
    out_json = tmp_path / "r.json"
    code = cli.main([str(df), "--select", "apt-lists-cleanup,apt-no-install-recommends", "--unsafe", "--no-rebuild",
                     "--smoke", "curl --version", "--smoke", "ls /var/lib/apt/lists", "--color", "never",
                     "--json", str(out_json), "--pull", "missing", "--lab", str(tmp_path / "lab")])
    out = capsys.readouterr().out
    assert code == 1
    assert seen == {"pull": "missing", "name": None, "lab": str(tmp_path / "lab")}
    assert "DIFFERENT behaviour" in out
    assert "smoke `curl --version`: passed" in out
    assert "smoke `ls /var/lib/apt/lists`: FAILED (stdout differs)" in out
    assert "--- original: exit 0" in out and "deb.debian.org_dists" in out and "--- rewrite: exit 0" in out
    assert "unsafe DFX113 (line 2): smoke checks passed: `curl --version`, failed: `ls /var/lib/apt/lists`" in out
    d = json.loads(out_json.read_text())
    assert [s["passed"] for s in d["smoke"]] == [True, False] and d["equal"] is False
    code = cli.main([str(df), "--select", "apt-lists-cleanup", "--no-rebuild", "--smoke", "curl --version",
                     "--color", "never"])
    assert code == 0 and "EQUAL apart from declared differences" in capsys.readouterr().out
    assert cli.main([str(df), "--select", "apt-lists-cleanup", "--no-rebuild", "--smoke", "broken"]) == 2
    assert "could not run the smoke command" in capsys.readouterr().err


def test_cli_reports_the_automatic_baseline_and_declared_files(tmp_path, monkeypatch, capsys):
    from dockerfix.verify import cli, run

    df = _apt_app(tmp_path)
    with open(df, "a") as f:
        f.write("COPY . /app\n")
    monkeypatch.setattr(run, "choose_builder", lambda name, lab: WorldBuilder(regen=REGEN))
    code = cli.main([str(df), "--select", "apt-lists-cleanup", "--no-rebuild", "--color", "never"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "declared: Dockerfile as the rewrite leaves it, copied into the image at /app/Dockerfile" in out
    assert "baseline: the original built a second time (automatic" in out
    code = cli.main([str(df), "--select", "apt-lists-cleanup", "--no-rebuild", "--color", "never",
                     "--no-auto-baseline"])
    out = capsys.readouterr().out
    assert code == 1 and "changed /etc/ssl/private/ssl-cert-snakeoil.key" in out


def test_choose_builder_passes_the_pull_policy_on_and_explains_failures(monkeypatch):
    from dockerfix.verify import builders, run

    calls = []

    class NoBuilder(RuntimeError):
        pass

    def chooser(name=None, lab=None, pull="missing", **kw):
        calls.append((name, lab, pull))
        if pull not in ("missing", "always", "never"):
            raise ValueError(f"unknown pull policy {pull!r}")
        if name == "podman":
            raise NoBuilder("podman cannot build here: podman is not installed")
        return FakeBuilder()

    monkeypatch.setattr(builders, "choose_builder", chooser, raising=False)
    monkeypatch.setattr(builders, "NoBuilderError", NoBuilder, raising=False)
    assert run.choose_builder("buildah", "/lab", pull="never").name == "fake"
    run.choose_builder(None, None)
    assert calls == [("buildah", "/lab", "never"), (None, None, "missing")], "no --pull: the builders' default"
    with pytest.raises(VerifyError, match="unknown pull policy"):
        run.choose_builder("buildah", None, pull="sometimes")
    with pytest.raises(VerifyError, match="podman is not installed"):
        run.choose_builder("podman", None)


def test_the_builders_own_exit_status_lines_are_not_output(tmp_path):
    df = _apt_app(tmp_path, "curl")

    def behave(text, cmd):
        if "rm -rf /var/lib/apt/lists" in text:  # buildah run restates a non-zero exit status on stderr
            return 1, "", "subprocess exited with status 1\nsubprocess exited with status 1\nError: exit status 1\n"
        return 0, "", ""

    rep = verify(df, WorldBuilder(behave=behave), select=["apt-lists-cleanup"], rebuild=False, smoke=["test -d x"])
    (check,) = rep.checks
    assert check.differences == ("exit status 0 -> 1",) and check.after.stderr == ""


def test_a_smoke_command_still_running_at_the_timeout_fails_its_check(tmp_path):
    df = _apt_app(tmp_path, "curl")

    def behave(text, cmd):
        if cmd == "serve" and "rm -rf /var/lib/apt/lists" in text:  # only the rewrite hangs
            return "timeout", "listening\n", ""
        return 0, "listening\n", ""

    b = WorldBuilder(behave=behave)
    rep = verify(df, b, select=["apt-lists-cleanup"], rebuild=False, smoke=["serve", "true"], smoke_timeout=5)
    assert b.timeouts == [5, 5, 5, 5], "the smoke timeout, not the builds' 1800 s"
    serve, true = rep.checks
    assert not serve.passed and true.passed and rep.images_equal and not rep.equal
    assert serve.differences == ("timed out after 5 s in the rewrite", "exit status 0 -> 124", "stderr differs")
    d = rep.to_dict()["smoke"][0]
    assert d["timed_out"] == ["rewrite"] and d["timeout_seconds"] == 5 and d["passed"] is False

    def both(text, cmd):
        return "timeout", "", ""

    rep = verify(df, WorldBuilder(behave=both), select=["apt-lists-cleanup"], rebuild=False, smoke=["serve"])
    (serve,) = rep.checks
    assert serve.differences == ("timed out after 300 s in the original and the rewrite",), \
        "the same exit status does not make two timeouts agree"
    assert not rep.equal
    with pytest.raises(VerifyError, match="--smoke-timeout 0: give a number of seconds above 0"):
        verify(df, WorldBuilder(), smoke=["true"], smoke_timeout=0)


def test_cli_smoke_timeout(tmp_path, monkeypatch, capsys):
    from dockerfix.verify import cli, run

    df = _apt_app(tmp_path, "curl")
    builders = []

    def choose(name, lab, **kw):
        builders.append(WorldBuilder(behave=lambda text, cmd: ("timeout", "", "") if cmd == "serve" else (0, "", "")))
        return builders[-1]

    monkeypatch.setattr(run, "choose_builder", choose)
    args = [str(df), "--select", "apt-lists-cleanup", "--no-rebuild", "--color", "never", "--smoke", "serve"]
    assert cli.main([*args, "--smoke-timeout", "2.5"]) == 1
    out = capsys.readouterr().out
    assert "smoke `serve`: FAILED (timed out after 2.5 s in the original and the rewrite)" in out
    assert builders[-1].timeouts == [2.5, 2.5]
    assert cli.main(args) == 1 and builders[-1].timeouts == [None, None], "no flag: the builder's default"
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli.main([*args, "--smoke-timeout", "-1"])
    assert info.value.code == 2 and "'-1' is not a number of seconds above 0" in capsys.readouterr().err
