"""The few GitHub REST API calls the bot makes, over ``urllib`` (no extra dependency).

``GET /repos/{o}/{r}``, ``GET /repos/{o}/{r}/pulls?head=o:branch&state=open``, ``POST /repos/{o}/{r}/pulls`` and
``PATCH /repos/{o}/{r}/pulls/{n}``. The API URL is configurable (GitHub Enterprise: ``https://host/api/v3``); tests
point it at a server on 127.0.0.1. Failures become :class:`GitHubError` whose ``str()`` says what went wrong and what
to do: bad or missing token (401), missing permission (403), rate limits (``X-RateLimit-Remaining: 0`` or
``Retry-After``), unknown repository (404), validation (422), and network errors. Nothing is retried.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"


class GitHubError(Exception):
    """An API call failed; ``status`` is the HTTP status (None for network errors)."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    """The web page (``html_url``)."""
    title: str = ""
    body: str = ""


def _pull(d: dict[str, Any]) -> PullRequest:
    return PullRequest(int(d["number"]), str(d.get("html_url") or d.get("url") or ""), d.get("title") or "",
                       d.get("body") or "")


class GitHubClient:
    def __init__(self, api_url: str = DEFAULT_API_URL, token: str | None = None, *, timeout: float = 30.0,
                 user_agent: str = "dockerfix-pr") -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.user_agent = user_agent

    # ------------------------------------------------------------ transport
    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None) -> Any:
        url = self.api_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", API_VERSION)
        req.add_header("User-Agent", self.user_agent)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            try:
                raw = exc.read()
            except Exception:
                raw = b""
            raise self._http_error(method, url, exc.code, exc.headers, raw) from None
        except urllib.error.URLError as exc:
            raise GitHubError(f"cannot reach the GitHub API at {self.api_url}: {exc.reason}",
                              method=method, url=url) from None
        except (TimeoutError, OSError) as exc:
            raise GitHubError(f"cannot reach the GitHub API at {self.api_url}: {exc}", method=method, url=url) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise GitHubError(f"{method} {url}: the API answered with something that is not JSON",
                              method=method, url=url) from None

    def _http_error(self, method: str, url: str, status: int, headers: Any, raw: bytes) -> GitHubError:
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {}
        api_msg = payload.get("message", "") if isinstance(payload, dict) else ""
        details = []
        if isinstance(payload, dict):
            for e in payload.get("errors") or []:
                if isinstance(e, dict):
                    details.append(e.get("message") or " ".join(str(e.get(k, "")) for k in ("resource", "field", "code")).strip())
                else:
                    details.append(str(e))
        get = (lambda k: headers.get(k)) if headers is not None else (lambda k: None)
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        said = f" (GitHub said: {api_msg}{': ' + '; '.join(d for d in details if d) if any(details) else ''})" if api_msg or details else ""
        remaining, retry_after, reset = get("X-RateLimit-Remaining"), get("Retry-After"), get("X-RateLimit-Reset")
        if status in (403, 429) and (remaining == "0" or retry_after is not None):
            if retry_after is not None:
                when = f"retry after {retry_after} seconds"
            elif reset and reset.isdigit():
                wait = max(0, int(reset) - int(time.time()))
                when = f"the limit resets at {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(int(reset)))} (in {wait} s)"
            else:
                when = "try again later"
            msg = f"GitHub API rate limit exceeded on {where}: {when}{said}"
        elif status == 401:
            msg = (f"GitHub rejected the token on {where} (401 Unauthorized): set GITHUB_TOKEN to a valid token "
                   f"(it is missing, expired or revoked){said}")
        elif status == 403:
            msg = (f"GitHub refused {where} (403 Forbidden): the token lacks permission; it needs 'contents: write' "
                   f"and 'pull-requests: write' on the repository{said}")
        elif status == 404:
            msg = (f"GitHub answered 404 Not Found on {where}: the repository does not exist, or the token cannot "
                   f"see it (check --repo / the remote URL, --api-url and the token's access){said}")
        elif status == 422:
            msg = f"GitHub could not accept {where} (422 Unprocessable Entity){said or ': validation failed'}"
        else:
            msg = f"GitHub API error on {where}: HTTP {status}{said}"
        return GitHubError(msg, status=status, method=method, url=url)

    # ------------------------------------------------------------ endpoints
    def get_repo(self, owner: str, name: str) -> dict[str, Any]:
        return self.request("GET", f"/repos/{_q(owner)}/{_q(name)}")

    def find_open_pull(self, owner: str, name: str, head_owner: str, branch: str) -> PullRequest | None:
        got = self.request("GET", f"/repos/{_q(owner)}/{_q(name)}/pulls",
                           query={"head": f"{head_owner}:{branch}", "state": "open"})
        for d in got or []:
            head = d.get("head") or {}
            if head.get("ref", branch) == branch:
                return _pull(d)
        return None

    def create_pull(self, owner: str, name: str, *, title: str, head: str, base: str, body: str,
                    draft: bool = False) -> PullRequest:
        payload = {"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": True}
        if draft:
            payload["draft"] = True
        return _pull(self.request("POST", f"/repos/{_q(owner)}/{_q(name)}/pulls", body=payload))

    def update_pull(self, owner: str, name: str, number: int, *, title: str, body: str) -> PullRequest:
        return _pull(self.request("PATCH", f"/repos/{_q(owner)}/{_q(name)}/pulls/{number}",
                                  body={"title": title, "body": body}))


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")
