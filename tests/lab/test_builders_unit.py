"""Builder plumbing with a fake runner: argv, environment, log parsing. No builder needed (not marked lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerfix.verify.builders import (
    BuildahBuilder,
    BuildError,
    DockerBuilder,
    PodmanBuilder,
    ProcessResult,
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


class FakeRunner:
    def __init__(self, *replies: ProcessResult | tuple[int, str]):
        self.replies = list(replies)
        self.calls: list[tuple[tuple[str, ...], dict | None]] = []

    def __call__(self, argv, *, env=None, cwd=None, timeout=None) -> ProcessResult:
        self.calls.append((tuple(argv), env))
        reply = self.replies.pop(0) if self.replies else (0, "")
        if isinstance(reply, ProcessResult):
            return reply
        code, out = reply
        return ProcessResult(tuple(argv), code, out, "" if code == 0 else "boom", 1.5)


def test_buildah_build_uses_the_lab_storage_and_settings(tmp_path):
    runner = FakeRunner((0, BUILDAH_LOG))
    builder = BuildahBuilder(tmp_path, runner=runner, base_env={"PATH": "/usr/bin"})
    result = builder.build(tmp_path / "Dockerfile", tmp_path, "localhost/demo", no_cache=True,
                           build_args={"V": "1"})
    argv, env = runner.calls[0]
    assert argv[:7] == ("buildah", "--root", str(tmp_path / "storage"), "--runroot", str(tmp_path / "run"),
                        "--storage-driver", "overlay")
    assert {"bud", "--pull=never", "--layers", "--no-cache", "V=1"} <= set(argv)
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
    assert runner.calls[3][0][-2:] == ("rm", "ctr-1")
    builder.remove("localhost/app:good")
    assert runner.calls[4][0][-3:] == ("rmi", "--force", "localhost/app:good")


def test_availability_follows_the_runner(tmp_path):
    assert not BuildahBuilder(tmp_path / "missing", runner=FakeRunner()).available()
    assert BuildahBuilder(tmp_path, runner=FakeRunner((0, ""))).available()
    assert not BuildahBuilder(tmp_path, runner=FakeRunner((125, ""))).available()
    assert not DockerBuilder(runner=FakeRunner((1, ""))).available()
    assert DockerBuilder(runner=FakeRunner((0, "20.10.24"))).available()
    assert not PodmanBuilder(tmp_path, runner=FakeRunner((127, ""))).available()


def test_capabilities(tmp_path):
    old = BuildahBuilder(tmp_path, runner=FakeRunner((0, "buildah version 1.28.2 (image-spec 1.1.0-rc2)")))
    assert old.capabilities.cache_mounts and old.capabilities.copy_chmod and not old.capabilities.heredocs
    assert old.capabilities.syntax_directive == "ignored"
    assert DockerBuilder(buildkit=True).capabilities.syntax_directive == "pulls"
    assert not DockerBuilder(buildkit=False).capabilities.supports("cache_mounts")


def test_docker_build_parses_buildkit_and_inspects_the_id(tmp_path):
    runner = FakeRunner((0, BUILDKIT_LOG), (0, "sha256:abc\n"))
    builder = DockerBuilder(runner=runner, base_env={})
    result = builder.build(Path("Dockerfile"), tmp_path, "demo")
    assert runner.calls[0][1]["DOCKER_BUILDKIT"] == "1" and "--progress=plain" in runner.calls[0][0]
    assert result.cached_steps == 1 and result.image_id == "abc"


def test_subprocess_runner_reports_missing_programs_and_timeouts():
    assert subprocess_runner(["/nonexistent/program"]).returncode == 127
    assert subprocess_runner(["sleep", "5"], timeout=0.2).returncode == 124
    done = subprocess_runner(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
