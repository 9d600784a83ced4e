"""Builder plumbing with a fake runner: argv, environment, storage, pull policy, log parsing, probing and the reasons
choose_builder gives. No builder needed (not marked lab)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

from dockerfix.verify.builders import (
    RUN_TIMEOUT,
    BuildahBuilder,
    BuildError,
    DockerBuilder,
    NoBuilderError,
    PodmanBuilder,
    ProcessResult,
    choose_builder,
    docker_programs,
    parse_buildah_log,
    parse_buildkit_log,
    parse_docker_log,
    subprocess_runner,
)

BUILDAH_LOG = """\
STEP 1/6: FROM python:3.11-slim
STEP 2/6: RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
--> Using cache 2b7c0f5c1e9b4f7f0c8a2d6e4b1a3c5d7e9f1a2b3c4d5e6f7a8b9c0d1e2f3a4b
--> 2b7c0f5c1e9
STEP 3/6: WORKDIR /app
--> Using cache 11aa22bb33cc44dd55ee66ff77889900aabbccddeeff00112233445566778899
--> 11aa22bb33c
STEP 4/6: COPY requirements.txt .
--> Using cache 0f0e0d0c0b0a09080706050403020100ffeeddccbbaa99887766554433221100
--> 0f0e0d0c0b0
STEP 5/6: COPY . .
--> 5d41402abc4
STEP 6/6: CMD ["python", "app.py"]
COMMIT localhost/demo:latest
--> 7e2f0b1c9d8
Successfully tagged localhost/demo:latest
7e2f0b1c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c
"""

MULTISTAGE_LOG = """\
[1/2] STEP 1/3: FROM golang:1.19 AS build
[1/2] STEP 2/3: COPY . .
--> Using cache aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
[1/2] STEP 3/3: RUN go build -o /out/app .
--> 1234
[2/2] STEP 1/2: FROM debian:bookworm-slim
[2/2] STEP 2/2: COPY --from=build /out/app /usr/local/bin/app
[2/2] COMMIT demo
"""

DOCKER_LOG = """\
Sending build context to Docker daemon  4.096kB
Step 1/4 : FROM python:3.11-slim
 ---> 0e93aa5b6c7d
Step 2/4 : RUN apt-get update
 ---> Using cache
 ---> 1a2b3c4d5e6f
Step 3/4 : COPY . .
 ---> 9f8e7d6c5b4a
Step 4/4 : CMD ["python"]
 ---> Running in 123456789abc
Successfully built 0a1b2c3d4e5f
"""

BUILDKIT_LOG = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [1/4] FROM docker.io/library/python:3.11-slim
#4 DONE 0.0s
#5 [2/4] RUN apt-get update
#5 CACHED
#6 [3/4] COPY . .
#6 DONE 0.1s
#7 [4/4] RUN pip install -r requirements.txt
#7 0.512 Collecting flask
#7 DONE 3.2s
#8 exporting to image
#8 DONE 0.2s
"""


def test_parse_buildah_log_marks_cached_steps():
    steps = parse_buildah_log(BUILDAH_LOG)
    assert [s.number for s in steps] == [1, 2, 3, 4, 5, 6]
    assert [s.cached for s in steps] == [False, True, True, True, False, False]
    assert steps[3].instruction == "COPY requirements.txt ."
    assert steps[0].keyword == "FROM"


def test_parse_buildah_multistage_log_numbers_steps_across_stages():
    steps = parse_buildah_log(MULTISTAGE_LOG)
    assert [(s.number, s.stage, s.cached) for s in steps] == [(1, 1, False), (2, 1, True), (3, 1, False),
                                                              (4, 2, False), (5, 2, False)]


def test_parse_docker_and_buildkit_logs():
    assert [s.cached for s in parse_docker_log(DOCKER_LOG)] == [False, True, False, False]
    kit = parse_buildkit_log(BUILDKIT_LOG)
    assert [(s.instruction, s.cached) for s in kit] == [
        ("FROM docker.io/library/python:3.11-slim", False),
        ("RUN apt-get update", True),
        ("COPY . .", False),
        ("RUN pip install -r requirements.txt", False),
    ]


# A real dockerd 20.10 BuildKit log (a second build after editing a.txt), sha256 lines and blank lines included:
# the vertex ids are not in step order, the two stages' identical FROM is one vertex that reports CACHED when
# the second stage reuses it, and the unnamed second stage is "stage-1".
BUILDKIT_MULTISTAGE_LOG = """\
#1 [internal] load build definition from Dockerfile
#1 sha256:04e068a47a144d7b52d785c80aa6d2dc30be7a25819d878340cbdbc6a69062ec
#1 transferring dockerfile: 32B done
#1 DONE 0.0s

#3 [internal] load metadata for docker.io/library/debian:bookworm-slim
#3 DONE 0.0s

#4 [build 1/4] FROM docker.io/library/debian:bookworm-slim
#4 sha256:56bf5dcd38ee2f60f646b15b1b91e40b5e8375a457572f890edbccbd17190813
#4 DONE 0.0s

#6 [internal] load build context
#6 transferring context: 40B done
#6 DONE 0.0s

#5 [build 2/4] WORKDIR /src
#5 sha256:6362a3eb34bf4d721efeaa22146e7d8bb0f18204ba4dfe8c608f38b477cf26dc
#5 CACHED

#7 [build 3/4] COPY a.txt .
#7 DONE 0.1s

#8 [build 4/4] RUN cat a.txt > out.txt
#8 DONE 0.2s

#4 [build 1/4] FROM docker.io/library/debian:bookworm-slim
#4 CACHED

#9 [stage-1 2/3] COPY --from=build /src/out.txt /out.txt
#9 DONE 0.0s

#10 [stage-1 3/3] RUN ls /out.txt
#10 0.140 /out.txt
#10 DONE 0.2s

#11 exporting to image
#11 exporting layers 0.0s done
#11 naming to docker.io/library/ms:1 done
#11 DONE 0.1s
"""


def test_parse_buildkit_multistage_log_from_dockerd():
    steps = parse_buildkit_log(BUILDKIT_MULTISTAGE_LOG)
    assert [(s.instruction, s.cached, s.stage) for s in steps] == [
        ("FROM docker.io/library/debian:bookworm-slim", False, None),  # it ran (DONE) before it was reused
        ("WORKDIR /src", True, None),
        ("COPY a.txt .", False, None),
        ("RUN cat a.txt > out.txt", False, None),
        ("COPY --from=build /src/out.txt /out.txt", False, 2),
        ("RUN ls /out.txt", False, 2),
    ]
    assert [s.number for s in steps] == [1, 2, 3, 4, 5, 6]


def test_parse_buildkit_log_failed_step_is_not_cached():
    log = "#5 [2/3] RUN make\n#5 CACHED\n#6 [3/3] RUN false\n#6 ERROR: executor failed running\n"
    assert [s.cached for s in parse_buildkit_log(log)] == [True, False]


class FakeRunner:
    """Replies in order; ``(code, stdout)`` or ``(code, stdout, stderr)`` or a ProcessResult."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls: list[tuple[tuple[str, ...], dict | None]] = []
        self.timeouts: list[float | None] = []

    def __call__(self, argv, *, env=None, cwd=None, timeout=None) -> ProcessResult:
        self.calls.append((tuple(argv), env))
        self.timeouts.append(timeout)
        reply = self.replies.pop(0) if self.replies else (0, "")
        if isinstance(reply, ProcessResult):
            return reply
        code, out, *err = reply
        return ProcessResult(tuple(argv), code, out, err[0] if err else ("" if code == 0 else "boom"), 1.5)


class ScriptedRunner:
    """Answers by the most specific rule (most words) whose words all occur in the argv:
    ``{("version",): (0, out, err), ("buildx", "version"): ...}``; programs in ``missing`` exit 127."""

    def __init__(self, rules: dict[tuple[str, ...], tuple], missing: tuple[str, ...] = ()):
        self.rules = rules
        self.missing = missing
        self.calls: list[tuple[tuple[str, ...], dict | None]] = []
        self.timeouts: dict[tuple[str, ...], float | None] = {}

    def __call__(self, argv, *, env=None, cwd=None, timeout=None) -> ProcessResult:
        argv = tuple(argv)
        self.calls.append((argv, env))
        self.timeouts[argv] = timeout
        if argv[0] in self.missing:
            return ProcessResult(argv, 127, "", f"No such file or directory: {argv[0]!r}", 0.0)
        matching = [words for words in self.rules if all(w in argv for w in words)]
        if not matching:
            return ProcessResult(argv, 0, "", "", 0.1)
        reply = self.rules[max(matching, key=len)]
        if isinstance(reply, ProcessResult):
            return dataclasses.replace(reply, argv=argv)
        code, out, *err = reply
        return ProcessResult(argv, code, out, err[0] if err else "", 1.5)

    def argv_of(self, word: str) -> tuple[str, ...]:
        return next(a for a, _ in self.calls if word in a)


def _version_json(client: str, server: str | None) -> str:
    return json.dumps({"Client": {"Version": client}, "Server": {"Version": server} if server else None})


DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


# ------------------------------------------------------------------------------------------------------ buildah


def test_buildah_build_uses_the_lab_storage_and_settings(tmp_path):
    runner = FakeRunner((0, BUILDAH_LOG))
    builder = BuildahBuilder(tmp_path, runner=runner, base_env={"PATH": "/usr/bin"})
    result = builder.build(tmp_path / "Dockerfile", tmp_path, "localhost/demo", no_cache=True,
                           build_args={"V": "1"})
    argv, env = runner.calls[0]
    assert argv[:7] == ("buildah", "--root", str(tmp_path / "storage"), "--runroot", str(tmp_path / "run"),
                        "--storage-driver", "overlay")
    assert {"bud", "--pull=never", "--layers", "--no-cache", "--force-rm", "V=1"} <= set(argv)
    assert argv[-1] == str(tmp_path)
    assert env["BUILDAH_ISOLATION"] == "chroot" and env["BUILDAH_FORMAT"] == "docker"
    assert env["BUILDAH_LAYERS"] == "true" and env["TMPDIR"] == str(tmp_path / "tmp")
    assert env["PATH"] == "/usr/bin"
    assert (result.cached_steps, result.built_steps, result.seconds) == (3, 2, 1.5)
    assert result.image_id == "7e2f0b1c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
    assert result.step("requirements").cached and not result.step("COPY . .").cached
    with pytest.raises(KeyError):
        result.step("npm ci")
    assert result.to_dict()["cached_steps"] == 3
    assert "lab storage" in builder.where


def test_buildah_without_a_lab_uses_the_users_storage_and_registries(tmp_path):
    user_env = {"PATH": "/usr/bin", "CONTAINERS_REGISTRIES_CONF": "/home/u/registries.conf", "TMPDIR": "/big"}
    runner = FakeRunner((0, BUILDAH_LOG))
    builder = BuildahBuilder(runner=runner, base_env=user_env)
    builder.build(tmp_path / "Dockerfile", tmp_path, "localhost/demo")
    argv, env = runner.calls[0]
    assert argv[:2] == ("buildah", "bud")  # no --root, --runroot or --storage-driver: storage.conf decides
    assert "--pull=missing" in argv and "--network" not in argv
    assert env["CONTAINERS_REGISTRIES_CONF"] == "/home/u/registries.conf" and env["TMPDIR"] == "/big"
    assert builder.lab_root is None and builder.where == "your containers storage"


@pytest.mark.parametrize("pull", ["missing", "always", "never"])
def test_pull_policy_and_network_reach_the_build(tmp_path, pull):
    runner = FakeRunner((0, BUILDAH_LOG))
    BuildahBuilder(pull=pull, network="host", runner=runner).build("Dockerfile", tmp_path, "t")
    argv = runner.calls[0][0]
    assert f"--pull={pull}" in argv and argv[argv.index("--network") + 1] == "host"
    podman = FakeRunner((0, BUILDAH_LOG))
    PodmanBuilder(tmp_path, pull=pull, runner=podman).build("Dockerfile", tmp_path, "t")
    assert podman.calls[0][0][0] == "podman" and "build" in podman.calls[0][0]
    assert f"--pull={pull}" in podman.calls[0][0]


def test_unknown_pull_policy_is_refused():
    with pytest.raises(ValueError, match="unknown pull policy 'sometimes'"):
        BuildahBuilder(pull="sometimes")
    with pytest.raises(ValueError):
        DockerBuilder(pull="newer")
    with pytest.raises(ValueError):
        choose_builder(pull="true", env={})


def test_buildah_build_failure_raises_with_the_log(tmp_path):
    builder = BuildahBuilder(tmp_path, runner=FakeRunner((125, "STEP 1/2: FROM nope\n")))
    with pytest.raises(BuildError) as info:
        builder.build("Dockerfile", tmp_path, "t")
    assert info.value.returncode == 125 and "FROM nope" in info.value.tail()


def test_buildah_export_run_and_remove(tmp_path):
    runner = FakeRunner((0, ""), (0, "ctr-1\n"), (0, "ok\n"), (0, ""), (0, ""))
    builder = BuildahBuilder(tmp_path, runner=runner)
    path = builder.export("localhost/app:good", tmp_path / "out" / "a.tar")
    assert path == tmp_path / "out" / "a.tar"
    assert runner.calls[0][0][-2:] == ("localhost/app:good", f"oci-archive:{path}:good")
    ran = builder.run("localhost/app:good", "python -c 'import app'")
    assert ran.stdout == "ok\n"
    assert runner.calls[2][0][-5:] == ("ctr-1", "--", "/bin/sh", "-c", "python -c 'import app'")
    assert runner.timeouts[2] == RUN_TIMEOUT == 300, "a run does not inherit the builds' 1800 s"
    assert runner.calls[3][0][-2:] == ("rm", "ctr-1")
    builder.remove("localhost/app:good")  # the lab: --force, as before
    assert runner.calls[4][0][-3:] == ("rmi", "--force", "localhost/app:good")


FAILED_AFTER_TWO_COMMITS = """\
STEP 1/4: FROM debian:bookworm-slim
STEP 2/4: RUN apt-get update
--> Using cache 1111111111111111111111111111111111111111111111111111111111111111
--> 1111111111a
STEP 3/4: RUN useradd app
--> 2222222222b
STEP 4/4: RUN false
--> 3333333333c
Error: building at STEP "RUN false": exit status 1
"""


def test_buildah_in_user_storage_removes_what_its_builds_left_and_nothing_of_the_users(tmp_path):
    full = {c: c * 64 for c in "abc2"}
    listing = "\n".join([
        f"sha256:{full['a']} localhost/t-before",      # the tag: removed by name first, listed here for the test
        f"sha256:{full['b']} <none>",                  # an earlier build of the same tag, now untagged: removed
        f"sha256:{full['c']} docker.io/library/mine",  # identical to an image of the user's: keeps its name
        f"sha256:{'2' * 10}b{'0' * 53} <none>",         # a layer the failed build committed: removed
    ])
    runner = ScriptedRunner({("bud", "t-before"): (0, BUILDAH_LOG + full["b"] + "\n"),
                             ("bud", "t-after"): (1, FAILED_AFTER_TWO_COMMITS),
                             ("images", "--all"): (0, listing)})
    builder = BuildahBuilder(runner=runner, base_env={})
    builder.build("Dockerfile", tmp_path, "t-before")
    runner.rules[("bud", "t-before")] = (0, BUILDAH_LOG + full["c"] + "\n")
    builder.build("Dockerfile", tmp_path, "t-before")
    with pytest.raises(BuildError):
        builder.build("Dockerfile", tmp_path, "t-after")
    runner.calls.clear()
    builder.remove("t-before", "t-after")
    rmis = [a[1:] for a, _ in runner.calls if "rmi" in a]
    assert rmis[0] == ("rmi", "t-before", "t-after")  # by name, no --force outside a lab
    removed = {a[-1] for a in rmis[1:]}
    assert full["b"] in removed and f"{'2' * 10}b{'0' * 53}" in removed
    assert full["c"] not in removed  # the user's image
    assert "1111111111a" not in str(rmis)  # came from the cache: not this build's
    runner.calls.clear()
    builder.remove("t-before")
    assert [a[1:] for a, _ in runner.calls] == [("rmi", "t-before")]  # forgotten once removed


def test_buildah_reasons(tmp_path):
    missing = BuildahBuilder(tmp_path / "nolab", runner=FakeRunner())
    assert "does not exist" in missing.why_unavailable() and not missing.available()
    assert "not installed" in BuildahBuilder(runner=FakeRunner((127, ""))).why_unavailable()
    denied = BuildahBuilder(runner=FakeRunner((125, "", "Error: mkdir /var/lib/containers: permission denied")))
    why = denied.why_unavailable()
    assert why.startswith("buildah cannot use your containers storage: mkdir /var/lib/containers: permission")
    assert "subuid" in why
    assert BuildahBuilder(tmp_path, runner=FakeRunner((0, ""))).available()
    assert "not installed" in PodmanBuilder(runner=FakeRunner((127, ""))).why_unavailable()


def test_capabilities(tmp_path):
    old = BuildahBuilder(tmp_path, runner=FakeRunner((0, "buildah version 1.28.2 (image-spec 1.1.0-rc2)")))
    assert old.capabilities.cache_mounts and old.capabilities.copy_chmod and not old.capabilities.heredocs
    assert old.capabilities.syntax_directive == "ignored"
    assert not DockerBuilder(buildkit=False).capabilities.supports("cache_mounts")
    d2010 = _docker(ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24"))}))
    assert d2010.capabilities.syntax_directive == "pulls" and not d2010.capabilities.heredocs
    d28 = _docker(ScriptedRunner({("version",): (0, _version_json("28.2.2", "28.2.2"))}))
    assert d28.capabilities.heredocs and d28.capabilities.copy_link


# ------------------------------------------------------------------------------------------------------- docker


def _docker(runner, **kwargs) -> DockerBuilder:
    return DockerBuilder(program=kwargs.pop("program", "/usr/bin/docker"), runner=runner,
                         base_env=kwargs.pop("base_env", {}), **kwargs)


def test_docker_legacy_buildkit_build(tmp_path):
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24")),
                             ("buildx", "version"): (1, "", "docker: 'buildx' is not a docker command."),
                             ("network", "bridge"): (0, "bridge\n"),
                             ("build",): (0, "", BUILDKIT_LOG), ("inspect", "{{.Id}}"): (0, "sha256:abc\n")})
    builder = _docker(runner, host="unix:///tmp/d.sock")
    result = builder.build(Path("Dockerfile"), tmp_path, "demo")
    argv, env = next((a, e) for a, e in runner.calls if a[1] == "build")
    assert argv[:3] == ("/usr/bin/docker", "build", "--progress=plain") and "--pull" not in argv
    assert "--network" not in argv  # the daemon has a bridge: its default network
    assert env["DOCKER_BUILDKIT"] == "1" and env["DOCKER_HOST"] == "unix:///tmp/d.sock"
    assert result.cached_steps == 1 and result.image_id == "abc"
    assert builder.setup().mode == "buildkit" and builder.where == "the docker daemon at unix:///tmp/d.sock"


def test_docker_buildx_build_loads_the_image_and_pulls_always(tmp_path):
    runner = ScriptedRunner({("version",): (0, _version_json("28.2.2", "28.2.2")),
                             ("buildx", "version"): (0, "github.com/docker/buildx v0.24.0"),
                             ("network", "bridge"): (1, "", "Error: No such network: bridge"),
                             ("buildx", "build"): (0, "", BUILDKIT_LOG)})
    _docker(runner, pull="always").build("Dockerfile", tmp_path, "demo")
    argv = runner.argv_of("build")
    assert argv[1:5] == ("buildx", "build", "--load", "--progress=plain") and "--pull" in argv
    assert argv[argv.index("--network") + 1] == "host"  # no bridge network (dockerd --bridge=none)


def test_docker_pull_never_checks_the_bases_first(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS build\nRUN true\nFROM build AS test\n"
        "FROM scratch\nCOPY --from=build /x /x\nFROM debian:bookworm-slim\n")
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24")),
                             ("inspect", "python:3.11-slim"): (1, "", "No such image"),
                             ("build",): (0, "", BUILDKIT_LOG)})
    builder = _docker(runner, pull="never")
    with pytest.raises(BuildError, match="pull policy 'never': python:3.11-slim not among the images"):
        builder.build(tmp_path / "Dockerfile", tmp_path, "demo")
    inspected = [a[-1] for a, _ in runner.calls if "inspect" in a and "image" in a]
    assert inspected == ["python:3.11-slim", "debian:bookworm-slim"]  # not the stage, not scratch
    runner.rules[("inspect", "python:3.11-slim")] = (0, "sha256:1")
    builder.build(tmp_path / "Dockerfile", tmp_path, "demo", build_args={"BASE": "debian:bookworm-slim"})


def test_docker_remove_deletes_tags_and_images_rebuilds_left_untagged(tmp_path):
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24")),
                             ("build",): (0, "", BUILDKIT_LOG), ("{{.Id}}",): (0, "sha256:old\n")})
    builder = _docker(runner)
    builder.build("Dockerfile", tmp_path, "t")
    runner.rules = {("{{.Id}}",): (0, "sha256:new\n"), ("build",): (0, "", BUILDKIT_LOG),
                    ("{{len .RepoTags}}", "old"): (0, "0\n"), ("{{len .RepoTags}}", "new"): (0, "1\n")}
    builder.build("Dockerfile", tmp_path, "t")
    runner.calls.clear()
    builder.remove("t")
    rmis = [a[1:] for a, _ in runner.calls if "rmi" in a]
    assert rmis == [("rmi", "t"), ("rmi", "old")]  # no --force; "new" still has a name of someone else's


def test_docker_export_is_docker_save(tmp_path):
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24"))})
    (tmp_path / "a.tar").write_text("stale")
    path = _docker(runner).export("t", tmp_path / "a.tar")
    assert runner.argv_of("save")[1:] == ("save", "-o", str(path), "t") and not path.exists()


def test_docker_reasons():
    assert _docker(ScriptedRunner({}, missing=("/usr/bin/docker",))).why_unavailable() == "/usr/bin/docker: not found"
    assert DockerBuilder(base_env={"PATH": "/nonexistent"}).why_unavailable() == (
        "docker is not installed (not found on PATH)")
    down = _docker(ScriptedRunner({("version",): (1, _version_json("20.10.24", None), DAEMON_DOWN)}),
                   base_env={"DOCKER_HOST": "tcp://10.0.0.9:2375"})
    assert down.why_unavailable().startswith("/usr/bin/docker: no Docker daemon reachable at tcp://10.0.0.9:2375")
    denied = _docker(ScriptedRunner({("version",): (1, _version_json("20.10.24", None),
                                                    "Got permission denied while trying to connect to the Docker "
                                                    "daemon socket at unix:///var/run/docker.sock")}))
    assert "permission denied" in denied.why_unavailable() and "docker group" in denied.why_unavailable()
    no_buildx = _docker(ScriptedRunner({("version",): (0, _version_json("28.2.2", "20.10.24")),
                                        ("buildx", "version"): (1, "", "docker: unknown command: docker buildx")}),
                        program="/usr/local/bin/docker")
    why = no_buildx.why_unavailable()
    assert "docker CLI 28.2.2" in why and "buildx plugin" in why and not no_buildx.available()
    classic = _docker(ScriptedRunner({("version",): (0, _version_json("28.2.2", "20.10.24"))}), buildkit=False)
    assert classic.available() and classic.setup().mode == "classic"


def _fake_programs(tmp_path, *dirs):
    for d in dirs:
        (tmp_path / d).mkdir()
        (tmp_path / d / "docker").write_text("#!/bin/sh\n")
        (tmp_path / d / "docker").chmod(0o755)
    return os.pathsep.join(str(tmp_path / d) for d in dirs)


def test_docker_takes_the_first_cli_on_path_that_can_build(tmp_path):
    path = _fake_programs(tmp_path, "new", "old")
    (tmp_path / "same").symlink_to(tmp_path / "old")
    path += os.pathsep + str(tmp_path / "same")
    assert docker_programs({"PATH": path}) == [str(tmp_path / "new" / "docker"), str(tmp_path / "old" / "docker")]
    new, old = (str(tmp_path / d / "docker") for d in ("new", "old"))

    def runner(argv, *, env=None, cwd=None, timeout=None):
        if argv[1] == "version":
            client = "28.2.2" if argv[0] == new else "20.10.24"
            return ProcessResult(tuple(argv), 0, _version_json(client, "20.10.24"), "", 0.1)
        if argv[1] == "buildx":
            return ProcessResult(tuple(argv), 1, "", "docker: 'buildx' is not a docker command.", 0.1)
        return ProcessResult(tuple(argv), 0, "", "", 0.1)

    builder = DockerBuilder(runner=runner, base_env={"PATH": path})
    assert builder.available() and builder.program == old and builder.setup().mode == "buildkit"
    only_new = DockerBuilder(runner=runner, base_env={"PATH": str(tmp_path / "new")})
    assert only_new.why_unavailable().startswith(f"{new}: docker CLI 28.2.2 builds with BuildKit only through")
    down = ScriptedRunner({("version",): (1, _version_json("20.10.24", None), DAEMON_DOWN)})
    both = DockerBuilder(runner=down, base_env={"PATH": path}).why_unavailable()
    assert both.startswith(f"{new}, {old}: no Docker daemon reachable at unix:///var/run/docker.sock")
    assert both.count("Cannot connect") == 1  # one reason, said once


# ------------------------------------------------------------------------------------------------ choose_builder


def test_choose_builder_defaults_to_the_users_storage(tmp_path):
    runner = ScriptedRunner({})
    builder = choose_builder(env={"PATH": "/usr/bin"}, runner=runner)
    assert isinstance(builder, BuildahBuilder) and builder.lab_root is None and builder.pull == "missing"
    assert "--root" not in runner.calls[0][0]


def test_choose_builder_uses_a_lab_only_when_asked(tmp_path):
    from_env = choose_builder("buildah", env={"DOCKERFIX_LAB": str(tmp_path)}, runner=ScriptedRunner({}))
    assert from_env.lab_root == tmp_path and from_env.pull == "never"
    given = choose_builder("podman", lab=tmp_path, pull="never", network="host", runner=ScriptedRunner({}),
                           env={})
    assert isinstance(given, PodmanBuilder) and given.lab_root == tmp_path
    assert (given.pull, given.network) == ("never", "host")
    with pytest.raises(NoBuilderError, match=r"buildah cannot build here: the lab root .*nolab does not exist"):
        choose_builder("buildah", lab=tmp_path / "nolab", env={}, runner=ScriptedRunner({}))


def test_choose_builder_pull_default_is_the_builders_own(tmp_path):
    """A lab is private, offline storage: buildah and podman there default to never, as they do when made
    directly; elsewhere (and docker, which a lab does not change) missing. A policy given wins."""
    env = {"PATH": _fake_programs(tmp_path, "bin")}

    def made(name, **kw):
        return choose_builder(name, env=env, runner=ScriptedRunner({
            ("version",): (0, _version_json("20.10.24", "20.10.24"))}), **kw)

    for name in ("buildah", "podman"):
        assert made(name, lab=tmp_path).pull == "never" == BuildahBuilder(tmp_path).pull
        assert made(name).pull == "missing" == BuildahBuilder().pull
        assert made(name, lab=tmp_path, pull="missing").pull == "missing"
    assert made("docker", lab=tmp_path).pull == "missing"
    assert made("docker", pull="never").pull == "never"


def test_choose_builder_names_what_it_tried_and_why_each_failed(tmp_path):
    path = _fake_programs(tmp_path, "bin")
    runner = ScriptedRunner({("version",): (1, _version_json("20.10.24", None), DAEMON_DOWN)},
                            missing=("buildah", "podman"))
    with pytest.raises(NoBuilderError) as info:
        choose_builder(env={"PATH": path}, runner=runner)
    message = str(info.value)
    assert message.startswith("no builder works here; tried:\n  buildah: buildah is not installed")
    assert "\n  docker: " in message and "no Docker daemon reachable at unix:///var/run/docker.sock" in message
    assert "\n  podman: podman is not installed" in message
    assert [n for n, _ in info.value.tried] == ["buildah", "docker", "podman"]
    with pytest.raises(ValueError, match="unknown builder 'kaniko'"):
        choose_builder("kaniko", env={})


def test_choose_builder_docker_follows_docker_host(tmp_path):
    path = _fake_programs(tmp_path, "bin")
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24"))})
    builder = choose_builder("docker", env={"PATH": path, "DOCKER_HOST": "unix:///tmp/x.sock"}, runner=runner)
    assert isinstance(builder, DockerBuilder) and runner.calls[0][1]["DOCKER_HOST"] == "unix:///tmp/x.sock"


def test_subprocess_runner_reports_missing_programs_and_timeouts():
    assert subprocess_runner(["/nonexistent/program"]).returncode == 127
    assert subprocess_runner(["sleep", "5"], timeout=0.2).returncode == 124
    done = subprocess_runner(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


# ----------------------------------------------------------------------------------------------------- runs


@pytest.mark.parametrize("bridge, network", [((0, "bridge\n"), None),
                                             ((1, "", "Error: No such network: bridge"), "host")])
def test_docker_run_ignores_the_entrypoint_like_buildah(tmp_path, bridge, network):
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24")),
                             ("network", "bridge"): bridge, ("run",): (0, "ok\n")})
    ran = _docker(runner).run("demo:after", "python -c 'import app'", timeout=30)
    assert ran.stdout == "ok\n"
    argv = runner.argv_of("run")
    name = argv[argv.index("--name") + 1]
    assert name.startswith("dockerfix-run-")
    expected = ["/usr/bin/docker", "run", "--rm", "--name", name, "--entrypoint", "/bin/sh"]
    expected += ["--network", "host"] if network else []  # as builds: host only when the daemon has no bridge
    assert list(argv) == [*expected, "demo:after", "-c", "python -c 'import app'"]
    assert runner.timeouts[argv] == 30
    _docker(runner).run("demo:after", "true")
    assert runner.timeouts[runner.calls[-1][0]] == RUN_TIMEOUT


def test_docker_run_timeout_removes_the_container(tmp_path):
    timed_out = ProcessResult((), 124, "serving\n", "\ntimed out after 5 s", 5.0, timed_out=True)
    runner = ScriptedRunner({("version",): (0, _version_json("20.10.24", "20.10.24")), ("run",): timed_out})
    ran = _docker(runner).run("demo:after", "python app.py", timeout=5)
    assert ran.timed_out and ran.returncode == 124 and ran.stdout == "serving\n"
    argv = runner.argv_of("run")
    name = argv[argv.index("--name") + 1]
    assert runner.calls[-1][0][1:] == ("rm", "--force", name)  # the killed CLI leaves the container running


def test_podman_run_ignores_the_entrypoint_and_removes_a_container_that_timed_out(tmp_path):
    timed_out = ProcessResult((), 124, "", "\ntimed out after 5 s", 5.0, timed_out=True)
    runner = ScriptedRunner({("run",): timed_out})
    ran = PodmanBuilder(tmp_path, runner=runner).run("demo:after", "python app.py", timeout=5)
    assert ran.timed_out
    argv = runner.argv_of("run")
    name = argv[argv.index("--name") + 1]
    assert argv[argv.index("run"):] == ("run", "--rm", "--pull=never", "--name", name, "--entrypoint", "/bin/sh",
                                        "demo:after", "-c", "python app.py")
    assert runner.timeouts[argv] == 5
    assert runner.calls[-1][0][-3:] == ("rm", "--force", name)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_subprocess_runner_timeout_ends_what_the_program_started():
    # a shell that starts a long command and waits, as buildah run waits for the command it starts
    done = subprocess_runner(["sh", "-c", "sleep 60 & echo $!; wait"], timeout=1)
    assert done.timed_out and done.returncode == 124 and done.stderr.endswith("timed out after 1 s")
    pid = int(done.stdout.split()[0])  # the output so far is kept
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the sleep the shell started outlived the timeout"
    assert not subprocess_runner(["true"], timeout=5).timed_out


def test_buildah_builds_again_once_when_the_oci_runtime_fails_to_start_a_step(tmp_path):
    """runc's sealed copy of itself can fail with EBUSY under load (seen in the lab): not the Dockerfile's fault."""
    hiccup = (1, "STEP 1/3: FROM debian\nSTEP 2/3: RUN echo x > /f\n--> 1a2dbd0b8ce\nSTEP 3/3: RUN apt-get update\n",
              "Close_Fd sealing memfd copy: Device or resource busy\nsubprocess exited with status 1\n")
    runner = FakeRunner(hiccup, (0, BUILDAH_LOG))
    result = BuildahBuilder(tmp_path, runner=runner).build("Dockerfile", tmp_path, "localhost/demo")
    assert len(runner.calls) == 2 and runner.calls[0][0] == runner.calls[1][0]
    assert result.seconds == 3.0 and (result.cached_steps, result.built_steps) == (3, 2)  # the second log's steps
    assert "built again" in result.log and "sealing memfd" in result.log
    # twice in a row, or any other failure: the build fails, with every attempt's log
    runner = FakeRunner(hiccup, hiccup)
    with pytest.raises(BuildError) as info:
        BuildahBuilder(tmp_path, runner=runner).build("Dockerfile", tmp_path, "t")
    assert len(runner.calls) == 2 and info.value.log.count("sealing memfd") == 2
    runner = FakeRunner((1, "STEP 1/2: RUN false\n", "subprocess exited with status 1\n"), (0, BUILDAH_LOG))
    with pytest.raises(BuildError):
        BuildahBuilder(tmp_path, runner=runner).build("Dockerfile", tmp_path, "t")
    assert len(runner.calls) == 1
