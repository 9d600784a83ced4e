"""``WWW-Authenticate`` challenges and the registry token flow.

Bearer (Docker Hub, distribution ``auth: token``): ``GET realm?service=..&scope=..`` anonymously or
with Basic credentials, or an OAuth2 ``POST`` with ``grant_type=refresh_token`` when the credentials are
an identity token. Basic: the credentials go straight to the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Challenge", "parse_challenges", "pick_challenge", "repository_scope"]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse one ``WWW-Authenticate`` value, which may hold several comma-separated challenges."""
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        m = _SCHEME_RE.match(header, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while pos < len(header):
            p = _PARAM_RE.match(header, pos)
            if not p:
                break
            value = p.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else p.group(3)
            params[p.group(1).lower()] = value
            pos = p.end()
        out.append(Challenge(scheme, params))
        # skip stray separators before the next scheme
        while pos < len(header) and header[pos] in ", ":
            pos += 1
    return out


def pick_challenge(headers: list[str]) -> Challenge | None:
    """The challenge to answer: Bearer if offered, else Basic, else None."""
    challenges = [c for h in headers for c in parse_challenges(h)]
    for scheme in ("bearer", "basic"):
        for c in challenges:
            if c.scheme == scheme:
                return c
    return None


def repository_scope(path: str, actions: str = "pull") -> str:
    return f"repository:{path}:{actions}"
