"""Issue 19 (apt and hygiene part): the tool table's flag spellings, recommends and native-build questions."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.model.shell import parse_shell
from dockerfix.model.tools import base_has_package, native_build, tool_flag


def _cmd(src: str):
    return parse_shell(src).sites[0].command


def test_microdnf_weak_deps_flag_is_numeric_and_dnf_keeps_false():
    assert tool_flag("microdnf", "no-weak-deps") == "--setopt=install_weak_deps=0"
    assert tool_flag("dnf", "no-weak-deps") == "--setopt=install_weak_deps=False"
    assert tool_flag("yum", "no-weak-deps") is None  # yum 3 has no weak dependencies


@pytest.mark.parametrize("manager", ["dnf", "microdnf"])
def test_dnf_no_weak_deps_writes_the_table_spelling(manager):
    out = dockerfix.fix(f"FROM fedora:40\nRUN {manager} install -y tar\n", select=["DFX114"], unsafe=True).text
    assert f"{manager} install {tool_flag(manager, 'no-weak-deps')} -y tar" in out


@pytest.mark.parametrize("base, has", [
    ("python:3.12-slim", True), ("golang:1.22", True), ("node:20", True), ("node:20-slim", False),
    ("debian:bookworm-slim", False), ("ubuntu:24.04", False), ("example.com/own:1", False),
])
def test_base_ca_certificates(base, has):
    assert base_has_package(base, "ca-certificates") is has


@pytest.mark.parametrize("src, builds", [
    ("gcc -o x x.c", True), ("meson setup build", True), ("pip install psycopg2", True),
    ("pip install --only-binary=:all: numpy", False), ("npm ci --ignore-scripts", False), ("bundle install", True),
    ("CGO_ENABLED=0 go build ./...", False), ("go build ./...", True), ("cargo build --release", True),
    ("python3 setup.py install", True), ("sh ./build.sh", True), ("bash -c 'make all'", True), ("bash -ec \"$CMD\"", True),
    ("bash --version", False), ("curl -fsSL https://x", False), ("echo make", False),
])
def test_native_build(src, builds):
    assert (native_build(_cmd(src), {}) is not None) is builds
