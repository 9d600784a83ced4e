"""DFX107 pip-no-cache-dir: ``pip install --no-cache-dir`` (``uv pip install --no-cache``)."""

from __future__ import annotations

from dockerfix.model.pkgmgr import PackageCall
from dockerfix.transforms._hygiene import (
    CLEANUP_STRATEGY_NOTE,
    InsertFlag,
    RunSite,
    env_in_scope,
    norm_path,
    scope_value,
)
from dockerfix.transforms.base import Context

PIP_INSTALLS = frozenset({"install", "sync"})


def _is_uv(call: PackageCall) -> bool:
    return call.invocation[0].value == "uv"


class PipNoCacheDir(InsertFlag):
    code = "DFX107"
    answers = ("DL3042",)
    image_differences = ("root/.cache/pip/*", "home/*/.cache/pip/*", "root/.cache/uv/*", "home/*/.cache/uv/*")
    name = "pip-no-cache-dir"
    triggers = ("pip", "python", "uv")
    summary = "Use `pip install --no-cache-dir` so pip's download and wheel cache stays out of the layer"
    safety = "safe"
    flag = "--no-cache-dir"
    fix_title = "Add `--no-cache-dir` to `pip install`"
    message = "pip install without --no-cache-dir leaves pip's cache (~/.cache/pip) in this layer"
    hint_names = frozenset({"pip", "pip3", "python", "python3", "uv"})
    hint_actions = frozenset({"install"})
    hint_done = frozenset({"--no-cache-dir", "--no-cache"})
    docs = f"""\
## What it does
Inserts `--no-cache-dir` after `install` in `pip install` commands, whatever the spelling: `pip`, `pip3`,
`pip3.12`, `/venv/bin/pip`, `python -m pip`, `python3.12 -m pip`, behind `sudo` or `env`. For `uv pip install`
(and `uv pip sync`) it inserts uv's `--no-cache`. `pip download` and `pip wheel` are not installs and are left
alone.

## Why
pip keeps every downloaded archive and every wheel it builds in `~/.cache/pip` (uv in `~/.cache/uv`). In an image
that cache is dead weight, often as large as the installed packages. The Docker best-practice guide and hadolint
(DL3042) ask for `--no-cache-dir`.

## Example
```dockerfile
RUN pip install -r requirements.txt
```
becomes
```dockerfile
RUN pip install --no-cache-dir -r requirements.txt
```

## Fix safety
Safe: the same packages are installed the same way; what leaves the image is only pip's (uv's) cache directory.
It does not fire when `PIP_NO_CACHE_DIR` (`UV_NO_CACHE` for uv) is set by ENV or ARG in scope, as a prefix
assignment or by an earlier `export` in the RUN; when `--cache-dir` is given; or when a cache or tmpfs mount
covers the cache (`/root/.cache/pip`, `/root/.cache`, any `*/.cache/pip` or `*/.cache`, or `$PIP_CACHE_DIR`).

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager == "pip" and call.action in PIP_INSTALLS

    def flag_for(self, call: PackageCall) -> str:
        return "--no-cache" if _is_uv(call) else "--no-cache-dir"

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:
        uv = _is_uv(call)
        if uv:
            if call.has_option("--no-cache", "-n", "--cache-dir"):
                return True
            if env_in_scope(ctx, site, call, "UV_NO_CACHE", "UV_CACHE_DIR"):
                return True
            leaf, var = "uv", "UV_CACHE_DIR"
        else:
            if any(_abbreviates(o.name, "--no-cache-dir", "--no-cache") or _abbreviates(o.name, "--cache-dir", "--cache")
                   for o in call.options):
                return True
            if env_in_scope(ctx, site, call, "PIP_NO_CACHE_DIR"):
                return True
            leaf, var = "pip", "PIP_CACHE_DIR"
        custom = scope_value(ctx, site, var)
        for t in site.cache_targets():
            if t.endswith(f"/.cache/{leaf}") or t.endswith("/.cache") or t in ("/root/.cache", "~/.cache"):
                return True
            if var in t or (custom and t == norm_path(custom)):
                return True
        return False


def _abbreviates(name: str | None, option: str, shortest: str) -> bool:
    """Whether ``name`` spells ``option`` or an abbreviation of it pip accepts: pip parses with optparse, which takes
    any unambiguous prefix of a long option (``--no-cache`` is ``--no-cache-dir``: no other pip option starts with
    ``--no-cache``; none but ``--cache-dir`` with ``--cache``). ``shortest`` is the shortest unambiguous prefix."""
    return bool(name) and len(name) >= len(shortest) and option.startswith(name)  # type: ignore[arg-type]


TRANSFORMS = (PipNoCacheDir,)
