"""DFX106 zypper-clean: clear zypper's cache in the RUN that installs packages."""

from __future__ import annotations

from dockerfix.model.pkgmgr import Cleanup, PackageCall
from dockerfix.transforms._hygiene import (
    CLEANUP_STRATEGY_NOTE,
    AppendCleanup,
    RunSite,
    covers,
    manager_command,
)
from dockerfix.transforms.base import Context

ZYPPER_INSTALLS = frozenset({"install", "upgrade", "dist-upgrade", "patch", "source-install", "si"})


class ZypperClean(AppendCleanup):
    code = "DFX106"
    answers = ("DL3036",)
    image_differences = ("var/cache/zypp/*",)
    name = "zypper-clean"
    triggers = ("zypper",)
    summary = "Run `zypper clean -a` in the RUN that installs packages"
    safety = "safe"
    fix_title = "Append `{command}`"
    message = "zypper install leaves repository metadata and packages in /var/cache/zypp in this layer"
    hint_names = frozenset({"zypper"})
    hint_actions = frozenset({"install", "in", "update", "up", "dup", "patch"})
    docs = f"""\
## What it does
Appends `&& zypper clean -a` to a RUN that installs (`install`/`in`), updates or patches with zypper and does not
run `zypper clean` (or remove `/var/cache/zypp`) afterwards.

## Why
zypper keeps repository metadata and raw/solv caches under `/var/cache/zypp`; removing them in a later RUN does not
shrink the image. hadolint asks for it (DL3036).

## Example
```dockerfile
RUN zypper --non-interactive install curl
```
becomes
```dockerfile
RUN zypper --non-interactive install curl && zypper clean -a
```

## Fix safety
Safe: it removes only zypper's caches under `/var/cache/zypp` (metadata, solv files, packages); zypper refreshes
them when it next needs them, so later RUNs keep working. It does not fire when the RUN already cleans up after the
install, or when a cache or tmpfs mount covers `/var/cache/zypp`. A plain `sudo` in front of the install is kept.

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager == "zypper" and call.action in ZYPPER_INSTALLS

    def is_cleaned(self, cleanup: Cleanup) -> bool:
        return cleanup.manager == "zypper"

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        return covers(targets, "/var/cache/zypp")

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        if any(c.has_option("--root", "-R") for c in calls):
            return "the install uses --root, whose cache `zypper clean` would not reach"
        return None

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:
        return manager_command(call, "clean -a")


TRANSFORMS = (ZypperClean,)
