"""Issue 19 item 12, built for real: cache mounts for a package manager that runs as another user.

A cache is per user: a tool run through ``gosu``, ``su -c``, ``sudo`` writes the cache of the user it runs as, in
the HOME the wrapper gives it. Each case builds the original, dockerfix's cache-mount rewrite (``strategy =
cache-mount``, safe fixes only) and hand-written controls: the mounts a rewrite that does not follow the user writes.

``gosu-pip``
    ``gosu app pip install --user`` on the python base, ``app`` made by ``useradd`` (its HOME and uid are not
    something the model knows). A mount on root's cache (``root-mount``) builds and is useless: pip, with gosu's
    HOME ``/home/app``, still fills ``/home/app/.cache/pip`` in the layer. A mount on app's cache without uid/gid
    (``home-mount``) is owned by root, so pip as app cannot write it: pip says so and builds without a cache. Only
    ``uid=1000,gid=1000`` (``uid-mount``) keeps the cache out of the image. dockerfix reports a finding.
``su-c-npm``
    ``su node -c 'npm ci'`` on the node base. ``root-mount`` builds and is useless (``/home/node/.npm`` stays in the
    layer); ``home-mount`` without uid/gid breaks the build (npm: EACCES on the root-owned mount); ``uid-mount``
    works. dockerfix reports a finding (the model knows only the RUN's user).
``sudo-npm``
    ``USER node`` then ``sudo npm install -g``: npm runs as root with sudo's HOME ``/root``. The rewrite before this
    change (``old``) mounted node's cache, ``/home/node/.npm,uid=1000`` (what the RUN's USER says): it builds, and
    root's npm cache stays in the image. The rewrite now mounts ``/root/.npm``: the image is the original's without
    root's npm cache.

Builds are buildah's (the lab's); times go to the lab timings summary.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import dockerfix
from dockerfix.verify.builders import BuildError, BuildResult
from dockerfix.verify.compare import BUILD_NOISE, compare_images
from dockerfix.verify.imagefs import FlatImage, flatten_image
from dockerfix.verify.run import allowed_for

pytestmark = pytest.mark.lab

TAG_PREFIX = "localhost/dockerfix-lab/cache-users"
NPM_CASE = Path(__file__).resolve().parent / "cases" / "npm-offline-after-fetch"  # package.json + lock: is-number
SETTINGS = {"strategy": "cache-mount"}
RUN_ID = uuid.uuid4().hex[:12]


def mount(target: str, variant: str, extra: str = "") -> str:
    """A control's cache mount with an id of its own: buildah keys a cache by its id (the target when none is
    given) and sets its owner when it creates it, so a control mounting the same target with other uid/gid options
    would otherwise get the first control's directory (seen: a root-owned npm cache under uid=1000)."""
    return f"--mount=type=cache,id=cache-users-{RUN_ID}-{variant},target={target}{extra} "

GOSU_PIP = """\
FROM python:3.11-slim
# dockerfix: ignore=DFX202
RUN apt-get update && apt-get install -y --no-install-recommends gosu && rm -rf /var/lib/apt/lists/* \\
    && useradd --create-home app
RUN {mount}gosu app pip install --user --no-binary six --no-build-isolation --use-pep517 \\
      --use-feature=no-binary-enable-wheel-cache six==1.16.0 \\
    && gosu app python -c "import six"
"""
# (pip's HTTP cache stays empty through the lab's proxy; the wheel pip builds from six's sdist is what it caches)

SU_NPM = """\
FROM node:18-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN {mount}chown -R node /app && su node -c 'npm ci'
"""

SUDO_NPM = """\
FROM node:18-slim
# dockerfix: ignore=DFX202
RUN apt-get update && apt-get install -y --no-install-recommends sudo && rm -rf /var/lib/apt/lists/* \\
    && echo 'node ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/node
USER node
RUN {mount}sudo npm install -g is-number@7.0.0
"""


@dataclass
class Outcome:
    tag: str
    dockerfile: str
    result: BuildResult | None = None
    error: BuildError | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def why(self) -> str:
        return "" if self.ok else f"{self.error}\n{self.error.tail(25)}"

    @property
    def log(self) -> str:
        return self.result.log if self.result is not None else f"{self.error}\n{self.error.log}"


class Builds:
    """Each (case, variant) built once per session; a failed build is an outcome."""

    def __init__(self, lab):
        self.lab = lab
        self.work = lab.workdir / "cache-users"
        self._out: dict[tuple[str, str], Outcome] = {}
        self._images: dict[tuple[str, str], FlatImage] = {}

    def context(self, case: str) -> Path:
        dest = self.work / "contexts" / case
        if not dest.exists():
            dest.mkdir(parents=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy(NPM_CASE / name, dest / name)
        return dest

    def build(self, case: str, variant: str, text: str) -> Outcome:
        key = (case, variant)
        if key not in self._out:
            df = self.work / "dockerfiles" / f"{case}.{variant}"
            df.parent.mkdir(parents=True, exist_ok=True)
            df.write_text(text, encoding="utf-8")
            out = Outcome(f"{TAG_PREFIX}/{case}:{variant}", text)
            t0 = time.monotonic()
            try:
                out.result = self.lab.builder.build(df, self.context(case), out.tag)
            except BuildError as exc:
                out.error = exc
            self.lab.timings.append({"what": f"build {case}:{variant}", "seconds": round(time.monotonic() - t0, 1),
                                     **({} if out.ok else {"failed": True})})
            self._out[key] = out
        return self._out[key]

    def require(self, case: str, variant: str, text: str) -> Outcome:
        out = self.build(case, variant, text)
        assert out.ok, f"{case}:{variant} does not build:\n{out.why()}\n--- Dockerfile\n{text}"
        return out

    def image(self, case: str, variant: str, text: str) -> FlatImage:
        key = (case, variant)
        if key not in self._images:
            out = self.require(case, variant, text)
            archive = self.lab.builder.export(out.tag, self.work / "images" / f"{case}.{variant}.tar",
                                              fmt="docker-archive")
            self._images[key] = flatten_image(archive, layer_cache=self.lab.layer_cache)
            archive.unlink()
        return self._images[key]


@pytest.fixture(scope="session")
def builds(lab) -> Builds:
    return Builds(lab)


def _fix(text: str):
    return dockerfix.fix(text, select=["DFX202"], settings=SETTINGS)


def _under(image: FlatImage, prefix: str) -> list[str]:
    return [p for p in image.entries if p.startswith(prefix)]


def _user_finding(text: str, user: str) -> None:
    """dockerfix leaves the text alone and reports the RUN with the user in the reason."""
    res = _fix(text)
    assert res.text == text, res.text
    found = [c for c in res.findings if c.code == "DFX202"]
    assert found and not res.changes, (res.changes, res.findings)
    assert f"user {user!r}" in (found[0].reason or ""), found[0].reason


# ------------------------------------------------------------------------------------------------ gosu + pip


def test_gosu_pip_cache_is_the_target_users(builds):
    orig = GOSU_PIP.format(mount="")
    image = builds.image("gosu-pip", "orig", orig)
    assert _under(image, "home/app/.cache/pip/"), "pip run by gosu fills app's cache (gosu sets HOME=/home/app)"
    assert not _under(image, "root/.cache/pip/")


def test_gosu_pip_root_mount_is_useless(builds):
    """The mount a rewrite that looks through gosu but not at the user writes: it builds, and app's cache is still
    in the image."""
    text = GOSU_PIP.format(mount=mount("/root/.cache/pip", "gosu-root"))
    image = builds.image("gosu-pip", "root-mount", text)
    assert _under(image, "home/app/.cache/pip/"), "root's cache mount does not hold app's cache"


def test_gosu_pip_home_mount_without_uid_disables_the_cache(builds):
    """A mount on app's cache owned by root: pip (as app) cannot write it and builds without a cache."""
    text = GOSU_PIP.format(mount=mount("/home/app/.cache/pip", "gosu-home"))
    out = builds.require("gosu-pip", "home-mount", text)
    assert "not writable by the current user" in out.log or "cache has been disabled" in out.log, out.log[-3000:]


def test_gosu_pip_uid_mount_keeps_the_cache_out(builds):
    """What a fix must write once the model knows app's HOME and uid."""
    text = GOSU_PIP.format(mount=mount("/home/app/.cache/pip", "gosu-uid", ",uid=1000,gid=1000"))
    out = builds.require("gosu-pip", "uid-mount", text)
    assert "cache has been disabled" not in out.log
    assert not _under(builds.image("gosu-pip", "uid-mount", text), "home/app/.cache/pip/")


def test_gosu_pip_dockerfix_reports_a_finding(builds):
    """Fails at 3444603^: gosu was not read, so nothing was said about pip."""
    _user_finding(GOSU_PIP.format(mount=""), "app")


# ------------------------------------------------------------------------------------------------ su -c + npm


def test_su_npm_root_mount_is_useless(builds):
    orig = SU_NPM.format(mount="")
    assert _under(builds.image("su-c-npm", "orig", orig), "home/node/.npm/_cacache/")
    text = SU_NPM.format(mount=mount("/root/.npm", "su-root"))
    assert _under(builds.image("su-c-npm", "root-mount", text), "home/node/.npm/_cacache/"), \
        "root's cache mount does not hold node's cache"


def test_su_npm_home_mount_without_uid_breaks_the_build(builds):
    text = SU_NPM.format(mount=mount("/home/node/.npm", "su-home"))
    out = builds.build("su-c-npm", "home-mount", text)
    assert not out.ok, "npm as node was expected to fail on a root-owned cache mount"
    assert "EACCES" in out.log, out.why()


def test_su_npm_uid_mount_keeps_the_cache_out(builds):
    text = SU_NPM.format(mount=mount("/home/node/.npm", "su-uid", ",uid=1000,gid=1000"))
    assert not _under(builds.image("su-c-npm", "uid-mount", text), "home/node/.npm/_cacache/")


def test_su_npm_dockerfix_reports_a_finding(builds):
    """Fails at 3444603^: the script inside su -c was not read."""
    _user_finding(SU_NPM.format(mount=""), "node")


# ------------------------------------------------------------------------------------- sudo under a non-root USER


def test_sudo_npm_old_rewrite_mounts_the_wrong_users_cache(builds):
    """The rewrite before this change: node's cache mounted, root's filled in the layer."""
    orig = SUDO_NPM.format(mount="")
    assert _under(builds.image("sudo-npm", "orig", orig), "root/.npm/_cacache/"), "sudo runs npm as root, HOME=/root"
    old = SUDO_NPM.format(mount=mount("/home/node/.npm", "sudo-old", ",uid=1000,gid=1000"))
    assert _under(builds.image("sudo-npm", "old", old), "root/.npm/_cacache/")


def test_sudo_npm_rewrite_mounts_roots_cache_and_keeps_the_image(builds):
    """Fails at 3444603^ (its rewrite is ``old``)."""
    orig = SUDO_NPM.format(mount="")
    res = _fix(orig)
    assert "--mount=type=cache,target=/root/.npm sudo npm install" in res.text, res.text
    assert "uid=" not in res.text
    rewrite = builds.image("sudo-npm", "rewrite", res.text)
    assert not _under(rewrite, "root/.npm/_cacache/")
    assert _under(rewrite, "usr/local/lib/node_modules/is-number/")
    result = compare_images(builds.image("sudo-npm", "orig", orig), rewrite,
                            [*allowed_for({c.code for c in res.changes}), *BUILD_NOISE])
    assert result.equal, result.summary()
