"""DFX111 conda-clean: clear conda's package cache in the RUN that installs packages."""

from __future__ import annotations

from dockerfix.model.pkgmgr import Cleanup, PackageCall
from dockerfix.transforms._hygiene import (
    CACHE_HOME_ENV,
    CLEANUP_STRATEGY_NOTE,
    AppendCleanup,
    RunSite,
    env_in_scope,
    manager_command,
)
from dockerfix.transforms.base import Context

CONDA = frozenset({"conda", "mamba", "micromamba"})
CONDA_INSTALLS = frozenset({"install", "create", "env-create", "env-update", "upgrade"})


class CondaClean(AppendCleanup):
    code = "DFX111"
    image_differences = ("opt/conda/pkgs/*", "root/.conda/pkgs/*")
    name = "conda-clean"
    triggers = ("conda", "mamba")
    summary = "Run `conda clean -afy` (mamba, micromamba) in the RUN that installs packages"
    safety = "safe"
    fix_title = "Append `{command}`"
    message = "conda install leaves downloaded tarballs and extracted packages in the package cache in this layer"
    hint_names = CONDA
    hint_actions = frozenset({"install", "create", "update"})
    docs = f"""\
## What it does
Appends `&& conda clean -afy` (`mamba clean -afy`, `micromamba clean -afy`: the manager that installed, called the
same way, e.g. `/opt/conda/bin/conda`) to a RUN that runs `install`, `create`, `update` or `env create`/`env
update` with conda, mamba or micromamba and does not clean up afterwards.

## Why
conda keeps every downloaded tarball and an extracted copy of every package in its package cache (`pkgs/`), next to
the environment it installed into: often hundreds of MB.

## Example
```dockerfile
RUN conda install -y numpy
```
becomes
```dockerfile
RUN conda install -y numpy && conda clean -afy
```

## Fix safety
Safe: the fix removes the package cache only: tarballs, extracted packages and the index cache (`-a`), including
package folders environments no longer need (`-f`). Environments link packages from the cache with hard links by
default, so their files stay. It does not fire when the RUN already runs a `clean` of the same manager (or removes
`/opt/conda/pkgs`) after the install, when a cache or tmpfs mount covers a `pkgs` folder, or when conda is set to
soft-link packages (`--copy` is fine; `CONDA_ALWAYS_SOFTLINK`/`CONDA_ALLOW_SOFTLINKS` in scope gives a finding, as
`-f` would break such environments).

{CLEANUP_STRATEGY_NOTE}
"""

    def is_target(self, call: PackageCall) -> bool:
        return call.manager in CONDA and call.action in CONDA_INSTALLS

    def is_cleaned(self, cleanup: Cleanup) -> bool:
        return cleanup.manager == "conda"

    def mount_covers(self, ctx: Context, site: RunSite, targets: list[str]) -> bool:
        return any(t.endswith("/pkgs") or "CONDA_PKGS_DIRS" in t for t in targets)

    def no_fix_reason(self, ctx: Context, site: RunSite, calls: list[PackageCall]) -> str | None:
        if env_in_scope(ctx, site, calls[-1], "CONDA_ALWAYS_SOFTLINK", "CONDA_ALLOW_SOFTLINKS"):
            return "conda may soft-link packages from its cache, which `clean -f` would break"
        if env_in_scope(ctx, site, calls[-1], "CONDA_PKGS_DIRS"):
            return "CONDA_PKGS_DIRS moves the package cache; the cleanup would look elsewhere"
        return None

    def cleanup_command(self, call: PackageCall) -> tuple[str | None, str | None]:
        return manager_command(call, "clean -afy", (*CACHE_HOME_ENV, "CONDA_PKGS_DIRS"))


TRANSFORMS = (CondaClean,)
