"""Transforms, one module each; :mod:`dockerfix.transforms.registry` lists them.

``dockerfix.transforms`` is always this package (``dockerfix/__init__.py`` imports it, which costs nothing: it imports
no transform). List the transforms with :func:`dockerfix.list_transforms` (or :func:`dockerfix.api.transforms`).
The package is also callable, so the spelling ``dockerfix.transforms()`` that earlier releases documented keeps
working and returns the same list.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self):
        from dockerfix.api import transforms

        return transforms()


sys.modules[__name__].__class__ = _CallablePackage
