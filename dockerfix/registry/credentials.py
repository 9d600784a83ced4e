"""Registry credentials from Docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``).

Lookup for a host, as the docker CLI does it: a ``credHelpers`` entry for the host wins, else
``credsStore``, else the ``auths`` entry (``auth`` = base64 ``user:password``, or ``username`` +
``password``, or ``identitytoken``). A helper's answer is final, as in the docker CLI. Helpers run as
``docker-credential-<name> get`` behind an injectable function, so tests never spawn one.

Credentials are looked up for the host actually contacted: with a mirror endpoint configured for
``docker.io``, Docker Hub's credentials are never sent to the mirror.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerfix.model.imageref import (
    DEFAULT_DOMAIN,
    DOCKER_HUB_API_HOST,
    LEGACY_DEFAULT_DOMAIN,
)

from .errors import CredentialsError

__all__ = [
    "Credentials",
    "CredentialsProvider",
    "DockerConfigCredentials",
    "HelperRunner",
    "docker_config_dir",
    "run_credential_helper",
]

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
_DOCKER_HUB_HOSTS = {DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API_HOST}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    identity_token: str | None = None  # OAuth2 refresh token (``identitytoken`` / helper ``<token>``)

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r}, password=***, identity_token={'***' if self.identity_token else None})"


CredentialsProvider = Callable[[str], "Credentials | None"]
"""host[:port] -> credentials or None."""

HelperRunner = Callable[[str, str], "Mapping[str, Any] | None"]
"""(helper name, server URL) -> the helper's JSON answer (``Username``, ``Secret``) or None when it has none."""


def docker_config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path.home() / ".docker"


def run_credential_helper(helper: str, server: str, *, timeout: float = 30.0) -> Mapping[str, Any] | None:
    """Run ``docker-credential-<helper> get`` with ``server`` on stdin."""
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run(
            [program, "get"], input=server, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise CredentialsError(f"credential helper {program} is not installed (configured in Docker config.json)") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"credential helper {program} did not answer within {timeout:g}s") from None
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).strip()
        if "credentials not found" in text.lower():
            return None
        raise CredentialsError(f"credential helper {program} failed (exit {proc.returncode}): {text[:200]}")
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        raise CredentialsError(f"credential helper {program} printed something that is not JSON") from None
    if not isinstance(answer, dict):
        raise CredentialsError(f"credential helper {program} printed JSON that is not an object")
    return answer


def _hostname_of(key: str) -> str:
    """docker/cli ``ConvertToHostname``: drop the scheme and anything from the first ``/``."""
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.split("/", 1)[0]


def _server_keys(host: str) -> list[str]:
    """Keys to try in ``auths``/``credHelpers`` for ``host``, most specific first."""
    if _hostname_of(host) in _DOCKER_HUB_HOSTS:
        return [DOCKER_HUB_SERVER, *sorted(_DOCKER_HUB_HOSTS)]
    return [host]


class DockerConfigCredentials:
    """A :data:`CredentialsProvider` reading Docker's ``config.json`` once, on first use."""

    def __init__(self, config_dir: Path | None = None, run_helper: HelperRunner | None = None) -> None:
        self._dir = config_dir
        self._run_helper = run_helper or run_credential_helper
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._answers: dict[str, Credentials | None] = {}

    @property
    def path(self) -> Path:
        return (self._dir if self._dir is not None else docker_config_dir()) / "config.json"

    def _load(self) -> dict[str, Any]:
        if self._config is None:
            path = self.path
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                self._config = {}
            except OSError as exc:
                raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
            else:
                try:
                    data = json.loads(text) if text.strip() else {}
                except ValueError as exc:
                    raise CredentialsError(f"{path} is not valid JSON: {exc}") from None
                if not isinstance(data, dict):
                    raise CredentialsError(f"{path} is not a JSON object")
                self._config = data
        return self._config

    def __call__(self, host: str) -> Credentials | None:
        with self._lock:
            if host not in self._answers:
                self._answers[host] = self._lookup(host)
            return self._answers[host]

    def _lookup(self, host: str) -> Credentials | None:
        config = self._load()
        keys = _server_keys(host)
        helpers = config.get("credHelpers") or {}
        if isinstance(helpers, dict):
            for key in keys:
                helper = helpers.get(key)
                if isinstance(helper, str) and helper:
                    return self._from_helper(helper, keys[0])
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            return self._from_helper(store, keys[0])
        auths = config.get("auths", {})
        return self._from_auths({} if auths is None else auths, keys)

    def _from_helper(self, helper: str, server: str) -> Credentials | None:
        answer = self._run_helper(helper, server)
        if not answer:
            return None
        username, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
        if not secret:
            return None
        if username == "<token>":
            return Credentials(username="", identity_token=secret)
        return Credentials(username=username, password=secret)

    def _from_auths(self, auths: object, keys: list[str]) -> Credentials | None:
        if not isinstance(auths, dict):
            raise CredentialsError(f"{self.path}: 'auths' is not an object")
        entry = None
        for key in keys:  # exact key first
            if key in auths:
                entry = auths[key]
                break
        else:
            wanted = {_hostname_of(k) for k in keys}
            for key, value in auths.items():
                if _hostname_of(key) in wanted:
                    entry = value
                    break
        if not isinstance(entry, dict):
            return None
        username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialsError(f"{self.path}: the 'auth' value for {keys[0]} is not base64 user:password") from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise CredentialsError(f"{self.path}: the 'auth' value for {keys[0]} has no ':' between user and password")
        token = entry.get("identitytoken")
        if isinstance(token, str) and token:
            return Credentials(username=username, password=password, identity_token=token)
        if username or password:
            return Credentials(username=username, password=password)
        return None
