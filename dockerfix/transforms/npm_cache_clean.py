"""DFX108 npm-cache-clean: clear npm's cache in the RUN that installs packages."""

from __future__ import annotations

from dockerfix.model.pkgmgr import Cleanup, PackageCall
from dockerfix.transforms._hygiene import (
    CACHE_HOME_ENV,
    CLEANUP_STRATEGY_NOTE,
    AppendCleanup,
    RunSite,
    env_in_scope,
    first_later,
    manager_command,
    norm_path,
    scope_value,
)
from dockerfix.transforms.base import Context

NPM_INSTALLS = frozenset({"install", "ci"})


class NpmCacheClean(AppendCleanup):
    code = "DFX108"
    image_differences = ("root/.npm/*", "home/*/.npm/*")
    name = "npm-cache-clean"
    triggers = ("npm",)
    summary = "Run `npm cache clean --force` in the RUN that installs packages"
    safety = "mixed"
    fix_title = "Append `{command}`"
    message = "npm install leaves npm's cache (~/.npm/_cacache) in this layer"
    hint_names = frozenset({"npm"})
    hint_actions = frozenset({"install", "i", "ci"})
    docs = f"""\
## What it does
Appends `&& npm cache clean --force` to a RUN that runs `npm ci`, `npm install` or `npm i` (any alias) and does not
clean npm's cache afterwards.

## Why
npm keeps a copy of every tarball it fetched in `~/.npm/_cacache`, next to the installed `node_modules`. In an
image that copy is dead weight. The Docker best-practice guide recommends `npm ci && npm cache clean --force`.

## Example
```dockerfile
RUN npm ci --omit=dev
```
becomes
```dockerfile
RUN npm ci --omit=dev && npm cache clean --force
```

## Fix safety
The fix removes only npm's content cache (`~/.npm/_cacache` of the user that runs the RUN); `node_modules` and
global packages are untouched. It is unsafe when a later RUN (or a stage built `FROM` this one) runs npm with
`--prefer-offline`, which would read that cache first; with `--offline` that RUN would fail, so there is no fix (a
finding naming it), not even with `--unsafe`. It does not fire when the RUN already cleans npm's
cache (or removes `~/.npm`) after the install, when a cache or tmpfs mount covers `/root/.npm` (any `*/.npm`) or
`$npm_config_cache`, or when the install sets its own `--cache` or `npm_config_cache` is set (the cleanup might
clean another folder).

A command appended to a chain must still exist at its end: when anything in the RUN after the install removes npm
or node (a package removal such as `apt-get purge -y --autoremove npm`, `apk del npm nodejs` or `apk del` of a
virtual group holding them, `dnf remove nodejs`; `npm uninstall -g npm`; `rm` of npm's binary or folder, such as
`rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm`), the appended cleanup would fail with exit 127, so
the transform reports a finding without a fix that names the command (see `dockerfix.model.chain`). Such a RUN may
still clean the cache by hand before the removal.

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager == "npm" and call.action in NPM_INSTALLS

    def is_cleaned(self, cleanup: Cleanup) -> bool:
        return cleanup.manager == "npm"

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        custom = scope_value(ctx, site, "npm_config_cache") or scope_value(ctx, site, "NPM_CONFIG_CACHE")
        for t in targets:
            if t.endswith("/.npm") or t.endswith("/.npm/_cacache") or "npm_config_cache" in t.lower():
                return True
            if custom and t == norm_path(custom):
                return True
        return False

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        if any(c.has_option("--cache") for c in calls):
            return "the install uses its own --cache folder"
        last = calls[-1]
        if env_in_scope(ctx, site, last, "npm_config_cache", "NPM_CONFIG_CACHE"):
            return "npm_config_cache is set, so the cache folder depends on it"
        return self.offline_reason(ctx, site)

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:
        return manager_command(
            call, "cache clean --force", (*CACHE_HOME_ENV, "npm_config_cache", "NPM_CONFIG_CACHE")
        )

    def unsafe_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        return first_later(ctx, site, _prefer_offline)

    def offline_reason(self, ctx: Context, site: RunSite) -> str | None:
        """A later step that installs from the cache only fails once it is cleaned: no fix, even with --unsafe."""
        return first_later(ctx, site, _offline)


# each later RUN is asked once per pass (first_later), not once per install before it
def _prefer_offline(other: RunSite) -> str | None:
    for c in other.calls():
        if c.manager == "npm" and c.has_option("--prefer-offline"):
            return f"line {other.inst.start_line} runs npm from the cache first (--prefer-offline)"
    return None


def _offline(other: RunSite) -> str | None:
    for c in other.calls():
        if c.manager == "npm" and c.has_option("--offline"):
            return (f"cleaning the cache breaks a later step: line {other.inst.start_line} runs npm "
                    "from the cache only (--offline)")
    return None


TRANSFORMS = (NpmCacheClean,)
