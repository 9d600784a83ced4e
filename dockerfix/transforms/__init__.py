"""Transforms, one module each (see ``registry.MODULES``).

``dockerfix.transforms`` is both this package and the public function ``dockerfix.transforms()`` that lists the
transforms: importing the package replaces the function attribute on ``dockerfix``, so the package itself is callable.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self):
        from dockerfix.api import transforms

        return transforms()


sys.modules[__name__].__class__ = _CallablePackage
