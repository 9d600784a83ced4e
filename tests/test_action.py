"""The GitHub Action run the way a runner runs it: a small harness reads action.yml, evaluates each step's `if:` and
`env:` (``${{ inputs.X }}``, ``${{ steps.ID.outputs.Y }}``), runs its `run:` with bash in a runner-like environment
(``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``, ``GITHUB_PATH``, ``GITHUB_WORKSPACE``, ``RUNNER_TEMP``,
``GITHUB_ACTION_PATH``) and collects each step's outputs. ``uses:`` steps are stood in for (setup-python answers
with this interpreter). The pull-request mode pushes to a real smart-HTTP git server (``git http-backend`` on
127.0.0.1) that only accepts the token given as input."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dockerfix.bot import action_steps
from tests.test_bot import FakeGitHub, _env, sh

yaml = pytest.importorskip("yaml")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("git") is None,
                                reason="bash and git are needed")


# ------------------------------------------------------------------ the runner stand-in
class Runner:
    """Runs the composite action's steps like a runner: one file per GITHUB_OUTPUT/STEP_SUMMARY/ENV/PATH."""

    def __init__(self, tmp: Path, workspace: Path, action_path: Path = ROOT, env: dict[str, str] | None = None):
        with open(action_path / "action.yml", encoding="utf-8") as f:
            self.action = yaml.safe_load(f)
        self.tmp, self.workspace, self.action_path = tmp, workspace, action_path
        self.runner_temp = tmp / "runner-temp"
        self.runner_temp.mkdir(exist_ok=True)
        self.files = {k: tmp / f"{k.lower()}.txt" for k in ("GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH")}
        for p in self.files.values():
            p.write_text("")
        self.base_env = {**os.environ, **(env or {})}
        self.outputs: dict[str, dict[str, str]] = {}
        self.log: list[tuple[str, int, str, str]] = []

    def _expr(self, text: str, inputs: dict[str, str]) -> str:
        def sub(m: re.Match) -> str:
            expr = m.group(1).strip()
            if expr.startswith("inputs."):
                return inputs[expr[len("inputs."):]]
            m2 = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
            if m2:
                return self.outputs.get(m2.group(1), {}).get(m2.group(2), "")
            if expr == "github.token":
                return "github-token-from-context"
            raise AssertionError(f"expression the harness does not know: {expr}")

        return re.sub(r"\$\{\{(.*?)\}\}", sub, str(text))

    def _if(self, cond: str | None, inputs: dict[str, str]) -> bool:
        if cond is None:
            return True
        m = re.fullmatch(r"inputs\.([\w-]+) == '([^']*)'", cond.strip())
        assert m, f"condition the harness does not know: {cond}"
        return inputs[m.group(1)] == m.group(2)

    def run(self, inputs: dict[str, str], stand_in: dict[str, dict[str, str]] | None = None) -> int:
        """Run every step (``stand_in``: outputs for steps not to run, by id); the exit code of the first failing
        step, else 0."""
        spec = self.action["inputs"]
        unknown = set(inputs) - set(spec)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        full = {k: str(inputs.get(k, self._expr(v.get("default", ""), {}))) for k, v in spec.items()}
        stand_in = stand_in or {}
        for step in self.action["runs"]["steps"]:
            sid = step.get("id", step["name"])
            if not self._if(step.get("if"), full):
                continue
            if sid in stand_in:
                self.outputs[sid] = dict(stand_in[sid])
                continue
            if "uses" in step:
                assert step["uses"].startswith("actions/setup-python@")
                assert step["with"].get("update-environment") is False, "setup-python would change the caller's PATH"
                self.outputs[sid] = {"python-path": sys.executable}
                continue
            out_file = self.tmp / f"output-{sid}.txt"
            out_file.write_text("")
            env = {**self.base_env, **{k: self._expr(v, full) for k, v in (step.get("env") or {}).items()},
                   "GITHUB_OUTPUT": str(out_file), "GITHUB_WORKSPACE": str(self.workspace),
                   "RUNNER_TEMP": str(self.runner_temp), "GITHUB_ACTION_PATH": str(self.action_path),
                   "GITHUB_ACTIONS": "true", **{k: str(v) for k, v in self.files.items()}}
            assert step["shell"] == "bash"
            p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                               cwd=self.workspace, capture_output=True, text=True, timeout=600)
            self.log.append((step["name"], p.returncode, p.stdout, p.stderr))
            self.outputs[sid] = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
            if p.returncode != 0:
                return p.returncode
        return 0

    @property
    def stdout(self) -> str:
        return "".join(o for _, _, o, _ in self.log)

    @property
    def stderr(self) -> str:
        return "".join(e for _, _, _, e in self.log)

    def summary(self) -> str:
        return self.files["GITHUB_STEP_SUMMARY"].read_text()


INSTALLED = {"install": {"python": sys.executable}}
"""The install step stood in for (it is tested on its own below): dockerfix is this interpreter's."""


# ------------------------------------------------------------------ check mode
def _many_findings(ws: Path, n: int) -> None:
    for i in range(n):
        d = ws / f"svc{i}"
        d.mkdir(parents=True)
        (d / "Dockerfile").write_text("FROM python:3.12\nRUN pip install flask\nRUN apk add curl\n")


def test_check_mode_lists_every_finding_in_the_job_summary(tmp_path):
    ws = tmp_path / "ws"
    _many_findings(ws, 8)
    r = Runner(tmp_path, ws)
    code = r.run({"mode": "check", "select": "DFX104,DFX107"}, stand_in=INSTALLED)
    assert code == 1, r.stderr
    annotations = [a for a in map(action_steps.parse_annotation, r.stdout.splitlines()) if a]
    assert len(annotations) == 16 > action_steps.SHOWN_PER_STEP
    summary = r.summary()
    assert "16 findings in 8 files. GitHub shows only the first 10" in summary
    rows = [ln for ln in summary.splitlines() if ln.startswith("| `svc")]
    assert len(rows) == 16
    assert any(ln.startswith("| `svc7/Dockerfile` | 2 | ") and "pip" in ln for ln in rows)
    assert r.outputs["check"] == {"findings": "16"}
    # nothing reaches later steps of the caller's job
    assert r.files["GITHUB_ENV"].read_text() == "" and r.files["GITHUB_PATH"].read_text() == ""


def test_check_mode_clean_repository(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text("FROM python:3.12\nCOPY app.py /app/\n")
    r = Runner(tmp_path, ws)
    assert r.run({"mode": "check", "select": "DFX104,DFX107"}, stand_in=INSTALLED) == 0, r.stderr
    assert "No findings." in r.summary() and r.outputs["check"] == {"findings": "0"}


def test_annotation_round_trip_with_escapes():
    a = action_steps.parse_annotation("::warning file=a%2Cb/Dockerfile,line=3,title=DFX1%3A x::50%25 done%0Anext")
    assert a == {"level": "warning", "file": "a,b/Dockerfile", "line": "3", "title": "DFX1: x",
                 "message": "50% done\nnext"}
    md = action_steps.summary_markdown([a], 1)
    assert "| `a,b/Dockerfile` | 3 | warning | **DFX1: x**: 50% done<br>next |" in md


@pytest.mark.parametrize("inputs, expect", [
    ({"mode": "fix"}, "mode must be 'check' or 'pr', not 'fix'"),
    ({"mode": "pr", "verify": "yes"}, "verify must be 'true' or 'false'"),
    ({"mode": "check", "verify": "true"}, "verify: 'true' needs mode: pr"),
    ({"mode": "pr", "verify": "true", "builder": "kaniko"}, "builder must be empty, 'buildah', 'docker' or 'podman'"),
    ({"mode": "check", "unsafe": "maybe"}, "unsafe must be 'true' or 'false'"),
])
def test_bad_inputs_stop_before_installing(tmp_path, inputs, expect):
    r = Runner(tmp_path, tmp_path)
    assert r.run(inputs) == 2
    assert f"::error title=dockerfix::{expect}" in r.stdout
    assert not any(r.runner_temp.iterdir()), "nothing installed"


# ------------------------------------------------------------------ setup: an isolated environment
BACKEND = '''\
import base64, hashlib, os, zipfile
NAME, VERSION = "dfxprobe", "1.0"
DIST = f"{NAME}-{VERSION}.dist-info"
def _files():
    yield f"{NAME}/__init__.py", b"WHERE = 'venv'\\n"
    yield f"{DIST}/METADATA", f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n".encode()
    yield f"{DIST}/WHEEL", b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in _files():
            z.writestr(path, data)
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={h},{len(data)}")
        z.writestr(f"{DIST}/RECORD", "\\n".join(record + [f"{DIST}/RECORD,,"]) + "\\n")
    return name
'''


def test_install_step_uses_an_isolated_virtual_environment(tmp_path):
    """The real install step on a stand-in project (an in-tree build backend, so pip needs no index): the package
    lands in a venv under RUNNER_TEMP, the step's output names its interpreter, and nothing changes for the
    caller's later steps (no GITHUB_ENV, no GITHUB_PATH, the caller's Python does not see the package)."""
    action = tmp_path / "action"
    (action / "dockerfix" / "bot").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", action / "action.yml")
    shutil.copy(ROOT / "dockerfix" / "bot" / "action_steps.py", action / "dockerfix" / "bot" / "action_steps.py")
    (action / "backend.py").write_text(BACKEND)
    (action / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                                           'backend-path = ["."]\n')
    ws = tmp_path / "ws"
    ws.mkdir()
    r = Runner(tmp_path, ws, action_path=action, env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""})
    # only the install step: stop the check step from running by standing it in
    code = r.run({"mode": "check"}, stand_in={"check": {}})
    assert code == 0, r.stderr + r.stdout
    python = Path(r.outputs["install"]["python"])
    assert python.is_file() and r.runner_temp in python.parents
    probe = subprocess.run([str(python), "-c", "import dfxprobe, sys; print(dfxprobe.WHERE, sys.prefix)"],
                           capture_output=True, text=True)
    assert probe.stdout.startswith("venv " + str(r.runner_temp)), probe.stderr
    caller = subprocess.run([sys.executable, "-c", "import dfxprobe"], capture_output=True, text=True)
    assert caller.returncode != 0, "the caller's Python must not see what the action installed"
    assert r.files["GITHUB_ENV"].read_text() == "" and r.files["GITHUB_PATH"].read_text() == ""


# ------------------------------------------------------------------ pr mode: the push uses the token input
class GitHttpServer:
    """Smart HTTP through ``git http-backend`` (CGI) on 127.0.0.1, accepting only ``Authorization`` equal to
    ``expected``; records every Authorization header list it received."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.expected = "basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.seen: list[tuple[str, list[str]]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _go(self):
                auths = self.headers.get_all("Authorization") or []
                srv.seen.append((self.path, auths))
                if [a.lower() for a in auths] != [srv.expected.lower()]:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {"GIT_PROJECT_ROOT": str(srv.root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
                       "QUERY_STRING": query, "REQUEST_METHOD": self.command, "REMOTE_USER": "x-access-token",
                       "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                       "CONTENT_LENGTH": str(len(body)), "PATH": os.environ["PATH"],
                       "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                       "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(srv.root)}
                p = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
                head, _, payload = p.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    k, _, v = line.partition(":")
                    if k.lower() == "status":
                        status = int(v.strip().split()[0])
                    elif k:
                        headers.append((k, v.strip()))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _go

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{repo}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_checkout(tmp_path):
    """A bare repository behind the token-checking server and a checkout of it, configured the way
    actions/checkout leaves one: an ``http.<origin>/.extraheader`` with another (stale) token."""
    env = _env(tmp_path)
    root = tmp_path / "srv"
    remote = root / "octo" / "app.git"
    remote.parent.mkdir(parents=True)
    sh(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    sh(remote, "config", "http.receivepack", "true", env=env)
    server = GitHttpServer(root, "t0ken")
    ws = tmp_path / "ws"
    sh(tmp_path, "init", "-q", "-b", "main", str(ws), env=env)
    (ws / "Dockerfile").write_text("FROM python:3.12\nRUN pip install flask\n")
    sh(ws, "add", ".", env=env)
    sh(ws, "-c", "user.name=D", "-c", "user.email=d@e", "commit", "-qm", "init", env=env)
    sh(ws, "push", "-q", str(remote), "main", env=env)
    url = server.url("octo/app.git")
    sh(ws, "remote", "add", "origin", url, env=env)
    origin = url.split("/octo/")[0] + "/"
    stale = base64.b64encode(b"x-access-token:stale-checkout-token").decode()
    sh(ws, "config", f"http.{origin}.extraheader", f"AUTHORIZATION: basic {stale}", env=env)
    try:
        yield {"ws": ws, "remote": remote, "server": server, "env": env}
    finally:
        server.close()


def test_pr_mode_pushes_with_the_token_input(tmp_path, http_checkout):
    ws, server = http_checkout["ws"], http_checkout["server"]
    with FakeGitHub() as gh:
        r = Runner(tmp_path, ws, env={**http_checkout["env"], "GITHUB_API_URL": gh.url})
        code = r.run({"mode": "pr", "token": "t0ken", "select": "DFX107"}, stand_in=INSTALLED)
        assert code == 0, r.stderr + r.stdout
        assert gh.calls("POST") and all(c["auth"] == "Bearer t0ken" for c in gh.requests)
    pushed = sh(http_checkout["remote"], "show", "dockerfix/default:Dockerfile", env=http_checkout["env"])
    assert pushed == "FROM python:3.12\nRUN pip install --no-cache-dir flask\n"
    receive = [a for p, a in server.seen if "git-receive-pack" in p]
    assert receive and all(a == [server.expected] for a in receive), "exactly one header: the input's token"
    # the token never shows in the logs, and the checkout's own config is unchanged
    assert "t0ken" not in r.stdout + r.stderr
    assert "stale-checkout-token" not in r.stdout + r.stderr
    assert sh(ws, "config", "--get-regexp", "extraheader", env=http_checkout["env"]).count("\n") == 1


def test_without_the_token_header_the_push_is_refused(http_checkout):
    """The server really checks: git with only the header checkout left cannot push (what the Action did before
    it pushed with the token input)."""
    p = subprocess.run(["git", "push", "-q", "origin", "main:refs/heads/x"], cwd=http_checkout["ws"],
                       env={**http_checkout["env"], "GIT_TERMINAL_PROMPT": "0"}, capture_output=True, text=True)
    assert p.returncode != 0, p.stderr


def test_push_with_token_needs_an_https_remote(tmp_path):
    from dockerfix.bot.git import token_header_config

    assert token_header_config("git@github.com:o/r.git", "x") is None
    pairs = token_header_config("https://github.com/o/r.git", "abc")
    assert pairs[-1] == ("http.https://github.com/.extraheader",
                         "AUTHORIZATION: basic " + base64.b64encode(b"x-access-token:abc").decode())
    assert ("http.https://github.com/.extraheader", "") in pairs and ("http.extraheader", "") in pairs


# ------------------------------------------------------------------ the docs name refs that exist
def test_documented_action_refs_exist():
    refs = []
    for doc in ("docs/integrations.md", "docs/fleets.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        refs += re.findall(r"uses: OWNER/dockerfix@([\w./-]+)", text)
        refs += re.findall(r"repo: https://github\.com/OWNER/dockerfix\s+rev: ([\w./-]+)", text)
    assert refs
    for ref in set(refs):
        p = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=ROOT,
                           capture_output=True, text=True)
        assert p.returncode == 0, f"the docs name {ref!r}, which is not a branch, tag or commit of this repository"
