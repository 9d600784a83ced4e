"""DFX104 apk-no-cache: ``apk add`` keeps no index or package cache in the layer with ``--no-cache``."""

from __future__ import annotations


from dockerfix._lazyre import lazy
from dockerfix.model import tools
from dockerfix.model.pkgmgr import PackageCall
from dockerfix.transforms._hygiene import (
    CLEANUP_STRATEGY_NOTE,
    InsertFlag,
    RunSite,
    covers,
    stage_chain,
)
from dockerfix.transforms.base import Context

APK_CACHES = tools.root_cache_dirs("apk")  # /var/cache/apk, /etc/apk/cache: the row's cleanup paths
# Alpine releases whose apk predates `--no-cache` (added in apk-tools 2.6, Alpine 3.3).
_OLD_ALPINE = lazy(r"^(?:docker\.io/)?(?:library/)?alpine:(?:2\.|3\.[0-2](?:\.|$|-))")


class ApkNoCache(InsertFlag):
    code = "DFX104"
    answers = ("DL3019",)
    image_differences = ("var/cache/apk/*",)
    name = "apk-no-cache"
    triggers = ("apk",)
    summary = "Use `apk add --no-cache` so the package index and cache stay out of the layer"
    safety = "safe"
    flag = "--no-cache"
    fix_title = "Add `--no-cache` to `apk add`"
    message = "apk add without --no-cache can leave the package index and cache in this layer"
    hint_names = frozenset({"apk"})
    hint_actions = frozenset({"add"})
    hint_done = frozenset({"--no-cache"})
    docs = f"""\
## What it does
Inserts `--no-cache` after `add` in `apk add` commands that do not have it.

## Why
With `--no-cache`, apk fetches the package index into memory for this one command and keeps no index
(`/var/cache/apk/APKINDEX.*`) or downloaded packages in the image. The Docker best-practice guide and hadolint
(DL3019) recommend it over `apk update && ... && rm -rf /var/cache/apk/*`.

## Example
```dockerfile
RUN apk add curl
```
becomes
```dockerfile
RUN apk add --no-cache curl
```

## Fix safety
Safe: the same packages are installed; what leaves the layer is only apk's index and package cache. apk reads a
fresh index for the command, which the RUN needed anyway (an index left by an earlier layer is at most a few
builds older). It does not fire when the RUN already removes `/var/cache/apk` (or runs `apk cache clean`) after the
`apk add`, when a cache or tmpfs mount covers `/var/cache/apk` or `/etc/apk/cache`, or when `--cache-dir` or
`--no-network` (nothing is downloaded) is given. An `apk update` elsewhere in the RUN is left alone: its index
stays in the layer (remove the `apk update` by hand once every `apk add` has `--no-cache`). On Alpine images older
than 3.3, whose apk (before 2.6) rejects the flag, there is no fix (a finding), not even with `--unsafe`.

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager == "apk" and call.action == "add"

    def is_satisfied(self, ctx: Context, site: RunSite, call: PackageCall) -> bool:
        if call.has_option("--no-cache", "--cache-dir", "--no-network"):
            return True
        if covers(site.cache_targets(), *APK_CACHES):
            return True
        end = call.command.span[1]
        return any(cl.manager == "apk" and cl.command.span[0] >= end for cl in site.cleanups())

    def no_fix_reason(self, ctx: Context, site: RunSite, call: PackageCall) -> str | None:
        root = stage_chain(ctx, site.stage)[-1]
        base = ctx.model.expand(root.base, ctx.model.meta_values) or root.base
        if _OLD_ALPINE.match(base.lower()):
            return f"{base} ships an apk older than 2.6, which rejects --no-cache (the build would fail)"
        return None


TRANSFORMS = (ApkNoCache,)
