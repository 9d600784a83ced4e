"""The semantics guard stops a buggy transform; a transform that declares its change (and may apply it) passes.

Test-only transforms are registered by monkeypatching the registry's cache. Each rewrites one regex match of the
document; the buggy ones change what the guard watches (stage names, order, bases, the final stage's
ENTRYPOINT/CMD/USER/WORKDIR/EXPOSE/STOPSIGNAL/HEALTHCHECK) without declaring it. Through the CLI that is exit 2,
nothing written, and a message calling it a dockerfix bug.
"""

from __future__ import annotations

import io
import os
import re

import pytest

import dockerfix
from dockerfix.cli_core import Options, run
from dockerfix.engine import EngineError
from dockerfix.transforms import registry
from dockerfix.transforms.base import Applicability, Diagnostic, Edit, Fix, Transform


def _transform(pattern: str, replacement: str, *, safety: str = "safe", declares: frozenset[str] = frozenset(),
               applicability: Applicability | None = None, code: str = "DFX990", fail: bool = False):
    class TestRewrite(Transform):
        summary = "test only: rewrite a regex match"
        docs = "test only"
        default_enabled = False

        def check(self, ctx):
            if fail:
                raise RuntimeError("boom")
            m = re.search(pattern, ctx.document.text, re.M)
            if m:
                how = applicability if applicability is not None else (
                    Applicability.SAFE if safety == "safe" else Applicability.UNSAFE)
                fix = Fix((Edit(m.start(), m.end(), m.expand(replacement)),), how, "Rewrite (test)")
                yield Diagnostic(self.code, self.name, "test rewrite", m.start(), m.end(), fix)

    TestRewrite.code = code
    TestRewrite.name = f"test-rewrite-{code.lower()}"
    TestRewrite.safety = safety
    TestRewrite.declares = declares
    return TestRewrite()


@pytest.fixture
def register(monkeypatch):
    real = registry.all_transforms()

    def add(*ts: Transform) -> None:
        monkeypatch.setattr(registry, "_cache", sorted(real + list(ts), key=lambda t: t.code))

    return add


def _cli(path, *, unsafe=False, select=("DFX990",), jobs=1, mode="write", paths=None):
    out, err = io.BytesIO(), io.BytesIO()
    code = run(Options(paths=tuple(paths or (str(path),)), mode=mode, select=select, unsafe=unsafe, jobs=jobs,
                       quiet=True), stdout=out, stderr=err)
    return code, out.getvalue().decode(), err.getvalue().decode()


MULTI = "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM alpine:3.20 AS final\n" \
        "COPY --from=build /app /app\nUSER app\nWORKDIR /srv\nEXPOSE 8080\nSTOPSIGNAL SIGTERM\n" \
        "HEALTHCHECK CMD wget -q localhost:8080\nENTRYPOINT [\"/app\"]\nCMD [\"serve\"]\n"

BUGGY = {
    "rename-stage": (r"AS build$", "AS builder", "stages"),
    "swap-stage-order": (r"\AFROM golang:1\.22 AS build\nRUN go build -o /app \.\nFROM alpine:3\.20 AS final\n",
                         "FROM alpine:3.20 AS final\nFROM golang:1.22 AS build\nRUN go build -o /app .\n", "stages"),
    "drop-stage": (r"\AFROM golang:1\.22 AS build\nRUN go build -o /app \.\n", "", "stages"),
    "add-stage": (r"\AFROM golang", "FROM scratch AS extra\nFROM golang", "stages"),
    "change-base": (r"alpine:3\.20", "alpine:3.19", "stages"),
    "add-platform": (r"^FROM alpine", "FROM --platform=linux/arm64 alpine", "stages"),
    "entrypoint": (r'ENTRYPOINT \["/app"\]', 'ENTRYPOINT ["/app", "-v"]', "final-config.ENTRYPOINT"),
    "cmd-form": (r'CMD \["serve"\]', "CMD serve", "final-config.CMD"),
    "cmd-dropped": (r'CMD \["serve"\]\n', "", "final-config.CMD"),
    "user": (r"USER app", "USER root", "final-config.USER"),
    "workdir": (r"WORKDIR /srv", "WORKDIR /srv/x", "final-config.WORKDIR"),
    "workdir-added": (r"WORKDIR /srv\n", "WORKDIR /srv\nWORKDIR sub\n", "final-config.WORKDIR"),
    "expose": (r"EXPOSE 8080", "EXPOSE 8081", "final-config.EXPOSE"),
    "stopsignal": (r"SIGTERM", "SIGKILL", "final-config.STOPSIGNAL"),
    "healthcheck": (r"HEALTHCHECK CMD", "HEALTHCHECK --interval=5s CMD", "final-config.HEALTHCHECK"),
}


@pytest.mark.parametrize("case", sorted(BUGGY))
def test_buggy_transform_is_stopped_nothing_written(tmp_path, register, case):
    pattern, replacement, key = BUGGY[case]
    register(_transform(pattern, replacement))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    before = os.stat(p)
    code, out, err = _cli(p)
    assert code == 2
    assert "semantics guard" in err and f"changes {key} " in err and "dockerfix bug" in err, err
    assert p.read_text() == MULTI and os.stat(p).st_mtime_ns == before.st_mtime_ns
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile"]
    with pytest.raises(EngineError, match="dockerfix bug"):
        dockerfix.fix(MULTI, select=["DFX990"])


def test_guard_trips_in_report_diff_and_stdin_modes_too(tmp_path, register):
    register(_transform(r"USER app", "USER root"))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    for mode in ("report", "diff", "check"):
        code, out, err = _cli(p, mode=mode)
        assert code == 2 and "dockerfix bug" in err, (mode, err)
        assert "USER root" not in out
    out, err = io.BytesIO(), io.BytesIO()
    code = run(Options(paths=("-",), mode="stdin", select=("DFX990",), quiet=True), stdin=io.BytesIO(MULTI.encode()),
               stdout=out, stderr=err)
    assert code == 2 and out.getvalue() == b"" and b"dockerfix bug" in err.getvalue()


def test_guard_trips_in_pool_workers_and_writes_no_file(tmp_path, register):
    register(_transform(r"EXPOSE 8080", "EXPOSE 9090"))
    paths = []
    for i in range(6):
        d = tmp_path / f"app{i}"
        d.mkdir()
        (d / "Dockerfile").write_text(MULTI)
        paths.append(str(d / "Dockerfile"))
    code, out, err = _cli(None, jobs=2, paths=paths)
    assert code == 2 and err.count("dockerfix bug") == 6, err
    assert all(open(p).read() == MULTI for p in paths)


def test_changes_outside_the_final_stage_config_pass(tmp_path, register):
    # The guard watches the final image's settings, not a build stage's CMD (and not RUN lines: that is what fixes do).
    register(_transform(r"RUN go build -o /app \.", "RUN go build -trimpath -o /app ."))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    assert _cli(p)[0] == 0
    assert "-trimpath" in p.read_text()


def test_pinning_a_digest_is_not_a_base_change():
    from dockerfix.engine import signature
    from dockerfix.syntax import parse

    a = signature(parse("FROM alpine:3.20 AS x\n"))
    b = signature(parse("FROM alpine:3.20@sha256:" + "a" * 64 + " AS x\n"))
    assert a == b


@pytest.mark.parametrize("declares", [frozenset({"final-config"}), frozenset({"final-config.USER"})])
def test_declared_unsafe_selected_change_passes(tmp_path, register, declares):
    register(_transform(r"USER app", "USER root", safety="unsafe", declares=declares))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    code, out, err = _cli(p, unsafe=True)
    assert code == 0, err
    assert "USER root" in p.read_text()
    assert dockerfix.fix(MULTI, select=["DFX990"], unsafe=True).text == MULTI.replace("USER app", "USER root")


def test_declared_stage_change_passes(tmp_path, register):
    register(_transform(r"AS build$", "AS builder", safety="unsafe", declares=frozenset({"stages"})))
    assert "AS builder" in dockerfix.fix(MULTI, select=["DFX990"], unsafe=True).text


def test_declaring_one_key_does_not_cover_another(tmp_path, register):
    register(_transform(r"USER app", "USER root", safety="unsafe", declares=frozenset({"final-config.CMD"})))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    code, out, err = _cli(p, unsafe=True)
    assert code == 2 and "final-config.USER" in err and p.read_text() == MULTI


def test_declaration_counts_only_when_the_transform_may_apply_fixes(tmp_path, register):
    # An "unsafe" transform that (wrongly) marks a fix safe: without --unsafe its declaration is not in force.
    register(_transform(r"USER app", "USER root", safety="unsafe", declares=frozenset({"final-config"}),
                        applicability=Applicability.SAFE))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    code, out, err = _cli(p, unsafe=False)
    assert code == 2 and "dockerfix bug" in err and p.read_text() == MULTI


def test_declared_transform_does_not_cover_another_transforms_bug(tmp_path, register):
    # A declaring transform only covers what it declares; the other, buggy one still trips the guard.
    register(
        _transform(r"CMD \[\"serve\"\]", 'CMD ["serve", "--fast"]', safety="unsafe",
                   declares=frozenset({"final-config.CMD"}), code="DFX990"),
        _transform(r"AS final", "AS last", code="DFX991"),
    )
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    code, out, err = _cli(p, unsafe=True, select=("DFX990", "DFX991"))
    assert code == 2 and "changes stages" in err and p.read_text() == MULTI


def test_transform_crash_is_an_internal_error_exit_2_nothing_written(tmp_path, register):
    register(_transform(r"x", "y", fail=True), _transform(r"(RUN go build) -o", r"\1 -v -o", code="DFX991"))
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    code, out, err = _cli(p, select=("DFX990", "DFX991"))
    assert code == 2 and "internal error in DFX990" in err, err
    # the other transform's edit is valid, but a run with an internal error writes nothing
    assert p.read_text() == MULTI


def test_fix_that_breaks_the_parse_is_reverted(tmp_path, register):
    register(_transform(r"\ARUN", "RUN <<EOF\nRUN"))  # never matches MULTI: sanity of the harness
    register(_transform(r"CMD \[\"serve\"\]\n", "CMD [\"serve\"]\nRUN <<EOF\n"))  # an unterminated heredoc
    p = tmp_path / "Dockerfile"
    p.write_text(MULTI)
    code, out, err = _cli(p)
    assert code == 2 and "does not parse" in err and p.read_text() == MULTI
