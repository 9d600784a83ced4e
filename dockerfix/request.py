"""What a run asks for, resolved in one place for every frontend (CLI, editor server, PR bot).

:func:`resolve` turns a file's configuration (:class:`dockerfix.config.Config`) and the frontend's overrides (flags)
into a :class:`Request`: which transforms (``select``/``ignore``), whether unsafe fixes apply, the build context,
the transforms' settings, and whether fixes may create companion files. :func:`services` builds the injected
services a request's transforms declare they need (:attr:`Transform.needs`), and only those: a registry resolver
exists only when a selected transform needs one, so network access stays opt-in without a list of codes anywhere.

Frontends differ only in their overrides: the CLI passes its flags, the editor server passes none (the
configuration alone), the bot passes its own flags through the CLI's planning.
"""

from __future__ import annotations

import os

from dockerfix._record import dataclass, field

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Callable

    from dockerfix.config import Config


@dataclass(frozen=True)
class Overrides:
    """A frontend's flags; None (or False) means "as the configuration says"."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    unsafe: bool | None = None
    context: str | None = None
    offline: bool = False
    allow_partial: bool = False
    refresh_digests: bool = False
    add_files: bool | None = None
    skip_cosmetic: bool | None = None


@dataclass(frozen=True)
class Request:
    select: tuple[str, ...] | None
    ignore: tuple[str, ...] | None
    unsafe: bool
    context: str | None
    """The build context folder (absolute when it came from a flag), or None when there is none."""
    settings: dict[str, Any] = field(default_factory=dict)
    create_files: bool = False
    """Fixes may create companion files that do not exist yet (``--add-files``, ``create-files = true``)."""
    skip_cosmetic: bool = False
    """Leave a file unchanged when all its fixes are cosmetic (``--skip-cosmetic``, ``skip-cosmetic = true``): see
    ``FixResult.cosmetic_only``."""


def resolve(cfg: Config, overrides: Overrides = Overrides(), *, default_context: str | None = None) -> Request:
    """The request for one file: ``overrides`` over ``cfg``; ``default_context`` (the Dockerfile's folder) when
    neither names a build context."""
    settings = cfg.fix_settings()
    if overrides.offline:
        settings["offline"] = True
    if overrides.allow_partial:
        settings["allow-partial"] = True
    select = overrides.select if overrides.select is not None else cfg.select
    if overrides.refresh_digests:
        # --refresh-digests adds to whatever would run (flags, config, or the defaults)
        from dockerfix.engine import select_transforms

        base = tuple(select) if select else tuple(t.code for t in select_transforms(None, None))
        select = base + ("refresh-digests",)
    if overrides.context:
        context: str | None = os.path.abspath(overrides.context)
    else:
        context = cfg.context or default_context
    return Request(
        select=tuple(select) if select is not None else None,
        ignore=overrides.ignore if overrides.ignore is not None else cfg.ignore,
        unsafe=overrides.unsafe if overrides.unsafe is not None else bool(cfg.unsafe),
        context=context,
        settings=settings,
        create_files=bool(overrides.add_files if overrides.add_files is not None else cfg.create_files),
        skip_cosmetic=bool(overrides.skip_cosmetic if overrides.skip_cosmetic is not None else cfg.skip_cosmetic),
    )


def needs(select: tuple[str, ...] | None, ignore: tuple[str, ...] | None) -> set[str]:
    """The services the selected transforms declare they need (:attr:`Transform.needs`)."""
    from dockerfix.engine import select_transforms

    return {n for t in select_transforms(select, ignore) for n in getattr(t, "needs", ())}


_BUILT: dict[tuple[str, str], Any] = {}
"""Services built so far, by name and the settings they depend on (one resolver per registry configuration in a
run over many files: its cache is shared)."""


def _resolver(settings: dict[str, Any]) -> tuple[str, Callable[[], Any]]:
    def build() -> Any:
        from dockerfix.registry.config import ResolverConfig, registries_from_mapping
        from dockerfix.registry.resolver import RegistryResolver

        regs = registries_from_mapping(settings.get("registries") or {})
        return RegistryResolver(ResolverConfig(registries=regs, offline=bool(settings.get("offline"))))

    key = repr(sorted((settings.get("registries") or {}).items())) + repr(settings.get("offline"))
    return key, build


FACTORIES: dict[str, Callable[[dict[str, Any]], tuple[str, Callable[[], Any]]]] = {"resolver": _resolver}
"""Service name -> a function of the settings giving (cache key, builder)."""


def services(select: tuple[str, ...] | None, ignore: tuple[str, ...] | None, settings: dict[str, Any]
             ) -> dict[str, Any] | None:
    """The services the selected transforms need, built once per configuration; None when they need none."""
    wanted = needs(select, ignore)
    if not wanted:
        return None
    out = {}
    for name in sorted(wanted):
        factory = FACTORIES.get(name)
        if factory is None:
            continue  # a service only a caller of the API can inject: the transform reports it missing
        key, build = factory(settings)
        if (name, key) not in _BUILT:
            _BUILT[(name, key)] = build()
        out[name] = _BUILT[(name, key)]
    return out or None
