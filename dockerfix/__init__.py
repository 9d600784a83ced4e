"""dockerfix: a Dockerfile auto-rewriter. Lossless syntax tree, safe composable transforms, unified diffs.

Public API: :func:`parse`, :func:`fix`, :func:`transforms`, :class:`DockerfileSyntaxError`.
"""

from dockerfix.syntax import DockerfileSyntaxError, Document, Instruction, parse

__version__ = "0.1.0"


def fix(text, **kwargs):  # noqa: D103 - documented in dockerfix.api.fix
    from dockerfix.api import fix as _fix

    return _fix(text, **kwargs)


def batch():
    from dockerfix.api import batch as _batch

    return _batch()


def transforms():
    from dockerfix.api import transforms as _transforms

    return _transforms()


fix.__doc__ = "Rewrite Dockerfile text; see :func:`dockerfix.api.fix`."
batch.__doc__ = "Tune the garbage collector for many files in one process; see :class:`dockerfix.api.batch`."
transforms.__doc__ = "List the transforms; see :func:`dockerfix.api.transforms`."

__all__ = ["DockerfileSyntaxError", "Document", "Instruction", "__version__", "batch", "fix", "parse", "transforms"]
