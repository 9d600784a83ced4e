"""DFX501 multi-stage splits built for real: the original, the rewrite the code before issue 19 wrote (which fails
where it should), and today's rewrite (which builds and passes a smoke command in the runtime image).

Cases (each a build context written into the lab's work folder):

``python-debian``
    The new template: Python from apt on ``debian:bookworm-slim`` with ``build-essential`` and ``python3-dev``,
    ``pip3 install --break-system-packages --no-binary markupsafe`` (a C extension compiled in the image). The
    rewrite makes a virtualenv in the builder (adding ``python3-venv``) and installs only ``python3`` in the
    runtime: the extension imports there and there is no compiler. (Before, a finding: no rewrite to build.)
``mkdir-repeat``
    ``RUN mkdir /srv/uploads`` before the build: the old runtime stage repeated it after ``COPY --from=builder /srv
    /srv``, which already brings the folder, and the build failed ("File exists"); today's rewrite drops it.
``go-module-v2``
    ``go build`` without ``-o`` in module ``example.com/svc/v2`` writes ``/src/svc``: the old rewrite copied
    ``/src/v2``, which the build never produces (COPY fails); today's copies ``/src/svc``. The lab has no
    distroless image, so the runtime base is ``debian:bookworm-slim`` (the ``runtime-base`` setting).

Run with the lab set up (``eval "$(LAB=/tmp/dockerfix-lab bash scripts/lab-setup.sh env)"``)::

    nice python -m pytest tests/lab/test_multistage_cases.py -m lab
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dockerfix
from dockerfix.verify.builders import BuildError

pytestmark = pytest.mark.lab

TAG = "localhost/dockerfix-lab/multistage"


@dataclass
class Case:
    dockerfile: str
    files: dict[str, str]
    smoke: str
    """Runs in the image (``/bin/sh -c``); must exit 0 in the original and in today's rewrite."""
    old_rewrite: str | None = None
    """What DFX501 wrote before issue 19 (commit a0e0982): its build must fail. None: it wrote no rewrite."""
    old_error: str = ""
    """A piece of the old rewrite's build log that says why it failed."""
    settings: dict = field(default_factory=dict)


MARKUPSAFE = "markupsafe==2.1.5\n"
APP_PY = "import markupsafe._speedups\nprint('app ok')\n"

CASES: dict[str, Case] = {
    "python-debian": Case(
        dockerfile="""FROM debian:bookworm-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-dev build-essential \\
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip3 install --break-system-packages --no-cache-dir --no-binary markupsafe -r requirements.txt
COPY app.py .
CMD ["python3", "app.py"]
""",
        files={"requirements.txt": MARKUPSAFE, "app.py": APP_PY},
        smoke="python3 app.py",
    ),
    "mkdir-repeat": Case(
        dockerfile="""FROM python:3.11-slim
WORKDIR /srv
RUN mkdir /srv/uploads
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir --no-binary markupsafe -r requirements.txt
COPY app.py .
CMD ["python", "app.py"]
""",
        files={"requirements.txt": MARKUPSAFE, "app.py": APP_PY},
        smoke="python app.py && test -d /srv/uploads",
        old_rewrite="""FROM python:3.11-slim AS builder
WORKDIR /srv
RUN mkdir /srv/uploads
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN python -m venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv PATH="/opt/venv/bin:$PATH"
RUN pip install --no-cache-dir --no-binary markupsafe -r requirements.txt
COPY app.py .

FROM python:3.11-slim
ENV VIRTUAL_ENV=/opt/venv PATH="/opt/venv/bin:$PATH"
WORKDIR /srv
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /srv /srv
RUN mkdir /srv/uploads
CMD ["python", "app.py"]
""",
        old_error="building at STEP \"RUN mkdir /srv/uploads\": exit status 1",
    ),
    "go-module-v2": Case(
        dockerfile="""FROM golang:1.19
WORKDIR /src
COPY . .
RUN go build
CMD ["./svc"]
""",
        files={"go.mod": "module example.com/svc/v2\n\ngo 1.19\n",
               "main.go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("svc ok") }\n'},
        smoke="/src/svc",
        settings={"runtime-base": "debian:bookworm-slim"},
        old_rewrite="""FROM golang:1.19 AS builder
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build

FROM debian:bookworm-slim
WORKDIR /src
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /src/v2 /src/v2
USER 65532:65532
CMD ["./svc"]
""",
        old_error="v2",
    ),
}


def _context(lab, name: str) -> Path:
    ctx = lab.workdir / "contexts" / f"multistage-{name}"
    ctx.mkdir(parents=True, exist_ok=True)
    case = CASES[name]
    for rel, text in case.files.items():
        (ctx / rel).write_text(text)
    (ctx / "Dockerfile").write_text(case.dockerfile)
    return ctx


def _build(lab, name: str, variant: str, text: str, ctx: Path):
    df = ctx / f"Dockerfile.{variant}"
    df.write_text(text)
    tag = f"{TAG}-{name}:{variant}"
    result = lab.builder.build(df, ctx, tag)
    lab.timings.append({"what": f"build multistage-{name}:{variant}", "seconds": round(result.seconds, 1),
                        "cached_steps": result.cached_steps, "built_steps": result.built_steps})
    return tag


def _smoke(lab, tag: str, command: str) -> None:
    run = lab.builder.run(tag, command)
    assert run.ok, f"smoke `{command}` failed in {tag} ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"


@pytest.mark.parametrize("name", list(CASES))
def test_multistage_rewrite_builds_and_runs(lab, name):
    case = CASES[name]
    ctx = _context(lab, name)
    _smoke(lab, _build(lab, name, "orig", case.dockerfile, ctx), case.smoke)

    r = dockerfix.fix(case.dockerfile, select=["DFX501"], unsafe=True, context=str(ctx), settings=case.settings)
    assert [c for c in r.changes if c.code == "DFX501"], [f.reason for f in r.findings]
    assert r.text != case.old_rewrite
    tag = _build(lab, name, "split", r.text, ctx)
    _smoke(lab, tag, case.smoke)
    if name == "python-debian":
        # the runtime has python3 and the compiled extension, and none of the build toolchain (the only pip is the
        # virtualenv's)
        _smoke(lab, tag, "! command -v gcc && ! test -e /usr/bin/pip3 && ! test -e /usr/include/python3.11/Python.h"
                         " && test -x /opt/venv/bin/python3 && ls /opt/venv/lib/python3.11/site-packages/markupsafe/"
                         "_speedups*.so")


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.old_rewrite is not None])
def test_multistage_old_rewrite_fails(lab, name):
    case = CASES[name]
    ctx = _context(lab, name)
    with pytest.raises(BuildError) as exc:
        _build(lab, name, "old", case.old_rewrite, ctx)
    assert case.old_error in exc.value.log, exc.value.tail(30)
