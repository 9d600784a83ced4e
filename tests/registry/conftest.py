from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_harness import FaultServer, Registry, push_content, start_registry

from dockerfix.registry.config import RegistryConfig, ResolverConfig
from dockerfix.registry.resolver import RegistryResolver

REPOSITORIES = ("library/busybox", "team/app/nested")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the real ~/.docker or writes the real ~/.cache."""
    docker_dir = tmp_path / "docker-config"
    docker_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return docker_dir


@pytest.fixture
def docker_config(_isolated_env: Path):
    """Write ``$DOCKER_CONFIG/config.json``."""

    def write(data: dict) -> Path:
        path = _isolated_env / "config.json"
        path.write_text(json.dumps(data))
        return path

    return write


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_resolver(tmp_path: Path, sleeps: list[float]):
    """A resolver with a private cache file, short timeouts and a recording (non-)sleep."""

    def make(registries: dict[str, RegistryConfig] | None = None, *, resolver_kw: dict | None = None, **config_kw):
        config_kw.setdefault("cache_path", tmp_path / "digest-cache.json")
        config_kw.setdefault("timeout", 5.0)
        config = ResolverConfig(registries=registries or {}, **config_kw)
        return RegistryResolver(config, sleep=sleeps.append, **(resolver_kw or {}))

    return make


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.stop()


# ------------------------------------------------------------------------------------ real registries
def _require(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed (apt-get install {package})")


@pytest.fixture(scope="session")
def _registry_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registries")


def _registry(root: Path, mode: str) -> Iterator[Registry]:
    _require("docker-registry", "docker-registry")
    _require("openssl", "openssl")
    if mode == "tls":
        _require("htpasswd", "apache2-utils")
    registry = start_registry(root / mode, mode)
    try:
        for repository in REPOSITORIES:
            push_content(registry, repository)
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def plain_registry(_registry_root: Path) -> Iterator[Registry]:
    yield from _registry(_registry_root, "plain")


@pytest.fixture(scope="session")
def tls_registry(_registry_root: Path) -> Iterator[Registry]:
    yield from _registry(_registry_root, "tls")


@pytest.fixture(scope="session")
def token_registry(_registry_root: Path) -> Iterator[Registry]:
    yield from _registry(_registry_root, "token")


@pytest.fixture(params=["plain", "tls", "token"])
def any_registry(request: pytest.FixtureRequest) -> Registry:
    return request.getfixturevalue(f"{request.param}_registry")
