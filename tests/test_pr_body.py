"""The pull-request body fits GitHub's 65,536-character limit on any repository: a generated repository of hundreds
of Dockerfiles through the real bot (local git, the GitHub stand-in of tests/test_bot.py), and a property test of
the bound over generated body contexts, the default template and custom ones."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dockerfix.bot import cli as bot
from dockerfix.bot.git import Git
from tests.test_bot import FakeGitHub, remote_sha, sh

SELECT = ("DFX001", "DFX103", "DFX104", "DFX107")
DOCKERFILE = ("FROM debian:12\nADD app.py /srv/app/\nRUN apt-get update && apt-get install -y curl\n"
              "RUN pip install flask requests\nRUN apk add git\n")
N_SERVICES = 260


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory):
    """A repository of ``N_SERVICES`` Dockerfiles (four fixes each) with a bare remote."""
    from tests.test_bot import _env

    tmp = tmp_path_factory.mktemp("bigrepo")
    env = _env(tmp)
    remote, work = tmp / "remote.git", tmp / "work"
    sh(tmp, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    sh(tmp, "init", "-q", "-b", "main", str(work), env=env)
    for i in range(N_SERVICES):
        d = work / "services" / f"team-{i % 7}" / f"service-with-a-long-name-{i:04d}"
        d.mkdir(parents=True)
        (d / "Dockerfile").write_text(DOCKERFILE)
        (d / "app.py").write_text("print('hi')\n")
    sh(work, "add", ".", env=env)
    sh(work, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "init", env=env)
    sh(work, "remote", "add", "origin", str(remote), env=env)
    sh(work, "push", "-q", "origin", "main", env=env)
    return {"work": work, "remote": remote, "env": env, "tmp": tmp}


def _run(repo, gh, **kw):
    s = bot.Settings(repo="octo/app", api_url=gh.url, token="t0ken", select=SELECT, **kw)
    out, err = io.StringIO(), io.StringIO()
    code = bot.run(s, git=Git(str(repo["work"]), env=repo["env"]), env={"GITHUB_SERVER_URL": "https://github.example"},
                   out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_hundreds_of_dockerfiles_fit_the_limit(big_repo):
    with FakeGitHub() as gh:
        code, _out, err = _run(big_repo, gh, profile="big")
        assert code == 0, err
        body = gh.calls("POST")[0]["body"]["body"]
    assert bot.body_length(body) <= bot.MAX_BODY < bot.GITHUB_BODY_LIMIT
    compare = "https://github.example/octo/app/compare/main...dockerfix/big"
    # the summary by transform counts every fix, however much else was left out
    assert f"| **DFX107** `pip-no-cache-dir` | {N_SERVICES} | {N_SERVICES} | safe |" in body
    assert f"dockerfix rewrote {N_SERVICES} Dockerfiles with {4 * N_SERVICES} fixes" in body
    # diffs and per-file details went first; the per-file table stays (whole here) and points to the branch diff
    assert "```diff" not in body and "<summary><code>services/" not in body
    assert body.count("| `services/team-") == N_SERVICES
    assert f"the complete change is in [the branch diff]({compare})" in body
    # the warning names what was left out
    assert "warning: the pull request body was shortened" in err and "left out the diffs, the per-file details" in err
    assert compare in err
    # the branch holds every file's fix (the body is only a view)
    changed = sh(big_repo["remote"], "diff", "--name-only", "main", "dockerfix/big", env=big_repo["env"]).split()
    assert len(changed) == N_SERVICES


def test_dry_run_prints_the_final_body_and_warns(big_repo):
    with FakeGitHub() as gh:
        code, out, err = _run(big_repo, gh, profile="dry", dry_run=True)
        assert gh.requests == []
    assert code == 0, err
    body = out.split("--- pull request body ---\n", 1)[1]
    assert bot.body_length(body) <= bot.MAX_BODY
    assert "shortened to fit GitHub's limit" in body
    assert "dockerfix pr: warning: the pull request body was shortened to" in err
    assert remote_sha(big_repo, "refs/heads/dockerfix/dry") is None


def test_small_body_is_not_shortened_and_no_warning(tmp_path):
    from tests.test_bot import _env

    env = _env(tmp_path)
    work = tmp_path / "w"
    sh(tmp_path, "init", "-q", "-b", "main", str(work), env=env)
    (work / "Dockerfile").write_text(DOCKERFILE)
    (work / "app.py").write_text("x\n")
    sh(work, "add", ".", env=env)
    sh(work, "-c", "user.name=D", "-c", "user.email=d@e", "commit", "-qm", "i", env=env)
    out, err = io.StringIO(), io.StringIO()
    s = bot.Settings(repo="octo/app", select=SELECT, dry_run=True)
    assert bot.run(s, git=Git(str(work), env=env), env={}, out=out, err=err) == 0
    assert "warning" not in err.getvalue() and "shortened" not in out.getvalue()
    assert "```diff" in out.getvalue() and "<details open><summary><code>Dockerfile</code>: 4 fixes" in out.getvalue()


# ------------------------------------------------------------------ the bound, as a property
def _change(code: str, line: int, text: str, safe: bool) -> dict:
    return {"code": code, "name": f"name-{code.lower()}", "line": line, "message": text, "fix": "Fix it",
            "safe": safe, "reason": None if safe else text[:40]}


path_chars = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_/.", min_size=1, max_size=120)
message = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@st.composite
def contexts(draw):
    n_files = draw(st.integers(0, 1500))
    n_codes = draw(st.integers(1, 30))
    codes = [f"DFX{100 + i:03d}" for i in range(n_codes)]
    per_file = draw(st.integers(1, 12))
    msg = draw(message)
    diff = draw(st.text(max_size=3000)) + "\n"
    files = []
    for i in range(n_files):
        path = draw(path_chars) if i < 3 else f"p/{i:05d}/" + "x" * (i % 80) + "/Dockerfile"
        changes = [_change(codes[(i + j) % n_codes], j + 1, msg, (i + j) % 3 != 0) for j in range(per_file)]
        files.append({"path": path, "changes": changes, "findings": changes[: i % 3], "diff": diff,
                      "fence": bot._fence(diff), "codes": sorted({c["code"] for c in changes}),
                      "unsafe": sum(1 for c in changes if not c["safe"])})
    transforms = [{"code": c, "name": f"name-{c.lower()}", "summary": msg[:80], "safety": "safe",
                   "docs": draw(st.sampled_from(["", "## What\n" + "doc text " * 400])), "fixes": 1, "unsafe": 0,
                   "files": 1} for c in codes]
    errors = [{"path": f"bad/{i}/Dockerfile", "message": msg, "line": 1}
              for i in range(draw(st.integers(0, 2000)))]
    return {
        "marker": "<!-- dockerfix-pr profile=p -->", "profile": "p", "branch": "dockerfix/p", "base": "main",
        "repo": "o/r", "unsafe": True, "version": "0", "files": files, "other_files": [], "transforms": transforms,
        "errors": errors, "verify": None, "verification": None, "include_diffs": True, "include_details": True,
        "include_docs": True, "files_listed": len(files), "shortened": False, "pins": draw(st.integers(0, 3)),
        "compare_url": draw(st.sampled_from([None, "https://github.com/o/r/compare/main...dockerfix/p"])),
        "summary": {"files": len(files), "changes": per_file * len(files)},
    }


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ctx=contexts())
def test_default_template_body_always_fits(ctx):
    body, left_out = bot.fit_body(bot.load_template(None), ctx)
    assert bot.body_length(body) <= bot.MAX_BODY
    assert body.startswith(ctx["marker"] + "\n")
    if left_out:
        assert "shortened" in body or "cut to fit" in body
        pointer = ctx["compare_url"] or "dockerfix/p"
        assert pointer in body
    else:
        assert body == bot.load_template(None).render(**ctx)


@hsettings(max_examples=60, deadline=None)
@given(text=st.text(st.characters(blacklist_characters="`<", blacklist_categories=("Cs",)), max_size=4000), repeat=st.integers(1, 80), limit=st.integers(300, 20000))
def test_custom_template_is_cut_with_fences_closed(text, repeat, limit):
    import jinja2

    template = jinja2.Environment().from_string("{{ marker }}\n<details>\n```diff\n{{ big }}\n```\n</details>\n")
    ctx = {"marker": "m", "big": text * repeat, "compare_url": "https://x/compare/a...b", "branch": "b"}
    body, left_out = bot.fit_body(template, ctx, limit)
    assert bot.body_length(body) <= limit
    if left_out:
        assert left_out == ["the end of the body"] and body.endswith("the branch diff: https://x/compare/a...b\n")
        lines = body.split("\n")
        fences = [ln for ln in lines if ln.strip().startswith("```")]
        assert len(fences) % 2 == 0, "an open code fence would swallow the note"
        assert body.count("<details") == body.count("</details>")


def test_body_says_how_added_pins_stay_fresh():
    """pin-digests' pins rot unless something refreshes them: the body names the ways (refresh-digests, Renovate,
    Dependabot) when the pull request adds pins, and says nothing about pins otherwise."""
    from types import SimpleNamespace

    def change(code):
        return SimpleNamespace(code=code, name="n", safe=False,
                               to_dict=lambda: {"code": code, "name": "n", "line": 1, "message": "m", "fix": "f",
                                                "safe": False, "reason": None})

    def body(codes):
        report = SimpleNamespace(path="Dockerfile", error=None, changed=True, failed=False,
                                 changes=[change(c) for c in codes],
                                 findings=[], internal_errors=[])
        outcome = bot.Outcome(reports=[report], changed_paths=["Dockerfile"], diffs={"Dockerfile": "+x\n"})
        ctx = bot.body_context(bot.Settings(), outcome, base="main", repo="o/r", verify=None)
        return bot.fit_body(bot.load_template(None), ctx)[0]

    text = body(["DFX401", "DFX401"])
    assert "### Keeping the pins fresh" in text and "pins 2 image references" in text
    assert "refresh-digests" in text and "Renovate" in text and "package-ecosystem: docker" in text
    assert "Keeping the pins fresh" not in body(["DFX107"])
