"""Real builds with buildah in the lab that ``scripts/lab-setup.sh`` sets up, and with docker (BuildKit) in a
private dockerd started for the session (``tests/lab/dockerd.py``).

Lab tests are marked ``lab`` and skipped, with the reason, unless ``DOCKERFIX_LAB`` names a set-up lab::

    bash scripts/lab-setup.sh install && bash scripts/lab-setup.sh bases
    eval "$(bash scripts/lab-setup.sh env)"
    python -m pytest tests/lab -m lab

Fixtures:

- ``lab``: the lab, its buildah builder (private storage) and shared builds;
- ``docker_daemon``: a private dockerd (root only) with the lab's bases loaded, stopped at the end of the session;
  tests that use it skip with the reason when it cannot start;
- ``docker_builder``: a :class:`DockerBuilder` for that daemon (BuildKit, ``--network host``);
- ``verify_builder``: parametrized over :data:`BUILDERS`, the way to run one test on every builder;
- ``verdicts``: what each builder concluded per case, for tests that check the builders agree.

Builds run one after another (2 cores); each built image is exported and flattened once per session and shared
between tests. Build, export, flatten, dockerd start and base-load times are printed at the end of the run, and
written to ``$DOCKERFIX_LAB/timings.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import dockerd
from dockerfix.verify.builders import BuildahBuilder, Builder, DockerBuilder
from labkit import BASES, Lab, why_not

BUILDERS = ("buildah", "docker")
"""The builders lab tests run on through ``verify_builder``, the reference first."""

_LAB: Lab | None = None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    global _LAB
    root = os.environ.get("DOCKERFIX_LAB")
    reason = why_not(root)
    if reason:
        pytest.skip(reason)
    builder = BuildahBuilder(root)
    if not builder.available():
        pytest.skip(f"buildah cannot use the storage under {root}: {builder.why_unavailable()}")
    missing = [b for b in BASES if not builder.has_image(f"docker.io/library/{b}")]
    if missing:
        pytest.skip(f"base images missing from the lab: {', '.join(missing)} (run scripts/lab-setup.sh bases)")
    _LAB = Lab(Path(root), builder, tmp_path_factory.mktemp("lab"))
    return _LAB


@pytest.fixture(scope="session")
def docker_daemon(lab: Lab, request: pytest.FixtureRequest) -> dockerd.Dockerd:
    """A private dockerd with the lab's bases loaded (see tests/lab/dockerd.py)."""
    try:
        daemon = dockerd.start(lab.root)
    except dockerd.DockerdUnavailable as exc:
        pytest.skip(f"no docker daemon for the lab: {exc}")
    request.addfinalizer(daemon.stop)
    try:
        daemon.load_images(lab.root, BASES)
    finally:
        lab.timings.extend(daemon.timings)
    return daemon


@pytest.fixture(scope="session")
def docker_builder(docker_daemon: dockerd.Dockerd) -> DockerBuilder:
    builder = docker_daemon.builder()
    why = builder.why_unavailable()
    if why:
        pytest.skip(f"docker cannot build with the lab's dockerd: {why}")
    return builder


@pytest.fixture(params=BUILDERS)
def verify_builder(request: pytest.FixtureRequest, lab: Lab) -> Builder:
    """Each builder in turn: ``lab.builder`` (buildah) and ``docker_builder``."""
    if request.param == "buildah":
        return lab.builder
    return request.getfixturevalue("docker_builder")


@pytest.fixture(scope="session")
def verdicts() -> dict[str, dict[str, object]]:
    """case -> builder name -> what that builder concluded (whatever the test records: must be comparable)."""
    return {}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _LAB is None or not _LAB.timings:
        return
    terminalreporter.section("lab timings")
    for t in _LAB.timings:
        extra = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("what", "seconds"))
        terminalreporter.write_line(f"{t['seconds']:7.1f} s  {t['what']}" + (f"  ({extra})" if extra else ""))
    try:
        (_LAB.root / "timings.json").write_text(json.dumps(_LAB.timings, indent=1))
    except OSError:
        pass
