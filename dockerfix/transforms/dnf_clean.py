"""DFX105 dnf-clean: clear dnf/yum/microdnf's metadata and package cache in the RUN that installs."""

from __future__ import annotations

from dockerfix.model import tools
from dockerfix.model.pkgmgr import Cleanup, PackageCall
from dockerfix.transforms._hygiene import (
    CLEANUP_STRATEGY_NOTE,
    AppendCleanup,
    RunSite,
    covers,
    first_later,
    manager_command,
)
from dockerfix.transforms.base import Context

RPM = frozenset({"dnf", "yum", "microdnf"})
# the actions that install, and so leave repository metadata and packages in the cache: the rows' installs
RPM_INSTALLS = frozenset(a for m in sorted(RPM) for a in tools.manager_tool(m).installs)
# every cache directory of the three on any release (/var/cache/dnf, /var/cache/libdnf5, /var/cache/yum)
RPM_CACHES = tuple(dict.fromkeys(p for m in sorted(RPM) for p in tools.root_cache_dirs(m)))


class DnfClean(AppendCleanup):
    code = "DFX105"
    answers = ("DL3032", "DL3040")
    image_differences = ("var/cache/dnf/*", "var/cache/yum/*")
    name = "dnf-clean"
    triggers = ("dnf", "yum")
    summary = "Run `dnf clean all` (yum, microdnf) in the RUN that installs packages"
    safety = "safe"
    fix_title = "Append `{command}`"
    message = "dnf/yum install leaves repository metadata and packages in /var/cache in this layer"
    hint_names = RPM
    hint_actions = frozenset({"install", "groupinstall", "update", "upgrade"})
    docs = f"""\
## What it does
Appends `&& dnf clean all` (or `yum clean all`, `microdnf clean all`: the manager that installed, called the same
way) to a RUN that installs or upgrades packages with dnf, yum or microdnf and does not clean up afterwards.

## Why
dnf and yum keep repository metadata (often 100+ MB) and, with `keepcache`, downloaded RPMs under `/var/cache/dnf`
or `/var/cache/yum`. Cleaning in a later RUN does not shrink the image. hadolint asks for this (DL3032, DL3038,
DL3040).

## Example
```dockerfile
RUN dnf install -y httpd
```
becomes
```dockerfile
RUN dnf install -y httpd && dnf clean all
```

## Fix safety
The fix removes only the manager's cache (repository metadata and cached packages under `/var/cache/dnf` or
`/var/cache/yum`); dnf and yum download fresh metadata when they next need it, so later installs keep working.
When a later RUN (or a stage built `FROM` this one) runs the manager with `-C`/`--cacheonly`, which would then
find no metadata and fail, there is no fix (a finding naming that RUN), not even with `--unsafe`. It does not fire when the RUN already runs `<mgr> clean all` (or `clean packages`,
`clean metadata`) or removes `/var/cache/dnf` or `/var/cache/yum` after the install, or when a cache or tmpfs mount
covers the cache. An install into `--installroot` keeps its cache under that root, which `clean all` would not
reach: a finding without a fix. A plain `sudo` in front of the install is kept in front of the cleanup.

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager in RPM and call.action in RPM_INSTALLS

    def is_cleaned(self, cleanup: Cleanup) -> bool:
        return cleanup.manager in RPM

    @staticmethod
    def _cache_dir(ctx: Context, site: RunSite, manager: str) -> str | None:
        """The manager's cache on this base (the tool table's answer), None when the base does not show it."""
        from dockerfix.model.tools import rpm_cache_dir

        return rpm_cache_dir(manager, ctx.model.state.root_base(site.stage))[0]

    def is_cleaned_at(self, ctx: Context, site: RunSite, call: PackageCall, cleanup: Cleanup) -> bool:
        if cleanup.manager not in RPM:
            return False
        if cleanup.call is not None:
            return True  # `<mgr> clean all`: each manager cleans its own cache
        # an `rm` counts only when it clears the directory this manager uses on this base (yum on EL8 is dnf)
        cache = self._cache_dir(ctx, site, call.manager)
        return cache is not None and cleanup.cache is not None and covers([cleanup.cache], cache)

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        calls = [c for c in site.calls() if self.is_target(c)]
        caches = [self._cache_dir(ctx, site, c.manager) for c in calls]
        if calls and all(c is not None for c in caches):
            return all(covers(targets, c) for c in caches if c is not None)
        return covers(targets, *RPM_CACHES)  # the base does not show which: any RPM cache mount stands for it

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        if any(c.has_option("--installroot") for c in calls):
            return "the install uses --installroot, whose cache `clean all` would not reach"
        # a later step that reads only the cache fails once it is cleaned: no fix, even with --unsafe (issue 19)
        return first_later(ctx, site, _cacheonly)

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:
        return manager_command(call, "clean all")


def _cacheonly(other: RunSite) -> str | None:
    """Why a later RUN reads only the cache (each later RUN asked once per pass, by first_later)."""
    for c in other.calls():
        if c.manager in RPM and c.has_option("-C", "--cacheonly"):
            return (f"cleaning the cache breaks a later step: line {other.inst.start_line} runs {c.manager} "
                    "from the cache only (-C)")
    return None


TRANSFORMS = (DnfClean,)
