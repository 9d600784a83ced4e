"""The steps of the GitHub Action (action.yml), as one script the composite action runs and the tests run too.

Stdlib only, and runnable by path before dockerfix is installed (``python action_steps.py STEP``)::

    setup   check the inputs, create an isolated virtual environment under $RUNNER_TEMP, install dockerfix into it
            and write its interpreter to $GITHUB_OUTPUT (``python=...``). Nothing the caller's later steps see
            changes: no $GITHUB_PATH, no $GITHUB_ENV, no interpreter on PATH.
    check   ``dockerfix --format github``: the annotations go to the log as usual (GitHub shows the first 10
            warnings of a step and 50 of a job), and the complete list goes to $GITHUB_STEP_SUMMARY.
    pr      ``dockerfix pr`` with the ``token`` input for the API and for the push (``--push-with-token``: an
            Authorization header for the remote's host that replaces whatever actions/checkout left).

Inputs arrive as environment variables (``INPUT_MODE``, ``INPUT_PATHS``, ...), never by ``${{ }}`` interpolation
inside a shell. The exit code is dockerfix's (2 for a bad input).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

EXIT_INPUT = 2
MODES = ("check", "pr")
BUILDERS = ("", "buildah", "docker", "podman")


class InputError(Exception):
    pass


def _input(env: dict[str, str], name: str, default: str = "") -> str:
    return env.get(f"INPUT_{name.upper().replace('-', '_')}", default).strip()


def _bool(env: dict[str, str], name: str) -> bool:
    value = _input(env, name, "false") or "false"
    if value not in ("true", "false"):
        raise InputError(f"{name} must be 'true' or 'false', not '{value}'")
    return value == "true"


def check_inputs(env: dict[str, str]) -> None:
    mode = _input(env, "mode", "check")
    if mode not in MODES:
        raise InputError(f"mode must be 'check' or 'pr', not '{mode}'")
    _bool(env, "unsafe")
    verify = _bool(env, "verify")
    builder = _input(env, "builder")
    if builder not in BUILDERS:
        raise InputError(f"builder must be empty, 'buildah', 'docker' or 'podman', not '{builder}'")
    if verify and mode != "pr":
        raise InputError("verify: 'true' needs mode: pr")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def error(message: str) -> None:
    print(f"::error title=dockerfix::{_escape_data(message)}", flush=True)


def _append(path_var: str, env: dict[str, str], text: str) -> None:
    path = env.get(path_var)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)


def _paths(env: dict[str, str]) -> list[str]:
    return _input(env, "paths", ".").split() or ["."]


def _common_args(env: dict[str, str]) -> list[str]:
    args = []
    if _input(env, "select"):
        args += ["--select", _input(env, "select")]
    if _input(env, "ignore"):
        args += ["--ignore", _input(env, "ignore")]
    if _bool(env, "unsafe"):
        args.append("--unsafe")
    return args


# ------------------------------------------------------------------ setup
def venv_dir(env: dict[str, str], action_path: str) -> str:
    """Under $RUNNER_TEMP (cleaned after each job), one per action checkout and interpreter."""
    root = env.get("RUNNER_TEMP") or os.path.join(os.path.expanduser("~"), ".cache")
    key = hashlib.sha256(f"{os.path.realpath(action_path)}\0{sys.executable}".encode()).hexdigest()[:12]
    return os.path.join(root, f"dockerfix-action-{key}")


def venv_python(venv: str) -> str:
    return os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" else os.path.join(venv, "bin", "python")


def setup(env: dict[str, str]) -> int:
    check_inputs(env)
    action_path = env.get("GITHUB_ACTION_PATH") or os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    venv = venv_dir(env, action_path)
    python = venv_python(venv)
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", action_path],
                   check=True)
    _append("GITHUB_OUTPUT", env, f"python={python}\n")
    print(f"dockerfix installed in {venv} (isolated: later steps keep their own Python)")
    return 0


# ------------------------------------------------------------------ check
def _unescape_property(value: str) -> str:
    return (value.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",")
            .replace("%25", "%"))


def _unescape_data(value: str) -> str:
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def parse_annotation(line: str) -> dict[str, str] | None:
    """``::warning file=F,line=3,col=1,title=T::message`` as a dict (``level``, properties, ``message``)."""
    if not line.startswith("::"):
        return None
    head, sep, message = line[2:].partition("::")
    if not sep:
        return None
    level, _, props = head.partition(" ")
    if level not in ("error", "warning", "notice"):
        return None
    out = {"level": level, "message": _unescape_data(message.rstrip("\n"))}
    for part in props.split(","):
        k, eq, v = part.partition("=")
        if eq:
            out[k.strip()] = _unescape_property(v)
    return out


SHOWN_PER_STEP = 10
"""GitHub shows at most 10 warnings (and 10 errors) per step as annotations, 50 per job."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def summary_markdown(annotations: list[dict[str, str]], exit_code: int) -> str:
    lines = ["## dockerfix", ""]
    if not annotations:
        lines.append("No findings." if exit_code == 0 else f"dockerfix exited with {exit_code}; see the log.")
        return "\n".join(lines) + "\n"
    n = len(annotations)
    files = len({a.get("file") for a in annotations})
    lines.append(f"{n} finding{'' if n == 1 else 's'} in {files} file{'' if files == 1 else 's'}."
                 + (f" GitHub shows only the first {SHOWN_PER_STEP} of each kind as annotations; all of them are "
                    "listed here." if n > SHOWN_PER_STEP else ""))
    lines += ["", "| file | line | level | finding |", "|---|---:|---|---|"]
    for a in annotations:
        title = a.get("title", "")
        text = f"**{_cell(title)}**: {_cell(a['message'])}" if title else _cell(a["message"])
        lines.append(f"| `{_cell(a.get('file', ''))}` | {a.get('line', '')} | {a['level']} | {text} |")
    return "\n".join(lines) + "\n"


def check(env: dict[str, str], python: str) -> int:
    check_inputs(env)
    cmd = [python, "-m", "dockerfix", "--format", "github", *_common_args(env), "--", *_paths(env)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=env.get("GITHUB_WORKSPACE") or None)
    sys.stdout.write(p.stdout)
    sys.stdout.flush()
    annotations = [a for a in map(parse_annotation, p.stdout.splitlines()) if a is not None]
    _append("GITHUB_STEP_SUMMARY", env, summary_markdown(annotations, p.returncode))
    _append("GITHUB_OUTPUT", env, f"findings={len(annotations)}\n")
    return p.returncode


# ------------------------------------------------------------------ pr
def pr(env: dict[str, str], python: str) -> int:
    check_inputs(env)
    args = ["pr", "--profile", _input(env, "profile", "default") or "default", *_common_args(env)]
    if _bool(env, "verify"):
        args.append("--verify")
        if _input(env, "builder"):
            args += ["--builder", _input(env, "builder")]
    token = _input(env, "token")
    child = {k: v for k, v in env.items() if k != "INPUT_TOKEN"}
    if token:
        child["GITHUB_TOKEN"] = token
        args.append("--push-with-token")
    child.pop("GH_TOKEN", None)
    p = subprocess.run([python, "-m", "dockerfix", *args, "--", *_paths(env)], env=child,
                       cwd=env.get("GITHUB_WORKSPACE") or None)
    return p.returncode


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    env = dict(os.environ) if env is None else env
    if not argv or argv[0] not in ("setup", "check", "pr"):
        print("usage: action_steps.py setup|check|pr [PYTHON]", file=sys.stderr)
        return EXIT_INPUT
    try:
        if argv[0] == "setup":
            return setup(env)
        python = argv[1] if len(argv) > 1 else sys.executable
        return check(env, python) if argv[0] == "check" else pr(env, python)
    except InputError as exc:
        error(str(exc))
        return EXIT_INPUT
    except subprocess.CalledProcessError as exc:
        error(f"{' '.join(map(str, exc.cmd[:4]))} failed with exit code {exc.returncode}")
        return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
