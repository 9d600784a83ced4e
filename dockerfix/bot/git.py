"""A small wrapper around the ``git`` command line (the bot's only way to touch a repository).

Every call runs ``git`` with a fixed argument list (never a shell), ``LC_ALL=C`` for stable messages, no prompts
(``GIT_TERMINAL_PROMPT=0``), and raises :class:`GitError` with git's own message when it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass


class GitError(Exception):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.args_ = args
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"git {' '.join(args)} failed (exit {returncode}): {self.stderr or 'no message'}")


@dataclass(frozen=True)
class Head:
    """Where a checkout stands: the commit, and the branch name unless HEAD is detached."""

    sha: str
    branch: str | None


class Git:
    """``git`` run in one folder. ``executable`` and ``env`` are injectable for tests."""

    def __init__(self, cwd: str, *, executable: str = "git", env: dict[str, str] | None = None, timeout: float = 300):
        self.cwd = cwd
        self.executable = executable
        self.timeout = timeout
        base = dict(os.environ if env is None else env)
        base.update({"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
        self.env = base

    def at(self, cwd: str) -> "Git":
        """The same git, run in another folder (a worktree)."""
        g = Git.__new__(Git)
        g.cwd, g.executable, g.timeout, g.env = cwd, self.executable, self.timeout, dict(self.env)
        return g

    def with_config(self, pairs: list[tuple[str, str]]) -> "Git":
        """The same git with extra configuration given through the environment (``GIT_CONFIG_COUNT``/``KEY_n``/
        ``VALUE_n``, git 2.31+): it never shows on a command line (``ps``) and never reaches a config file."""
        g = self.at(self.cwd)
        n = int(g.env.get("GIT_CONFIG_COUNT") or 0)
        for i, (key, value) in enumerate(pairs, n):
            g.env[f"GIT_CONFIG_KEY_{i}"] = key
            g.env[f"GIT_CONFIG_VALUE_{i}"] = value
        g.env["GIT_CONFIG_COUNT"] = str(n + len(pairs))
        return g

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        full_env = self.env if env is None else {**self.env, **env}
        try:
            p = subprocess.run(
                [self.executable, *args], cwd=self.cwd, env=full_env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=self.timeout,
            )
        except FileNotFoundError:
            raise GitError(list(args), 127, f"{self.executable}: command not found") from None
        except subprocess.TimeoutExpired:
            raise GitError(list(args), -1, f"timed out after {self.timeout:g}s") from None
        out = p.stdout.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise GitError(list(args), p.returncode, p.stderr.decode("utf-8", "replace"))
        return out

    # ------------------------------------------------------------ queries
    def toplevel(self) -> str:
        return self.run("rev-parse", "--show-toplevel").strip()

    def head(self) -> Head:
        sha = self.run("rev-parse", "--verify", "HEAD").strip()
        branch = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip() or None
        return Head(sha, branch)

    def remote_url(self, remote: str) -> str:
        return self.run("remote", "get-url", remote).strip()

    def config(self, key: str) -> str | None:
        return self.run("config", "--get", key, check=False).strip() or None

    def status_paths(self) -> list[str]:
        """Paths with changes in the working tree (tracked or new), repository-relative, ``/``-separated."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all")
        paths = []
        entries = out.split("\0")
        i = 0
        while i < len(entries):
            e = entries[i]
            i += 1
            if not e:
                continue
            status, path = e[:2], e[3:]
            if status[0] in "RC":  # rename/copy: the next entry is the source
                i += 1
            paths.append(path)
        return paths

    def diff(self, *paths: str) -> str:
        """The working tree's diff against HEAD (new files included once staged)."""
        return self.run("diff", "--no-color", "--no-ext-diff", "HEAD", "--", *paths)

    def remote_branch_sha(self, remote: str, branch: str) -> str | None:
        out = self.run("ls-remote", "--heads", remote, f"refs/heads/{branch}")
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    # ------------------------------------------------------------ worktrees
    def worktree_add(self, path: str, commit: str) -> "Git":
        self.run("worktree", "add", "--detach", "--quiet", path, commit)
        return self.at(path)

    def worktree_remove(self, path: str) -> None:
        self.run("worktree", "remove", "--force", path, check=False)
        self.run("worktree", "prune", check=False)


_REMOTE_PATTERNS = (
    re.compile(r"^[\w.+-]+://(?:[^@/]+@)?[^/]+(?::\d+)?/(?:.*/)?(?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/?$"),
    re.compile(r"^(?:[^@/]+@)?[^:/]+:(?:.*/)?(?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/?$"),
)


def token_header_config(remote_url: str, token: str) -> list[tuple[str, str]] | None:
    """Configuration that makes git authenticate to an HTTPS remote's host with ``token`` (the way
    actions/checkout does, ``http.<origin>/.extraheader``), first clearing the headers configured before (an empty
    value resets the list), so a token checkout persisted is not sent as well. None for a non-HTTP remote."""
    import base64
    import urllib.parse

    u = urllib.parse.urlsplit(remote_url.strip())
    if u.scheme not in ("http", "https") or not u.hostname:
        return None
    host = u.hostname + (f":{u.port}" if u.port else "")
    key = f"http.{u.scheme}://{host}/.extraheader"
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return [("http.extraheader", ""), (key, ""), (key, f"AUTHORIZATION: basic {basic}")]


def repo_from_remote_url(url: str) -> tuple[str, str] | None:
    """``owner/name`` from a GitHub(-Enterprise) remote URL (https, ssh, scp-like), or None for a local path."""
    url = url.strip()
    if not url or url.startswith(("/", ".", "file:")) or re.match(r"^[A-Za-z]:[\\/]", url):
        return None
    for pat in _REMOTE_PATTERNS:
        m = pat.match(url)
        if m:
            return m.group("owner"), m.group("name")
    return None
