"""DFX103 apt-lists-cleanup: remove apt's package lists in the RUN that downloaded them."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Iterable

    from dockerfix.model.pkgmgr import Cleanup, PackageCall
    from dockerfix.transforms.base import Context, Diagnostic

from dockerfix.transforms._hygiene import (
    APT,
    APT_INSTALLS,
    AppendCleanup,
    CLEANUP_STRATEGY_NOTE,
    LISTS,
    RM_LISTS,
    RunSite,
    _is_lists_cleanup,
    covers,
    first_later,
    invocation_prefix,
    relies_on_apt_lists,
)


class AptListsCleanup(AppendCleanup):
    code = "DFX103"
    answers = ("DL3009",)
    triggers = ("apt",)
    image_differences = ("var/lib/apt/lists/*",)
    name = "apt-lists-cleanup"
    summary = "Remove apt's package lists in the RUN that installs packages"
    safety = "safe"
    fix_title = "Append `{command}`"
    message = "apt-get install leaves the package lists (/var/lib/apt/lists) in this layer"
    hint_names = frozenset({"apt-get", "apt"})
    hint_actions = frozenset({"install", "update", "upgrade", "dist-upgrade"})
    docs = f"""\
## What it does
Appends `&& rm -rf /var/lib/apt/lists/*` to a RUN that runs `apt-get install` (or `apt install`, `upgrade`,
`dist-upgrade`, `build-dep`) and does not remove the lists afterwards in the same RUN. A RUN that runs
`apt-get update` without any install gets a finding without a fix (see DFX102 `apt-update-alone`): its lists can
only be removed in the same layer once the install joins it (DFX101 `merge-runs`).

## Why
`apt-get update` downloads the package index to `/var/lib/apt/lists` (tens of MB). Removing it in a later RUN does
not shrink the image: the files stay in the earlier layer. The Docker best-practice guide and hadolint (DL3009) ask
for the removal in the same RUN.

## Example
```dockerfile
RUN apt-get update && apt-get install -y curl
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
```

## Fix safety
The fix removes exactly the contents of `/var/lib/apt/lists` (the package index, which `apt-get update` rebuilds);
installed packages and `/var/cache/apt` are untouched. It is chained with `&&`, so the RUN still fails when the
install fails, and the file's continuation style (`&&` at line start or end, escape character, indent) is copied.

It is safe unless a later RUN of the same stage, of a stage built `FROM` it, or an `ONBUILD RUN` uses the lists
without its own `apt-get update` (`apt-get install`, `apt-cache`...): that RUN would then fail, so there is no fix
(a finding naming that RUN), not even with `--unsafe`. It does not fire when the RUN already runs `apt-get dist-clean` or removes the lists after the install, or
when a cache or tmpfs mount covers `/var/lib/apt` or `/var/lib/apt/lists`. No fix (a finding) for exec-form RUN,
non-POSIX `SHELL`, Windows bases, scripts the shell parser does not understand, installs in the background, and
RUNs ending in a comment.

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager in APT and call.action in APT_INSTALLS

    def is_cleaned(self, cleanup: Cleanup) -> bool:
        return _is_lists_cleanup(cleanup)

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        return covers(targets, LISTS)

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:
        prefix, reason = invocation_prefix(call)
        if reason is not None:
            return None, reason
        return f"{prefix}{RM_LISTS}", None

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        # a fix whose own analysis says the build fails is never applied, not even with --unsafe (issue 19)
        why = first_later(ctx, site, relies_on_apt_lists)
        if why is not None:
            return f"removing the lists breaks a later step: {why}"
        return None

    def check_run(self, ctx: Context, site: RunSite) -> Iterable[Diagnostic]:
        found = list(super().check_run(ctx, site))
        yield from found
        if found:
            return
        calls = site.calls()
        updates = [c for c in calls if c.manager in APT and c.action == "update"]
        if not updates or any(self.is_target(c) for c in calls):
            return
        end = updates[-1].command.span[1]
        if any(_is_lists_cleanup(cl) and cl.command.span[0] >= end for cl in site.cleanups()):
            return
        if covers(site.cache_targets(), LISTS):
            return
        yield self.diagnostic(
            site.inst, "apt-get update runs without an install in the same RUN; its lists stay in this layer", None,
            reason="the install is in another RUN: merge them (DFX101 merge-runs) so the lists can be removed in "
                   "the layer that downloads them",
            span=self.call_span(site, updates[-1]),
        )


TRANSFORMS = (AptListsCleanup,)
