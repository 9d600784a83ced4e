"""Build-verification support: read built images, flatten them, compare them, and drive builders.

The pieces, lowest first (none imports the engine or the CLI):

- :mod:`dockerfix.verify.imagefs` reads an OCI layout, an OCI archive or a ``docker save`` tar and flattens its
  layers into one file tree plus the image config (stdlib only).
- :mod:`dockerfix.verify.compare` compares two flattened images, given the differences a rewrite is allowed to
  make as data, and returns a JSON-serialisable result.
- :mod:`dockerfix.verify.builders` is a small interface over buildah, docker and podman; processes run through an
  injectable runner so the rest stays testable offline.
"""

from dockerfix.verify.compare import (
    BUILD_NOISE,
    KNOWN_CACHES,
    AllowedDifference,
    Comparison,
    ConfigDifference,
    PathDifference,
    compare_images,
)
from dockerfix.verify.imagefs import (
    DirectoryLayerCache,
    Entry,
    FlatImage,
    ImageConfig,
    ImageFormatError,
    LayerInfo,
    flatten_image,
)

__all__ = [
    "BUILD_NOISE",
    "KNOWN_CACHES",
    "AllowedDifference",
    "Comparison",
    "ConfigDifference",
    "DirectoryLayerCache",
    "Entry",
    "FlatImage",
    "ImageConfig",
    "ImageFormatError",
    "LayerInfo",
    "PathDifference",
    "compare_images",
    "flatten_image",
]
