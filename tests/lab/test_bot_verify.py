"""``dockerfix pr --verify`` end to end with a real builder: a local bare remote, the GitHub stand-in of
``tests/test_bot.py`` on 127.0.0.1, and a tiny repository with two Dockerfiles on the lab bases.

- ``web/Dockerfile`` (debian:bookworm-slim): ``ADD hello.sh`` becomes ``COPY`` (DFX001, safe); the images are equal.
- ``svc/Dockerfile`` (python:3.11-slim): ``COPY`` then ``RUN chown -R nobody /srv/app`` becomes ``COPY --chown``
  (DFX301, unsafe here: the chown also covered a file an earlier RUN made); the images differ.

The bot must propose only ``web/Dockerfile``, with its table row and verdict, and list ``svc/Dockerfile`` as left
out with the differences. Runs with buildah in the lab storage, and with docker when ``tests/lab/conftest.py`` has
a ``docker_builder`` fixture (skipped otherwise).
"""

from __future__ import annotations

import io
import time

import pytest

from dockerfix.bot import cli as bot
from dockerfix.bot.git import Git
from test_bot import FakeGitHub, _env, remote_file, remote_sha, sh

pytestmark = pytest.mark.lab

WEB = 'FROM debian:bookworm-slim\nADD hello.sh /app/\nCMD ["sh", "/app/hello.sh"]\n'
WEB_FIXED = 'FROM debian:bookworm-slim\nCOPY hello.sh /app/\nCMD ["sh", "/app/hello.sh"]\n'
SVC = ("FROM python:3.11-slim\nRUN mkdir -p /srv/app && touch /srv/app/old.txt\n"
       "COPY conf.txt /srv/app/conf.txt\nRUN chown -R nobody /srv/app\n")


@pytest.fixture
def repo(tmp_path):
    env = _env(tmp_path)
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    sh(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    sh(tmp_path, "init", "-q", "-b", "main", str(work), env=env)
    (work / "web").mkdir()
    (work / "web" / "Dockerfile").write_text(WEB)
    (work / "web" / "hello.sh").write_text("echo hello\n")
    (work / "svc").mkdir()
    (work / "svc" / "Dockerfile").write_text(SVC)
    (work / "svc" / "conf.txt").write_text("x = 1\n")
    sh(work, "add", ".", env=env)
    sh(work, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "init", env=env)
    sh(work, "remote", "add", "origin", str(remote), env=env)
    sh(work, "push", "-q", "origin", "main", env=env)
    return {"work": work, "remote": remote, "env": env, "tmp": tmp_path}


@pytest.fixture(params=["buildah", "docker"])
def verifier(request) -> tuple[str, bot.BuilderVerifier | None, str | None]:
    """(builder name, verifier to inject or None for the bot's own, lab root)."""
    if request.param == "buildah":
        lab = request.getfixturevalue("lab")
        return "buildah", None, str(lab.root)
    try:
        docker = request.getfixturevalue("docker_builder")
    except pytest.FixtureLookupError:
        pytest.skip("tests/lab/conftest.py has no docker_builder fixture yet")
    return "docker", bot.BuilderVerifier(builder=docker), None


def test_pr_verify_proposes_only_the_equal_file(repo, verifier):
    name, injected, lab_root = verifier
    # skip_cosmetic=False: DFX001 on a plain file is cosmetic, which the bot leaves out by default; here it is only
    # the vehicle for an equal verdict
    s = bot.Settings(repo="octo/app", token="t0ken", select=("DFX001", "DFX301"), unsafe=True, verify=True,
                     builder=name if injected is None else None, lab=lab_root, skip_cosmetic=False)
    out, err = io.StringIO(), io.StringIO()
    with FakeGitHub() as github:
        s = bot.Settings(**{**s.__dict__, "api_url": github.url})
        t0 = time.monotonic()
        code = bot.run(s, git=Git(str(repo["work"]), env=repo["env"]), env={}, verifier=injected, out=out, err=err)
        seconds = time.monotonic() - t0
        posts = github.calls("POST")
    print(f"dockerfix pr --verify with {name}: {seconds:.1f} s")
    assert code == 2, err.getvalue()  # a file was left out
    assert "opened pull request #1" in out.getvalue()
    assert "left out: svc/Dockerfile — DIFFERENT" in err.getvalue()

    # the pushed branch holds only the verified file's change
    changed = sh(repo["remote"], "diff", "--name-only", "main", "dockerfix/default", env=repo["env"]).split()
    assert changed == ["web/Dockerfile"]
    assert remote_file(repo, "dockerfix/default", "web/Dockerfile") == WEB_FIXED
    assert remote_file(repo, "dockerfix/default", "svc/Dockerfile") == SVC
    assert remote_sha(repo, "refs/heads/main") != remote_sha(repo, "refs/heads/dockerfix/default")

    body = posts[0]["body"]["body"]
    print(body.split("### Why these changes")[0])
    assert f"built before and after the rewrite with {name}" in body
    assert "| app | size before | size after | change | layers | rebuild steps | rebuild time | same files |" in body
    row = next(line for line in body.splitlines() if line.startswith("| web/Dockerfile |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1].endswith("MB") and cells[2].endswith("MB") and cells[-1] == "yes"
    assert "→" in cells[6], "the rebuild after editing hello.sh was measured"
    assert "| svc/Dockerfile |" not in body
    assert "- `web/Dockerfile`: **EQUAL** " in body
    left = next(line for line in body.splitlines() if line.startswith("- left out: `svc/Dockerfile`"))
    assert left.startswith("- left out: `svc/Dockerfile` — **DIFFERENT**: ")
    # the chown no longer covers what the earlier RUN made
    assert "/srv/app uid 65534 → 0" in left and "/srv/app/old.txt uid 65534 → 0" in left
    # the fix section (one <details> per proposed file) is there for web/Dockerfile only
    assert "<summary><code>web/Dockerfile</code>: 1 fix</summary>" in body
    assert "<code>svc/Dockerfile</code>: 1 fix" not in body
