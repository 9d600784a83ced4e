"""A small interface over image builders, so ``dockerfix verify`` can build an original and a rewrite.

Every external process goes through a :class:`Runner` (``subprocess`` by default), so tests can inject a fake
one and the rest of dockerfix stays free of process access.

- :class:`BuildahBuilder` (and :class:`PodmanBuilder`, the same flags through ``podman build``) builds in the
  user's own containers storage with the user's registries configuration, like ``buildah bud`` typed by hand; given
  a *lab root* it uses private storage under it instead (``--root``/``--runroot``, the lab's registries.conf and
  ``TMPDIR``), as set up by ``scripts/lab-setup.sh``. Either way: chroot isolation, layer caching on, docker image
  format (OCI drops HEALTHCHECK, SHELL and ONBUILD).
- :class:`DockerBuilder` builds with BuildKit against the daemon ``DOCKER_HOST`` (or the CLI's default) names:
  ``docker buildx build --load`` when ``docker buildx version`` works, else ``DOCKER_BUILDKIT=1 docker build``.
- Base images follow a pull policy: ``missing`` (the default: pull only what is not there), ``always`` or
  ``never``; buildah and podman in a lab root default to ``never`` (the lab is offline), also through
  :func:`choose_builder` and ``dockerfix verify --lab``.
- :func:`choose_builder` picks the named builder or the first that works, and says why each one it tried does not.
- Builders leave nothing behind: :meth:`Builder.remove` deletes the tags a build made and the untagged images it
  left (an earlier build of a re-used tag, the steps of a failed build); images of the user's own that happen to be
  identical keep their names.
- :meth:`Builder.run` runs ``/bin/sh -c COMMAND`` in an image the same way on every builder (the image's
  ENTRYPOINT and CMD ignored; its USER, WORKDIR and ENV kept), within :data:`RUN_TIMEOUT` unless told otherwise: a
  command that outlives it is ended with everything it started, and its result says ``timed_out``.

Cached steps are counted from the build log: buildah and podman print ``--> Using cache``, the classic docker
builder `` ---> Using cache`` and BuildKit's plain progress ``#N CACHED``. BuildKit logs only the steps that make
a layer or run something (``FROM``, ``RUN``, ``COPY``, ``ADD``, ``WORKDIR``): step counts are comparable between
two builds of one builder, not between builders.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "BUILDER_NAMES",
    "PULL_POLICIES",
    "RUN_TIMEOUT",
    "BuildError",
    "BuildResult",
    "BuildahBuilder",
    "Builder",
    "Capabilities",
    "DockerBuilder",
    "DockerSetup",
    "NoBuilderError",
    "PodmanBuilder",
    "ProcessResult",
    "Runner",
    "Step",
    "choose_builder",
    "describe",
    "docker_programs",
    "parse_buildah_log",
    "parse_buildkit_log",
    "parse_docker_log",
    "subprocess_runner",
]

BUILDER_NAMES = ("buildah", "docker", "podman")
"""In the order :func:`choose_builder` tries them."""
PULL_POLICIES = ("missing", "always", "never")
RUN_TIMEOUT = 300.0
"""Seconds :meth:`Builder.run` gives a command by default (builds get :attr:`Builder.timeout`, 1800 s)."""


# ------------------------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    """True when the program was ended at its timeout (``returncode`` is then 124)."""

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
    """Run ``argv`` and capture its output; a missing program gives return code 127. At ``timeout`` the program and
    every process it started are killed (``buildah run`` leaves its command running otherwise) and the result has
    return code 124, ``timed_out`` and the output so far."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                errors="replace")
    except FileNotFoundError as exc:
        return ProcessResult(tuple(argv), 127, "", str(exc), time.monotonic() - start)
    with proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired as exc:  # a process outside the tree still holds the pipes
                out, err = _text(exc.stdout), _text(exc.stderr)
            return ProcessResult(tuple(argv), 124, out, err + f"\ntimed out after {timeout:g} s",
                                 time.monotonic() - start, timed_out=True)
        except BaseException:  # KeyboardInterrupt: as subprocess.run does
            proc.kill()
            raise
    return ProcessResult(tuple(argv), proc.returncode, out, err, time.monotonic() - start)


def _text(data: str | bytes | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (from ``/proc``; empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[-1].split()  # the command name may hold spaces and ")"
        except OSError:
            continue
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and its descendants, found first (once ``proc`` dies they belong to init)."""
    found = _descendants(proc.pid)
    proc.kill()
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


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
    heredocs_in_skipped_stages: bool = False
    """Without :attr:`heredocs`: a heredoc in a stage the build skips is harmless. buildah 1.28.2 (measured) reads
    each body line as an instruction and fails on it (``Unknown instruction: ECHO``) only when the stage runs;
    BuildKit in dockerd 20.10 fails to parse the whole file (``dockerfile parse error line 5: unknown
    instruction: APT-GET``) whatever the target."""
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
_BUILDKIT_STATUS = re.compile(r"^#(?P<id>\d+)\s+(?P<status>CACHED|DONE|ERROR)\b")


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
    """Steps of a BuildKit ``--progress=plain`` log (``#7 [3/6] RUN ...`` and ``#7 CACHED``), in the order they
    first appear. A vertex is printed again when its output continues, or when a later stage reuses it (then
    ``CACHED`` follows its ``DONE``): only a vertex that never ran (no ``DONE``/``ERROR``) counts as cached.
    Stages are labelled by name (``[build 2/3]``) or ``stage-N`` (0-based: stage N+1); a single stage has no
    label. Identical steps of two stages are one vertex, printed once."""
    by_id: dict[str, dict[str, object]] = {}
    order: list[str] = []
    ran: set[str] = set()
    for raw in log.splitlines():
        line = raw.strip("\r")
        m = _BUILDKIT_STEP.match(line)
        if m:
            if m.group("id") not in by_id:
                label = m.group("stage") or ""
                stage = int(label[6:]) + 1 if label.startswith("stage-") and label[6:].isdigit() else None
                by_id[m.group("id")] = {"instruction": m.group("ins").strip(), "cached": False, "stage": stage}
                order.append(m.group("id"))
            continue
        s = _BUILDKIT_STATUS.match(line)
        if s and s.group("id") in by_id:
            if s.group("status") == "CACHED":
                by_id[s.group("id")]["cached"] = s.group("id") not in ran
            else:
                ran.add(s.group("id"))
                by_id[s.group("id")]["cached"] = False
    return tuple(Step(number=i, **by_id[k]) for i, k in enumerate(order, 1))  # type: ignore[arg-type]


_IMAGE_ID = re.compile(r"^([0-9a-f]{64})$", re.M)
_BUILDAH_COMMIT = re.compile(r"^--> (?P<id>[0-9a-f]{7,64})\s*$")


def _buildah_created(log: str) -> list[str]:
    """Short ids of the images a buildah/podman build committed itself (not those it took from the cache), first
    to last: after a failed build they are the untagged layers it leaves behind."""
    out: list[str] = []
    cached = False
    for raw in log.splitlines():
        line = raw.strip("\r")
        if _BUILDAH_STEP.match(line):
            cached = False
        elif line.startswith("--> Using cache"):
            cached = True
        else:
            m = _BUILDAH_COMMIT.match(line)
            if m and not cached:
                out.append(m.group("id"))
    return out


def _first_line(text: str) -> str:
    """The first line of an error output that says something (``Error: `` and blank lines dropped)."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("Error: ").removeprefix("error: ")
    return "(no output)"


def _check_pull(pull: str) -> str:
    if pull not in PULL_POLICIES:
        raise ValueError(f"unknown pull policy {pull!r} (choose {', '.join(PULL_POLICIES)})")
    return pull


# ----------------------------------------------------------------------------------------------- interface


class Builder(ABC):
    """Builds a Dockerfile, reports which steps came from the cache, exports the image for :mod:`imagefs`."""

    name: str = "builder"

    def __init__(self, *, runner: Runner | None = None, timeout: float = 1800.0):
        self.runner: Runner = runner or subprocess_runner
        self.timeout = timeout
        self._made: dict[str, list[str]] = {}
        """tag -> ids of the images builds of that tag made (final images and a failed build's layers)."""

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    def why_unavailable(self) -> str | None:
        """None when this builder can build here, else why not (program missing, daemon not reachable, no
        permission...), in one line a user can act on."""
        return None if self.available() else f"{self.name} is not available"

    def available(self) -> bool:
        """True when this builder can build here (program present, daemon reachable, storage usable)."""
        return self.why_unavailable() is None

    @property
    def where(self) -> str:
        """Where images are built and kept, for messages (``your containers storage``, ``lab /tmp/lab``...)."""
        return self.name

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
    def run(self, tag: str, command: str, *, timeout: float | None = None) -> ProcessResult:
        """Run ``/bin/sh -c command`` in a container of ``tag``, the same way on every builder: the image's
        ENTRYPOINT and CMD are ignored, its Env, WorkingDir and User apply. ``timeout`` (seconds, default
        :data:`RUN_TIMEOUT`) ends the command and what it started; the result then has ``timed_out`` set."""

    @abstractmethod
    def remove(self, *tags: str) -> None:
        """Delete the tags, and the images builds of those tags left untagged; missing ones are ignored. An image
        that also carries a name of the user's keeps it (only the tag goes)."""

    def _run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
             timeout: float | None = None) -> ProcessResult:
        return self.runner(argv, env=env, cwd=cwd, timeout=timeout or self.timeout)

    def _remember(self, tag: str, ids: Sequence[str | None]) -> None:
        made = self._made.setdefault(tag, [])
        made.extend(i for i in ids if i and i not in made)


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


RUNTIME_HICCUPS = (
    "sealing memfd copy: Device or resource busy",
)
"""Failures of the OCI runtime itself while it starts a RUN step's container, which a second attempt gets past:
runc copies its own binary into a sealed memfd for each container, and adding the write seal fails with EBUSY while
another mapping of the copy is writable (seen once in the lab under load, runc 1.1.5:
``Close_Fd sealing memfd copy: Device or resource busy``; opencontainers/runc#4641 on the sealing). A build that
fails with one of these is run once more; any other failure is the Dockerfile's."""


class BuildahBuilder(Builder):
    """buildah in the user's containers storage, or in a lab's private storage under ``lab_root``.

    Without a lab root every call is a plain ``buildah ...``: the storage, storage driver and registries that
    ``containers-storage.conf`` and ``registries.conf`` configure for this user (root: ``/var/lib/containers``,
    rootless: ``~/.local/share/containers``), ``TMPDIR`` untouched. With one (``scripts/lab-setup.sh``):
    ``--root LAB/storage --runroot LAB/run --storage-driver overlay``, ``LAB/registries.conf`` and ``TMPDIR=LAB/tmp``
    (where ``RUN --mount=type=cache`` directories live), and ``--pull=never`` unless told otherwise.

    Capabilities measured with buildah 1.28 (Debian 12): cache, secret and bind mounts and ``COPY --chmod`` work;
    heredocs, ``COPY --link``, ``ADD --checksum`` and ``RUN --network`` fail; ``# syntax=`` is ignored. A cache
    mount on a directory that exists in the base whites that directory out of the image (buildah 1.28 bug).
    """

    name = "buildah"

    def __init__(
        self,
        lab_root: str | os.PathLike[str] | None = None,
        *,
        program: str = "buildah",
        storage_driver: str | None = None,
        isolation: str = "chroot",
        pull: str | None = None,
        network: str | None = None,
        runner: Runner | None = None,
        timeout: float = 1800.0,
        base_env: Mapping[str, str] | None = None,
    ):
        super().__init__(runner=runner, timeout=timeout)
        self.lab_root = Path(lab_root) if lab_root is not None else None
        self.program = program
        self.storage_driver = storage_driver or ("overlay" if self.lab_root else None)
        self.isolation = isolation
        self.pull = _check_pull(pull or ("never" if self.lab_root else "missing"))
        self.network = network
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._capabilities: Capabilities | None = None

    # -- plumbing
    @property
    def env(self) -> dict[str, str]:
        env = dict(self._base_env)
        env.update(BUILDAH_ISOLATION=self.isolation, BUILDAH_FORMAT="docker", BUILDAH_LAYERS="true")
        if self.lab_root is not None:
            env["TMPDIR"] = str(self.lab_root / "tmp")  # also where RUN --mount=type=cache directories live
            conf = self.lab_root / "registries.conf"
            if conf.is_file():
                env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
        return env

    def command(self, *args: str) -> list[str]:
        argv = [self.program]
        if self.lab_root is not None:
            argv += ["--root", str(self.lab_root / "storage"), "--runroot", str(self.lab_root / "run")]
        if self.storage_driver:
            argv += ["--storage-driver", self.storage_driver]
        return [*argv, *args]

    def _buildah(self, *args: str, timeout: float | None = None) -> ProcessResult:
        if self.lab_root is not None and self.lab_root.is_dir():
            (self.lab_root / "tmp").mkdir(exist_ok=True)
        return self._run(self.command(*args), env=self.env, timeout=timeout)

    @property
    def where(self) -> str:
        if self.lab_root is not None:
            return f"the lab storage under {self.lab_root}"
        return "your containers storage"

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
                heredocs_in_skipped_stages=True,  # measured with buildah 1.28.2 (see Capabilities)
                cache_mounts=True,
                secret_mounts=True,
                copy_chmod=True,
                syntax_directive="ignored",
            )
        return self._capabilities

    def why_unavailable(self) -> str | None:
        if self.lab_root is not None and not self.lab_root.is_dir():
            return (f"the lab root {self.lab_root} does not exist (set one up with scripts/lab-setup.sh bases, or "
                    "leave out --lab and $DOCKERFIX_LAB to build in your own storage)")
        r = self._buildah("images", "--quiet", timeout=60)
        if r.returncode == 127:
            return f"{self.program} is not installed (not found on PATH)"
        if r.returncode == 124:
            return f"`{describe(self.command('images'))}` timed out"
        if not r.ok:
            why = _first_line(r.stderr or r.stdout)
            hint = ""
            if "permission denied" in why.lower() or "operation not permitted" in why.lower():
                hint = (" (rootless builds need entries for your user in /etc/subuid and /etc/subgid, or run as "
                        "root)")
            return f"{self.program} cannot use {self.where}: {why}{hint}"
        return None

    def has_image(self, ref: str) -> bool:
        return self._buildah("inspect", "--type", "image", ref, timeout=60).ok

    build_command = "bud"
    """The program's build subcommand (``buildah bud``, ``podman build``); flags and log format are shared."""
    _name_field = "{{.Name}}"
    """The image name in ``images --format`` (podman calls it ``.Repository``)."""

    def build(self, dockerfile, context, tag, *, no_cache=False, build_args=None, target=None) -> BuildResult:
        argv = [self.build_command, f"--pull={self.pull}", "--layers", "--format", "docker", "--isolation",
                self.isolation, "--force-rm"]  # --force-rm: a failed build leaves no working container behind
        if self.network:
            argv += ["--network", self.network]
        argv += [*_build_flags(dockerfile, tag, no_cache, build_args, target), os.fspath(context)]
        r = self._buildah(*argv)
        log = r.stdout + r.stderr
        seconds = r.seconds
        if not r.ok and any(m in log for m in RUNTIME_HICCUPS):
            # the OCI runtime failed to start a step's container, not the step: once more (the layers built so far
            # are reused; --no-cache builds them again)
            self._remember(tag, _buildah_created(log))
            r = self._buildah(*argv)
            seconds += r.seconds
            log += f"\n[dockerfix: the OCI runtime failed to start a container; built again]\n{r.stdout}{r.stderr}"
        if not r.ok:
            self._remember(tag, _buildah_created(r.stdout + r.stderr))  # the first attempt's are remembered above
            raise BuildError(f"{self.program} {self.build_command} failed ({r.returncode}) for {dockerfile}", log,
                             r.returncode)
        ids = _IMAGE_ID.findall(r.stdout)
        image_id = ids[-1] if ids else None
        self._remember(tag, [image_id])
        return BuildResult(tag, seconds, parse_buildah_log(r.stdout + r.stderr), log, image_id)

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

    def run(self, tag, command, *, timeout=None) -> ProcessResult:
        """``buildah run`` in a working container (``buildah run`` never applies the ENTRYPOINT); at the timeout
        the runner kills the command with buildah, then the container goes."""
        made = self._buildah("from", "--pull=never", "--quiet", tag, timeout=120)
        if not made.ok:
            return made
        container = made.stdout.strip().splitlines()[-1]
        try:
            return self._buildah("run", "--isolation", self.isolation, container, "--", "/bin/sh", "-c", command,
                                 timeout=timeout or RUN_TIMEOUT)
        finally:
            self._buildah("rm", container, timeout=120)

    def remove(self, *tags: str) -> None:
        if not tags:
            return
        # In the user's storage no --force: it would also delete containers of the user's that use the image.
        force = ("--force",) if self.lab_root is not None else ()
        self._buildah("rmi", *force, *tags, timeout=300)
        made = [i for t in tags for i in self._made.pop(t, [])]
        if not made:
            return
        listed = self._buildah("images", "--all", "--no-trunc", "--noheading", "--format",
                               f"{{{{.ID}}}} {self._name_field}", timeout=120)
        names: dict[str, set[str]] = {}
        for line in listed.stdout.splitlines():
            parts = line.split(None, 1)
            if parts:
                names.setdefault(parts[0].removeprefix("sha256:"), set()).add(parts[1] if len(parts) > 1 else "")
        for short in reversed(made):  # the last made first: removing an image also removes its untagged parents
            full = [i for i, n in names.items() if i.startswith(short) and n <= {"<none>", ""}]
            if len(full) == 1:
                self._buildah("rmi", full[0], timeout=300)


def _ref_name(tag: str) -> str:
    """The ``org.opencontainers.image.ref.name`` an export carries: the tag after the last ``:``, else ``latest``."""
    last = tag.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


# ----------------------------------------------------------------------------------------------------- podman


class PodmanBuilder(BuildahBuilder):
    """podman build (buildah inside): same flags, log, storage and pull policy; ``podman run`` fails in this sandbox
    (rlimit EPERM), so :meth:`run` uses ``--rm`` and may fail where buildah's chroot run works."""

    name = "podman"
    build_command = "build"
    _name_field = "{{.Repository}}"

    def __init__(self, lab_root: str | os.PathLike[str] | None = None, *, program: str = "podman", **kwargs):
        super().__init__(lab_root, program=program, **kwargs)

    def export(self, tag, dest, *, fmt="oci-archive") -> Path:
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        r = self._buildah("save", "--format", fmt, "-o", str(path), tag)
        if not r.ok:
            raise BuildError(f"podman save {tag} failed", r.stdout + r.stderr, r.returncode)
        return path

    def run(self, tag, command, *, timeout=None) -> ProcessResult:
        """``podman run --entrypoint /bin/sh IMAGE -c COMMAND`` (as docker's); the container has a name, so that
        a timeout can remove it (conmon keeps it running when the podman CLI is killed)."""
        name = f"dockerfix-run-{uuid.uuid4().hex[:12]}"
        r = self._buildah("run", "--rm", "--pull=never", "--name", name, "--entrypoint", "/bin/sh", tag, "-c",
                          command, timeout=timeout or RUN_TIMEOUT)
        if r.timed_out:
            self._buildah("rm", "--force", name, timeout=120)
        return r

    def why_unavailable(self) -> str | None:
        if self.lab_root is not None and not self.lab_root.is_dir():
            return super().why_unavailable()
        r = self._buildah("info", timeout=60)
        if r.returncode == 127:
            return f"{self.program} is not installed (not found on PATH)"
        if not r.ok:
            return f"{self.program} cannot use {self.where}: {_first_line(r.stderr or r.stdout)}"
        return None


# ----------------------------------------------------------------------------------------------------- docker


@dataclass(frozen=True)
class DockerSetup:
    """What probing a docker CLI found: the program, versions, how it builds and on which network."""

    program: str
    client: str
    server: str
    mode: str
    """``buildx`` (``docker buildx build --load``), ``buildkit`` (``DOCKER_BUILDKIT=1 docker build``) or
    ``classic`` (``DOCKER_BUILDKIT=0``)."""
    network: str | None
    """``--network`` for builds: the one asked for, else ``host`` when the daemon has no bridge network."""

    @property
    def server_major(self) -> int:
        m = re.match(r"(\d+)", self.server)
        return int(m.group(1)) if m else 0


def _major(version: str) -> int:
    m = re.match(r"v?(\d+)", version)
    return int(m.group(1)) if m else 0


def docker_programs(env: Mapping[str, str] | None = None) -> list[str]:
    """Every ``docker`` on ``PATH``, in order, each real file once (``/bin`` and ``/usr/bin`` are often one)."""
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    out: list[str] = []
    seen: set[str] = set()
    for d in path.split(os.pathsep):
        candidate = os.path.join(d or ".", "docker")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            real = os.path.realpath(candidate)
            if real not in seen:
                seen.add(real)
                out.append(candidate)
    return out


class DockerBuilder(Builder):
    """BuildKit builds against a docker daemon.

    - The daemon: ``host`` if given (``unix:///path``, ``tcp://...``), else whatever ``DOCKER_HOST`` or the CLI's
      current context names.
    - The CLI: ``program`` if given, else the first ``docker`` on ``PATH`` that can build with BuildKit: one with
      the buildx plugin (``docker buildx build --load``), or one older than 23.0 (``DOCKER_BUILDKIT=1 docker
      build``; newer CLIs refuse without buildx). ``buildkit=False`` uses the classic builder instead.
    - Pulls: ``missing`` (BuildKit's default: local images first), ``always`` (``--pull``), ``never`` (docker has
      no such flag: every base a FROM names literally must already be in the daemon, checked before the build).
    - Builds run on ``network`` if given, else on the daemon's default, or on ``host`` when the daemon has no
      bridge network (``dockerd --bridge=none``), where RUN steps would otherwise fail with "network bridge not
      found".

    BuildKit in dockerd 20.10: cache/secret mounts and ``COPY --chmod`` work; heredocs, ``COPY --link``,
    ``ADD --checksum`` and ``RUN --network`` do not (the embedded frontend is too old), and a ``# syntax=`` line
    makes it pull the frontend image (fails without Docker Hub). Daemons from 23.0 on are taken to build heredocs,
    ``COPY --link`` and ``RUN --network`` (their frontend is Dockerfile 1.4+; untested here).
    Export is ``docker save`` (a docker-archive, which imagefs reads).
    """

    name = "docker"

    def __init__(self, *, program: str | None = None, buildkit: bool = True, host: str | None = None,
                 pull: str = "missing", network: str | None = None, runner: Runner | None = None,
                 timeout: float = 1800.0, base_env: Mapping[str, str] | None = None):
        super().__init__(runner=runner, timeout=timeout)
        self._program = program
        self.buildkit = buildkit
        self.host = host
        self.pull = _check_pull(pull)
        self.network = network
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._setup: DockerSetup | None = None
        self._why: str | None = None

    # -- plumbing
    @property
    def env(self) -> dict[str, str]:
        env = {**self._base_env, "DOCKER_BUILDKIT": "1" if self.buildkit else "0"}
        if self.host:
            env["DOCKER_HOST"] = self.host
        return env

    @property
    def program(self) -> str:
        """The docker CLI in use (probed on first use when none was given)."""
        if self._program:
            return self._program
        setup = self.setup()
        if setup is not None:
            return setup.program
        found = docker_programs(self._base_env)
        return found[0] if found else "docker"

    @property
    def daemon(self) -> str:
        """The daemon's address, for messages."""
        return (self.host or self._base_env.get("DOCKER_HOST")
                or (f"docker context {self._base_env['DOCKER_CONTEXT']}" if self._base_env.get("DOCKER_CONTEXT")
                    else "unix:///var/run/docker.sock (the default; set DOCKER_HOST for another daemon)"))

    @property
    def where(self) -> str:
        return f"the docker daemon at {self.daemon}"

    def _docker(self, *args: str, timeout: float | None = None, program: str | None = None) -> ProcessResult:
        return self._run([program or self.program, *args], env=self.env, timeout=timeout)

    # -- probing
    def setup(self) -> DockerSetup | None:
        """How this builder builds here (probed once), or None when it cannot (see :meth:`why_unavailable`)."""
        if self._setup is None and self._why is None:
            programs = [self._program] if self._program else docker_programs(self._base_env)
            if not programs:
                self._why = "docker is not installed (not found on PATH)"
                return None
            reasons: dict[str, list[str]] = {}  # why -> the CLIs that failed for that reason
            for program in programs:
                found = self._probe(program)
                if isinstance(found, DockerSetup):
                    self._setup = found
                    break
                reasons.setdefault(found, []).append(program)
            else:
                self._why = "; ".join(f"{', '.join(progs)}: {why}" for why, progs in reasons.items())
        return self._setup

    def _probe(self, program: str) -> DockerSetup | str:
        """How ``program`` builds here, or why it cannot (without the program's name)."""
        v = self._docker("version", "--format", "{{json .}}", timeout=60, program=program)
        if v.returncode == 127:
            return "not found"
        client = server = ""
        try:
            import json

            data = json.loads(next((ln for ln in v.stdout.splitlines() if ln.startswith("{")), "{}"))
            client = str((data.get("Client") or {}).get("Version") or "")
            server = str((data.get("Server") or {}).get("Version") or "")
        except ValueError:
            pass
        if not v.ok or not server:
            err = _first_line(v.stderr or v.stdout)
            low = err.lower()
            if v.returncode == 124:
                return f"the Docker daemon at {self.daemon} did not answer within 60 s"
            if "permission denied" in low:
                return (f"permission denied on the Docker daemon's socket {self.daemon}: {err} (add your user to "
                        "the docker group, or point DOCKER_HOST at a daemon you may use)")
            if "cannot connect" in low or "is the docker daemon running" in low or "connection refused" in low \
                    or "no such file" in low:
                return f"no Docker daemon reachable at {self.daemon}: {err}"
            return f"`docker version` failed: {err}"
        mode = "classic"
        if self.buildkit:
            bx = self._docker("buildx", "version", timeout=60, program=program)
            if bx.ok:
                mode = "buildx"
            elif _major(client) >= 23:
                return (f"docker CLI {client} builds with BuildKit only through the buildx plugin, and `docker "
                        f"buildx version` fails: {_first_line(bx.stderr or bx.stdout)} (install the buildx plugin: "
                        "docker-buildx-plugin from Docker, docker-buildx on Debian 13+)")
            else:
                mode = "buildkit"
        network = self.network
        if network is None:
            bridge = self._docker("network", "inspect", "--format", "{{.Name}}", "bridge", timeout=60,
                                  program=program)
            if not bridge.ok and "no such network" in (bridge.stderr + bridge.stdout).lower():
                network = "host"
        return DockerSetup(program, client, server, mode, network)

    def why_unavailable(self) -> str | None:
        return None if self.setup() is not None else self._why

    def _require(self) -> DockerSetup:
        setup = self.setup()
        if setup is None:
            raise BuildError(f"docker cannot build here: {self._why}")
        return setup

    @property
    def capabilities(self) -> Capabilities:
        if not self.buildkit:
            return Capabilities(syntax_directive="ignored")
        setup = self.setup()
        newer = setup is not None and setup.server_major >= 23
        return Capabilities(cache_mounts=True, secret_mounts=True, copy_chmod=True, syntax_directive="pulls",
                            heredocs=newer, copy_link=newer, run_network=newer)

    def has_image(self, ref: str) -> bool:
        return self._docker("image", "inspect", "--format", "{{.Id}}", ref, timeout=60).ok

    # -- interface
    def build(self, dockerfile, context, tag, *, no_cache=False, build_args=None, target=None) -> BuildResult:
        setup = self._require()
        if self.pull == "never":
            missing = [ref for ref in _literal_bases(Path(dockerfile), build_args) if not self.has_image(ref)]
            if missing:
                raise BuildError(f"pull policy 'never': {', '.join(missing)} not among the images of "
                                 f"{self.where} (pull or load it first, or use pull 'missing')")
        if setup.mode == "buildx":
            argv = ["buildx", "build", "--load", "--progress=plain"]
        elif setup.mode == "buildkit":
            argv = ["build", "--progress=plain"]
        else:
            argv = ["build"]
        if self.pull == "always":
            argv.append("--pull")
        if setup.network:
            argv += ["--network", setup.network]
        argv += [*_build_flags(dockerfile, tag, no_cache, build_args, target), os.fspath(context)]
        r = self._docker(*argv)
        log = r.stdout + r.stderr
        if not r.ok:
            raise BuildError(f"docker build failed ({r.returncode}) for {dockerfile}", log, r.returncode)
        steps = parse_docker_log(log) if setup.mode == "classic" else parse_buildkit_log(log)
        inspected = self._docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=60)
        image_id = inspected.stdout.strip().removeprefix("sha256:") if inspected.ok else None
        self._remember(tag, [image_id])
        return BuildResult(tag, r.seconds, steps, log, image_id or None)

    def export(self, tag, dest, *, fmt="docker-archive") -> Path:
        """Always ``docker save`` (a docker-archive; docker 25+ adds an OCI index, which imagefs prefers)."""
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        r = self._docker("save", "-o", str(path), tag)
        if not r.ok:
            raise BuildError(f"docker save {tag} failed", r.stdout + r.stderr, r.returncode)
        return path

    def run(self, tag, command, *, timeout=None) -> ProcessResult:
        """``docker run --rm --entrypoint /bin/sh IMAGE -c COMMAND``: the image's ENTRYPOINT and CMD replaced, as
        ``buildah run`` does, its USER, WORKDIR and ENV kept; on the network builds use (``host`` when the daemon
        has no bridge). The container has a name, so that a timeout can remove it: killing the CLI does not stop
        it."""
        setup = self._require()
        name = f"dockerfix-run-{uuid.uuid4().hex[:12]}"
        argv = ["run", "--rm", "--name", name, "--entrypoint", "/bin/sh"]
        if setup.network:
            argv += ["--network", setup.network]
        r = self._docker(*argv, tag, "-c", command, timeout=timeout or RUN_TIMEOUT)
        if r.timed_out:
            self._docker("rm", "--force", name, timeout=120)
        return r

    def remove(self, *tags: str) -> None:
        # No --force: it would remove an image a container of the user's still uses.
        for tag in tags:
            self._docker("rmi", tag, timeout=300)
        for image_id in reversed([i for t in tags for i in self._made.pop(t, [])]):
            r = self._docker("image", "inspect", "--format", "{{len .RepoTags}}", image_id, timeout=60)
            if r.ok and r.stdout.strip() == "0":  # left untagged by a rebuild of the same tag
                self._docker("rmi", image_id, timeout=300)


def _literal_bases(dockerfile: Path, build_args: Mapping[str, str] | None) -> list[str]:
    """The images the FROM lines name that are not earlier stages or ``scratch`` (meta ARGs and ``build_args``
    expanded; a reference that stays unknown is left out)."""
    from dockerfix.model.stages import Model
    from dockerfix.syntax import parse

    model = Model(parse(dockerfile.read_bytes().decode("utf-8")))
    values = {**model.meta_values, **(build_args or {})}
    out: list[str] = []
    for stage in model.stages:
        ref = model.expand(stage.base, values)
        if not ref or ref.lower() == "scratch" or model.is_stage_ref(stage.base, before=stage) or ref in out:
            continue
        out.append(ref)
    return out


# -------------------------------------------------------------------------------------------------- choosing


class NoBuilderError(RuntimeError):
    """No builder can build here; ``tried`` holds (builder, why not) for each one tried, in order."""

    def __init__(self, tried: Sequence[tuple[str, str]]):
        self.tried = list(tried)
        if len(self.tried) == 1:
            name, why = self.tried[0]
            message = f"{name} cannot build here: {why}"
        else:
            message = "no builder works here; tried:\n" + "\n".join(f"  {n}: {why}" for n, why in self.tried)
        super().__init__(message)


def choose_builder(
    name: str | None = None,
    lab: str | os.PathLike[str] | None = None,
    pull: str | None = None,
    *,
    network: str | None = None,
    env: Mapping[str, str] | None = None,
    runner: Runner | None = None,
) -> Builder:
    """The builder ``name`` (``buildah``, ``docker``, ``podman``), or the first of those that works here.

    Storage: buildah and podman use the user's own containers storage and registries, unless a lab root is given
    (``lab``, else ``$DOCKERFIX_LAB`` from ``env``): then its private storage. docker always builds in its daemon
    (``DOCKER_HOST`` from ``env``); a lab does not change it.

    ``pull`` is ``missing``, ``always`` or ``never``. Left out (None), it is the builder's own default, the same
    whether the builder is made here or directly: ``never`` for buildah and podman in a lab (its storage is
    private and offline: a base it lacks is an error, not a pull), ``missing`` for them in the user's storage and
    for docker. ``network`` is passed to every build (``host``...). Raises :class:`NoBuilderError`, naming what was
    tried and why each failed, and :class:`ValueError` for an unknown name or pull policy.
    """
    base_env = dict(os.environ if env is None else env)
    if pull is not None:
        _check_pull(pull)
    root = os.fspath(lab) if lab else (base_env.get("DOCKERFIX_LAB") or None)
    common: dict[str, Any] = {"runner": runner, "base_env": base_env, "network": network}
    makers = {
        "buildah": lambda: BuildahBuilder(root, pull=pull, **common),
        "docker": lambda: DockerBuilder(pull=pull or "missing", **common),
        "podman": lambda: PodmanBuilder(root, pull=pull, **common),
    }
    if name is not None and name not in makers:
        raise ValueError(f"unknown builder {name!r} (choose {', '.join(BUILDER_NAMES)})")
    tried: list[tuple[str, str]] = []
    for candidate in [name] if name else BUILDER_NAMES:
        builder = makers[candidate]()
        why = builder.why_unavailable()
        if why is None:
            return builder
        tried.append((candidate, why))
    raise NoBuilderError(tried)


def describe(argv: Sequence[str]) -> str:
    """A copy-pasteable command line, for logs and error messages."""
    return shlex.join(argv)
