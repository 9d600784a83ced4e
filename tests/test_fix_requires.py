"""Fixes that need another fix of the same pass (``Fix.requires``), and the pass count they keep flat.

Under the cache-mount strategy a RUN that reads back a cache an earlier RUN of its stage fills (``go build`` after
``go mod download``) may take a mount only together with that RUN's mount. It used to wait for the next pass (the
earlier RUN's fix had to be applied first), so N such RUNs took N passes, and from 12 on the engine's bound stopped
with "fixes did not settle" and a half-fixed file. Now the reader's fix requires the earlier one's: one pass, and the
engine, the outputs and the language server never apply it alone. A reader that reads offline (``--offline``,
``--no-restore``) is refused instead, with the RUN that fills the cache: mounts on both only work while the builder's
cache mount is warm (tests/lab/test_safety_cases.py, case ``npm-offline-same-stage``).
"""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix import lsp
from dockerfix.engine import _choose, withhold_unmet
from dockerfix.syntax import parse
from dockerfix.transforms.base import Applicability, Diagnostic, Edit, Fix

HEAD = "# syntax=docker/dockerfile:1\n"

# (block repeated N times, how many RUNs per block take a mount in a safe run, in an unsafe run)
BLOCKS = {
    "go build": ("FROM golang:1.22 AS build\n", "RUN go build -o /out/a{k} ./cmd/a{k}\n"),
    "go download + build": ("FROM golang:1.22 AS build\n",
                            "COPY m{k}/go.mod m{k}/\nRUN go mod download\nRUN go build -mod=mod ./...\n"),
    "cargo build": ("FROM rust:1.75 AS build\n", "RUN cargo build --release -p c{k}\n"),
    "mvn package": ("FROM maven:3.9 AS build\n", "RUN mvn -q package -pl m{k}\n"),
    "npm ci --offline": ("FROM node:20 AS build\n", "COPY p{k}/package.json p{k}/\nRUN cd p{k} && npm ci --offline\n"),
    "yarn --offline": ("FROM node:20 AS build\n", "RUN yarn install --offline\n"),
    "cargo --offline": ("FROM rust:1.75 AS build\n", "RUN cargo build --offline -p c{k}\n"),
    "mvn -o": ("FROM maven:3.9 AS build\n", "RUN mvn -o package -pl m{k}\n"),
    "gradle --offline": ("FROM gradle:8 AS build\n", "RUN gradle build --offline\n"),
    "dotnet --no-restore": ("FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build\n",
                            "RUN dotnet restore && dotnet build --no-restore\n"),
}


def _file(name: str, n: int, final: bool) -> str:
    first, block = BLOCKS[name]
    body = HEAD + first + "".join(block.format(k=k) for k in range(n))
    if not final:
        body += "FROM scratch\nCOPY --from=build /out /out\n"
    return body


@pytest.mark.parametrize("final", [False, True], ids=["build-stage", "final-stage"])
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_reading_back_a_cache_does_not_add_a_pass_per_run(name, final):
    """20 RUNs reading back what the one before filled settle in one pass and a confirming one, safe and --unsafe
    (before: one pass per RUN, and at 12 the bound: "fixes did not settle")."""
    text = _file(name, 20, final)
    for unsafe in (False, True):
        r = dockerfix.fix(text, unsafe=unsafe)
        assert not r.errors, (name, unsafe, r.errors)
        assert r.passes <= 2, (name, unsafe, r.passes)
        again = dockerfix.fix(r.text, unsafe=unsafe)
        assert not again.changes, (name, unsafe)  # the fixed point: nothing left for a later pass


def test_store_readers_all_take_their_mounts_in_the_first_pass():
    text = _file("go download + build", 6, final=False)
    r = dockerfix.fix(text)
    mounted = [c for c in r.changes if c.code == "DFX202"]
    assert len(mounted) == 12 and {c.pass_index for c in mounted} == {0}
    assert r.text.count("--mount=type=cache,target=/go/pkg/mod") == 12


def test_offline_readers_and_what_they_read_get_no_mount():
    text = HEAD + "FROM node:20 AS build\nRUN npm ci\nCOPY . .\nRUN npm ci --offline\nFROM scratch\nCOPY --from=build /app /app\n"
    for unsafe in (False, True):
        r = dockerfix.fix(text, unsafe=unsafe)
        assert r.text == text
        reasons = {f.line: f.reason for f in r.findings if f.code == "DFX202"}
        assert "line 5 reads /root/.npm back offline" in reasons[3]
        assert "RUN on line 3 fills /root/.npm" in reasons[5]


def test_the_reader_keeps_the_unsafety_of_the_mount_it_needs():
    text = HEAD + "FROM golang:1.22\nRUN go mod download\nRUN go build -o /app .\nCMD [\"/app\"]\n"
    assert dockerfix.fix(text, select=["DFX202"]).text == text  # the store leaves the final stage: unsafe, both
    r = dockerfix.fix(text, unsafe=True, select=["DFX202"])
    assert r.text.count("target=/go/pkg/mod") == 2 and r.passes == 2


def test_a_suppressed_mount_withholds_the_mount_that_needs_it():
    text = (HEAD + "FROM golang:1.22 AS b\n# dockerfix: ignore=DFX202\nRUN go mod download\nRUN go build -o /app .\n"
            "FROM scratch\nCOPY --from=b /app /app\n")
    r = dockerfix.fix(text)
    assert r.text == text
    (f,) = [f for f in r.findings if f.code == "DFX202"]
    assert f.line == 5 and not f.fixable and "goes with the DFX202 fix on line 4" in f.reason
    r = dockerfix.fix(text, ignore=["DFX202"])
    assert r.text == text and not r.findings


# ------------------------------------------------------------------------------------------------ the engine's rule


def _diag(code: str, start: int, edits: list[Edit], requires=(), unsafe=False) -> Diagnostic:
    fix = Fix(tuple(edits), Applicability.UNSAFE if unsafe else Applicability.SAFE, "t", requires=tuple(requires))
    return Diagnostic(code, "n", "m", start, start + 1, fix)


def test_withhold_unmet_follows_requirements_transitively():
    text = "FROM a\nRUN x\nRUN y\nRUN z\n"
    a = _diag("DFX202", 7, [Edit(7, 7, "A")])
    b = _diag("DFX202", 13, [Edit(13, 13, "B")], requires=[7])
    c = _diag("DFX202", 19, [Edit(19, 19, "C")], requires=[13])
    assert withhold_unmet([a, b, c], text) == [a, b, c]
    out = withhold_unmet([b, c], text)  # a is gone (suppressed): b loses its fix, and c, which needs b
    assert [d.fix for d in out] == [None, None]
    assert "fix on line 2" in out[0].reason and "fix on line 3" in out[1].reason
    ua = _diag("DFX202", 7, [Edit(7, 7, "A")], unsafe=True)
    assert withhold_unmet([ua, b], text, unsafe=False)[1].fix is None  # a safe run does not apply a's fix
    assert withhold_unmet([ua, b], text, unsafe=True)[1].fix is b.fix
    other = _diag("DFX999", 7, [Edit(7, 7, "A")])
    assert withhold_unmet([other, b], text)[1].fix is None  # only the same transform's fix counts


def test_choose_takes_a_fix_only_with_the_fixes_it_requires():
    doc = parse("FROM a\nRUN x\nRUN y\n")
    blocker = _diag("DFX100", 7, [Edit(7, 12, "RUN w")])  # an earlier transform's fix on the same RUN
    a = _diag("DFX202", 7, [Edit(11, 11, "m ")])
    b = _diag("DFX202", 13, [Edit(17, 17, "m ")], requires=[7])
    chosen = _choose([blocker, a, b], doc)[0]
    assert chosen == [blocker]  # a overlaps the blocker, so b waits for the pass that takes a
    assert _choose([a, b], doc)[0] == [a, b]


def test_language_server_quick_fix_carries_the_required_mount(tmp_path):
    text = (HEAD + "FROM golang:1.22 AS b\nRUN go mod download\nRUN go build -o /app .\n"
            "FROM scratch\nCOPY --from=b /app /app\n")
    a = lsp.analyze(text, str(tmp_path / "Dockerfile"))
    build = [f for f in a.findings if f.code == "DFX202" and a.text[f.start:f.end].startswith("go build")]
    assert len(build) == 1 and build[0].fix.requires
    acts = [x for x in lsp.code_actions(a, "u", 3, 3, ["quickfix"]) if "DFX202" in x["title"]]
    assert len(acts) == 1
    edits = acts[0]["edit"]["changes"]["u"]
    assert sorted(e["range"]["start"]["line"] for e in edits) == [2, 3]  # both RUNs get their mount
    fixed = dockerfix.fix(text).text
    assert fixed.count("target=/go/pkg/mod") == 2


# ---------------------------------------------------------------------- generated files: one pass, a fixed point

from hypothesis import given, settings as hsettings, strategies as hst  # noqa: E402

_LINES = ["RUN go mod download", "RUN go build -o /out/a .", "RUN GOPROXY=off go build ./...", "RUN npm ci",
          "RUN npm ci --offline", "RUN npm ci --prefer-offline", "RUN cargo fetch", "RUN cargo build --offline",
          "RUN cargo build", "COPY . .", "COPY --from=s0 /root/.npm /root/.npm", "COPY --from=s0 /go/pkg/mod /go/pkg/mod",
          "RUN dotnet restore", "RUN dotnet build --no-restore", "RUN dotnet restore && dotnet build --no-restore",
          "RUN mvn dependency:go-offline", "RUN mvn -o package", "RUN mvn package", "# dockerfix: ignore=DFX202",
          "USER node", "USER 1000", "ENV GOFLAGS=-mod=mod", "RUN apt-get update && apt-get install -y curl",
          "RUN --mount=type=cache,target=/root/.npm npm ci", "WORKDIR /w", "ONBUILD RUN npm ci --offline"]
_BASES = ["golang:1.22", "node:20", "rust:1.75", "maven:3.9", "mcr.microsoft.com/dotnet/sdk:8.0", "s0"]


@hsettings(max_examples=60, deadline=None)
@given(hst.lists(hst.tuples(hst.sampled_from(_BASES), hst.lists(hst.sampled_from(_LINES), min_size=1, max_size=7)),
                 min_size=1, max_size=3))
def test_generated_cache_files_settle_in_one_pass_and_stay_fixed(stages):
    """Files mixing fillers, store and offline readers, copies out of a stage, suppressions and author mounts under
    the cache-mount strategy: no error, at most one fixing pass before the confirming one (three with a merge), and
    a second run changes nothing."""
    lines = [HEAD.rstrip("\n")]
    for k, (base, body) in enumerate(stages):
        lines.append(f"FROM {base if base != 's0' or k else 'node:20'} AS s{k}")
        lines.extend(body)
    text = "\n".join(lines) + "\n"
    for unsafe in (False, True):
        r = dockerfix.fix(text, unsafe=unsafe)
        assert not r.errors and r.passes <= 3, (r.errors, r.passes, text)
        assert not dockerfix.fix(r.text, unsafe=unsafe).changes, (unsafe, text)
