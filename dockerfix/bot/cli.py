"""``dockerfix pr``: fix the Dockerfiles of a git checkout and propose the result as a pull request.

Steps (:func:`run`):

1. Read the flags into one :class:`Settings`; load the body template and the verify report (errors: exit 2 before
   anything else happens).
2. Find the repository (``--repo``, else the remote's URL, else ``$GITHUB_REPOSITORY``) and, unless ``--dry-run``,
   ask the API for it (token check, default branch).
3. Check out the current commit in a temporary worktree and run the fixes there (the same per-file work as
   ``dockerfix --write``: config discovery, safe writes). The user's checkout, branch and working tree are never
   touched; the worktree is removed whatever happens.
   With ``--verify`` the fixes first run without writing; each changed Dockerfile is verified by the injected
   :class:`Verifier` (the original in the worktree, its folder as build context, the same fix settings), and only
   the files verified EQUAL are then written. The others are left out, each with its reason.
4. Nothing changed (or everything was left out): say so (no branch, no pull request is touched). Otherwise commit,
   force-push the commit to ``dockerfix/<profile>`` (skipped when the branch already holds the same tree on the same
   parent), then update the open pull request whose head is that branch (``PATCH``) or open one (``POST``).

Exit codes: 0 done (or nothing to change); 2 error (usage, git, network, API, template) and also when some
Dockerfile could not be processed or was left out by ``--verify`` (the others are still proposed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Protocol

from dockerfix.bot.git import Git, GitError, repo_from_remote_url
from dockerfix.bot.github import DEFAULT_API_URL, GitHubClient, GitHubError

EXIT_OK, EXIT_ERROR = 0, 2
BOT_NAME = "dockerfix"
BOT_EMAIL = "dockerfix@users.noreply.github.com"
GITHUB_BODY_LIMIT = 65536
"""GitHub refuses a pull request body over 65,536 characters (``body is too long``)."""
MAX_BODY = 65000
"""The bound :func:`fit_body` keeps, measured in UTF-16 code units (never fewer than characters), with room to
spare under :data:`GITHUB_BODY_LIMIT`."""


class BotError(Exception):
    """A problem the user can fix; printed as ``dockerfix: error: pr: ...``, exit 2."""


@dataclass(frozen=True)
class Settings:
    paths: tuple[str, ...] = (".",)
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    unsafe: bool | None = None
    profile: str = "default"
    branch: str | None = None
    base: str | None = None
    remote: str = "origin"
    repo: str | None = None
    api_url: str = DEFAULT_API_URL
    token: str | None = None
    template: str | None = None
    verify_report: str | None = None
    title: str | None = None
    dry_run: bool = False
    draft: bool = False
    author: str | None = None
    verify: bool = False
    builder: str | None = None
    lab: str | None = None
    push_with_token: bool = False
    add_files: bool = True
    """Fixes may create companion files (a new ``.dockerignore``): the pull request is the review they need."""
    skip_cosmetic: bool | None = None
    """Leave files whose fixes are all cosmetic out of the pull request: None means the file's configuration
    (``skip-cosmetic``), else yes. Cosmetic fixes alone are no reason to open a pull request."""

    @property
    def branch_name(self) -> str:
        return self.branch or f"dockerfix/{self.profile}"


# ------------------------------------------------------------------ flags
def build_parser() -> argparse.ArgumentParser:
    from dockerfix._cliargs import ArgumentParser

    p = ArgumentParser(
        prog="dockerfix pr",
        description="Fix the Dockerfiles of this git checkout and open (or update) a pull request with the result.",
        epilog="Environment: GITHUB_TOKEN (or GH_TOKEN) for the API; GITHUB_API_URL; GITHUB_REPOSITORY. "
        "Exit codes: 0 done or nothing to change, 2 error. Details: docs/integrations.md.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="Dockerfiles or folders inside the repository (default: .)")
    p.add_argument("--select", action="append", metavar="CODES", help="Only these transforms (comma-separated).")
    p.add_argument("--ignore", action="append", metavar="CODES", help="Skip these transforms.")
    p.add_argument("--unsafe", action=argparse.BooleanOptionalAction, default=None,
                   help="Also apply fixes that may change the image (default: from config, else no).")
    p.add_argument("--profile", default="default", help="Name of this run; the branch is dockerfix/PROFILE.")
    p.add_argument("--branch", help="Branch to push to (default: dockerfix/PROFILE).")
    p.add_argument("--base", help="Base branch of the pull request (default: the current branch, else the "
                   "repository's default branch).")
    p.add_argument("--remote", default="origin", help="Git remote to push to (default: origin).")
    p.add_argument("--repo", metavar="OWNER/NAME", help="GitHub repository (default: from the remote URL).")
    p.add_argument("--api-url", metavar="URL", help="GitHub API URL (default: $GITHUB_API_URL or "
                   f"{DEFAULT_API_URL}; GitHub Enterprise: https://HOST/api/v3).")
    p.add_argument("--template", metavar="PATH", help="Jinja2 template for the pull request body.")
    p.add_argument("--verify-report", metavar="FILE", help="JSON from 'dockerfix verify': adds a size/rebuild table.")
    p.add_argument("--verify", action="store_true",
                   help="Build each changed Dockerfile before and after the rewrite and compare the images; files "
                   "that do not verify EQUAL are left out of the pull request (with the reason in its body).")
    p.add_argument("--builder", choices=("buildah", "docker", "podman"),
                   help="--verify: the builder (default: the first that works).")
    p.add_argument("--lab", metavar="DIR", help="--verify: buildah/podman storage root (default: $DOCKERFIX_LAB).")
    p.add_argument("--title", help="Pull request title.")
    p.add_argument("--draft", action="store_true", help="Open the pull request as a draft.")
    p.add_argument("--author", metavar="'NAME <EMAIL>'", help="Commit author (default: git config, else dockerfix).")
    p.add_argument("--add-files", action=argparse.BooleanOptionalAction, default=True,
                   help="Let fixes create companion files such as a new .dockerignore (default: yes, the pull "
                   "request is where they are reviewed; --no-add-files leaves them out as findings).")
    p.add_argument("--skip-cosmetic", action=argparse.BooleanOptionalAction, default=None,
                   help="Leave out files whose fixes are all cosmetic (ADD->COPY of a plain file, dropping "
                   "--chown=root:root): the same image and cache (default: the configuration's skip-cosmetic, else "
                   "yes; --no-skip-cosmetic includes them).")
    p.add_argument("--push-with-token", action="store_true",
                   help="Fetch and push over HTTPS with the token ($GITHUB_TOKEN) instead of the credentials git "
                   "has (the header actions/checkout persisted is replaced); the token never reaches a command "
                   "line or a config file.")
    p.add_argument("--dry-run", action="store_true",
                   help="Print the branch, commit message and body; push nothing, call no API.")
    return p


def _codes(values: list[str] | None) -> tuple[str, ...] | None:
    from dockerfix.cli_core import split_codes

    return split_codes(values)


def settings_from_args(argv: list[str], env: dict[str, str]) -> Settings:
    a = build_parser().parse_args(argv)
    return Settings(
        paths=tuple(a.paths) or (".",),
        select=_codes(a.select),
        ignore=_codes(a.ignore),
        unsafe=a.unsafe,
        profile=a.profile,
        branch=a.branch,
        base=a.base,
        remote=a.remote,
        repo=a.repo,
        api_url=a.api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL,
        token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
        template=a.template,
        verify_report=a.verify_report,
        title=a.title,
        dry_run=a.dry_run,
        draft=a.draft,
        author=a.author,
        verify=a.verify,
        builder=a.builder,
        lab=a.lab,
        push_with_token=a.push_with_token,
        add_files=a.add_files,
        skip_cosmetic=a.skip_cosmetic,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        settings = settings_from_args(args, dict(os.environ))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    return run(settings, git=Git(os.getcwd()), env=dict(os.environ))


# ------------------------------------------------------------------ inputs
def load_template(path: str | None):
    """The body template (``StrictUndefined``, ``keep_trailing_newline``); raise :class:`BotError`."""
    import jinja2

    if path is None:
        from importlib import resources

        source = resources.files("dockerfix.bot").joinpath("templates/pr_body.md.j2").read_text("utf-8")
        name = "pr_body.md.j2"
    else:
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise BotError(f"--template {path}: cannot read: {exc}") from None
        name = path
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise BotError(f"{name}:{exc.lineno}: template syntax error: {exc.message}") from None


def _pair(value: Any, key: str, app: dict[str, Any]) -> tuple[Any, Any] | None:
    """``before``/``after`` of a verify metric given as ``{before, after}``, ``[before, after]``, or
    ``KEY_before``/``KEY_after``; a plain number is an ``after`` alone."""
    if isinstance(value, dict):
        return value.get("before"), value.get("after")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    if f"{key}_before" in app or f"{key}_after" in app:
        return app.get(f"{key}_before"), app.get(f"{key}_after")
    if value is None:
        return None
    return None, value


def human_bytes(n: Any) -> str:
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return "?" if n is None else str(n)
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def _fmt_pair(p: tuple[Any, Any] | None, fmt: Callable[[Any], str] = str) -> str:
    if p is None:
        return "n/a"
    before, after = p
    if before is None:
        return fmt(after) if after is not None else "n/a"
    return f"{fmt(before)} → {fmt(after)}"


def _seconds(v: Any) -> str:
    return f"{v:.1f} s" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def load_verify_report(path: str) -> dict[str, Any]:
    """Normalise the JSON ``dockerfix verify`` emits into table rows; raise :class:`BotError`.

    Accepted: ``{"apps": {NAME: APP}}``, ``{"apps": [{"name": NAME, ...APP}]}`` or ``{NAME: APP}``, where APP has
    ``size_before``/``size_after`` (bytes), ``layers``, ``rebuild_steps``, ``rebuild_seconds`` (each a number, a
    ``{"before", "after"}`` object, a ``[before, after]`` pair, or ``KEY_before``/``KEY_after`` keys) and ``equal``.
    Also accepted: one ``dockerfix verify`` JSON report (``dockerfile``, ``equal``, ``before``/``after`` sides with
    ``image_bytes``, ``layers``, ``rebuild_steps``, ``rebuild_seconds``) or a list of them.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise BotError(f"--verify-report {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BotError(f"--verify-report {path}: not valid JSON: {exc}") from None
    if isinstance(data, dict) and _is_verify_report(data):
        data = {"apps": [data]}
    apps_raw = data.get("apps", data) if isinstance(data, dict) else data if isinstance(data, list) else None
    if isinstance(apps_raw, list):
        apps_raw = [_from_verify_report(a) if _is_verify_report(a) else a for a in apps_raw]
        items = [(str(a.get("name", i)), a) for i, a in enumerate(apps_raw) if isinstance(a, dict)]
    elif isinstance(apps_raw, dict):
        items = [(str(k), v) for k, v in apps_raw.items() if isinstance(v, dict)]
    else:
        items = []
    if not items:
        raise BotError(f"--verify-report {path}: no apps found (expected a JSON object of apps, each with "
                       "size_before/size_after/layers/rebuild_steps/rebuild_seconds/equal)")
    return {"apps": [table_row(name, app) for name, app in items], "raw": data}


def table_row(name: str, app: dict[str, Any]) -> dict[str, Any]:
    """One row of the size/rebuild table (formatted strings; ``raw`` is the app's JSON)."""
    sb, sa = app.get("size_before"), app.get("size_after")
    change = "n/a"
    if isinstance(sb, (int, float)) and isinstance(sa, (int, float)) and sb:
        change = f"{(sa - sb) / sb * 100:+.1f}%"
    equal = app.get("equal")
    return {
        "name": name,
        "size_before": human_bytes(sb),
        "size_after": human_bytes(sa),
        "size_change": change,
        "layers": _fmt_pair(_pair(app.get("layers"), "layers", app)),
        "rebuild_steps": _fmt_pair(_pair(app.get("rebuild_steps"), "rebuild_steps", app)),
        "rebuild_seconds": _fmt_pair(_pair(app.get("rebuild_seconds"), "rebuild_seconds", app), _seconds),
        "equal": "yes" if equal is True else "**no**" if equal is False else "n/a",
        "verdict": "EQUAL" if equal is True else "DIFFERENT" if equal is False else "n/a",
        "raw": app,
    }


def _is_verify_report(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("before"), dict) and isinstance(d.get("after"), dict)


def _from_verify_report(d: dict[str, Any]) -> dict[str, Any]:
    """``dockerfix verify --format json`` (``VerifyReport.to_dict``: ``before``/``after`` sides) as an app row."""
    b, a = d["before"], d["after"]
    return {
        "name": d.get("name") or d.get("dockerfile") or "?",
        "size_before": b.get("image_bytes"), "size_after": a.get("image_bytes"),
        "layers": [b.get("layers"), a.get("layers")],
        "rebuild_steps": [b.get("rebuild_steps"), a.get("rebuild_steps")] if b.get("rebuild_steps") is not None else None,
        "rebuild_seconds": ([b.get("rebuild_seconds"), a.get("rebuild_seconds")]
                            if b.get("rebuild_seconds") is not None else None),
        "equal": d.get("equal"),
    }


def resolve_repo(settings: Settings, git: Git, env: dict[str, str]) -> tuple[str, str] | None:
    if settings.repo:
        owner, _, name = settings.repo.partition("/")
        if not owner or not name or "/" in name:
            raise BotError(f"--repo {settings.repo}: expected OWNER/NAME")
        return owner, name
    try:
        found = repo_from_remote_url(git.remote_url(settings.remote))
    except GitError:
        found = None
    if found:
        return found
    gh = env.get("GITHUB_REPOSITORY", "")
    if gh.count("/") == 1:
        owner, name = gh.split("/")
        return owner, name
    return None


# ------------------------------------------------------------------ verification
@dataclass(frozen=True)
class VerifyJob:
    """One changed Dockerfile to verify: the original as committed (in the worktree), its build context (the folder,
    or the configured context, as ``--write`` uses it) and the fix settings the bot resolved for it, so the
    verifier's rewrite is the one the bot commits."""

    path: str
    """Repository-relative, ``/``-separated (for messages)."""
    dockerfile: str
    context: str
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    unsafe: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    workdir: str | None = None
    """An empty folder for the verifier's copies (inside the bot's temporary folder), or None."""


class VerificationFailed(Exception):
    """Verification could not run for one file. ``kind`` is the verdict shown (``NO BUILDER``, ``BUILD ERROR``);
    the message is one line, ``details`` (a build log tail) may span many."""

    def __init__(self, kind: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details


class Verifier(Protocol):
    """Builds a Dockerfile before and after the rewrite and compares the images (process access lives behind it)."""

    def verify(self, job: VerifyJob, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        """The report as ``dockerfix verify --json`` writes it; raise :class:`VerificationFailed` when it cannot
        run (no builder, a build fails)."""
        ...


class BuilderVerifier:
    """:func:`dockerfix.verify.run.verify` on a real builder: ``builder`` when given, else ``name``
    (``--builder``), else the first that works; chosen once, on the first file."""

    def __init__(self, name: str | None = None, lab_root: str | None = None, *, builder: Any = None) -> None:
        self.name = name
        self.lab_root = lab_root
        self._builder = builder
        self._error: str | None = None

    def builder(self) -> Any:
        if self._builder is None and self._error is None:
            from dockerfix.verify.run import VerifyError, choose_builder

            try:
                self._builder = choose_builder(self.name, self.lab_root)
            except VerifyError as exc:
                self._error = str(exc)
        if self._error is not None:
            raise VerificationFailed("NO BUILDER", self._error)
        return self._builder

    def verify(self, job: VerifyJob, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        from dockerfix.syntax import DockerfileSyntaxError
        from dockerfix.verify.builders import BuildError
        from dockerfix.verify.run import VerifyError, verify

        builder = self.builder()
        try:
            report = verify(job.dockerfile, builder, context=job.context,
                            select=list(job.select) if job.select is not None else None,
                            ignore=list(job.ignore) if job.ignore is not None else None,
                            unsafe=job.unsafe, settings=job.settings, workdir=job.workdir, progress=progress)
        except VerifyError as exc:
            first, _, rest = str(exc).partition("\n")
            raise VerificationFailed("BUILD ERROR", first, rest.strip("\n")) from None
        except BuildError as exc:  # the rebuild after the source edit
            raise VerificationFailed("BUILD ERROR", f"the rebuild after a source edit failed: {exc}",
                                     exc.tail()) from None
        except (DockerfileSyntaxError, OSError, ValueError) as exc:
            raise VerificationFailed("BUILD ERROR", f"{type(exc).__name__}: {exc}") from None
        return report.to_dict()


@dataclass
class FileVerdict:
    """How one changed Dockerfile fared under ``--verify``; only ``EQUAL`` files go into the pull request."""

    path: str
    verdict: str
    """``EQUAL``, ``DIFFERENT`` (or the report's own verdict word), ``BUILD ERROR``, ``NO BUILDER``,
    ``NOT VERIFIED`` (the verifier rewrote the file differently from the bot), ``ERROR`` (a bug)."""
    reason: str
    details: str = ""
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict == "EQUAL"


def describe_difference(v: dict[str, Any]) -> str:
    """One violation of a ``dockerfix verify`` comparison (JSON) as a short phrase."""
    if "field" in v:
        return f"config {v['field']}: {v.get('a')!r} → {v.get('b')!r}"
    kind = v.get("kind")
    if kind == "only_a":
        return f"/{v.get('path')} is gone"
    if kind == "only_b":
        return f"/{v.get('path')} is new"
    attrs = v.get("attributes") or {}
    what = ", ".join(f"{k} {_short(a)} → {_short(b)}" for k, (a, b) in attrs.items()) if attrs else "changed"
    return f"/{v.get('path')} {what}"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 24 else text[:21] + "..."


NOT_TRANSFORMS = {"build": "build noise", "baseline": "build noise", "rewrite": "the rewritten files"}
"""Allowance codes ``dockerfix verify`` uses for differences no transform declares: any two builds differ there
(``build``), two builds of the original did (``baseline``), the rewritten Dockerfile or ``.dockerignore`` copied
into the image (``rewrite``)."""


def describe_check(check: dict[str, Any]) -> str:
    """One failed smoke check or healthcheck of a ``dockerfix verify`` report (JSON) as a short phrase: the
    command, both exit statuses and what else differs."""
    what = "HEALTHCHECK" if check.get("kind") == "healthcheck" else "smoke"
    codes = [(check.get(side) or {}).get("exit_code") for side in ("before", "after")]
    rest = [str(d) for d in check.get("differences") or [] if not str(d).startswith("exit status ")]
    return (f"{what} `{check.get('command')}` exits {codes[0]} → {codes[1]}"
            + (f" ({', '.join(rest)})" if rest else ""))


CHECK_OUTPUT_LINES = 10
"""Lines of each output a left-out file's details show per failed check (all of it is in the report)."""


def _check_details(check: dict[str, Any]) -> list[str]:
    lines = [describe_check(check)]
    streams = ("stdout", "stderr") if "stdout" in (check.get("compared") or ["stdout"]) else ("stderr",)
    for side, label in (("before", "original"), ("after", "rewrite")):
        out = check.get(side) or {}
        for name in streams:
            rows = str(out.get(name) or "").splitlines()
            if rows:
                lines.append(f"  {label} {name}:")
                lines += [f"    {r}" for r in rows[:CHECK_OUTPUT_LINES]]
                if len(rows) > CHECK_OUTPUT_LINES:
                    lines.append(f"    ... {len(rows) - CHECK_OUTPUT_LINES} more lines")
    return lines


def judge(path: str, report: dict[str, Any], expected: list[tuple[str, Any]] | None) -> FileVerdict:
    """The verdict for one report; ``expected`` are the bot's ``(code, line)`` changes for the file."""
    notes = [str(n) for n in report.get("notes") or []]
    if expected is not None and isinstance(report.get("changes"), list):
        got = sorted((str(c.get("code")), c.get("line")) for c in report["changes"] if isinstance(c, dict))
        if got != sorted(expected):
            fmt = lambda cs: ", ".join(f"{c} line {ln}" for c, ln in cs) or "none"  # noqa: E731
            return FileVerdict(path, "NOT VERIFIED", f"the verifier's rewrite is not the bot's (verified: "
                               f"{fmt(got)}; proposed: {fmt(sorted(expected))})", notes=notes, report=report)
    word = report.get("verdict")
    if isinstance(word, str) and word.strip():
        verdict = word.strip().upper()
    else:
        verdict = "EQUAL" if report.get("equal") is True else "DIFFERENT"
    comp = report.get("comparison") or {}
    if verdict == "EQUAL":
        allowed = comp.get("allowed") or []
        by = [a["allowed_by"].get("code") for a in allowed
              if isinstance(a, dict) and isinstance(a.get("allowed_by"), dict)]
        codes = sorted({c for c in by if c is not None and c not in NOT_TRANSFORMS})
        others = sorted({NOT_TRANSFORMS[c] for c in by if c in NOT_TRANSFORMS})
        if allowed:
            reason = (f"apart from declared differences ({len(allowed)} allowed"
                      + (f": {', '.join(codes)}" if codes else f": {', '.join(others) or 'build noise'}") + ")")
        else:
            reason = "the same files and settings"
        return FileVerdict(path, verdict, reason, notes=notes, report=report)
    violations = [v for key in ("only_a", "only_b", "changed", "config") for v in comp.get(key) or []
                  if isinstance(v, dict)]
    failed = [c for c in report.get("smoke") or [] if isinstance(c, dict) and c.get("passed") is False]
    reasons, details = [], []
    if violations:
        shown = "; ".join(describe_difference(v) for v in violations[:3])
        more = f"; and {len(violations) - 3} more" if len(violations) > 3 else ""
        n = len(violations)
        reasons.append(f"{n} difference{'' if n == 1 else 's'} no transform declares: {shown}{more}")
        if n > 3:
            details += [describe_difference(v) for v in violations[:40]]
            if n > 40:
                details.append(f"... and {n - 40} more")
    if failed:
        shown = "; ".join(describe_check(c) for c in failed[:3])
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        reasons.append(f"the behaviour differs: {shown}{more}")
        for c in failed:
            details += _check_details(c)
    if not reasons:
        reasons.append("the behaviour differs (a smoke check or the healthcheck disagrees)"
                       if report.get("images_equal") is True and report.get("behaviour_equal") is False
                       else "the images differ")
    reason = "; and ".join(reasons)
    return FileVerdict(path, verdict, reason, details="\n".join(details), notes=notes, report=report)


# ------------------------------------------------------------------ fixing
@dataclass
class Outcome:
    reports: list[Any] = field(default_factory=list)
    changed_paths: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    verdicts: list[FileVerdict] | None = None
    """With ``--verify``: one per changed Dockerfile, in order; None without."""
    builder: str | None = None

    @property
    def left_out(self) -> list[FileVerdict]:
        return [v for v in self.verdicts or () if not v.ok]


def _repo_relative(paths: tuple[str, ...], top: str, cwd: str) -> list[str]:
    out = []
    real_top = os.path.realpath(top)
    for p in paths:
        full = os.path.realpath(os.path.join(cwd, p))
        rel = os.path.relpath(full, real_top)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise BotError(f"{p}: outside the repository ({top})")
        out.append("." if rel == os.curdir else rel)
    return out


def plan(settings: Settings, root: str, rel_paths: list[str], *, write: bool) -> tuple[list[Any], list[Any]]:
    """The per-file tasks (config resolved as ``dockerfix --write`` resolves it) and the reports of files that
    cannot even be planned (missing, bad config)."""
    from dockerfix._record import replace
    from dockerfix.cli_core import Options, make_task
    from dockerfix.config import ConfigError, Finder
    from dockerfix.io.files import discover
    from dockerfix.outputs import FileError, FileReport

    opts = Options(paths=tuple(rel_paths), mode="write" if write else "report", select=settings.select,
                   ignore=settings.ignore, unsafe=settings.unsafe, add_files=settings.add_files)
    found, missing = discover([os.path.join(root, p) for p in rel_paths])
    failed = [FileReport(_rel(e.path, root), error=FileError("io", e.message)) for e in missing]
    tasks = []
    finder = Finder()
    for path in found:
        disp = _rel(path, root)
        try:
            cfg = finder.for_file(path)
        except ConfigError as exc:
            failed.append(FileReport(disp, error=FileError("config", str(exc))))
            continue
        skip = settings.skip_cosmetic
        if skip is None:
            skip = cfg.skip_cosmetic if cfg.skip_cosmetic is not None else True
        tasks.append(make_task(replace(opts, skip_cosmetic=skip), cfg, path, disp, os.path.dirname(path)))
    return tasks, failed


def _process_all(tasks: list[Any]) -> list[Any]:
    from dockerfix.api import batch
    from dockerfix.cli_core import process

    with batch():
        return [process(t) for t in tasks]


def fix_worktree(settings: Settings, wt: Git, rel_paths: list[str], *, verifier: Verifier | None = None,
                 progress: Callable[[str], None] | None = None) -> Outcome:
    """Run the fixes on the files of the worktree ``wt`` (the same per-file work as ``dockerfix --write``).

    With a ``verifier``: fix without writing, verify each changed file (the worktree still holds the originals),
    then write only the files verified EQUAL."""
    from dockerfix._record import replace

    root = wt.cwd
    out = Outcome()
    if verifier is None:
        tasks, failed = plan(settings, root, rel_paths, write=True)
        out.reports = failed + _process_all(tasks)
    else:
        tasks, failed = plan(settings, root, rel_paths, write=False)
        first = _process_all(tasks)
        todo = [(t, r) for t, r in zip(tasks, first) if r.changed and not r.failed]
        out.verdicts = verify_files(todo, verifier, os.path.join(os.path.dirname(root), "verify"), progress)
        builders = {str(v.report.get("builder")) for v in out.verdicts if v.report and v.report.get("builder")}
        out.builder = ", ".join(sorted(builders)) or None
        passed = {v.path for v in out.verdicts if v.ok}
        again = [replace(t, write=True) for t, r in todo if r.path in passed]
        written = _process_all(again)
        for r, before in zip(written, [r for _t, r in todo if r.path in passed]):
            if r.text != before.text or [s.after for s in r.side_files] != [s.after for s in before.side_files]:
                # the fixes are deterministic; should they ever not be, nothing unverified is committed
                raise BotError(f"{r.path}: the rewrite changed between verification and commit (a dockerfix bug)")
        out.reports = failed + [r for r in first if r.failed] + written
    out.changed_paths = wt.status_paths()
    if out.changed_paths:
        wt.run("add", "--all", "--", *out.changed_paths)
        for p in out.changed_paths:
            out.diffs[p] = wt.run("diff", "--cached", "--no-color", "--no-ext-diff", "HEAD", "--", p)
    return out


def verify_files(todo: list[tuple[Any, Any]], verifier: Verifier, workroot: str,
                 progress: Callable[[str], None] | None) -> list[FileVerdict]:
    """Verify each (task, report) pair; never raises: failures become verdicts."""
    import time

    verdicts = []
    for i, (task, report) in enumerate(todo, 1):
        path = report.path
        say = (lambda m, _p=path, _i=i: progress(f"[{_i}/{len(todo)}] {_p}: {m}")) if progress else None
        if say:
            say("verifying")
        workdir = os.path.join(workroot, str(i))
        os.makedirs(workdir, exist_ok=True)
        dockerfile = os.path.normpath(task.path)
        context = os.path.normpath(task.context or os.path.dirname(dockerfile))
        job = VerifyJob(path, dockerfile, context, task.select, task.ignore, task.unsafe, dict(task.settings), workdir)
        expected = [(c.to_dict()["code"], c.to_dict()["line"]) for c in report.changes]
        t0 = time.monotonic()
        try:
            v = judge(path, verifier.verify(job, say), expected)
        except VerificationFailed as exc:
            v = FileVerdict(path, exc.kind, exc.message, details=exc.details)
        except Exception as exc:  # a bug in a verifier: this file is left out, the others go on
            v = FileVerdict(path, "ERROR", f"internal error: {type(exc).__name__}: {exc}")
        v.seconds = time.monotonic() - t0
        shutil.rmtree(workdir, ignore_errors=True)
        if say:
            say(f"{v.verdict} ({v.seconds:.0f} s)")
        verdicts.append(v)
    return verdicts


def _rel(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


# ------------------------------------------------------------------ messages
def _fence(text: str) -> str:
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def demote_headings(markdown: str, levels: int) -> str:
    """``## What`` -> ``##### What`` outside code fences, so transform docs nest under the body's headings."""
    out, fence = [], None
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            fence = None if fence == mark else (fence or mark)
        elif fence is None and stripped.startswith("#"):
            hashes = len(stripped) - len(stripped.lstrip("#"))
            if hashes <= 6 and stripped[hashes:hashes + 1] in (" ", ""):
                line = "#" * min(6, hashes + levels) + stripped[hashes:]
        out.append(line)
    return "\n".join(out)


def web_url(api_url: str, env: dict[str, str] | None = None) -> str | None:
    """The web address of the GitHub the API belongs to: ``$GITHUB_SERVER_URL`` (set on Actions runners), else
    ``https://github.com`` for ``api.github.com``, else the Enterprise host of ``https://HOST/api/v3``; None when
    it cannot be told (a test server, an unusual proxy)."""
    import urllib.parse

    server = (env or {}).get("GITHUB_SERVER_URL", "").rstrip("/")
    if server:
        return server
    u = urllib.parse.urlsplit(api_url.rstrip("/"))
    if u.scheme not in ("http", "https") or not u.netloc:
        return None
    if u.netloc == "api.github.com":
        return "https://github.com"
    if u.path.endswith("/api/v3"):
        return f"{u.scheme}://{u.netloc}{u.path[:-len('/api/v3')]}"
    return None


def compare_url(server: str | None, repo: str, base: str, branch: str) -> str | None:
    """``SERVER/OWNER/NAME/compare/BASE...BRANCH``: the whole change on the branch, however long the body."""
    import urllib.parse

    if not server or repo.count("/") != 1 or base.startswith("("):
        return None
    q = lambda ref: urllib.parse.quote(ref, safe="/")  # noqa: E731
    return f"{server}/{repo}/compare/{q(base)}...{q(branch)}"


def body_context(settings: Settings, outcome: Outcome, *, base: str, repo: str, verify: dict | None,
                 server_url: str | None = None) -> dict[str, Any]:
    from dockerfix import __version__
    from dockerfix.transforms.registry import by_key

    used: dict[str, str]
    files, used = [], {}
    per_code: dict[str, dict[str, Any]] = {}
    reported = set()
    for r in outcome.reports:
        if r.error is not None or not r.changed:
            continue
        reported.add(r.path)
        diff = outcome.diffs.get(r.path, "")
        codes: list[str] = []
        for c in r.changes:
            used.setdefault(c.code, c.name)
            n = per_code.setdefault(c.code, {"fixes": 0, "unsafe": 0, "files": set()})
            n["fixes"] += 1
            n["unsafe"] += 0 if c.safe else 1
            n["files"].add(r.path)
            if c.code not in codes:
                codes.append(c.code)
        files.append({
            "path": r.path,
            "changes": [c.to_dict() for c in r.changes],
            "findings": [c.to_dict() for c in r.findings],
            "codes": codes,
            "unsafe": sum(1 for c in r.changes if not c.safe),
            "diff": diff,
            "fence": _fence(diff),
        })
    other = [{"path": p, "diff": d, "fence": _fence(d)} for p, d in outcome.diffs.items() if p not in reported]
    transforms = []
    for code in sorted(used):
        t = by_key(code)
        n = per_code.get(code, {"fixes": 0, "unsafe": 0, "files": set()})
        transforms.append({
            "code": code, "name": used[code],
            "summary": getattr(t, "summary", "") if t else "",
            "safety": getattr(t, "safety", "") if t else "",
            "docs": demote_headings((getattr(t, "docs", "") or "").strip(), 3) if t else "",
            "fixes": n["fixes"], "unsafe": n["unsafe"], "files": len(n["files"]),
        })
    errors = [{"path": r.path, "message": r.error.message if r.error else "; ".join(r.internal_errors),
               "line": r.error.line if r.error else None}
              for r in outcome.reports if r.failed]
    return {
        "marker": f"<!-- dockerfix-pr profile={settings.profile} -->",
        "profile": settings.profile,
        "branch": settings.branch_name,
        "base": base,
        "repo": repo,
        "unsafe": bool(settings.unsafe),
        "version": __version__,
        "files": files,
        "other_files": other,
        "transforms": transforms,
        "errors": errors,
        "verify": verify,
        "verification": verification_context(outcome),
        "pins": sum(1 for f in files for c in f["changes"] if c["code"] == "DFX401"),
        "include_diffs": True,
        "include_details": True,
        "include_docs": True,
        "files_listed": len(files),
        "shortened": False,
        "compare_url": compare_url(server_url, repo, base, settings.branch_name),
        "summary": {"files": len(files), "changes": sum(len(f["changes"]) for f in files)},
    }


def verification_rows(outcome: Outcome) -> dict[str, Any] | None:
    """With ``--verify``: the table rows (the ``verify`` variable) of the files verified EQUAL, in order."""
    if outcome.verdicts is None:
        return None
    rows, raw = [], []
    for v in outcome.verdicts:
        if v.ok and v.report is not None:
            rows.append({**table_row(v.path, _from_verify_report({**v.report, "name": v.path})), "verdict": v.verdict})
            raw.append(v.report)
    return {"apps": rows, "raw": raw} if rows else None


def verification_context(outcome: Outcome) -> dict[str, Any] | None:
    if outcome.verdicts is None:
        return None
    files = [{
        "path": v.path, "verdict": v.verdict, "ok": v.ok, "reason": v.reason, "details": v.details,
        "fence": _fence(v.details), "notes": v.notes, "seconds": round(v.seconds, 1),
    } for v in outcome.verdicts]
    return {
        "builder": outcome.builder or "no builder",
        "files": files,
        "verified": [f for f in files if f["ok"]],
        "left_out": [f for f in files if not f["ok"]],
        "seconds": round(sum(v.seconds for v in outcome.verdicts), 1),
    }


def body_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (a character outside the BMP counts twice), so the bound
    holds whichever way it counts."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


SHORTENING_STEPS = (
    ("include_diffs", "the diffs"),
    ("include_details", "the per-file details"),
    ("include_docs", "the transforms' explanations"),
)
"""What :func:`fit_body` leaves out, in order, while the body is too long (context flags the template reads)."""


def render_body(template, ctx: dict[str, Any], limit: int = MAX_BODY) -> str:
    return fit_body(template, ctx, limit)[0]


def fit_body(template, ctx: dict[str, Any], limit: int = MAX_BODY) -> tuple[str, list[str]]:
    """The body, made to fit ``limit`` (see :func:`body_length`), and what was left out to fit (empty: nothing).

    The template renders with everything; while too long it renders again without the diffs, then without the
    per-file details, then without the transforms' explanations (each flag is a context variable), then with fewer
    rows in the per-file table (``files_listed``; the template points to the branch diff, ``compare_url``, for the
    rest). A body still too long (a custom template, thousands of errors) is cut at a line, its open code fence and
    ``<details>`` closed, with a pointer to the branch diff. ``shortened`` tells the template it was shortened."""
    import jinja2

    def render(**kw: Any) -> str:
        try:
            return template.render(**{**ctx, **kw})
        except jinja2.UndefinedError as exc:
            raise BotError(f"template: {exc.message} (available: {', '.join(sorted(ctx))})") from None
        except jinja2.TemplateError as exc:
            raise BotError(f"template: {exc}") from None

    body = render()
    if body_length(body) <= limit:
        return body, []
    left_out: list[str] = []
    flags: dict[str, Any] = {"shortened": True}
    for key, what in SHORTENING_STEPS:
        if ctx.get(key, True) is False:
            continue
        flags[key] = False
        shorter = render(**flags)
        if shorter != body:  # a template that does not read the flag loses nothing
            left_out.append(what)
        body = shorter
        if body_length(body) <= limit:
            return body, left_out
    n_files = len(ctx.get("files") or ())
    listed = n_files
    table = body_length(body) - body_length(render(**flags, files_listed=0)) if n_files else 0
    for _ in range(20):  # shrink the per-file table in proportion to the excess, at least one row a time
        over = body_length(body) - limit
        if listed == 0 or table <= 0 or over <= 0:
            break
        row = max(1, table // n_files)
        listed = max(0, min(listed - 1, listed - -(-over // row)))
        body = render(**flags, files_listed=listed)
    if listed < n_files and n_files:
        left_out.append(f"{n_files - listed} of {n_files} rows of the file table")
    if body_length(body) > limit:
        body = cut_body(body, limit, ctx.get("compare_url"), ctx.get("branch"))
        left_out.append("the end of the body")
    return body, left_out


def cut_body(body: str, limit: int, compare: str | None, branch: str | None) -> str:
    """``body`` cut at a line boundary to fit ``limit`` with a closing note: open code fences and ``<details>``
    are closed so the rest of the page still renders."""
    where = f"the branch diff: {compare}" if compare else f"the branch `{branch or '?'}`"
    note = f"\n\n**This description was cut to fit GitHub's limit.** The complete change is in {where}\n"
    lines = body.split("\n")
    kept: list[str] = []
    size = 0
    fence: str | None = None
    open_details = 0
    reserve = body_length(note) + 16  # closing fence and tags
    for line in lines:
        closing = (len(fence) + 1 if fence else 0) + open_details * len("\n</details>\n")
        if size + body_length(line) + 1 + closing + reserve > limit:
            break
        kept.append(line)
        size += body_length(line) + 1
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                fence = None
        elif stripped.startswith(("```", "~~~")):
            mark = stripped[0]
            fence = stripped[: len(stripped) - len(stripped.lstrip(mark))]
        else:
            open_details += stripped.count("<details") - stripped.count("</details>")
            open_details = max(0, open_details)
    tail = ""
    if fence is not None:
        tail += "\n" + fence
    tail += "\n</details>\n" * open_details
    return "\n".join(kept) + tail + note


def commit_message(settings: Settings, ctx: dict[str, Any]) -> str:
    n_files, n_changes = ctx["summary"]["files"], ctx["summary"]["changes"]
    subject = settings.title or (
        f"dockerfix: {n_changes} fix{'' if n_changes == 1 else 'es'} in {n_files} "
        f"Dockerfile{'' if n_files == 1 else 's'}" + ("" if settings.profile == "default" else f" ({settings.profile})")
    )
    lines = [subject, ""]
    for f in ctx["files"]:
        codes = []
        for c in f["changes"]:
            label = f"{c['code']} {c['name']}"
            if label not in codes:
                codes.append(label)
        lines.append(f"{f['path']}: {', '.join(codes)}")
    for f in ctx["other_files"]:
        lines.append(f"{f['path']}: updated along")
    verification = ctx.get("verification")
    if verification:
        lines.append("")
        if verification["verified"]:
            lines.append(f"Verified with {verification['builder']} (images compared): "
                         + ", ".join(f"{f['path']} {f['verdict']}" for f in verification["verified"]) + ".")
        for f in verification["left_out"]:
            lines.append(f"Left out: {f['path']} ({f['verdict']}).")
    lines += ["", f"Generated by dockerfix {ctx['version']} (profile {settings.profile}, "
              f"{'unsafe fixes included' if settings.unsafe else 'safe fixes only'})."]
    return "\n".join(lines) + "\n"


def _identity(settings: Settings, git: Git) -> dict[str, str]:
    if settings.author:
        name, _, email = settings.author.partition("<")
        name, email = name.strip(), email.rstrip(">").strip()
        if not name or not email:
            raise BotError(f"--author {settings.author!r}: expected 'NAME <EMAIL>'")
    else:
        name = git.config("user.name") or BOT_NAME
        email = git.config("user.email") or BOT_EMAIL
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


# ------------------------------------------------------------------ the run
def run(
    settings: Settings,
    *,
    git: Git,
    env: dict[str, str] | None = None,
    client: GitHubClient | None = None,
    verifier: Verifier | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Do it; return the exit code. Never raises for expected failures (git, network, API, template, builds).

    ``client`` and ``verifier`` default to the real GitHub API and :class:`BuilderVerifier` (``--verify`` only)."""
    env = dict(os.environ) if env is None else env
    out = out or sys.stdout
    err = err or sys.stderr

    def fail(msg: str) -> int:
        err.write(f"dockerfix: error: pr: {msg}\n")
        err.flush()
        return EXIT_ERROR

    try:
        return _run(settings, git, env, client, verifier, out, err)
    except BotError as exc:
        return fail(str(exc))
    except GitHubError as exc:
        return fail(str(exc))
    except GitError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


def _run(settings: Settings, git: Git, env: dict[str, str], client: GitHubClient | None,
         verifier: Verifier | None, out: IO[str], err: IO[str]) -> int:
    from dockerfix.cli_core import Options, UsageError, validate

    try:
        validate(Options(paths=settings.paths, mode="write", select=settings.select, ignore=settings.ignore))
    except UsageError as exc:
        raise BotError(str(exc)) from None
    if settings.verify and settings.verify_report:
        raise BotError("--verify and --verify-report cannot be combined (--verify measures the files itself)")
    if not settings.verify and (settings.builder or settings.lab):
        raise BotError(f"{'--builder' if settings.builder else '--lab'} needs --verify")
    if settings.verify:
        verifier = verifier or BuilderVerifier(settings.builder, settings.lab or env.get("DOCKERFIX_LAB") or None)
    else:
        verifier = None
    progress = None
    if verifier is not None and err.isatty():
        def progress(msg: str) -> None:
            err.write(f"dockerfix pr: {msg}\n")
            err.flush()
    template = load_template(settings.template)
    verify = load_verify_report(settings.verify_report) if settings.verify_report else None
    try:
        top = git.toplevel()
    except GitError as exc:
        raise BotError(f"not inside a git checkout ({exc.stderr})") from None
    rel_paths = _repo_relative(settings.paths, top, git.cwd)
    head = git.head()
    repo = resolve_repo(settings, git, env)
    if repo is None and not settings.dry_run:
        raise BotError(f"cannot tell the GitHub repository from remote '{settings.remote}': pass --repo OWNER/NAME")
    repo_name = "/".join(repo) if repo else "(unknown)"
    base = settings.base or head.branch
    if not settings.dry_run:
        if not settings.token:
            raise BotError("GITHUB_TOKEN is not set: the bot needs a token with 'contents: write' and "
                           "'pull-requests: write' (or use --dry-run)")
        client = client or GitHubClient(settings.api_url, settings.token)
        info = client.get_repo(*repo)  # type: ignore[misc]
        base = base or (info or {}).get("default_branch")
        if not base:
            raise BotError("HEAD is detached and the repository has no default branch: pass --base BRANCH")
    base = base or "(default branch)"

    tmp = tempfile.mkdtemp(prefix="dockerfix-pr-")
    wt_path = os.path.join(tmp, "worktree")
    wt: Git | None = None
    try:
        wt = git.worktree_add(wt_path, head.sha)
        outcome = fix_worktree(settings, wt, rel_paths, verifier=verifier, progress=progress)
        failed = [r for r in outcome.reports if r.failed]
        for r in failed:
            msg = r.error.message if r.error else "; ".join(r.internal_errors)
            err.write(f"dockerfix pr: warning: {r.error_location()}: {msg} (file left out)\n")
        left_out = outcome.left_out
        for v in left_out:
            err.write(f"dockerfix pr: warning: left out: {v.path} — {v.verdict}: {v.reason}\n")
        code = EXIT_ERROR if failed or left_out else EXIT_OK
        if not outcome.changed_paths:
            if left_out:
                n = len(left_out)
                err.write(f"dockerfix pr: nothing left to propose: {'the' if n == 1 else f'all {n}'} changed "
                          f"Dockerfile{'' if n == 1 else 's'} failed verification; no branch pushed, no pull "
                          "request touched\n")
            else:
                err.write("dockerfix pr: nothing to change; no branch pushed, no pull request touched\n")
            return code
        if settings.verify:
            verify = verification_rows(outcome)
        ctx = body_context(settings, outcome, base=base, repo=repo_name, verify=verify,
                           server_url=web_url(settings.api_url, env))
        body, left_out_of_body = fit_body(template, ctx)
        if left_out_of_body:
            err.write(f"dockerfix pr: warning: the pull request body was shortened to {body_length(body):,} "
                      f"characters to fit GitHub's limit of {GITHUB_BODY_LIMIT:,}: left out "
                      f"{', '.join(left_out_of_body)}"
                      + (f"; the complete change: {ctx['compare_url']}" if ctx.get("compare_url") else "") + "\n")
        message = commit_message(settings, ctx)
        title = message.splitlines()[0]
        branch = settings.branch_name
        if settings.dry_run:
            out.write(f"branch: {branch}\nbase: {base}\nrepository: {repo_name}\n\n--- commit message ---\n{message}"
                      f"\n--- pull request body ---\n{body}")
            out.flush()
            return code
        _commit(wt, message, _identity(settings, git))
        new_sha = wt.run("rev-parse", "HEAD").strip()
        pushed = _push(_authenticated(wt, settings), settings.remote, branch, new_sha, head.sha)
        assert repo is not None and client is not None
        pr = client.find_open_pull(repo[0], repo[1], repo[0], branch)
        if pr is not None:
            pr = client.update_pull(repo[0], repo[1], pr.number, title=title, body=body)
            verb = "updated"
        else:
            pr = client.create_pull(repo[0], repo[1], title=title, head=branch, base=base, body=body,
                                    draft=settings.draft)
            verb = "opened"
        out.write(f"{verb} pull request #{pr.number}: {pr.url}\n")
        err.write(f"dockerfix pr: branch {branch} {'pushed' if pushed else 'already up to date'} "
                  f"({len(outcome.changed_paths)} file{'' if len(outcome.changed_paths) == 1 else 's'})\n")
        out.flush()
        return code
    finally:
        if wt is not None:
            git.worktree_remove(wt_path)
        shutil.rmtree(tmp, ignore_errors=True)


def _authenticated(wt: Git, settings: Settings) -> Git:
    """``wt`` as it should reach the remote: with ``--push-with-token``, authenticated by the token."""
    if not settings.push_with_token:
        return wt
    from dockerfix.bot.git import token_header_config

    url = wt.remote_url(settings.remote)
    pairs = token_header_config(url, settings.token or "")
    if pairs is None:
        raise BotError(f"--push-with-token: remote '{settings.remote}' is not an HTTPS URL; the token can only be "
                       "sent over HTTP(S)")
    return wt.with_config(pairs)


def _commit(wt: Git, message: str, identity: dict[str, str]) -> None:
    msg_file = os.path.join(os.path.dirname(wt.cwd), "COMMIT_MSG")
    with open(msg_file, "w", encoding="utf-8") as f:
        f.write(message)
    wt.run("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "--cleanup=verbatim", "-F", msg_file,
           env=identity)


def _push(wt: Git, remote: str, branch: str, new_sha: str, parent: str) -> bool:
    """Force-push ``new_sha`` to ``branch`` unless the branch already has the same tree on the same parent."""
    current = wt.remote_branch_sha(remote, branch)
    if current is not None:
        wt.run("fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}")
        same_tree = wt.run("rev-parse", f"{current}^{{tree}}").strip() == wt.run("rev-parse", "HEAD^{tree}").strip()
        same_parent = wt.run("rev-parse", f"{current}^", check=False).strip() == parent
        if same_tree and same_parent:
            return False
    wt.run("push", "--quiet", "--force", "--no-verify", remote, f"{new_sha}:refs/heads/{branch}")
    return True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
