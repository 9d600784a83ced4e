"""Real open-source apps (../shared/realapps/MANIFEST.tsv) built before and after dockerfix, on buildah (every app)
and on docker with BuildKit (a subset, through the ``docker_builder`` fixture of tests/lab/conftest.py).

For each app and builder: the original builds and its manifest smoke command passes; the safe rewrite
(``dockerfix.fix(..., unsafe=False)``, the app folder as build context) builds, passes the smoke command and its
image equals the original's apart from what the applied transforms declare; the ``--unsafe`` rewrite builds, passes
the smoke command and differs only where its transforms declare it may, or where the opted-in unsafe fixes changed
it (checked by comparing it with the safe rewrite too).

Every app runs by default, the three most expensive ones (compose-react-nginx, django-on-docker-prod,
labs-nodejs-debugging) included: docs/realapps.md has the timings that keep the whole lab part under its 25-minute
budget with them. A rewrite that differs because of a known
dockerfix bug (``realapps.KNOWN_BUGS``) is a strict xfail naming the bug. Everything skips with the reason when the
lab or ../shared/realapps is absent; the docker cases skip when the ``docker_builder`` fixture does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from realapps import (
    DOCKER_APPS,
    KNOWN_BUGS,
    App,
    Matrix,
    manifest_or_empty,
    setup_buildah_bases,
    setup_docker_bases,
    why_not,
)

pytestmark = pytest.mark.lab

APPS = manifest_or_empty()


def _params(variant: str | None = None) -> list:
    out = []
    for builder in ("buildah", "docker"):
        for app in APPS:
            if builder == "docker" and app.name not in DOCKER_APPS:
                continue
            marks = []
            bug = KNOWN_BUGS.get((app.name, variant)) if variant else None
            if bug:
                marks.append(pytest.mark.xfail(strict=True, reason=f"dockerfix bug: {bug}"))
            out.append(pytest.param(builder, app, marks=marks, id=f"{builder}-{app.name}"))
    if not out:
        out.append(pytest.param("buildah", None, marks=pytest.mark.skip(reason=why_not() or "no apps"),
                                id="realapps-absent"))
    return out


@pytest.fixture(scope="session")
def buildah_matrix(lab, tmp_path_factory) -> Matrix:
    reason = why_not()
    if reason:
        pytest.skip(reason)
    m = Matrix(lab.builder, tmp_path_factory.mktemp("realapps-buildah"), lab.timings)
    m.note("setup-bases.sh (realapps base tags)", setup_buildah_bases(lab.root))
    return m


@pytest.fixture(scope="session")
def docker_matrix(request, tmp_path_factory) -> Matrix:
    reason = why_not()
    if reason:
        pytest.skip(reason)
    try:
        builder = request.getfixturevalue("docker_builder")
    except pytest.FixtureLookupError:
        pytest.skip("tests/lab/conftest.py has no docker_builder fixture (a private dockerd for the lab)")
    try:
        timings = request.getfixturevalue("lab").timings
    except pytest.skip.Exception:
        timings = []
    m = Matrix(builder, tmp_path_factory.mktemp("realapps-docker"), timings)
    m.note("realapps base tags", setup_docker_bases(builder))
    return m


def matrix(request, builder: str) -> Matrix:
    return request.getfixturevalue(f"{builder}_matrix")


def _report(what: str, lines: list[str]) -> str:
    return what + ("\n  " + "\n  ".join(lines) if lines else "")


@pytest.mark.parametrize(("builder", "app"), _params())
def test_original_builds_and_passes_its_smoke_command(request, builder: str, app: App):
    image = matrix(request, builder).original(app)
    assert image.smoke is not None and image.smoke.ok, f"{app.name} original, smoke `{app.smoke}`: {image.smoke}"


@pytest.mark.parametrize(("builder", "app"), _params("safe"))
def test_safe_rewrite_is_equal_and_passes_the_smoke_command(request, builder: str, app: App):
    out = matrix(request, builder).rewrite(app, "safe")
    assert out.error is None, out.error
    assert out.equal, _report(
        f"{app.name} ({builder}): the safe rewrite ({', '.join(out.codes)}) changes the image beyond what its "
        f"transforms declare: {out.comparison.summary()}", out.notes + out.violations())
    if out.image is not None:
        assert out.image.smoke is not None and out.image.smoke.ok, f"{app.name} safe rewrite: {out.image.smoke}"


@pytest.mark.parametrize(("builder", "app"), _params("unsafe"))
def test_unsafe_rewrite_differs_only_where_declared(request, builder: str, app: App):
    out = matrix(request, builder).rewrite(app, "unsafe")
    assert out.error is None, out.error
    if not out.equal:
        assert out.unsafe_codes, _report(
            f"{app.name}: the unsafe rewrite applies no unsafe fix, yet differs: {out.comparison.summary()}",
            out.violations())
        assert not out.unexplained, _report(
            f"{app.name}: differences the unsafe-only fixes ({', '.join(out.unsafe_codes)}) do not explain "
            "(the safe rewrite has them too)", out.unexplained[:25])
    if out.image is not None:
        assert out.image.smoke is not None and out.image.smoke.ok, f"{app.name} unsafe rewrite: {out.image.smoke}"


VERIFY_CLI_APPS = ("compose-flask", "compose-traefik-golang")
"""Apps run through the real ``dockerfix verify`` CLI on buildah (after the matrix, whose layers they reuse): both
have heredocs in their ``dev-envs`` stage, which verify refused before it judged heredocs per stage; compose-flask
needs ``--target builder``, compose-traefik-golang's build skips the stage in the middle of the file. With
``--unsafe``, so that both are rewritten (compose-traefik-golang's safe rewrite changes nothing)."""


@pytest.mark.parametrize("app", [a for a in APPS if a.name in VERIFY_CLI_APPS] or [
    pytest.param(None, marks=pytest.mark.skip(reason=why_not() or "no apps"))], ids=lambda a: getattr(a, "name", a))
def test_dockerfix_verify_cli_on_buildah(lab, app: App, tmp_path):
    ctx = tmp_path / app.name
    shutil.copytree(app.folder, ctx, symlinks=True)
    argv = [sys.executable, "-m", "dockerfix", "verify", str(ctx / app.dockerfile), "--builder", "buildah",
            "--lab", str(lab.root), "--json", str(tmp_path / "report.json"), "--color", "never", "--no-rebuild",
            "--unsafe"]
    if app.target:
        argv += ["--target", app.target]
    if app.has_shell:
        argv += ["--smoke", app.smoke]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    lab.timings.append({"what": f"[buildah] dockerfix verify {app.name}", "seconds": round(time.monotonic() - t0, 1),
                        "returncode": p.returncode})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    d = json.loads((tmp_path / "report.json").read_text())
    assert d["equal"] and d["target"] == app.target and d["rewritten"], d["notes"]
