"""The model of the build's state: OS and shell, USER/HOME/WORKDIR, what a path may hold, which stages ship.

Each answer is checked both ways (known and unknown), since a transform's safety rests on the unknown cases."""

from __future__ import annotations

import pytest

from dockerfix.model.stages import Model
from dockerfix.syntax import parse


_ALIVE: list = []


def state(text: str):
    doc = parse(text)
    m = Model(doc)
    _ALIVE[:] = [m]  # the state refers to its model weakly (no reference cycle): keep the model alive
    return m.state, [i for i in doc.iter_instructions()]


def last(text: str):
    st, insts = state(text)
    return st, insts[-1]


@pytest.mark.parametrize("text, dialect", [
    ("FROM debian\nRUN a\n", "posix"),
    ("FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN a\n", "cmd"),
    ("FROM microsoft/iis\nRUN a\n", "cmd"),
    ("FROM python:3.12-windowsservercore-ltsc2022\nRUN a\n", "cmd"),
    ("FROM --platform=windows/amd64 example/x\nRUN a\n", "cmd"),
    ("ARG P=windows/amd64\nFROM --platform=$P example/x\nRUN a\n", "cmd"),
    ("# escape=`\nFROM example/x\nRUN a\n", "cmd"),
    ("# escape=`\nFROM debian:bookworm\nRUN a\n", "posix"),
    ("# hadolint shell=powershell\nFROM example/x\nRUN a\n", "powershell"),
    ("# hadolint shell=bash\nFROM example/x\nRUN a\n", "posix"),
    ("FROM debian\nSHELL [\"pwsh\", \"-c\"]\nRUN a\n", "powershell"),
    ("FROM debian\nSHELL [\"cmd\", \"/S\", \"/C\"]\nRUN a\n", "cmd"),
    ("FROM microsoft/iis\nSHELL [\"bash\", \"-c\"]\nRUN a\n", "posix"),
    ("FROM debian AS a\nSHELL [\"pwsh\", \"-c\"]\nFROM a\nRUN x\n", "powershell"),
    ("FROM --platform=windows/amd64 example/x AS a\nFROM a\nRUN x\n", "cmd"),
])
def test_shell_dialect(text, dialect):
    st, inst = last(text)
    sh = st.shell_at(inst)
    assert sh.dialect == dialect
    assert (sh.reason is None) == (dialect == "posix")


def test_shell_before_the_shell_instruction_is_the_default():
    st, insts = state("FROM debian\nRUN a\nSHELL [\"pwsh\", \"-c\"]\nRUN b\n")
    assert st.shell_at(insts[1]).is_posix
    assert not st.shell_at(insts[3]).is_posix


@pytest.mark.parametrize("text", [
    "FROM debian\nRUN a\n# hadolint shell=powershell\nRUN b\n",  # a pragma between the RUNs
    "FROM debian AS s\nRUN a\nSHELL [\"pwsh\", \"-c\"]\nFROM s\nRUN b\n",  # the next stage inherits the SHELL
])
def test_a_stage_default_shell_is_not_kept_for_runs_a_later_shell_governs(text):
    # the default shell is kept per stage only where nothing in the stage, its chain or the file sets another: the
    # first RUN asked first must not make the second one default too
    st, insts = state(text)
    runs = [i for i in insts if i.keyword == "RUN"]
    assert st.shell_at(runs[0]).is_posix
    assert st.shell_at(runs[1]).dialect == "powershell"


@pytest.mark.parametrize("text, user, home", [
    ("FROM python:3.12\nRUN a\n", "root", "/root"),
    ("FROM scratch\nRUN a\n", "root", "/root"),
    ("FROM example.com/team/base\nRUN a\n", None, None),
    ("FROM example.com/team/base\nUSER root\nRUN a\n", "root", "/root"),
    ("FROM node:20\nUSER node\nRUN a\n", "node", "/home/node"),
    ("FROM python:3.12\nUSER app\nRUN a\n", "app", None),
    ("FROM python:3.12\nUSER app\nENV HOME=/home/app\nRUN a\n", "app", "/home/app"),
    ("FROM python:3.12\nARG U\nUSER $U\nRUN a\n", None, None),
    ("FROM python:3.12 AS a\nUSER 1001\nFROM a\nRUN x\n", "1001", None),
])
def test_user_and_home(text, user, home):
    st, inst = last(text)
    assert st.user_at(inst) == user
    assert st.home_at(inst) == home


def test_uid():
    st, inst = last("FROM node:20\nUSER node\nRUN a\n")
    assert st.uid_at(inst) == ("1000", "1000")
    st, inst = last("FROM python:3.12\nUSER 1001:1002\nRUN a\n")
    assert st.uid_at(inst) == ("1001", "1002")
    st, inst = last("FROM python:3.12\nUSER app\nRUN a\n")
    assert st.uid_at(inst) is None


@pytest.mark.parametrize("text, cwd", [
    ("FROM python:3.12\nRUN a\n", "/"),
    ("FROM python:3.12\nWORKDIR /app\nWORKDIR src\nRUN a\n", "/app/src"),
    ("FROM example.com/x\nRUN a\n", None),
    ("FROM example.com/x\nWORKDIR /srv\nRUN a\n", "/srv"),
    ("FROM example.com/x\nWORKDIR srv\nRUN a\n", None),
    ("FROM python:3.12 AS a\nWORKDIR /w\nFROM a\nRUN a\n", "/w"),
])
def test_workdir(text, cwd):
    st, inst = last(text)
    assert st.workdir_at(inst) == cwd


def test_contents_of_a_package_directory():
    st, inst = last("FROM alpine:3.19\nRUN apk add privoxy\nCOPY c /etc/privoxy/config\nRUN chown -R p /etc/privoxy\n")
    c = st.contents("/etc/privoxy", inst)
    assert not c.is_empty
    assert any("package install" in f.what for f in c.fillers) and any(f.line == 0 for f in c.fillers)


def test_contents_of_an_app_directory():
    st, inst = last("FROM python:3.12\nRUN apt-get install -y curl\nRUN a\n")
    assert st.contents("/app", inst).is_empty
    assert st.contents("/srv/app", inst).is_empty
    st, inst = last("FROM example.com/base\nRUN a\n")
    assert st.contents("/app", inst).unknown is not None  # an unknown base may hold anything
    st, inst = last("FROM scratch\nCOPY x /app/\nRUN a\n")
    c = st.contents("/app", inst)
    assert [f.line for f in c.fillers] == [2]


def test_contents_from_parent_stage_and_fill_callback():
    text = "FROM rust:1 AS base\nRUN cargo fetch\nFROM base\nRUN cargo build --offline\n"
    st, inst = last(text)
    c = st.contents("/usr/local/cargo/registry", inst, include_base=False,
                    fills=lambda i: ["/usr/local/cargo/registry"] if "fetch" in i.source else [])
    assert [f.line for f in c.fillers] == [2]
    c = st.contents("/usr/local/cargo/registry", inst, include_base=False, fills=lambda i: [])
    assert c.is_empty


def test_unreadable_run_makes_contents_unknown():
    st, inst = last("FROM python:3.12\nRUN [\"sh\", \"-c\", \"cp -r x /app\"]\nRUN a\n")
    assert st.contents("/app", inst).unknown is not None


@pytest.mark.parametrize("text, index, ships", [
    ("FROM a AS b\nRUN x\nFROM c\nCOPY --from=b /x /x\n", 0, False),
    ("FROM a AS b\nRUN x\nFROM c\nCOPY --from=b /x /x\n", 1, True),
    ("FROM a AS b\nRUN x\nFROM b\nRUN y\n", 0, True),
    ("FROM a AS dev\nRUN x\nFROM c AS prod\nRUN y\n", 0, True),
    ("FROM a AS b\nRUN x\nFROM c\nRUN --mount=from=b,target=/b y\n", 0, False),
    ("FROM a AS b\nRUN x\nFROM c\nARG S\nCOPY --from=$S /x /x\n", 0, True),
])
def test_ships(text, index, ships):
    st, _ = state(text)
    assert st.ships(st.model.stages[index])[0] is ships


def test_copied_out_names_what_later_stages_read_out_of_a_stage():
    m = Model(parse(
        "FROM node:20 AS deps\nRUN npm ci\n"
        "FROM node:20 AS mid\nCOPY --from=deps /root/.npm/ /cache\nCOPY --from=node:20 /usr/local /usr/local\n"
        "RUN --mount=from=deps,target=/d ls /d\nRUN --mount=type=bind,from=0,source=/app/*.json,target=/j true\n"
        "FROM node:20 AS last\nARG WHICH\nCOPY --from=${WHICH} /root /root\nCOPY --from=$WHICH /root /again\n"))
    deps, mid, last = m.stages
    got = [(i.start_line, src, named) for i, src, named in m.state.copied_out(deps)]
    # the stage's own copies (an image's is not), a mount's source ("/" when not given, a glob cut at its folder),
    # and the copies through a hidden --from in later stages, once per source
    assert got == [(4, "/root/.npm", True), (6, "/", True), (7, "/app", True), (10, "/root", False)]
    assert [(i.start_line, src, named) for i, src, named in m.state.copied_out(mid)] == [(10, "/root", False)]
    assert m.state.copied_out(last) == []
