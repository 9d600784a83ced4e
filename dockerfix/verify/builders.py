"""A small interface over image builders, so ``dockerfix verify`` can build an original and a rewrite.

Every external process goes through a :class:`Runner` (``subprocess`` by default), so tests can inject a fake
one and the rest of dockerfix stays free of process access.

- :class:`BuildahBuilder` is the reference builder: no daemon, its own storage (``--root``/``--runroot`` under a
  lab directory), overlay, chroot isolation, layer caching on, docker image format (OCI drops HEALTHCHECK, SHELL
  and ONBUILD) and ``--pull=never`` (bases must already be in that storage).
- :class:`DockerBuilder` and :class:`PodmanBuilder` are best effort: ``available()`` is false when the daemon (or
  the program) is missing.

Cached steps are counted from the build log: buildah and podman print ``--> Using cache``, the classic docker
builder `` ---> Using cache`` and BuildKit's plain progress ``#N CACHED``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "BuildError",
    "BuildResult",
    "BuildahBuilder",
    "Builder",
    "Capabilities",
    "DockerBuilder",
    "PodmanBuilder",
    "ProcessResult",
    "Runner",
    "Step",
    "describe",
    "parse_buildah_log",
    "parse_buildkit_log",
    "parse_docker_log",
    "subprocess_runner",
]


# ------------------------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> ProcessResult: ...


def subprocess_runner(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
) -> ProcessResult:
    """Run ``argv`` and capture its output; a missing program gives return code 127, a timeout 124."""
    start = time.monotonic()
    try:
        done = subprocess.run(list(argv), env=dict(env) if env is not None else None, cwd=cwd, timeout=timeout,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    except FileNotFoundError as exc:
        return ProcessResult(tuple(argv), 127, "", str(exc), time.monotonic() - start)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return ProcessResult(tuple(argv), 124, out, err + f"\ntimed out after {timeout} s",
                             time.monotonic() - start)
    return ProcessResult(tuple(argv), done.returncode, done.stdout, done.stderr, time.monotonic() - start)


# ------------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Step:
    number: int
    """1-based position in the whole build (across stages)."""
    instruction: str
    """The instruction as the builder printed it (``RUN pip install -r requirements.txt``)."""
    cached: bool
    stage: int | None = None

    @property
    def keyword(self) -> str:
        return self.instruction.split(None, 1)[0].upper() if self.instruction else ""


@dataclass(frozen=True)
class BuildResult:
    tag: str
    seconds: float
    steps: tuple[Step, ...]
    log: str
    image_id: str | None = None

    @property
    def cached_steps(self) -> int:
        """Steps reused from the layer cache (FROM steps never count)."""
        return sum(1 for s in self.steps if s.cached and s.keyword != "FROM")

    @property
    def built_steps(self) -> int:
        return sum(1 for s in self.steps if not s.cached and s.keyword != "FROM")

    def step(self, contains: str) -> Step:
        """The first step whose instruction contains ``contains`` (raises KeyError when none does)."""
        for s in self.steps:
            if contains in s.instruction:
                return s
        raise KeyError(contains)

    def to_dict(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "seconds": round(self.seconds, 3),
            "image_id": self.image_id,
            "cached_steps": self.cached_steps,
            "built_steps": self.built_steps,
            "steps": [{"number": s.number, "instruction": s.instruction, "cached": s.cached, "stage": s.stage}
                      for s in self.steps],
        }


class BuildError(Exception):
    def __init__(self, message: str, log: str = "", returncode: int | None = None):
        super().__init__(message)
        self.log = log
        self.returncode = returncode

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.splitlines()[-lines:])


@dataclass(frozen=True)
class Capabilities:
    """Dockerfile features a builder can build (measured for the versions named in each builder)."""

    heredocs: bool = False
    cache_mounts: bool = False
    secret_mounts: bool = False
    copy_chmod: bool = False
    copy_link: bool = False
    add_checksum: bool = False
    run_network: bool = False
    syntax_directive: str = "ignored"
    """``ignored`` (the ``# syntax=`` line is skipped), ``pulls`` (needs a registry: fails offline), ``honoured``."""
    healthcheck_in_config: bool = True

    def supports(self, feature: str) -> bool:
        return bool(getattr(self, feature))


# ----------------------------------------------------------------------------------------------- log parsers

_BUILDAH_STEP = re.compile(r"^(?:\[(?P<stage>\d+)/\d+\]\s+)?STEP\s+(?P<n>\d+)/\d+:\s?(?P<ins>.*)$")
_DOCKER_STEP = re.compile(r"^Step\s+(?P<n>\d+)/\d+\s*:\s?(?P<ins>.*)$")
_BUILDKIT_STEP = re.compile(r"^#(?P<id>\d+)\s+\[(?:(?P<stage>[^\]]*?)\s+)?(?P<n>\d+)/\d+\]\s+(?P<ins>.*)$")
_BUILDKIT_CACHED = re.compile(r"^#(?P<id>\d+)\s+CACHED\s*$")


def _sequential(lines: Sequence[str], step: re.Pattern[str], cached_marker: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    current: dict[str, object] | None = None
    counter = 0

    def close() -> None:
        if current is not None:
            steps.append(Step(**current))  # type: ignore[arg-type]

    for line in lines:
        m = step.match(line.strip("\r"))
        if m:
            close()
            counter += 1
            stage = m.groupdict().get("stage")
            current = {"number": counter, "instruction": m.group("ins").strip(), "cached": False,
                       "stage": int(stage) if stage and stage.isdigit() else None}
        elif current is not None and cached_marker in line:
            current["cached"] = True
    close()
    return tuple(steps)


def parse_buildah_log(log: str) -> tuple[Step, ...]:
    """Steps of a ``buildah bud`` / ``podman build`` log (``STEP n/m: ...`` then ``--> Using cache <id>``)."""
    return _sequential(log.splitlines(), _BUILDAH_STEP, "--> Using cache")


def parse_docker_log(log: str) -> tuple[Step, ...]:
    """Steps of a classic ``docker build`` log (``Step n/m : ...`` then `` ---> Using cache``)."""
    return _sequential(log.splitlines(), _DOCKER_STEP, "---> Using cache")


def parse_buildkit_log(log: str) -> tuple[Step, ...]:
    """Steps of a BuildKit ``--progress=plain`` log (``#7 [3/6] RUN ...`` and ``#7 CACHED``)."""
    by_id: dict[str, dict[str, object]] = {}
    order: list[str] = []
    for raw in log.splitlines():
        line = raw.strip("\r")
        m = _BUILDKIT_STEP.match(line)
        if m and m.group("id") not in by_id:
            by_id[m.group("id")] = {"instruction": m.group("ins").strip(), "cached": False,
                                    "stage": None}
            order.append(m.group("id"))
            continue
        c = _BUILDKIT_CACHED.match(line)
        if c and c.group("id") in by_id:
            by_id[c.group("id")]["cached"] = True
    return tuple(Step(number=i, **by_id[k]) for i, k in enumerate(order, 1))  # type: ignore[arg-type]


_IMAGE_ID = re.compile(r"^([0-9a-f]{64})$", re.M)


# ----------------------------------------------------------------------------------------------- interface


class Builder(ABC):
    """Builds a Dockerfile, reports which steps came from the cache, exports the image for :mod:`imagefs`."""

    name: str = "builder"

    def __init__(self, *, runner: Runner | None = None, timeout: float = 1800.0):
        self.runner: Runner = runner or subprocess_runner
        self.timeout = timeout

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def available(self) -> bool:
        """True when this builder can build here (program present, daemon reachable, storage usable)."""

    @abstractmethod
    def build(
        self,
        dockerfile: str | os.PathLike[str],
        context: str | os.PathLike[str],
        tag: str,
        *,
        no_cache: bool = False,
        build_args: Mapping[str, str] | None = None,
        target: str | None = None,
    ) -> BuildResult:
        """Build; raises :class:`BuildError` (with the log) when the build fails."""

    @abstractmethod
    def export(self, tag: str, dest: str | os.PathLike[str], *, fmt: str = "oci-archive") -> Path:
        """Write the image to ``dest`` as an archive :func:`dockerfix.verify.imagefs.flatten_image` reads.

        ``fmt`` is ``oci-archive`` (gzip layers: compressed sizes are what a registry would store) or
        ``docker-archive`` (uncompressed layers: about twice as fast to write and to read, but its
        ``compressed_size`` is the tar size). A builder that cannot write the format asked for writes the other.
        """

    @abstractmethod
    def run(self, tag: str, command: str) -> ProcessResult:
        """Run ``sh -c command`` in a container of ``tag`` (image Env, WorkingDir and User apply)."""

    @abstractmethod
    def remove(self, *tags: str) -> None:
        """Delete images; missing ones are ignored."""

    def _run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
             timeout: float | None = None) -> ProcessResult:
        return self.runner(argv, env=env, cwd=cwd, timeout=timeout or self.timeout)


def _build_flags(dockerfile: str | os.PathLike[str], tag: str, no_cache: bool,
                 build_args: Mapping[str, str] | None, target: str | None) -> list[str]:
    argv = ["-f", os.fspath(dockerfile), "-t", tag]
    if no_cache:
        argv.append("--no-cache")
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    if target:
        argv += ["--target", target]
    return argv


# ---------------------------------------------------------------------------------------------------- buildah


class BuildahBuilder(Builder):
    """buildah with storage of its own under ``lab_root`` (as set up by ``scripts/lab-setup.sh``).

    Capabilities measured with buildah 1.28 (Debian 12): cache, secret and bind mounts and ``COPY --chmod`` work;
    heredocs, ``COPY --link``, ``ADD --checksum`` and ``RUN --network`` fail; ``# syntax=`` is ignored. A cache
    mount on a directory that exists in the base whites that directory out of the image (buildah 1.28 bug).
    """

    name = "buildah"

    def __init__(
        self,
        lab_root: str | os.PathLike[str],
        *,
        program: str = "buildah",
        storage_driver: str = "overlay",
        isolation: str = "chroot",
        pull: str = "never",
        runner: Runner | None = None,
        timeout: float = 1800.0,
        base_env: Mapping[str, str] | None = None,
    ):
        super().__init__(runner=runner, timeout=timeout)
        self.lab_root = Path(lab_root)
        self.program = program
        self.storage_driver = storage_driver
        self.isolation = isolation
        self.pull = pull
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._capabilities: Capabilities | None = None

    # -- plumbing
    @property
    def env(self) -> dict[str, str]:
        env = dict(self._base_env)
        env.update(
            BUILDAH_ISOLATION=self.isolation,
            BUILDAH_FORMAT="docker",
            BUILDAH_LAYERS="true",
            TMPDIR=str(self.lab_root / "tmp"),  # also where RUN --mount=type=cache directories live
        )
        conf = self.lab_root / "registries.conf"
        if conf.is_file():
            env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
        return env

    def command(self, *args: str) -> list[str]:
        return [self.program, "--root", str(self.lab_root / "storage"), "--runroot", str(self.lab_root / "run"),
                "--storage-driver", self.storage_driver, *args]

    def _buildah(self, *args: str, timeout: float | None = None) -> ProcessResult:
        (self.lab_root / "tmp").mkdir(parents=True, exist_ok=True)
        return self._run(self.command(*args), env=self.env, timeout=timeout)

    # -- interface
    def version(self) -> tuple[int, ...] | None:
        r = self._buildah("--version", timeout=30)
        m = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", r.stdout)
        return tuple(int(g or 0) for g in m.groups()) if (r.ok and m) else None

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            version = self.version() or (1, 28, 0)
            self._capabilities = Capabilities(
                heredocs=version >= (1, 33),  # buildah 1.33 release notes; untested here
                cache_mounts=True,
                secret_mounts=True,
                copy_chmod=True,
                syntax_directive="ignored",
            )
        return self._capabilities

    def available(self) -> bool:
        if not self.lab_root.is_dir():
            return False
        return self._buildah("images", "--quiet", timeout=60).ok

    def has_image(self, ref: str) -> bool:
        return self._buildah("inspect", "--type", "image", ref, timeout=60).ok

    build_command = "bud"
    """The program's build subcommand (``buildah bud``, ``podman build``); flags and log format are shared."""

    def build(self, dockerfile, context, tag, *, no_cache=False, build_args=None, target=None) -> BuildResult:
        argv = [self.build_command, f"--pull={self.pull}", "--layers", "--format", "docker", "--isolation",
                self.isolation, *_build_flags(dockerfile, tag, no_cache, build_args, target), os.fspath(context)]
        r = self._buildah(*argv)
        log = r.stdout + r.stderr
        if not r.ok:
            raise BuildError(f"{self.program} {self.build_command} failed ({r.returncode}) for {dockerfile}", log,
                             r.returncode)
        ids = _IMAGE_ID.findall(r.stdout)
        return BuildResult(tag, r.seconds, parse_buildah_log(log), log, ids[-1] if ids else None)

    def export(self, tag, dest, *, fmt="oci-archive") -> Path:
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        if fmt not in ("oci-archive", "docker-archive"):
            raise ValueError(f"unknown export format {fmt!r}")
        target = f"oci-archive:{path}:{_ref_name(tag)}" if fmt == "oci-archive" else f"docker-archive:{path}:{tag}"
        r = self._buildah("push", "--quiet", tag, target)
        if not r.ok:
            raise BuildError(f"buildah push {tag} failed", r.stdout + r.stderr, r.returncode)
        return path

    def run(self, tag, command) -> ProcessResult:
        made = self._buildah("from", "--pull=never", "--quiet", tag, timeout=120)
        if not made.ok:
            return made
        container = made.stdout.strip().splitlines()[-1]
        try:
            return self._buildah("run", "--isolation", self.isolation, container, "--", "/bin/sh", "-c", command)
        finally:
            self._buildah("rm", container, timeout=120)

    def remove(self, *tags: str) -> None:
        if tags:
            self._buildah("rmi", "--force", *tags, timeout=300)


def _ref_name(tag: str) -> str:
    """The ``org.opencontainers.image.ref.name`` an export carries: the tag after the last ``:``, else ``latest``."""
    last = tag.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


# ----------------------------------------------------------------------------------------------------- podman


class PodmanBuilder(BuildahBuilder):
    """podman build (buildah inside): same flags and log; ``podman run`` fails in this sandbox (rlimit EPERM),
    so :meth:`run` uses ``--rm`` and may fail where buildah's chroot run works."""

    name = "podman"
    build_command = "build"

    def __init__(self, lab_root: str | os.PathLike[str], *, program: str = "podman", **kwargs):
        super().__init__(lab_root, program=program, **kwargs)

    def command(self, *args: str) -> list[str]:
        return [self.program, "--root", str(self.lab_root / "storage"), "--runroot", str(self.lab_root / "run"),
                "--storage-driver", self.storage_driver, *args]

    def export(self, tag, dest, *, fmt="oci-archive") -> Path:
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        r = self._buildah("save", "--format", fmt, "-o", str(path), tag)
        if not r.ok:
            raise BuildError(f"podman save {tag} failed", r.stdout + r.stderr, r.returncode)
        return path

    def run(self, tag, command) -> ProcessResult:
        return self._buildah("run", "--rm", "--pull=never", tag, "/bin/sh", "-c", command)

    def available(self) -> bool:
        return self.lab_root.is_dir() and self._buildah("info", timeout=60).ok


# ----------------------------------------------------------------------------------------------------- docker


class DockerBuilder(Builder):
    """``docker build`` against a running daemon, BuildKit or classic.

    BuildKit in dockerd 20.10: cache/secret mounts and ``COPY --chmod`` work; heredocs, ``COPY --link``,
    ``ADD --checksum`` and ``RUN --network`` do not (the embedded frontend is too old), and a ``# syntax=`` line
    makes it pull the frontend image (fails without Docker Hub). Classic: none of the BuildKit-only flags.
    Use a docker CLI that speaks to the daemon directly (``/usr/bin/docker`` 20.10 here; a newer CLI wants buildx).
    Export is ``docker save`` (a docker-archive, which imagefs reads).
    """

    name = "docker"

    def __init__(self, *, program: str = "docker", buildkit: bool = True, runner: Runner | None = None,
                 timeout: float = 1800.0, base_env: Mapping[str, str] | None = None):
        super().__init__(runner=runner, timeout=timeout)
        self.program = program
        self.buildkit = buildkit
        self._base_env = dict(os.environ if base_env is None else base_env)

    @property
    def env(self) -> dict[str, str]:
        return {**self._base_env, "DOCKER_BUILDKIT": "1" if self.buildkit else "0"}

    def _docker(self, *args: str, timeout: float | None = None) -> ProcessResult:
        return self._run([self.program, *args], env=self.env, timeout=timeout)

    @property
    def capabilities(self) -> Capabilities:
        if self.buildkit:
            return Capabilities(cache_mounts=True, secret_mounts=True, copy_chmod=True, syntax_directive="pulls")
        return Capabilities(syntax_directive="ignored")

    def available(self) -> bool:
        return self._docker("version", "--format", "{{.Server.Version}}", timeout=30).ok

    def build(self, dockerfile, context, tag, *, no_cache=False, build_args=None, target=None) -> BuildResult:
        argv = ["build", *_build_flags(dockerfile, tag, no_cache, build_args, target)]
        if self.buildkit:
            argv.append("--progress=plain")
        r = self._docker(*argv, os.fspath(context))
        log = r.stdout + r.stderr
        if not r.ok:
            raise BuildError(f"docker build failed ({r.returncode}) for {dockerfile}", log, r.returncode)
        steps = parse_buildkit_log(log) if self.buildkit else parse_docker_log(log)
        inspected = self._docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=60)
        image_id = inspected.stdout.strip().removeprefix("sha256:") if inspected.ok else None
        return BuildResult(tag, r.seconds, steps, log, image_id or None)

    def export(self, tag, dest, *, fmt="docker-archive") -> Path:
        """Always ``docker save`` (a docker-archive; docker 25+ adds an OCI index, which imagefs prefers)."""
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        r = self._docker("save", "-o", str(path), tag)
        if not r.ok:
            raise BuildError(f"docker save {tag} failed", r.stdout + r.stderr, r.returncode)
        return path

    def run(self, tag, command) -> ProcessResult:
        return self._docker("run", "--rm", "--network=host", tag, "/bin/sh", "-c", command)

    def remove(self, *tags: str) -> None:
        if tags:
            self._docker("rmi", "--force", *tags, timeout=300)


def describe(argv: Sequence[str]) -> str:
    """A copy-pasteable command line, for logs and error messages."""
    return shlex.join(argv)
