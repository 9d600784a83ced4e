"""DFX501 multi-stage and DFX502 build-tools-in-final-stage: helpers, no-ops and fixes (fixtures cover the rest)."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.model import ecosystems as eco
from dockerfix.syntax import parse


@pytest.mark.parametrize(("ref", "slim"), [
    ("python:3.11", "python:3.11-slim"),
    ("python:3.11-slim", "python:3.11-slim"),
    ("node:20-bookworm", "node:20-bookworm-slim"),
    ("node:18-alpine", "node:18-alpine"),
    ("node", "node:slim"),
    ("registry.local:5000/node:20", "registry.local:5000/node:20-slim"),
    ("python:3.11@sha256:" + "0" * 64, None),
])
def test_slim_variant(ref, slim):
    assert eco.slim_variant(ref) == slim


@pytest.mark.parametrize(("ref", "version"), [
    ("maven:3.9-eclipse-temurin-17", "17"),
    ("gradle:8.5-jdk21", "21"),
    ("eclipse-temurin:21-jdk-jammy", "21"),
    ("openjdk:11", "11"),
    ("maven:3.9", None),
])
def test_java_version(ref, version):
    assert eco.java_version(ref) == version


@pytest.mark.parametrize(("pkg", "build", "runtime"), [
    ("libpq-dev", True, "libpq5"),
    ("libxml2-dev", True, "libxml2"),
    ("libjpeg-dev", True, "libjpeg62-turbo"),
    ("libffi-dev", True, "libffi8"),
    ("libssl-dev", True, "libssl3"),
    ("libfoo-dev", True, None),
    ("build-essential", True, None),
    ("gcc-12", True, None),
    ("curl", False, None),
])
def test_package_classes(pkg, build, runtime):
    assert eco.is_build_package(pkg) is build
    assert eco.runtime_library(pkg, "apt-get") == runtime


NOOP_501 = [
    "FROM python:3.11-slim\nCOPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/a.py\"]\n",
    "FROM scratch\nCOPY app /app\n",
    "FROM golang:1.22 AS b\nRUN go build -o /x .\nFROM debian:bookworm-slim\nCOPY --from=b /x /x\n",
    # the toolchain is removed in the same stage: nothing ships
    "FROM python:3.12-alpine\nRUN apk add --no-cache --virtual .deps gcc musl-dev && pip install uwsgi "
    "&& apk del .deps\nCMD [\"uwsgi\"]\n",
    "# escape=`\nFROM golang:1.22\nRUN go build -o C:\\x.exe .\n",
]


@pytest.mark.parametrize("text", NOOP_501)
def test_multi_stage_noop(text):
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    assert r.text == text
    assert not [c for c in r.findings if c.code == "DFX501"]


def test_multi_stage_is_unsafe_and_idempotent():
    text = "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /bin/app .\nCMD [\"/bin/app\"]\n"
    safe = dockerfix.fix(text, select=["DFX501"])
    assert safe.text == text and [c for c in safe.findings if c.code == "DFX501" and c.fixable]
    r = dockerfix.fix(text, select=["all"], unsafe=True)
    assert not r.errors
    assert r.text.count("FROM ") == 2 and "COPY --from=builder /bin/app /bin/app" in r.text
    assert parse(r.text).to_text() == r.text
    assert dockerfix.fix(r.text, select=["all"], unsafe=True).text == r.text


def test_multi_stage_crlf_and_named_final_stage():
    text = "FROM golang:1.22 AS app\r\nRUN go build -o /app .\r\nCMD [\"/app\"]\r\n"
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    assert "\n" not in r.text.replace("\r\n", "")
    assert "FROM golang:1.22 AS builder\r\n" in r.text
    assert "AS app\r\n" in r.text.split("builder", 1)[1]  # the runtime keeps the name --target uses


def test_multi_stage_runtime_base_setting():
    text = "FROM golang:1.19\nRUN go build -o /usr/local/bin/app .\nCMD [\"app\"]\n"
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True, settings={"runtime-base": "debian:bookworm-slim"})
    assert "\nFROM debian:bookworm-slim\n" in r.text
    assert "COPY --from=builder /etc/ssl/certs/ca-certificates.crt" in r.text


def test_multi_stage_pip_user_is_a_finding():
    text = ("FROM python:3.11\nRUN apt-get update && apt-get install -y gcc\nRUN pip install --user x\n"
            'CMD ["python", "-m", "x"]\n')
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    assert r.text == text
    (f,) = [c for c in r.findings if c.code == "DFX501"]
    assert not f.fixable and "--user" in f.reason


def test_build_tools_noop_when_tools_removed_in_builder_only():
    text = ("FROM debian:bookworm AS b\nRUN apt-get install -y gcc\n"
            "FROM debian:bookworm-slim\nRUN apt-get install -y curl\n")
    r = dockerfix.fix(text, select=["DFX502"], unsafe=True)
    assert r.text == text and not r.findings


def test_build_tools_continuation_line_word():
    text = ("FROM x AS b\nRUN true\nFROM debian:bookworm-slim\n"
            "RUN apt-get install -y \\\n    curl \\\n    gcc \\\n    ca-certificates\n")
    r = dockerfix.fix(text, select=["DFX502"], unsafe=True)
    assert "gcc" not in r.text and "    curl \\\n    ca-certificates\n" in r.text.replace("     \\", " \\")


# ---------------------------------------------------------------------------------------------- DFX501 stage names
# `docker build --target NAME` must keep building what it built: the new builder stage never takes a name the file
# already uses (a stage's, compared case-insensitively as BuildKit does, or an image / named context a `FROM`,
# `--from` or `--mount=from=` reads), and the final stage's name moves to the runtime stage.

FINAL_NAMES = [None, "build", "builder", "Builder", "BUILD", "builder-stage", "app"]
EARLIER_NAMES = [(), ("builder",), ("Build",), ("builder", "BUILD", "Builder-Stage"), ("builder-2", "builder")]
OUTSIDE_REFS = [None, ("copy", "builder"), ("from", "build"), ("mount", "BUILDER"), ("arg", "builder-stage")]


def _names_case(final: str | None, earlier: tuple[str, ...], ref: tuple[str, str] | None) -> str:
    lines = []
    if ref and ref[0] == "arg":
        lines.append(f"ARG TOOLS={ref[1]}")
    if ref and ref[0] == "from":
        lines += [f"FROM {ref[1]} AS assets", "RUN true"]
    for i, name in enumerate(earlier):
        lines += [f"FROM alpine:3.19 AS {name}", f"RUN echo {i} > /f{i}"]
    lines += ["FROM golang:1.22" + (f" AS {final}" if final else ""), "WORKDIR /src", "COPY . ."]
    lines += [f"COPY --from={name} /f{i} /f{i}" for i, name in enumerate(earlier)]
    if ref and ref[0] == "from":
        lines.append("COPY --from=assets /assets ./assets")
    if ref and ref[0] == "copy":
        lines.append(f"COPY --from={ref[1]} /assets ./assets")
    if ref and ref[0] == "arg":
        lines += ["ARG TOOLS", "COPY --from=${TOOLS} /gen ./gen"]
    mount = f"--mount=type=bind,from={ref[1]},source=/gen,target=/src/gen " if ref and ref[0] == "mount" else ""
    lines += [f"RUN {mount}go build -o /out/server .", 'CMD ["/out/server"]']
    return "\n".join(lines) + "\n"


def _stage_names(text: str) -> list[str | None]:
    """Stage names as written (None for an unnamed stage), in order."""
    from dockerfix.model.stages import Model

    return [s.from_inst.args[2] if s.name else None for s in Model(parse(text)).stages]


def _valid_names_cases():
    """Combinations BuildKit accepts: no duplicate stage name, no stage reading its own name, and a `FROM` of an
    outside name that no stage has (else it would read that stage)."""
    for final in FINAL_NAMES:
        for earlier in EARLIER_NAMES:
            names = {n.lower() for n in earlier}
            if final and final.lower() in names:
                continue
            for ref in OUTSIDE_REFS:
                if ref and ref[1].lower() == (final or "").lower():
                    continue
                if ref and ref[0] == "from" and ref[1].lower() in names:
                    continue
                yield pytest.param(final, earlier, ref, id=f"{final or 'unnamed'}|{','.join(earlier) or 'single'}|"
                                                          + ("=".join(ref) if ref else "no-ref"))


@pytest.mark.parametrize(("final", "earlier", "ref"), list(_valid_names_cases()))
def test_multi_stage_names_never_collide_and_targets_keep_their_image(final, earlier, ref):
    text = _names_case(final, earlier, ref)
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    assert r.changed and not r.errors, text
    before, after = _stage_names(text), _stage_names(r.text)
    assert len(after) == len(before) + 1
    assert after[:-2] == before[:-1], "earlier stages keep their names, spelling and positions"
    assert after[-1] == final, "the final stage's name (as written) now names the runtime stage"
    builder = after[-2]
    taken = {n.lower() for n in before if n} | ({ref[1].lower()} if ref else set())
    assert builder and builder.lower() not in taken, (builder, taken)
    lowered = [n.lower() for n in after if n]
    assert len(lowered) == len(set(lowered)), f"stage names collide: {after}"
    runtime = r.text.split(f" AS {builder}\n", 1)[1].split("\nFROM ", 1)[1]
    froms = [w.split("=", 1)[1] for w in runtime.split() if w.startswith("--from=")]
    assert froms and set(froms) == {builder}, runtime
    if ref:  # the image or named context the file read is still no stage
        assert ref[1].lower() not in lowered or ref[1].lower() in {n.lower() for n in before if n}


def test_multi_stage_message_says_where_the_final_stage_name_went():
    text = "FROM golang:1.22 AS builder\nRUN go build -o /app .\nCMD [\"/app\"]\n"
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    (c,) = [c for c in r.changes if c.code == "DFX501"]
    assert "FROM golang:1.22 AS build\n" in r.text and "AS builder\n" in r.text.split("AS build\n", 1)[1]
    assert "`builder` now names the runtime stage, so `--target builder` still builds the final image; " \
           "the build environment is `build`" in c.message


def test_multi_stage_unnamed_final_stage_stays_unnamed():
    text = "FROM golang:1.22\nRUN go build -o /app .\nCMD [\"/app\"]\n"
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    assert _stage_names(r.text) == ["builder", None]
    (c,) = [c for c in r.changes if c.code == "DFX501"]
    assert "--target" not in c.message


# ---------------------------------------------------------------------------------------------- DFX501 system Python
SYSTEM_PY = ("FROM debian:12\nWORKDIR /app\nRUN apt-get update && apt-get install -y python3 python3-pip {extra}"
             "build-essential\nCOPY . .\nRUN pip3 install --break-system-packages -r requirements.txt\n"
             'CMD ["python3", "app.py"]\n')


@pytest.mark.parametrize(("extra", "reason"), [
    ("python3-numpy ", "Python libraries from apt (python3-numpy) are not visible in the virtualenv"),
])
def test_multi_stage_system_python_findings(extra, reason):
    text = SYSTEM_PY.format(extra=extra)
    r = dockerfix.fix(text, select=["DFX501"], unsafe=True)
    assert r.text == text
    (f,) = [c for c in r.findings if c.code == "DFX501"]
    assert f.reason == reason


def test_multi_stage_system_python_runtime_has_python3_and_no_pip():
    r = dockerfix.fix(SYSTEM_PY.format(extra="python3-venv "), select=["DFX501"], unsafe=True)
    runtime = r.text.split("\n\nFROM ", 1)[1]
    assert "install -y --no-install-recommends python3 && rm" in runtime
    assert "python3-pip" not in runtime and "build-essential" not in runtime
    assert "python3-venv python3-venv" not in r.text, "python3-venv is not added twice"
    assert "RUN python3 -m venv /opt/venv\n" in r.text
    assert dockerfix.fix(r.text, select=["DFX501"], unsafe=True).text == r.text


def test_multi_stage_go_exec_name():
    from dockerfix.transforms.multi_stage import _go_exec_name

    assert _go_exec_name("example.com/svc/v2") == "svc"
    assert _go_exec_name("example.com/svc/v1") == "v1"
    assert _go_exec_name("example.com/svc") == "svc"
    assert _go_exec_name("./cmd/server") == "server"
    assert _go_exec_name("v3") == "v3"


def test_the_pre_check_never_hides_a_build_detection_would_find():
    """``_may_build`` lets most stages skip the analysis; on every corpus file, a final stage it skips is one
    ``detect`` finds nothing in."""
    from tests.corpus import corpus_files, read_text, require_corpus

    require_corpus()
    from dockerfix.syntax import DockerfileSyntaxError, parse
    from dockerfix.transforms import multi_stage as ms
    from dockerfix.transforms.base import Context

    checked = 0
    for p in corpus_files():
        try:
            doc = parse(read_text(p))
        except (DockerfileSyntaxError, UnicodeDecodeError):
            continue
        ctx = Context(doc)
        for stage in ctx.model.stages:
            if not ms._may_build(ctx, stage):
                checked += 1
                assert ms.detect(ms.Analysis(ctx, stage)) is None, (p, stage.index)
    assert checked > 100
