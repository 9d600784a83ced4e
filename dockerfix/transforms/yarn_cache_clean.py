"""DFX109 yarn-cache-clean: clear Yarn Classic's cache in the RUN that installs packages."""

from __future__ import annotations

import json
from dockerfix._lazyre import lazy
from dockerfix.model.pkgmgr import Cleanup, PackageCall
from dockerfix.transforms._hygiene import (
    CACHE_HOME_ENV,
    CLEANUP_STRATEGY_NOTE,
    AppendCleanup,
    RunSite,
    iter_run_sites,
    first_later,
    manager_command,
    norm_path,
    scope_value,
    stage_chain,
)
from dockerfix.transforms.base import Context

_BERRY_VERSION = lazy(r"^yarn@(\d+)")


def berry_reason(ctx: Context, site: RunSite) -> str | None:
    """Why this build may use Yarn Berry (2+), whose cache is part of the project; None when nothing says so."""
    bc = ctx.build_context
    if bc is not None:
        try:
            if bc.exists(".yarnrc.yml"):
                return "the build context has a .yarnrc.yml (Yarn Berry)"
            if bc.exists("package.json"):
                data = json.loads(bc.read_bytes("package.json", 1 << 20).decode("utf-8", "replace"))
                pm = data.get("packageManager") if isinstance(data, dict) else None
                m = _BERRY_VERSION.match(pm) if isinstance(pm, str) else None
                if m and int(m.group(1)) >= 2:
                    return f"package.json asks for {pm} (Yarn Berry)"
        except (OSError, ValueError):
            return "the build context could not be read to tell Yarn Classic from Yarn Berry"
    for st in stage_chain(ctx, site.stage):
        for inst in st.instructions:
            if inst.keyword in ("COPY", "ADD") and any(".yarnrc.yml" in a or a.rstrip("/").endswith(".yarn")
                                                       for a in inst.args):
                return f"line {inst.start_line} copies Yarn Berry files (.yarnrc.yml / .yarn)"
    for other in iter_run_sites(ctx):
        if other.run is None or other.stage not in stage_chain(ctx, site.stage):
            continue
        for c in other.calls():
            if c.manager == "yarn" and c.action == "set" and c.packages and c.packages[0].value == "version":
                return f"line {other.inst.start_line} runs `yarn set version` (Yarn Berry)"
        for s in other.script.sites:
            eff = s.command.effective
            if eff.basename == "corepack" and any(
                    w.value and w.value.startswith("yarn@") and not w.value.startswith("yarn@1") for w in eff.args):
                return f"line {other.inst.start_line} activates a Yarn version with corepack (Yarn Berry)"
    return None


class YarnCacheClean(AppendCleanup):
    code = "DFX109"
    answers = ("DL3060",)
    image_differences = ("usr/local/share/.cache/yarn/*", "root/.cache/yarn/*", "home/*/.cache/yarn/*")
    name = "yarn-cache-clean"
    triggers = ("yarn",)
    summary = "Run `yarn cache clean` in the RUN that installs packages (Yarn Classic)"
    safety = "mixed"
    fix_title = "Append `{command}`"
    message = "yarn install leaves Yarn's cache in this layer"
    hint_names = frozenset({"yarn"})
    hint_actions = frozenset({"yarn", "install", "add"})
    docs = f"""\
## What it does
Appends `&& yarn cache clean` to a RUN that runs `yarn`, `yarn install` or `yarn add` (also `yarn global add`) and
does not clean Yarn's cache afterwards.

## Why
Yarn Classic (1.x) keeps every package it fetched in its global cache (`/usr/local/share/.cache/yarn` for root in
the official node images), next to `node_modules`. hadolint asks for the cleanup (DL3060).

## Example
```dockerfile
RUN yarn install --frozen-lockfile
```
becomes
```dockerfile
RUN yarn install --frozen-lockfile && yarn cache clean
```

## Fix safety
The fix removes only Yarn Classic's global cache; `node_modules` is untouched. It is unsafe when a later RUN (or a
stage built `FROM` this one) runs yarn with `--prefer-offline`; with `--offline` that RUN would fail, so there is
no fix (a finding naming it), not even with `--unsafe`.

Yarn Berry (2+) is different: its cache (`.yarn/cache`) belongs to the project and, with Plug'n'Play, is where the
installed packages live, so `yarn cache clean` could delete what the application runs from. When the build looks
like Berry (a `.yarnrc.yml` in the build context, `packageManager: yarn@2+` in package.json, a COPY of
`.yarnrc.yml` or `.yarn`, `yarn set version`, or corepack activating a Yarn other than 1.x) the transform reports a
finding without a fix. A custom `--cache-folder` also gets a finding: `yarn cache clean` would clean another
folder. It does not fire when the RUN already cleans the cache after the install, or when a cache or tmpfs mount
covers the cache (`*/.cache/yarn`, `*/.yarn-cache`, `$YARN_CACHE_FOLDER`).

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        if call.manager != "yarn":
            return False
        if call.action in ("install", "add"):
            return True
        return call.action is None and not call.packages

    def is_cleaned(self, cleanup: Cleanup) -> bool:
        return cleanup.manager == "yarn"

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        custom = scope_value(ctx, site, "YARN_CACHE_FOLDER")
        for t in targets:
            if t.endswith(("/.cache/yarn", "/.yarn-cache", "/.cache")) or "YARN_CACHE_FOLDER" in t:
                return True
            if custom and t == norm_path(custom):
                return True
        return False

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        if any(c.has_option("--cache-folder", "--preferred-cache-folder") for c in calls):
            return "the install uses its own --cache-folder, which `yarn cache clean` would not clean"
        why = berry_reason(ctx, site)
        if why is not None:
            return (f"{why}: Berry keeps its cache in the project (.yarn/cache), and with Plug'n'Play the "
                    "installed packages are read from it, so `yarn cache clean` could break the app")
        return self.offline_reason(ctx, site)

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:
        return manager_command(call, "cache clean", (*CACHE_HOME_ENV, "YARN_CACHE_FOLDER"))

    def unsafe_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        return first_later(ctx, site, _prefer_offline)

    def offline_reason(self, ctx: Context, site: RunSite) -> str | None:
        """A later step that installs from the cache only fails once it is cleaned: no fix, even with --unsafe."""
        return first_later(ctx, site, _offline)


# each later RUN is asked once per pass (first_later), not once per install before it
def _prefer_offline(other: RunSite) -> str | None:
    for c in other.calls():
        if c.manager == "yarn" and c.has_option("--prefer-offline"):
            return f"line {other.inst.start_line} runs yarn from the cache first (--prefer-offline)"
    return None


def _offline(other: RunSite) -> str | None:
    for c in other.calls():
        if c.manager == "yarn" and c.has_option("--offline"):
            return (f"cleaning the cache breaks a later step: line {other.inst.start_line} runs yarn "
                    "from the cache only (--offline)")
    return None


TRANSFORMS = (YarnCacheClean,)
