"""A private dockerd for the lab tests, with the lab's base images loaded into it.

``start(lab_root)`` runs ``dockerd`` as root on its own socket, data root and exec root under
``LAB/dockerd/run-<pid>/`` (``--iptables=false --ip-forward=false --bridge=none``: it changes nothing on the host's
network, so builds need ``--network host``), with its own empty ``daemon.json`` (the host's ``/etc/docker`` is
neither read nor written), and waits for the socket to answer ``/_ping``. :meth:`Dockerd.load_images` copies the
lab's bases into it: ``buildah push IMG docker-archive:FILE:IMG`` from the lab storage, then ``docker load``; the
archives are kept under ``LAB/docker-archives`` (named by image id) so a later run only loads them.
:meth:`Dockerd.stop` ends the daemon (SIGTERM, then SIGKILL after 20 s), its containerd, unmounts what it left
and deletes its folder; it also runs at interpreter exit and on SIGTERM. A run folder whose pytest process is gone
(a session that was killed) is cleaned up by the next :func:`start`.

Nothing here is used by dockerfix itself; ``tests/lab/conftest.py`` turns it into the ``docker_daemon`` and
``docker_builder`` fixtures, and skips them with the reason when the daemon cannot start.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dockerfix.verify.builders import BuildahBuilder, DockerBuilder

__all__ = ["Dockerd", "DockerdUnavailable", "lab_archive", "start"]

SOCKET_MAX = 100  # AF_UNIX paths are limited to 107 bytes


class DockerdUnavailable(Exception):
    """dockerd cannot run here; the message says why."""


@dataclass
class Dockerd:
    root: Path
    process: subprocess.Popen
    cli: str
    """The docker CLI that builds against this daemon (probed like :class:`DockerBuilder` does)."""
    start_seconds: float
    version: str
    timings: list[dict] = field(default_factory=list)
    _stopped: bool = False

    @property
    def host(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def builder(self, **kwargs) -> DockerBuilder:
        """A :class:`DockerBuilder` for this daemon (BuildKit, builds on the host network)."""
        kwargs.setdefault("network", "host")
        return DockerBuilder(program=self.cli, host=self.host, **kwargs)

    def images(self) -> set[str]:
        """``repo:tag`` and the id of every image (``-a``: untagged ones too), to see what a test left behind."""
        r = self.docker("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}", timeout=60)
        return {w for line in r.stdout.splitlines() for w in line.split()}

    # -------------------------------------------------------------------------------------------- base images
    def load_images(self, lab_root: Path, refs: list[str] | tuple[str, ...]) -> list[dict]:
        """Load ``docker.io/library/<ref>`` for each ref from the lab storage; returns one timing per image."""
        out = []
        for ref in refs:
            t0 = time.monotonic()
            archive, image_id, pushed = lab_archive(lab_root, ref)
            t1 = time.monotonic()
            loaded = self.docker("load", "-q", "-i", str(archive))
            if loaded.returncode:
                raise RuntimeError(f"docker load of {archive} failed: {loaded.stderr.strip()}")
            seen = self.docker("image", "inspect", "--format", "{{.Id}}", ref, timeout=60).stdout.strip()
            if seen.removeprefix("sha256:") != image_id:
                raise RuntimeError(f"{ref} loaded as {seen}, the lab has {image_id}")
            t2 = time.monotonic()
            out.append({"what": f"dockerd: load {ref}", "seconds": round(t2 - t0, 1),
                        "push_s": round(t1 - t0, 1) if pushed else "cached", "load_s": round(t2 - t1, 1),
                        "mb": round(archive.stat().st_size / 1e6)})
        self.timings += out
        return out

    # --------------------------------------------------------------------------------------------------- stop
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        _stop_daemon(self.root, self.process)
        _forget(self)


def lab_archive(lab_root: str | os.PathLike[str], ref: str) -> tuple[Path, str, bool]:
    """``docker.io/library/<ref>`` from the lab storage as a docker-archive under ``LAB/docker-archives`` (named by
    image id, so a rebuilt base gets a new one): (path, image id, whether it had to be written now)."""
    lab = BuildahBuilder(lab_root)
    cache = Path(lab_root) / "docker-archives"
    cache.mkdir(exist_ok=True)
    name = f"docker.io/library/{ref}"
    got = subprocess.run(lab.command("inspect", "--type", "image", "--format", "{{.FromImageID}}", name),
                         env=lab.env, capture_output=True, text=True, timeout=120)
    if got.returncode:
        raise RuntimeError(f"{name} is not in the lab storage {lab_root}: {got.stderr.strip()}")
    image_id = got.stdout.strip()
    stem = ref.replace(":", "_").replace("/", "_")
    archive = cache / f"{stem}-{image_id[:12]}.tar"
    if archive.is_file():
        return archive, image_id, False
    partial = cache / f".{archive.name}.{os.getpid()}"  # then renamed: nobody ever reads half an archive
    lab.export(name, partial, fmt="docker-archive")
    os.replace(partial, archive)
    for old in cache.glob(f"{stem}-*.tar"):
        if old != archive:
            old.unlink(missing_ok=True)
    return archive, image_id, True


def _ping(sock: Path, timeout: float = 2.0) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status = s.recv(1024).split(b"\r\n", 1)[0]
            return status.startswith(b"HTTP/1.") and b" 200 " in status + b" "
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _end(pid: int, marker: str, grace: float) -> None:
    """SIGTERM ``pid`` if its command line mentions ``marker`` (our folder: never someone else's process), then
    SIGKILL after ``grace`` seconds."""
    if not _alive(pid) or marker not in _cmdline(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid) and marker in _cmdline(pid):
        time.sleep(0.1)
    if _alive(pid) and marker in _cmdline(pid):
        os.kill(pid, signal.SIGKILL)


def _stop_daemon(root: Path, process: subprocess.Popen | None) -> None:
    marker = str(root)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    else:
        pid = _pid_in(root / "dockerd.pid")
        if pid:
            _end(pid, marker, 20)
    # dockerd's own containerd normally exits with it; not after a SIGKILL
    pid = _pid_in(root / "exec" / "containerd" / "containerd.pid")
    if pid:
        _end(pid, marker, 10)
    for shim in _pids_mentioning(marker):
        _end(shim, marker, 5)
    _unmount_under(root)
    log = root / "dockerd.log"
    if log.is_file():  # kept beside the lab for a post-mortem of the last run
        shutil.copy(log, root.parent / "last-dockerd.log")
    shutil.rmtree(root, ignore_errors=True)


def _pids_mentioning(marker: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid() and marker in _cmdline(int(d.name)):
            out.append(int(d.name))
    return out


def _unmount_under(root: Path) -> None:
    prefix = str(root) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    for m in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def _clean_stale(base: Path) -> None:
    """Run folders of sessions that are gone (killed before their finalizer ran): end their daemon, delete them."""
    for run in base.glob("run-*"):
        owner = run.name.removeprefix("run-")
        if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
            continue  # a concurrent session's daemon
        _stop_daemon(run, None)


_RUNNING: list[Dockerd] = []
_PREVIOUS_SIGTERM = None


def _stop_all() -> None:
    for d in list(_RUNNING):
        d.stop()


def _on_sigterm(signum, frame) -> None:
    _stop_all()
    signal.signal(signal.SIGTERM, _PREVIOUS_SIGTERM or signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _track(d: Dockerd) -> None:
    global _PREVIOUS_SIGTERM
    if not _RUNNING:
        atexit.register(_stop_all)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            _PREVIOUS_SIGTERM = signal.signal(signal.SIGTERM, _on_sigterm)
    _RUNNING.append(d)


def _forget(d: Dockerd) -> None:
    if d in _RUNNING:
        _RUNNING.remove(d)


def start(lab_root: str | os.PathLike[str], *, timeout: float = 60.0) -> Dockerd:
    """Start a private dockerd; raises :class:`DockerdUnavailable` with the reason when it cannot run here."""
    if os.geteuid() != 0:
        raise DockerdUnavailable("the test dockerd runs as root, and this is not root")
    program = shutil.which("dockerd")
    if program is None:
        raise DockerdUnavailable("dockerd is not installed (apt-get install docker.io)")
    version_out = subprocess.run([program, "--version"], capture_output=True, text=True).stdout.strip()
    version = version_out.split("version", 1)[-1].split(",")[0].strip()
    base = Path(lab_root) / "dockerd"
    root = base / f"run-{os.getpid()}"
    if len(str(root / "docker.sock")) > SOCKET_MAX:
        raise DockerdUnavailable(f"the socket path under {base} is too long for a unix socket")
    base.mkdir(parents=True, exist_ok=True)
    _clean_stale(base)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    config: dict[str, object] = {}
    if version and int(version.split(".")[0]) < 23:
        config["deprecated-key-path"] = str(root / "key.json")  # else 20.10 writes /etc/docker/key.json
    (root / "daemon.json").write_text(json.dumps(config))
    argv = [program, "--config-file", str(root / "daemon.json"), "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"), "-H", f"unix://{root / 'docker.sock'}",
            "--pidfile", str(root / "dockerd.pid"), "--iptables=false", "--ip-forward=false", "--ip-masq=false",
            "--bridge=none", "--containerd-namespace", "dockerfix-lab",
            "--containerd-plugins-namespace", "dockerfix-lab-plugins"]
    t0 = time.monotonic()
    with open(root / "dockerd.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # a terminal's Ctrl-C reaches us, and we stop it
    while not _ping(root / "docker.sock"):
        if process.poll() is not None or time.monotonic() - t0 > timeout:
            tail = "\n".join((root / "dockerd.log").read_text(errors="replace").splitlines()[-15:])
            why = (f"exited with {process.returncode}" if process.poll() is not None
                   else f"did not answer within {timeout:.0f} s")
            _stop_daemon(root, process)
            raise DockerdUnavailable(f"dockerd {why}:\n{tail}")
        time.sleep(0.05)
    seconds = time.monotonic() - t0
    probe = DockerBuilder(host=f"unix://{root / 'docker.sock'}")
    setup = probe.setup()
    if setup is None:
        _stop_daemon(root, process)
        raise DockerdUnavailable(f"dockerd runs, but no docker CLI can build with it: {probe.why_unavailable()}")
    d = Dockerd(root, process, setup.program, seconds, version)
    d.timings.append({"what": f"dockerd {version}: start", "seconds": round(seconds, 2), "cli": setup.program,
                      "mode": setup.mode})
    _track(d)
    return d
