"""An `all-repos <https://github.com/asottile/all-repos>`_ autofixer: dockerfix across every cloned repository.

    pip install 'dockerfix' all-repos
    all-repos-clone -C all-repos.json
    python -m dockerfix.fleet.all_repos -C all-repos.json [--dry-run] [--select CODES] [--unsafe] [-j 4]

all-repos clones, picks the repositories (:func:`find_repos`: those with a file named like a Dockerfile), runs
:func:`apply_fix` in a fresh clone of each on a branch ``all-repos_autofix_dockerfix``, commits what changed and
hands the branch to the push the configuration names (``github_pull_request``, ``merge_to_master``, ...).
``apply_fix`` is ``dockerfix --write`` on the clone (the safe fixes unless ``--unsafe``; the repository's own
``.dockerfix.toml`` applies), and it stages the files dockerfix created (a ``.dockerignore``) so the commit holds
them. A Dockerfile dockerfix cannot process fails that repository (all-repos reports it) and no commit is made.

all-repos is imported when the fixer runs, never by ``import dockerfix``.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

BRANCH = "dockerfix"
MESSAGE = "dockerfix: apply Dockerfile fixes"
PATHSPECS = (":(glob,icase)**/*dockerfile*", ":(glob,icase)**/*containerfile*")
"""What :func:`find_repos` greps for: any path whose name holds ``dockerfile`` or ``containerfile`` (a superset of
dockerfix's discovery rule; dockerfix itself decides which files it processes)."""


def find_repos(config: Any) -> set[str]:
    """The cloned repositories with at least one file named like a Dockerfile (``git grep`` over pathspecs)."""
    from all_repos.grep import repos_matching

    return repos_matching(config, ("--name-only", "-e", "", "--", *PATHSPECS))


def dockerfix_args(select: str | None = None, ignore: str | None = None, unsafe: bool = False) -> list[str]:
    args = ["--write"]
    if select:
        args += ["--select", select]
    if ignore:
        args += ["--ignore", ignore]
    if unsafe:
        args.append("--unsafe")
    return args


def _untracked() -> set[str]:
    out = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"], check=True,
                         capture_output=True, text=True).stdout
    return {p for p in out.split("\0") if p}


def apply_fix(*, args: Sequence[str] = ("--write",)) -> None:
    """Run in the clone (all-repos' current folder): ``dockerfix ARGS .``; stage the files it created."""
    from all_repos import autofix_lib

    before = _untracked()
    p = autofix_lib.run(sys.executable, "-m", "dockerfix", *args, ".", check=False)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"dockerfix exited with {p.returncode}: a Dockerfile could not be processed")
    created = sorted(_untracked() - before)
    if created:
        autofix_lib.run("git", "add", "--", *created)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from all_repos import autofix_lib
    except ImportError:
        print("dockerfix.fleet.all_repos needs all-repos: pip install all-repos", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m dockerfix.fleet.all_repos",
                                     description="Apply dockerfix's fixes across the repositories all-repos cloned.")
    autofix_lib.add_fixer_args(parser)
    parser.add_argument("--select", help="Only these transforms (comma-separated codes or names).")
    parser.add_argument("--ignore", help="Skip these transforms.")
    parser.add_argument("--unsafe", action="store_true", help="Also apply fixes that may change the image.")
    parser.add_argument("--branch", default=BRANCH, help=f"Branch name part (default: {BRANCH}; all-repos "
                        "prefixes all-repos_autofix_).")
    parser.add_argument("--message", default=MESSAGE, help="Commit message (and pull request title).")
    args = parser.parse_args(argv)
    repos, config, commit, settings = autofix_lib.from_cli(args, find_repos=find_repos, msg=args.message,
                                                           branch_name=args.branch)
    autofix_lib.fix(
        repos,
        apply_fix=functools.partial(apply_fix, args=tuple(dockerfix_args(args.select, args.ignore, args.unsafe))),
        config=config,
        commit=commit,
        autofix_settings=settings,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
