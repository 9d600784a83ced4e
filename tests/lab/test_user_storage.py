"""`dockerfix verify` run as a user would, on a machine where buildah's default storage holds the base: no lab, no
``--lab``, the user's own storage and registries configuration; the same with docker, pointed at a daemon through
``DOCKER_HOST``. And verify leaves nothing behind in either place.

The lab's ``debian:bookworm-slim`` is copied into buildah's default storage (``buildah pull docker-archive:...`` of
the lab's archive) under its own name and under a name only this test uses; both are removed at the end (the
own name only if it was not there before).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockerd import lab_archive
from dockerfix.verify.builders import BuildahBuilder, choose_builder
from dockerfix.verify.run import VerifyError, verify

pytestmark = pytest.mark.lab

BASE = "debian:bookworm-slim"
LAB_ONLY = ("DOCKERFIX_LAB", "CONTAINERS_REGISTRIES_CONF", "BUILDAH_ISOLATION", "BUILDAH_FORMAT", "BUILDAH_LAYERS")
"""What ``lab-setup.sh env`` exports: a user's shell has none of it."""


def user_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in LAB_ONLY}


def app(folder: Path, base: str) -> Path:
    """A tiny app: an apt install the safe transforms clean up after, and a script to edit for the rebuild."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.sh").write_text("#!/bin/sh\necho hello from the app\n")
    (folder / "Dockerfile").write_text(
        f"FROM {base}\n"
        "RUN apt-get update && apt-get install -y hello\n"
        "COPY app.sh /usr/local/bin/app.sh\n"
        'CMD ["/bin/sh", "/usr/local/bin/app.sh"]\n')
    return folder / "Dockerfile"


def buildah_state(builder: BuildahBuilder) -> tuple[set[str], set[str]]:
    """(image ids and names, container ids) of the builder's storage."""
    images = subprocess.run(builder.command("images", "--all", "--no-trunc", "--noheading", "--format",
                                            "{{.ID}} {{.Name}}:{{.Tag}}"), env=builder.env, capture_output=True,
                            text=True, timeout=120)
    containers = subprocess.run(builder.command("containers", "--quiet", "--notruncate"), env=builder.env,
                                capture_output=True, text=True, timeout=120)
    return set(images.stdout.split()), set(containers.stdout.split())


@dataclass
class UserStorage:
    builder: BuildahBuilder
    unique: str
    """A name of the base that only this test uses (no lab has it)."""


@pytest.fixture(scope="module")
def user_buildah(lab) -> Iterator[UserStorage]:
    """buildah as the user has it, with the lab's debian in its default storage (as ``BASE`` and as ``unique``);
    what was added is removed at the end."""
    builder = BuildahBuilder(base_env=user_env())
    why = builder.why_unavailable()
    if why:
        pytest.skip(f"buildah's default storage is not usable here: {why}")
    full = f"docker.io/library/{BASE}"
    unique = f"localhost/dockerfix-usertest/debian:{uuid.uuid4().hex[:10]}"
    had = builder.has_image(full)
    archive, image_id, _ = lab_archive(lab.root, BASE)
    pulled = subprocess.run(builder.command("pull", "--quiet", f"docker-archive:{archive}"), env=builder.env,
                            capture_output=True, text=True, timeout=600)
    assert pulled.returncode == 0, pulled.stderr
    tagged = subprocess.run(builder.command("tag", full, unique), env=builder.env, capture_output=True, text=True)
    assert tagged.returncode == 0, tagged.stderr
    yield UserStorage(builder, unique)
    names = [unique] if had else [unique, full]
    subprocess.run(builder.command("rmi", *names), env=builder.env, capture_output=True, timeout=300)
    assert not builder.has_image(unique)


def test_verify_in_buildahs_default_storage_without_a_lab(lab, user_buildah, tmp_path):
    builder = choose_builder("buildah", env=user_env())  # no lab given, no $DOCKERFIX_LAB
    assert builder.lab_root is None and builder.pull == "missing"
    assert "--root" not in builder.command("images")
    before = buildah_state(user_buildah.builder)
    rep = verify(app(tmp_path / "app", BASE), builder, workdir=tmp_path / "work")
    assert [c["code"] for c in rep.changes] == ["DFX103"]  # apt lists removed in the same RUN
    assert rep.equal, rep.comparison.summary()
    assert rep.after.file_bytes < rep.before.file_bytes
    assert rep.edited == "app.sh" and rep.after.rebuild.step("apt-get").cached
    assert buildah_state(user_buildah.builder) == before, "verify left images or containers in the user's storage"


def test_cli_verify_in_buildahs_default_storage(lab, user_buildah, tmp_path):
    """The CLI without --lab: the base exists only in the user's storage (under a name no lab has)."""
    helped = subprocess.run([sys.executable, "-m", "dockerfix", "verify", "--help"], capture_output=True, text=True)
    if "--pull" not in helped.stdout:
        pytest.skip("the CLI does not take --pull yet: dockerfix.verify.run.choose_builder still defaults to the "
                    "lab storage (wire it to dockerfix.verify.builders.choose_builder, issue 16)")
    out = tmp_path / "report.json"
    p = subprocess.run([sys.executable, "-m", "dockerfix", "verify", str(app(tmp_path / "app", user_buildah.unique)),
                        "--builder", "buildah", "--no-rebuild", "--json", str(out), "--color", "never"],
                       capture_output=True, text=True, env=user_env())
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(out.read_text())["equal"] is True


def test_pull_never_in_the_users_storage_names_the_missing_base(lab, user_buildah, tmp_path):
    builder = choose_builder("buildah", pull="never", env=user_env())
    with pytest.raises(VerifyError, match="the original Dockerfile does not build") as info:
        verify(app(tmp_path / "app", "localhost/dockerfix-usertest/absent:1"), builder, rebuild=False,
               workdir=tmp_path / "work")
    assert "localhost/dockerfix-usertest/absent:1" in str(info.value)


def test_verify_with_docker_through_docker_host(lab, docker_daemon, tmp_path):
    env = {**user_env(), "DOCKER_HOST": docker_daemon.host}
    builder = choose_builder("docker", env=env)  # the CLI on PATH that can build; no --network given
    assert builder.setup().network == "host", "the lab's dockerd has no bridge network: builds use the host's"
    before = docker_daemon.images()
    rep = verify(app(tmp_path / "app", BASE), builder, workdir=tmp_path / "work")
    assert [c["code"] for c in rep.changes] == ["DFX103"] and rep.equal, rep.comparison.summary()
    assert rep.edited == "app.sh" and rep.after.rebuild.step("apt-get").cached
    assert docker_daemon.images() == before, "verify left images in the daemon"


def test_docker_pull_never_names_the_missing_base(lab, docker_daemon, tmp_path):
    builder = choose_builder("docker", pull="never", env={**user_env(), "DOCKER_HOST": docker_daemon.host})
    with pytest.raises(VerifyError, match="pull policy 'never': localhost/dockerfix-usertest/absent:1"):
        verify(app(tmp_path / "app", "localhost/dockerfix-usertest/absent:1"), builder, rebuild=False,
               workdir=tmp_path / "work")
