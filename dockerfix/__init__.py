"""dockerfix: a Dockerfile auto-rewriter. Lossless syntax tree, safe composable transforms, unified diffs.

Public API: :func:`parse`, :func:`fix`, :func:`list_transforms`, :func:`batch`, :class:`DockerfileSyntaxError`.
``dockerfix.transforms`` is the package of transform modules (callable as well: ``dockerfix.transforms()`` is the
older spelling of :func:`list_transforms`).
"""

from dockerfix import transforms
from dockerfix.syntax import DockerfileSyntaxError, Document, Instruction, parse

__version__ = "0.1.0"


def fix(text, **kwargs):  # noqa: D103 - documented in dockerfix.api.fix
    from dockerfix.api import fix as _fix

    return _fix(text, **kwargs)


def batch():
    from dockerfix.api import batch as _batch

    return _batch()


def list_transforms():
    from dockerfix.api import transforms as _transforms

    return _transforms()


fix.__doc__ = "Rewrite Dockerfile text; see :func:`dockerfix.api.fix`."
batch.__doc__ = "Tune the garbage collector for many files in one process; see :class:`dockerfix.api.batch`."
list_transforms.__doc__ = "List the transforms; see :func:`dockerfix.api.transforms`."

__all__ = ["DockerfileSyntaxError", "Document", "Instruction", "__version__", "batch", "fix", "list_transforms",
           "parse", "transforms"]
