"""``dockerfix pr`` end to end: real git (a local bare repository as the remote) and a GitHub API stand-in on
127.0.0.1 that implements the four endpoints the bot uses and records every request."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dockerfix.bot import cli as bot
from dockerfix.bot.git import Git, repo_from_remote_url
from dockerfix.bot.github import GitHubClient, GitHubError

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

DOCKERFILE = "FROM python:3.12\nADD app.py /app/\nRUN pip install flask\n"
FIXED = "FROM python:3.12\nCOPY app.py /app/\nRUN pip install --no-cache-dir flask\n"
CLEAN = "FROM python:3.12\nCOPY app.py /app/\n"


# ------------------------------------------------------------------ a GitHub stand-in
class FakeGitHub:
    """``GET /repos/o/r``, ``GET /repos/o/r/pulls``, ``POST /repos/o/r/pulls``, ``PATCH /repos/o/r/pulls/N``."""

    def __init__(self, owner: str = "octo", name: str = "app") -> None:
        self.owner, self.name = owner, name
        self.requests: list[dict] = []
        self.pulls: list[dict] = []
        self.fail: dict[tuple[str, str], tuple[int, dict, dict]] = {}
        """(method, path) -> (status, headers, json body): answer with an error instead."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, payload, headers: dict | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append({
                    "method": self.command, "path": url.path, "query": dict(urllib.parse.parse_qsl(url.query)),
                    "auth": self.headers.get("Authorization"), "body": body,
                })
                if (self.command, url.path) in fake.fail:
                    status, headers, payload = fake.fail[(self.command, url.path)]
                    return self._answer(status, payload, headers)
                base = f"/api/v3/repos/{fake.owner}/{fake.name}"  # GitHub Enterprise layout
                if self.headers.get("Authorization") != "Bearer t0ken":
                    return self._answer(401, {"message": "Bad credentials"})
                if self.command == "GET" and url.path == base:
                    return self._answer(200, {"full_name": f"{fake.owner}/{fake.name}", "default_branch": "main"})
                if self.command == "GET" and url.path == base + "/pulls":
                    q = dict(urllib.parse.parse_qsl(url.query))
                    hits = [p for p in fake.pulls if p["state"] == q.get("state", "open")
                            and f"{fake.owner}:{p['head']['ref']}" == q.get("head")]
                    return self._answer(200, hits)
                if self.command == "POST" and url.path == base + "/pulls":
                    n = len(fake.pulls) + 1
                    pr = {"number": n, "state": "open", "title": body["title"], "body": body["body"],
                          "head": {"ref": body["head"]}, "base": {"ref": body["base"]},
                          "html_url": f"https://github.example/{fake.owner}/{fake.name}/pull/{n}"}
                    fake.pulls.append(pr)
                    return self._answer(201, pr)
                if self.command == "PATCH" and url.path.startswith(base + "/pulls/"):
                    n = int(url.path.rsplit("/", 1)[1])
                    pr = fake.pulls[n - 1]
                    pr.update({k: body[k] for k in ("title", "body") if k in body})
                    return self._answer(200, pr)
                return self._answer(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v3"

    def calls(self, method: str | None = None) -> list[dict]:
        return [r for r in self.requests if method is None or r["method"] == method]

    def __enter__(self) -> "FakeGitHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github():
    with FakeGitHub() as gh:
        yield gh


# ------------------------------------------------------------------ a repository with a remote
def _env(home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
    return env


def sh(cwd, *args: str, env=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    env = _env(tmp_path)
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    sh(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    sh(tmp_path, "init", "-q", "-b", "main", str(work), env=env)
    (work / "Dockerfile").write_text(DOCKERFILE)
    (work / "app.py").write_text("print('hi')\n")
    (work / "svc").mkdir()
    (work / "svc" / "Dockerfile").write_text(CLEAN)
    sh(work, "add", ".", env=env)
    sh(work, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "init", env=env)
    sh(work, "remote", "add", "origin", str(remote), env=env)
    sh(work, "push", "-q", "origin", "main", env=env)
    return {"work": work, "remote": remote, "env": env, "tmp": tmp_path}


SELECT = ("DFX001", "DFX103", "DFX104", "DFX107", "DFX113")
"""Pinned, so transforms added later do not change what these tests expect."""


def settings(gh: FakeGitHub | None = None, **kw) -> bot.Settings:
    base = dict(repo="octo/app", api_url=gh.url if gh else "http://127.0.0.1:9", token="t0ken", select=SELECT)
    base.update(kw)
    return bot.Settings(**base)


def run_bot(repo, s: bot.Settings, cwd=None, verifier=None, err=None):
    out, err = io.StringIO(), err or io.StringIO()
    code = bot.run(s, git=Git(str(cwd or repo["work"]), env=repo["env"]), env={}, verifier=verifier, out=out,
                   err=err)
    return code, out.getvalue(), err.getvalue()


def local_state(repo) -> dict:
    w, env = repo["work"], repo["env"]
    return {
        "branch": sh(w, "symbolic-ref", "--short", "HEAD", env=env).strip(),
        "head": sh(w, "rev-parse", "HEAD", env=env).strip(),
        "status": sh(w, "status", "--porcelain", "--untracked-files=all", env=env),
        "worktrees": sh(w, "worktree", "list", "--porcelain", env=env).count("worktree "),
        "local_branches": sh(w, "branch", "--list", "--format=%(refname:short)", env=env).split(),
        "dockerfile": (w / "Dockerfile").read_text(),
    }


def remote_file(repo, ref: str, path: str) -> str:
    return sh(repo["remote"], "show", f"{ref}:{path}", env=repo["env"])


def remote_sha(repo, ref: str) -> str | None:
    p = subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=repo["remote"], env=repo["env"],
                       capture_output=True, text=True)
    return p.stdout.strip() or None


# ------------------------------------------------------------------ the happy path
def test_opens_pull_request_with_branch_commit_and_body(repo, github):
    before = local_state(repo)
    code, out, err = run_bot(repo, settings(github))
    assert code == 0, err
    assert "opened pull request #1: https://github.example/octo/app/pull/1" in out

    # branch and commit
    main_sha = remote_sha(repo, "refs/heads/main")
    branch_sha = remote_sha(repo, "refs/heads/dockerfix/default")
    assert branch_sha and branch_sha != main_sha
    assert sh(repo["remote"], "rev-parse", f"{branch_sha}^", env=repo["env"]).strip() == main_sha
    assert remote_file(repo, "dockerfix/default", "Dockerfile") == FIXED
    assert remote_file(repo, "dockerfix/default", "svc/Dockerfile") == CLEAN
    msg = sh(repo["remote"], "log", "-1", "--format=%B", "dockerfix/default", env=repo["env"])
    assert msg.startswith("dockerfix: 2 fixes in 1 Dockerfile\n\n")
    assert "Dockerfile: DFX001 add-local-to-copy, DFX107 pip-no-cache-dir" in msg
    author = sh(repo["remote"], "log", "-1", "--format=%an <%ae>", "dockerfix/default", env=repo["env"]).strip()
    assert author == f"{bot.BOT_NAME} <{bot.BOT_EMAIL}>"
    changed = sh(repo["remote"], "diff", "--name-only", "main", "dockerfix/default", env=repo["env"]).split()
    assert changed == ["Dockerfile"]

    # API calls: repo, find (none open), create
    assert [(r["method"], r["path"]) for r in github.requests] == [
        ("GET", "/api/v3/repos/octo/app"),
        ("GET", "/api/v3/repos/octo/app/pulls"),
        ("POST", "/api/v3/repos/octo/app/pulls"),
    ]
    assert github.requests[1]["query"] == {"head": "octo:dockerfix/default", "state": "open"}
    assert all(r["auth"] == "Bearer t0ken" for r in github.requests)
    post = github.calls("POST")[0]["body"]
    assert post["head"] == "dockerfix/default" and post["base"] == "main"
    assert post["title"] == "dockerfix: 2 fixes in 1 Dockerfile"
    body = post["body"]
    assert body.startswith("<!-- dockerfix-pr profile=default -->\n")
    assert "<details open><summary><code>Dockerfile</code>: 2 fixes</summary>" in body and "svc/Dockerfile" not in body
    assert "| **DFX001** `add-local-to-copy` | 1 | 1 | safe |" in body
    assert "**DFX001** `add-local-to-copy`, line 2" in body
    assert "-ADD app.py /app/\n-RUN pip install flask\n+COPY app.py /app/\n" in body
    assert "+RUN pip install --no-cache-dir flask\n```" in body
    # each transform's explanation, headings nested under the body's
    assert "<b>DFX107 pip-no-cache-dir</b>" in body and "##### Why" in body
    assert "Image size and rebuild" not in body

    # the local repository is as it was
    assert local_state(repo) == before


def test_second_run_updates_the_same_pull_request(repo, github):
    assert run_bot(repo, settings(github))[0] == 0
    first = remote_sha(repo, "refs/heads/dockerfix/default")
    code, out, err = run_bot(repo, settings(github))
    assert code == 0, err
    assert "updated pull request #1" in out and "already up to date" in err
    assert len(github.calls("POST")) == 1
    patch = github.calls("PATCH")
    assert len(patch) == 1 and patch[0]["path"] == "/api/v3/repos/octo/app/pulls/1"
    assert patch[0]["body"]["body"] == github.calls("POST")[0]["body"]["body"]
    assert remote_sha(repo, "refs/heads/dockerfix/default") == first  # nothing re-pushed
    assert len(github.pulls) == 1


def test_new_commit_on_base_rebuilds_the_branch_and_patches(repo, github):
    assert run_bot(repo, settings(github))[0] == 0
    w, env = repo["work"], repo["env"]
    (w / "svc" / "Dockerfile").write_text("FROM alpine\nRUN apk add curl\n")
    sh(w, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qam", "svc: curl", env=env)
    sh(w, "push", "-q", "origin", "main", env=env)
    code, out, err = run_bot(repo, settings(github))
    assert code == 0, err
    assert "updated pull request #1" in out
    branch = remote_sha(repo, "refs/heads/dockerfix/default")
    assert sh(repo["remote"], "rev-parse", f"{branch}^", env=env).strip() == remote_sha(repo, "refs/heads/main")
    assert "apk add --no-cache curl" in remote_file(repo, "dockerfix/default", "svc/Dockerfile")
    assert len(github.calls("POST")) == 1 and len(github.calls("PATCH")) == 1
    assert "| `svc/Dockerfile` | 1 | DFX104 |" in github.pulls[0]["body"]
    assert github.pulls[0]["title"] == "dockerfix: 3 fixes in 2 Dockerfiles"


def test_nothing_to_change_touches_nothing(repo, github):
    code, out, err = run_bot(repo, settings(github), cwd=repo["work"] / "svc")
    assert code == 0
    assert "nothing to change" in err and out == ""
    assert not github.calls("POST") and not github.calls("PATCH")
    assert remote_sha(repo, "refs/heads/dockerfix/default") is None


def test_paths_limit_the_files(repo, github):
    code, _, err = run_bot(repo, settings(github, paths=("svc",)))
    assert code == 0 and "nothing to change" in err


def test_dry_run_prints_and_pushes_nothing(repo, github):
    before = local_state(repo)
    code, out, err = run_bot(repo, settings(github, dry_run=True, token=None, profile="weekly"))
    assert code == 0, err
    assert out.startswith("branch: dockerfix/weekly\nbase: main\nrepository: octo/app\n")
    assert "--- commit message ---\ndockerfix: 2 fixes in 1 Dockerfile (weekly)\n" in out
    assert "--- pull request body ---\n<!-- dockerfix-pr profile=weekly -->" in out
    assert "+COPY app.py /app/" in out
    assert github.requests == []
    assert remote_sha(repo, "refs/heads/dockerfix/weekly") is None
    assert local_state(repo) == before


def test_unsafe_flag_and_custom_branch(repo, github):
    w, env = repo["work"], repo["env"]
    (w / "svc" / "Dockerfile").write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
    sh(w, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qam", "svc", env=env)
    code, _, err = run_bot(repo, settings(github, unsafe=True, branch="bots/slim", paths=("svc",)))
    assert code == 0, err
    text = remote_file(repo, "bots/slim", "svc/Dockerfile")
    assert "--no-install-recommends" in text and "rm -rf /var/lib/apt/lists/*" in text
    body = github.calls("POST")[0]["body"]["body"]
    assert "(**unsafe fix**" in body and "safe and unsafe fixes" in body
    assert github.calls("POST")[0]["body"]["head"] == "bots/slim"


def test_uncommitted_work_is_left_alone(repo, github):
    w = repo["work"]
    (w / "Dockerfile").write_text(DOCKERFILE + "# work in progress\n")
    (w / "notes.txt").write_text("scratch\n")
    before = local_state(repo)
    code, _, err = run_bot(repo, settings(github))
    assert code == 0, err
    assert local_state(repo) == before
    # the bot fixes the committed file, not the work in progress
    assert remote_file(repo, "dockerfix/default", "Dockerfile") == FIXED


def test_detached_head_uses_the_default_branch(repo, github):
    sh(repo["work"], "checkout", "-q", "--detach", env=repo["env"])
    code, _, err = run_bot(repo, settings(github))
    assert code == 0, err
    assert github.calls("POST")[0]["body"]["base"] == "main"


def test_repository_from_the_remote_url(repo, github):
    sh(repo["work"], "remote", "add", "gh", "git@github.com:octo/app.git", env=repo["env"])
    git = Git(str(repo["work"]), env=repo["env"])
    assert bot.resolve_repo(settings(github, repo=None, remote="gh"), git, {}) == ("octo", "app")
    # a local path is no GitHub repository; GITHUB_REPOSITORY is the fallback
    assert bot.resolve_repo(settings(github, repo=None), git, {}) is None
    assert bot.resolve_repo(settings(github, repo=None), git, {"GITHUB_REPOSITORY": "a/b"}) == ("a", "b")
    code, _, err = run_bot(repo, settings(github, repo=None))
    assert code == 2 and "--repo OWNER/NAME" in err


@pytest.mark.parametrize("url, expected", [
    ("https://github.com/octo/app.git", ("octo", "app")),
    ("https://github.com/octo/app", ("octo", "app")),
    ("https://x-access-token:abc@github.com/octo/app.git", ("octo", "app")),
    ("git@github.com:octo/app.git", ("octo", "app")),
    ("ssh://git@ghe.example.com:2222/octo/app.git", ("octo", "app")),
    ("https://ghe.example.com/octo/app/", ("octo", "app")),
    ("/srv/git/app.git", None),
    ("../remote.git", None),
    ("file:///srv/git/app.git", None),
])
def test_repo_from_remote_url(url, expected):
    assert repo_from_remote_url(url) == expected


# ------------------------------------------------------------------ templates and the verify report
def test_custom_template(repo, github, tmp_path):
    t = tmp_path / "body.md.j2"
    t.write_text("{{ marker }}\n{% for f in files %}{{ f.path }}: {{ f.changes|map(attribute='code')|join(',') }}\n"
                 "{% endfor %}")
    code, _, err = run_bot(repo, settings(github, template=str(t)))
    assert code == 0, err
    assert github.calls("POST")[0]["body"]["body"] == "<!-- dockerfix-pr profile=default -->\nDockerfile: DFX001,DFX107\n"


def test_template_undefined_variable_is_an_error(repo, github, tmp_path):
    t = tmp_path / "body.md.j2"
    t.write_text("{{ no_such_thing }}\n")
    before = local_state(repo)
    code, _, err = run_bot(repo, settings(github, template=str(t)))
    assert code == 2 and "'no_such_thing' is undefined" in err
    assert not github.calls("POST") and remote_sha(repo, "refs/heads/dockerfix/default") is None
    assert local_state(repo) == before


def test_template_syntax_error_fails_before_anything(repo, github, tmp_path):
    t = tmp_path / "body.md.j2"
    t.write_text("ok\n{% for %}\n")
    code, _, err = run_bot(repo, settings(github, template=str(t)))
    assert code == 2 and f"{t}:2: template syntax error" in err
    assert github.requests == []


def test_verify_report_table(repo, github, tmp_path):
    report = tmp_path / "verify.json"
    report.write_text(json.dumps({"apps": {
        "python-flask": {"size_before": 180_000_000, "size_after": 150_000_000, "layers": {"before": 9, "after": 7},
                         "rebuild_steps": [5, 2], "rebuild_seconds": {"before": 41.0, "after": 12.5}, "equal": True},
        "node": {"size_before": 1000, "size_after": 1000, "layers": 4, "equal": False},
    }}))
    code, out, err = run_bot(repo, settings(github, dry_run=True, verify_report=str(report)))
    assert code == 0, err
    assert "| app | size before | size after | change | layers | rebuild steps | rebuild time | same files |" in out
    assert "| python-flask | 180.0 MB | 150.0 MB | -16.7% | 9 → 7 | 5 → 2 | 41.0 s → 12.5 s | yes |" in out
    assert "| node | 1.0 kB | 1.0 kB | +0.0% | 4 | n/a | n/a | **no** |" in out


def test_verify_report_from_dockerfix_verify(repo, github, tmp_path):
    side = {"build_seconds": 30.0, "image_bytes": 200_000_000, "compressed_bytes": 1, "file_bytes": 1, "layers": 8,
            "rebuild_seconds": 20.0, "rebuild_steps": 4, "rebuild_cached_steps": 3}
    after = dict(side, image_bytes=150_000_000, layers=6, rebuild_seconds=5.0, rebuild_steps=1)
    one = {"dockerfile": "app/Dockerfile", "builder": "buildah", "equal": True, "before": side, "after": after}
    report = tmp_path / "verify.json"
    for payload in (one, [one]):
        report.write_text(json.dumps(payload))
        code, out, err = run_bot(repo, settings(github, dry_run=True, verify_report=str(report)))
        assert code == 0, err
        assert "| app/Dockerfile | 200.0 MB | 150.0 MB | -25.0% | 8 → 6 | 4 → 1 | 20.0 s → 5.0 s | yes |" in out


def test_verify_report_errors(repo, github, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_bot(repo, settings(github, verify_report=str(bad)))
    assert code == 2 and "not valid JSON" in err
    bad.write_text("[]")
    code, _, err = run_bot(repo, settings(github, verify_report=str(bad)))
    assert code == 2 and "no apps found" in err
    assert github.requests == []


def test_huge_body_leaves_out_the_diffs():
    template = bot.load_template(None)
    ctx = {
        "marker": "m", "profile": "p", "branch": "b", "base": "main", "repo": "o/r", "unsafe": False, "version": "0",
        "files": [{"path": "Dockerfile", "changes": [], "findings": [], "diff": "+x\n" * 40000, "fence": "```",
                   "codes": [], "unsafe": 0}],
        "other_files": [], "transforms": [], "errors": [], "verify": None, "verification": None,
        "include_diffs": True, "include_details": True, "include_docs": True, "files_listed": 1, "shortened": False,
        "pins": 0,
        "compare_url": "https://github.example/o/r/compare/main...b",
        "summary": {"files": 1, "changes": 0},
    }
    body, left_out = bot.fit_body(template, ctx)
    assert len(body) < bot.MAX_BODY and "+x" not in body
    assert left_out == ["the diffs"]
    assert "shortened to fit GitHub's limit: the complete change is in [the branch diff](https://github.example/o/r/compare/main...b)" in body


def test_diff_fence_outgrows_backticks():
    assert bot._fence("RUN echo ```x```") == "````"
    assert bot._fence("plain") == "```"


# ------------------------------------------------------------------ failures: clear message, exit 2, repo intact
RATE_RESET = "4102444800"  # 2100-01-01


@pytest.mark.parametrize("where, status, headers, payload, expect", [
    (("GET", "/api/v3/repos/octo/app"), 401, {}, {"message": "Bad credentials"}, "401 Unauthorized"),
    (("GET", "/api/v3/repos/octo/app"), 403, {}, {"message": "Resource not accessible by integration"},
     "'pull-requests: write'"),
    (("GET", "/api/v3/repos/octo/app"), 404, {}, {"message": "Not Found"}, "404 Not Found"),
    (("GET", "/api/v3/repos/octo/app"), 403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": RATE_RESET},
     {"message": "API rate limit exceeded"}, "rate limit exceeded on GET /api/v3/repos/octo/app: the limit resets at 2100-01-01 00:00:00 UTC"),
    (("GET", "/api/v3/repos/octo/app/pulls"), 429, {"Retry-After": "60"}, {"message": "secondary rate limit"},
     "rate limit exceeded on GET /api/v3/repos/octo/app/pulls: retry after 60 seconds"),
    (("POST", "/api/v3/repos/octo/app/pulls"), 422, {},
     {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom",
                                                  "message": "No commits between main and dockerfix/default"}]},
     "422 Unprocessable Entity) (GitHub said: Validation Failed: No commits between main and dockerfix/default)"),
    (("PATCH", "/api/v3/repos/octo/app/pulls/1"), 500, {}, {"message": "boom"}, "HTTP 500"),
])
def test_api_errors(repo, github, where, status, headers, payload, expect):
    if where[0] == "PATCH":
        assert run_bot(repo, settings(github))[0] == 0
    github.fail[where] = (status, headers, payload)
    before = local_state(repo)
    code, out, err = run_bot(repo, settings(github))
    assert code == 2
    assert err.startswith("dockerfix: error: pr: ") and expect in err, err
    assert "Traceback" not in err
    assert local_state(repo) == before


def test_bad_token_from_the_server(repo, github):
    code, _, err = run_bot(repo, settings(github, token="wrong"))
    assert code == 2 and "GITHUB_TOKEN" in err and "Bad credentials" in err


def test_missing_token(repo, github):
    code, _, err = run_bot(repo, settings(github, token=None))
    assert code == 2 and "GITHUB_TOKEN is not set" in err
    assert github.requests == []


def test_network_error(repo):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    before = local_state(repo)
    code, _, err = run_bot(repo, settings(None, api_url=f"http://127.0.0.1:{port}"))
    assert code == 2 and f"cannot reach the GitHub API at http://127.0.0.1:{port}" in err
    assert local_state(repo) == before


def test_push_failure_is_reported_and_cleaned_up(repo, github):
    sh(repo["work"], "remote", "set-url", "origin", str(repo["tmp"] / "missing.git"), env=repo["env"])
    before = local_state(repo)
    code, _, err = run_bot(repo, settings(github))
    assert code == 2 and "git " in err and "failed" in err
    assert local_state(repo) == before
    assert not github.calls("POST")


def test_not_a_git_checkout(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = bot.run(settings(None), git=Git(str(tmp_path), env=_env(tmp_path)), env={}, out=out, err=err)
    assert code == 2 and "not inside a git checkout" in err.getvalue()


def test_unparseable_dockerfile_is_reported_and_others_proposed(repo, github):
    w, env = repo["work"], repo["env"]
    (w / "svc" / "Dockerfile").write_text("FROM alpine\nRUN <<EOF\necho unterminated\n")
    sh(w, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qam", "broken", env=env)
    code, out, err = run_bot(repo, settings(github))
    assert code == 2
    assert "warning: svc/Dockerfile:" in err and "opened pull request #1" in out
    assert "### Not processed" in github.calls("POST")[0]["body"]["body"]


def test_unknown_transform_is_a_usage_error(repo, github):
    code, _, err = run_bot(repo, settings(github, select=("DFX999",)))
    assert code == 2 and "unknown transform" in err
    assert github.requests == []


# ------------------------------------------------------------------ the command line
def test_cli_flags_and_environment():
    s = bot.settings_from_args(
        ["--select", "DFX1,add-local-to-copy", "--unsafe", "--profile", "weekly", "--repo", "o/r", "--dry-run",
         "--verify-report", "v.json", "--template", "t.j2", "svc"],
        {"GITHUB_TOKEN": "x", "GITHUB_API_URL": "https://ghe.example.com/api/v3"},
    )
    assert s.paths == ("svc",) and s.select == ("DFX1", "add-local-to-copy") and s.unsafe is True
    assert s.branch_name == "dockerfix/weekly" and s.token == "x" and s.api_url == "https://ghe.example.com/api/v3"
    s = bot.settings_from_args(["--api-url", "http://127.0.0.1:1"], {"GITHUB_API_URL": "https://other"})
    assert s.api_url == "http://127.0.0.1:1" and s.paths == (".",) and s.unsafe is None and s.token is None


def test_cli_subprocess_dry_run(repo):
    import sys

    env = dict(repo["env"], GITHUB_TOKEN="", PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run([sys.executable, "-m", "dockerfix", "pr", "--dry-run", "--repo", "octo/app"],
                       cwd=repo["work"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("branch: dockerfix/default\n")
    p = subprocess.run([sys.executable, "-m", "dockerfix", "pr", "--no-such-flag"], cwd=repo["work"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "unrecognized arguments" in p.stderr


def test_client_against_fake(github):
    c = GitHubClient(github.url, "t0ken")
    assert c.get_repo("octo", "app")["default_branch"] == "main"
    assert c.find_open_pull("octo", "app", "octo", "x") is None
    pr = c.create_pull("octo", "app", title="t", head="x", base="main", body="b", draft=True)
    assert pr.number == 1 and github.calls("POST")[0]["body"]["draft"] is True
    assert c.find_open_pull("octo", "app", "octo", "x").number == 1
    with pytest.raises(GitHubError) as e:
        GitHubClient(github.url, "nope").get_repo("octo", "app")
    assert e.value.status == 401


def test_files_changed_along_are_committed_and_listed(repo, github):
    """A fix may change another file (the dockerignore transform writes .dockerignore): it is committed too."""
    from dockerfix.transforms.registry import by_key

    side = by_key("dockerignore")
    if side is None:
        pytest.skip("no transform that changes side files in this build")
    code, out, err = run_bot(repo, settings(github, select=("DFX001", side.code)))
    assert code == 0, err
    files = sh(repo["remote"], "diff", "--name-only", "main", "dockerfix/default", env=repo["env"]).split()
    assert ".dockerignore" in files and "Dockerfile" in files
    body = github.calls("POST")[0]["body"]["body"]
    assert "### Other files\n\n- `.dockerignore`" in body
    msg = sh(repo["remote"], "log", "-1", "--format=%B", "dockerfix/default", env=repo["env"])
    assert ".dockerignore: updated along" in msg


def test_no_add_files_leaves_new_companion_files_out(repo, github):
    # DFX001 alone is cosmetic: --no-skip-cosmetic keeps the Dockerfile in (see test_cosmetic_only_files_...)
    code, _, err = run_bot(repo, settings(github, select=("DFX001", "DFX203"), add_files=False,
                                          skip_cosmetic=False))
    assert code == 0, err
    files = sh(repo["remote"], "diff", "--name-only", "main", "dockerfix/default", env=repo["env"]).split()
    assert files == ["Dockerfile"]
    assert bot.settings_from_args(["--no-add-files"], {}).add_files is False
    assert bot.settings_from_args([], {}).add_files is True


def test_cosmetic_only_files_are_no_reason_for_a_pull_request(repo, github):
    """ADD -> COPY of a plain file alone (DFX001's fix is cosmetic) opens no pull request by default."""
    code, out, err = run_bot(repo, settings(github, select=("DFX001",)))
    assert code == 0, err
    assert not github.calls("POST")
    assert "dockerfix/default" not in sh(repo["remote"], "branch", "--list", env=repo["env"])
    code, _, err = run_bot(repo, settings(github, select=("DFX001",), skip_cosmetic=False))
    assert code == 0, err
    assert len(github.calls("POST")) == 1  # asked for: the cosmetic fix is proposed
    assert bot.settings_from_args(["--no-skip-cosmetic"], {}).skip_cosmetic is False
    assert bot.settings_from_args([], {}).skip_cosmetic is None


def test_a_cosmetic_fix_rides_along_with_a_real_one(repo, github):
    code, _, err = run_bot(repo, settings(github, select=("DFX001", "DFX107")))
    assert code == 0, err
    branch = sh(repo["remote"], "show", "dockerfix/default:Dockerfile", env=repo["env"])
    assert branch == FIXED  # COPY and --no-cache-dir: one fix that is more than cosmetic brings the file in whole


def test_config_skip_cosmetic_false_includes_cosmetic_files(repo, github):
    w, env = repo["work"], repo["env"]
    (w / ".dockerfix.toml").write_text("skip-cosmetic = false\n")
    sh(w, "add", ".", env=env)
    sh(w, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "config", env=env)
    code, _, err = run_bot(repo, settings(github, select=("DFX001",)))
    assert code == 0, err
    assert len(github.calls("POST")) == 1


# ------------------------------------------------------------------ --verify with an injected verifier
API_DOCKERFILE = "FROM python:3.12\nRUN pip install flask\n"
WEB_DOCKERFILE = "FROM alpine\nRUN apk add curl\n"


@pytest.fixture
def three(repo):
    """The repository with three Dockerfiles the fixes change: ``Dockerfile``, ``api/Dockerfile``,
    ``web/Dockerfile`` (and ``svc/Dockerfile``, which they do not)."""
    w, env = repo["work"], repo["env"]
    for folder, text in (("api", API_DOCKERFILE), ("web", WEB_DOCKERFILE)):
        (w / folder).mkdir()
        (w / folder / "Dockerfile").write_text(text)
    sh(w, "add", ".", env=env)
    sh(w, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "api, web", env=env)
    sh(w, "push", "-q", "origin", "main", env=env)
    return repo


def _side(size: int, layers: int, steps: int, seconds: float) -> dict:
    return {"build_seconds": 10.0, "image_bytes": size, "compressed_bytes": size // 3, "file_bytes": size - 1000,
            "layers": layers, "rebuild_seconds": seconds, "rebuild_steps": steps, "rebuild_cached_steps": 2}


def fake_report(job: bot.VerifyJob, *, equal: bool, builder: str = "fakebuild") -> dict:
    """What ``dockerfix verify --json`` reports for ``job``: the changes are the real rewrite's, made with the
    job's settings (so a job that carries the wrong settings shows up as a mismatch)."""
    import dockerfix

    with open(job.dockerfile, encoding="utf-8") as f:
        result = dockerfix.fix(f.read(), select=job.select, ignore=job.ignore, unsafe=job.unsafe,
                               path=job.dockerfile, context=job.context, settings=job.settings)
    allowed = [{"path": f"root/.cache/pip/wheel/{i}", "kind": "only_a", "type": "file",
                "allowed_by": {"code": "DFX107", "reason": "pip cache"}} for i in range(3)]
    comparison = {"a": "before", "b": "after", "equal": equal, "only_a": [], "only_b": [], "changed": [],
                  "config": [], "allowed": allowed, "sizes": {}}
    if not equal:
        comparison["changed"] = [{"path": "srv/app", "kind": "changed", "attributes": {"uid": [0, 65534]}}]
        comparison["only_a"] = [{"path": "usr/share/doc/curl/copyright", "kind": "only_a", "type": "file"}]
    return {"dockerfile": job.dockerfile, "builder": builder, "rewritten": result.changed, "equal": equal,
            "changes": [c.to_dict() for c in result.changes], "before": _side(200_000_000, 8, 4, 20.0),
            "after": _side(150_000_000, 6, 1, 5.0), "edited_file": "app.py", "comparison": comparison,
            "notes": []}


class FakeVerifier:
    """The bot's :class:`~dockerfix.bot.cli.Verifier`, answering per repository path: ``"equal"``,
    ``"different"``, an exception to raise, or a callable ``job -> report``."""

    def __init__(self, answers: dict) -> None:
        self.answers = answers
        self.jobs: list[bot.VerifyJob] = []
        self.seen: dict[str, str] = {}
        """The Dockerfile's text when the verifier ran (the original, not the rewrite)."""

    def verify(self, job, progress=None):
        self.jobs.append(job)
        with open(job.dockerfile, encoding="utf-8") as f:
            self.seen[job.path] = f.read()
        if progress:
            progress("building the original with fakebuild")
        answer = self.answers[job.path]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(job)
        return fake_report(job, equal=answer == "equal")


BUILD_FAILED = bot.VerificationFailed(
    "BUILD ERROR", "the original Dockerfile does not build: buildah bud failed (exit 1)",
    "STEP 2/2: RUN apk add curl\nERROR: unable to select packages:\n  curl (no such package)")


def three_answers() -> dict:
    return {"Dockerfile": "equal", "api/Dockerfile": "different", "web/Dockerfile": BUILD_FAILED}


def test_verify_keeps_the_equal_file_and_leaves_out_the_others(three, github):
    before = local_state(three)
    fake = FakeVerifier(three_answers())
    code, out, err = run_bot(three, settings(github, verify=True), verifier=fake)
    assert code == 2, err  # files were left out: the bot's convention for files it could not propose
    assert "opened pull request #1" in out

    # the verifier ran in the bot's worktree, on the originals, each with its folder as build context
    assert sorted(j.path for j in fake.jobs) == ["Dockerfile", "api/Dockerfile", "web/Dockerfile"]
    for j in fake.jobs:
        assert not j.dockerfile.startswith(str(three["work"])) and j.dockerfile.endswith(j.path)
        assert j.context == os.path.dirname(j.dockerfile) and j.select == SELECT and j.unsafe is False
    assert fake.seen == {"Dockerfile": DOCKERFILE, "api/Dockerfile": API_DOCKERFILE,
                         "web/Dockerfile": WEB_DOCKERFILE}

    # only the verified file's change is committed
    changed = sh(three["remote"], "diff", "--name-only", "main", "dockerfix/default", env=three["env"]).split()
    assert changed == ["Dockerfile"]
    assert remote_file(three, "dockerfix/default", "Dockerfile") == FIXED
    assert remote_file(three, "dockerfix/default", "api/Dockerfile") == API_DOCKERFILE

    post = github.calls("POST")[0]["body"]
    assert post["title"] == "dockerfix: 2 fixes in 1 Dockerfile"
    body = post["body"]
    assert "<summary><code>Dockerfile</code>" in body and "<code>api/Dockerfile</code>: 1 fix" not in body
    assert "built before and after the rewrite with fakebuild" in body
    assert "| app | size before | size after | change | layers | rebuild steps | rebuild time | same files |" in body
    assert "| Dockerfile | 200.0 MB | 150.0 MB | -25.0% | 8 → 6 | 4 → 1 | 20.0 s → 5.0 s | yes |" in body
    assert "| api/Dockerfile" not in body and "| web/Dockerfile" not in body
    assert "- `Dockerfile`: **EQUAL** apart from declared differences (3 allowed: DFX107)\n" in body
    assert ("- left out: `api/Dockerfile` — **DIFFERENT**: 2 differences no transform declares: "
            "/usr/share/doc/curl/copyright is gone; /srv/app uid 0 → 65534\n") in body
    assert ("- left out: `web/Dockerfile` — **BUILD ERROR**: the original Dockerfile does not build: buildah bud "
            "failed (exit 1)\n") in body
    assert "<details><summary><code>web/Dockerfile</code>: build error details</summary>" in body
    assert "ERROR: unable to select packages:\n  curl (no such package)\n```" in body

    msg = sh(three["remote"], "log", "-1", "--format=%B", "dockerfix/default", env=three["env"])
    assert "Verified with fakebuild (images compared): Dockerfile EQUAL.\n" in msg
    assert "Left out: api/Dockerfile (DIFFERENT).\nLeft out: web/Dockerfile (BUILD ERROR).\n" in msg
    assert "warning: left out: api/Dockerfile — DIFFERENT: 2 differences" in err
    assert "warning: left out: web/Dockerfile — BUILD ERROR" in err
    assert local_state(three) == before


def test_verify_dry_run_shows_the_same_body(three, github):
    code, out, err = run_bot(three, settings(github, verify=True, dry_run=True, token=None),
                             verifier=FakeVerifier(three_answers()))
    assert code == 2, err
    assert github.requests == [] and remote_sha(three, "refs/heads/dockerfix/default") is None
    dry_body = out.split("--- pull request body ---\n", 1)[1]
    code, _, err = run_bot(three, settings(github, verify=True), verifier=FakeVerifier(three_answers()))
    assert code == 2, err
    assert github.calls("POST")[0]["body"]["body"] == dry_body
    assert "Left out: api/Dockerfile (DIFFERENT)." in out


def test_verify_every_file_left_out_touches_nothing(three, github):
    # an open pull request from an earlier run is left as it is
    assert run_bot(three, settings(github, paths=("Dockerfile",)))[0] == 0
    first = remote_sha(three, "refs/heads/dockerfix/default")
    fake = FakeVerifier({"Dockerfile": "different", "api/Dockerfile": BUILD_FAILED,
                         "web/Dockerfile": bot.VerificationFailed("NO BUILDER", "no builder found")})
    code, out, err = run_bot(three, settings(github, verify=True), verifier=fake)
    assert code == 2 and out == ""
    assert "nothing left to propose: all 3 changed Dockerfiles failed verification; no branch pushed" in err
    assert "left out: web/Dockerfile — NO BUILDER: no builder found" in err
    assert len(github.calls("POST")) == 1 and not github.calls("PATCH")
    assert remote_sha(three, "refs/heads/dockerfix/default") == first


def test_verify_all_equal_exits_0(three, github):
    fake = FakeVerifier({p: "equal" for p in ("Dockerfile", "api/Dockerfile", "web/Dockerfile")})
    code, out, err = run_bot(three, settings(github, verify=True), verifier=fake)
    assert code == 0, err
    changed = sh(three["remote"], "diff", "--name-only", "main", "dockerfix/default", env=three["env"]).split()
    assert changed == ["Dockerfile", "api/Dockerfile", "web/Dockerfile"]
    body = github.calls("POST")[0]["body"]["body"]
    assert body.count("**EQUAL**") == 3 and "left out" not in body
    for p in ("Dockerfile", "api/Dockerfile", "web/Dockerfile"):
        assert f"\n| {p} | 200.0 MB |" in body


def test_verify_nothing_changed_builds_nothing(repo, github):
    fake = FakeVerifier({})
    code, _, err = run_bot(repo, settings(github, verify=True, paths=("svc",)), verifier=fake)
    assert code == 0 and "nothing to change" in err and fake.jobs == []


def test_verify_unparseable_file_and_verifier_bug(three, github):
    w, env = three["work"], three["env"]
    (w / "svc" / "Dockerfile").write_text("FROM alpine\nRUN <<EOF\necho unterminated\n")
    sh(w, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qam", "broken", env=env)

    def boom(job):
        raise RuntimeError("verifier bug")

    fake = FakeVerifier({"Dockerfile": "equal", "api/Dockerfile": boom, "web/Dockerfile": "equal"})
    code, out, err = run_bot(three, settings(github, verify=True), verifier=fake)
    assert code == 2 and "opened pull request #1" in out
    assert "warning: svc/Dockerfile:" in err
    assert "left out: api/Dockerfile — ERROR: internal error: RuntimeError: verifier bug" in err
    body = github.calls("POST")[0]["body"]["body"]
    assert "### Not processed" in body and "- left out: `api/Dockerfile` — **ERROR**" in body
    assert sorted(j.path for j in fake.jobs) == ["Dockerfile", "api/Dockerfile", "web/Dockerfile"]


def test_verify_rewrite_mismatch_is_left_out(three, github):
    def other_rewrite(job):
        report = fake_report(job, equal=True)
        report["changes"] = report["changes"][:1]  # the verifier applied fewer fixes than the bot commits
        return report

    fake = FakeVerifier({"Dockerfile": other_rewrite, "api/Dockerfile": "equal", "web/Dockerfile": "equal"})
    code, _, err = run_bot(three, settings(github, verify=True, dry_run=True, token=None), verifier=fake)
    assert code == 2
    assert ("left out: Dockerfile — NOT VERIFIED: the verifier's rewrite is not the bot's (verified: DFX001 line 2; "
            "proposed: DFX001 line 2, DFX107 line 3)") in err


def test_verify_report_verdict_word_and_notes():
    job_report = {"equal": False, "verdict": "smoke-failed", "notes": [], "comparison": None}
    v = bot.judge("Dockerfile", job_report, None)
    assert v.verdict == "SMOKE-FAILED" and not v.ok and v.reason == "the images differ"
    v = bot.judge("Dockerfile", {"equal": True, "notes": ["no source file found to edit"],
                                 "comparison": {"allowed": []}}, None)
    assert v.ok and v.reason == "the same files and settings" and v.notes == ["no source file found to edit"]
    noise = {"path": "var/log/dpkg.log", "kind": "changed", "allowed_by": {"code": "build", "reason": "logs"}}
    v = bot.judge("Dockerfile", {"equal": True, "comparison": {"allowed": [noise]}}, None)
    assert v.reason == "apart from declared differences (1 allowed: build noise)"
    many = {"equal": False, "comparison": {"only_b": [{"path": f"x/{i}", "kind": "only_b"} for i in range(5)],
                                           "config": [{"field": "User", "a": "app", "b": "root"}]}}
    v = bot.judge("Dockerfile", many, None)
    assert v.reason == "6 differences no transform declares: /x/0 is new; /x/1 is new; /x/2 is new; and 3 more"
    assert v.details.splitlines()[-1] == "config User: 'app' → 'root'"


def _smoke(command, before, after, differences, kind="smoke", out=("", "")):
    return {"kind": kind, "command": command, "passed": not differences, "differences": differences,
            "compared": ["exit_code", "stdout", "stderr"] if kind == "smoke" else ["exit_code"],
            "before": {"exit_code": before, "stdout": out[0], "stderr": ""},
            "after": {"exit_code": after, "stdout": out[1], "stderr": ""}}


def test_verify_behaviour_difference_is_the_reason_not_the_images():
    lists = _smoke("ls /var/lib/apt/lists", 0, 0, ["stdout differs"], out=("deb.debian.org_dists\n", ""))
    report = {"equal": False, "verdict": "DIFFERENT", "images_equal": True, "behaviour_equal": False,
              "comparison": {"equal": True, "only_a": [], "only_b": [], "changed": [], "config": [],
                             "allowed": []},
              "smoke": [_smoke("curl --version", 0, 0, []), lists,
                        _smoke("python -V", 0, 127, ["exit status 0 -> 127", "stderr differs"]),
                        _smoke("curl -f localhost", 0, 7, ["exit status 0 -> 7"], kind="healthcheck")]}
    v = bot.judge("Dockerfile", report, None)
    assert v.verdict == "DIFFERENT" and not v.ok
    assert v.reason == ("the behaviour differs: smoke `ls /var/lib/apt/lists` exits 0 → 0 (stdout differs); "
                        "smoke `python -V` exits 0 → 127 (stderr differs); HEALTHCHECK `curl -f localhost` exits "
                        "0 → 7")
    assert v.details.splitlines()[:3] == ["smoke `ls /var/lib/apt/lists` exits 0 → 0 (stdout differs)",
                                          "  original stdout:", "    deb.debian.org_dists"]
    timed_out = _smoke("serve", 0, 124, ["timed out after 300 s in the rewrite", "exit status 0 -> 124"])
    v = bot.judge("Dockerfile", {**report, "smoke": [timed_out]}, None)
    assert v.reason == "the behaviour differs: smoke `serve` exits 0 → 124 (timed out after 300 s in the rewrite)"
    both = {**report, "images_equal": False,
            "comparison": {"only_a": [{"path": "usr/bin/curl", "kind": "only_a"}]}, "smoke": [lists]}
    assert bot.judge("Dockerfile", both, None).reason == (
        "1 difference no transform declares: /usr/bin/curl is gone; and the behaviour differs: smoke "
        "`ls /var/lib/apt/lists` exits 0 → 0 (stdout differs)")


def test_verify_allowance_codes_that_are_not_transforms():
    def allowed(*codes):
        return {"equal": True, "comparison": {"allowed": [
            {"path": f"p/{i}", "kind": "changed", "allowed_by": {"code": c, "reason": "r"}}
            for i, c in enumerate(codes)]}}

    v = bot.judge("Dockerfile", allowed("rewrite", "DFX107", "build", "baseline"), None)
    assert v.reason == "apart from declared differences (4 allowed: DFX107)"
    v = bot.judge("Dockerfile", allowed("rewrite"), None)
    assert v.reason == "apart from declared differences (1 allowed: the rewritten files)"
    v = bot.judge("Dockerfile", allowed("rewrite", "baseline"), None)
    assert v.reason == "apart from declared differences (2 allowed: build noise, the rewritten files)"


def test_verify_left_out_for_behaviour_in_the_pull_request(three, github):
    def smoke_failed(job):
        report = fake_report(job, equal=True)
        report.update(equal=False, verdict="DIFFERENT", images_equal=True, behaviour_equal=False,
                      smoke=[_smoke("python -V", 0, 127, ["exit status 0 -> 127"])])
        return report

    fake = FakeVerifier({"Dockerfile": "equal", "api/Dockerfile": smoke_failed, "web/Dockerfile": "equal"})
    code, out, err = run_bot(three, settings(github, verify=True, dry_run=True, token=None), verifier=fake)
    assert code == 2, err
    assert ("- left out: `api/Dockerfile` — **DIFFERENT**: the behaviour differs: smoke `python -V` exits 0 → 127\n"
            in out)
    assert "the images differ" not in out


def test_builder_verifier_chooses_once_and_reports_no_builder(three, github, monkeypatch):
    from dockerfix.verify import run as verify_run

    calls = []

    def no_builder(name, lab_root):
        calls.append((name, lab_root))
        raise verify_run.VerifyError("no builder found: install buildah, or run a Docker daemon")

    monkeypatch.setattr(verify_run, "choose_builder", no_builder)
    code, out, err = run_bot(three, settings(github, verify=True, builder="docker", lab="/srv/lab"))
    assert code == 2 and out == ""
    assert calls == [("docker", "/srv/lab")]
    assert err.count("NO BUILDER: no builder found: install buildah") == 3
    assert "nothing left to propose" in err and not github.calls("POST")


def test_verify_progress_only_on_a_terminal(three, github):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    fake = FakeVerifier(three_answers())
    _, _, err = run_bot(three, settings(github, verify=True, dry_run=True, token=None), verifier=fake, err=Tty())
    assert "dockerfix pr: [1/3] Dockerfile: verifying\n" in err
    assert "dockerfix pr: [2/3] api/Dockerfile: building the original with fakebuild\n" in err
    assert "dockerfix pr: [3/3] web/Dockerfile: BUILD ERROR (" in err
    _, _, err = run_bot(three, settings(github, verify=True, dry_run=True, token=None),
                        verifier=FakeVerifier(three_answers()))
    assert "verifying" not in err and "[1/3]" not in err


@pytest.mark.parametrize("kw, expect", [
    ({"verify": True, "verify_report": "v.json"}, "--verify and --verify-report cannot be combined"),
    ({"builder": "docker"}, "--builder needs --verify"),
    ({"lab": "/x"}, "--lab needs --verify"),
])
def test_verify_flag_errors(repo, github, kw, expect):
    code, _, err = run_bot(repo, settings(github, **kw))
    assert code == 2 and expect in err and github.requests == []


def test_verify_cli_flags():
    s = bot.settings_from_args(["--verify", "--builder", "podman", "--lab", "/srv/lab"], {})
    assert s.verify is True and s.builder == "podman" and s.lab == "/srv/lab"
    s = bot.settings_from_args([], {})
    assert s.verify is False and s.builder is None and s.lab is None
