"""Image references, parsed and normalised the way distribution/reference does it.

Pure and stdlib-only: this module is imported by transforms, so it must stay cheap.

Grammar (github.com/distribution/reference, ``regexp.go``)::

    reference       := name [ ":" tag ] [ "@" digest ]
    name            := [domain "/"] path-component ["/" path-component]*
    domain          := host [":" port-number]
    host            := domain-name | "[" ipv6 "]"
    domain-name     := domain-component ["." domain-component]*
    domain-component:= /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    path-component  := alpha-numeric [separator alpha-numeric]*
    alpha-numeric   := /[a-z0-9]+/
    separator       := /[_.]|__|[-]+/
    tag             := /[\\w][\\w.-]{0,127}/
    digest          := algorithm ":" hex

Normalisation (``normalize.go``): the first ``/``-separated component is a domain only if it
contains ``.`` or ``:``, is ``localhost``, or has an upper-case letter; otherwise the domain is
``docker.io``. ``index.docker.io`` is an alias of ``docker.io``, and a one-component path on
``docker.io`` gets ``library/`` in front.
"""

from __future__ import annotations

from dockerfix._lazyre import lazy
from dockerfix._record import dataclass

__all__ = [
    "DEFAULT_DOMAIN",
    "ImageRef",
    "InvalidReference",
    "is_valid_digest",
    "parse_image_ref",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"

_DOMAIN_RE = lazy(rf"^{_DOMAIN}$")
_PATH_RE = lazy(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_PATH_COMPONENT_RE = lazy(rf"^{_PATH_COMPONENT}$")
_TAG_RE = lazy(rf"^{_TAG}$")
_IDENTIFIER_RE = lazy(r"^[a-f0-9]{64}$")
_DIGEST_ALGORITHM_RE = lazy(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$")
_LOWER_HEX_RE = lazy(r"^[a-f0-9]+$")

# go-digest: only registered algorithms are valid, each with a fixed lower-case hex length.
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReference(ValueError):
    """A string is not a valid image reference; the message says why."""

    def __init__(self, reference: str, reason: str) -> None:
        self.reference = reference
        self.reason = reason
        super().__init__(f"invalid image reference {reference!r}: {reason}")


def is_valid_digest(digest: str) -> bool:
    """True for ``algo:hex`` with a registered algorithm and the right lower-case hex length."""
    return _digest_problem(digest) is None


def _digest_problem(digest: str) -> str | None:
    algorithm, colon, encoded = digest.partition(":")
    if not colon or not _DIGEST_ALGORITHM_RE.match(algorithm) or not encoded:
        return f"digest {digest!r} is not of the form algorithm:hex"
    length = _DIGEST_HEX_LENGTH.get(algorithm)
    if length is None:
        return f"digest algorithm {algorithm!r} is not supported (sha256, sha384, sha512)"
    if len(encoded) != length or not _LOWER_HEX_RE.match(encoded):
        return f"{algorithm} digest must be {length} lower-case hex characters"
    return None


def _path_problem(path: str) -> str | None:
    if path != path.lower():
        return f"repository name {path!r} must be lowercase"
    for component in path.split("/"):
        if not component:
            return f"repository name {path!r} has an empty path component"
        if not _PATH_COMPONENT_RE.match(component):
            return f"repository name component {component!r} is invalid (allowed: a-z, 0-9, '.', '_', '__', '-')"
    return None


@dataclass(frozen=True)
class ImageRef:
    """A normalised image reference: ``domain/path[:tag][@digest]``.

    ``domain`` is ``docker.io`` for Docker Hub (never ``index.docker.io``) and ``path`` carries the
    ``library/`` prefix for official images, so equal images compare equal. A reference with
    neither tag nor digest means ``latest`` when it is pulled (see :attr:`manifest_reference`).
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        domain, path = self.domain, self.path
        if domain == LEGACY_DEFAULT_DOMAIN:
            domain = DEFAULT_DOMAIN
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = OFFICIAL_REPO_PREFIX + path
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "path", path)
        text = f"{domain}/{path}"
        if not _DOMAIN_RE.match(domain):
            raise InvalidReference(text, f"registry domain {domain!r} is invalid")
        problem = _path_problem(path)
        if problem:
            raise InvalidReference(text, problem)
        if len(text) > NAME_TOTAL_LENGTH_MAX:
            raise InvalidReference(text, f"repository name is longer than {NAME_TOTAL_LENGTH_MAX} characters")
        if self.tag is not None and not _TAG_RE.match(self.tag):
            raise InvalidReference(text, _tag_problem(self.tag))
        if self.digest is not None:
            problem = _digest_problem(self.digest)
            if problem:
                raise InvalidReference(text, problem)

    # ------------------------------------------------------------------ derived views
    @property
    def name(self) -> str:
        """Fully qualified repository name without tag or digest: ``docker.io/library/python``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Short repository name as users write it: ``python``, ``user/app``, ``ghcr.io/o/r``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
            return path[len(OFFICIAL_REPO_PREFIX) :]
        return path

    @property
    def familiar(self) -> str:
        """Short form: ``python:3.12``, ``user/app@sha256:...``."""
        return self.familiar_name + self._suffix

    @property
    def fully_qualified(self) -> str:
        """Long form: ``docker.io/library/python:3.12``."""
        return self.name + self._suffix

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/`` to resolve this reference: the tag, else the digest, else ``latest``."""
        return self.tag or self.digest or "latest"

    @property
    def api_host(self) -> str:
        """Host of the registry API: ``registry-1.docker.io`` for Docker Hub, else the domain."""
        return DOCKER_HUB_API_HOST if self.domain == DEFAULT_DOMAIN else self.domain

    @property
    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    # ------------------------------------------------------------------ builders
    def with_digest(self, digest: str | None) -> ImageRef:
        """The same reference pinned to ``digest`` (the tag is kept: ``python:3.12@sha256:...``)."""
        return ImageRef(self.domain, self.path, self.tag, digest)

    def with_tag(self, tag: str | None) -> ImageRef:
        return ImageRef(self.domain, self.path, tag, self.digest)

    def __str__(self) -> str:
        return self.familiar


def _tag_problem(tag: str) -> str:
    if not tag:
        return "tag is empty"
    if len(tag) > 128:
        return "tag is longer than 128 characters"
    return f"tag {tag!r} is invalid (allowed: [A-Za-z0-9_] first, then [A-Za-z0-9_.-])"


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    first = name[:i]
    if i == -1 or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        return DEFAULT_DOMAIN, name
    return first, name[i + 1 :]


def parse_image_ref(text: str) -> ImageRef:
    """Parse and normalise an image reference such as ``python:3.12`` or ``localhost:5000/a/b@sha256:...``.

    Raises :class:`InvalidReference` with a message naming the offending part.
    """
    if not isinstance(text, str):
        raise TypeError(f"image reference must be str, not {type(text).__name__}")
    if not text:
        raise InvalidReference(text, "reference is empty")
    if "$" in text:
        raise InvalidReference(text, "contains a variable reference; expand ARG/ENV values first")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference(text, "contains whitespace")
    if _IDENTIFIER_RE.match(text):
        raise InvalidReference(text, "a 64-character hex string is an image ID, not a repository name")

    rest, at, digest = text.partition("@")
    if at and not digest:
        raise InvalidReference(text, "'@' is not followed by a digest")
    if "@" in digest:
        raise InvalidReference(text, "more than one '@'")

    domain_part, remainder = _split_domain(rest)
    # A tag separator is a ':' after the last '/' (a ':' before it belongs to the domain's port).
    slash = remainder.rfind("/")
    colon = remainder.find(":", slash + 1)
    if colon != -1:
        path, tag = remainder[:colon], remainder[colon + 1 :]
        if not tag:
            raise InvalidReference(text, "':' is not followed by a tag")
    else:
        path, tag = remainder, None

    if not path:
        raise InvalidReference(text, "repository name is empty")
    if domain_part != DEFAULT_DOMAIN and not _DOMAIN_RE.match(domain_part):
        raise InvalidReference(text, f"registry domain {domain_part!r} is invalid")
    # distribution checks case before the grammar, to give this friendlier message.
    problem = _path_problem(path)
    if problem:
        raise InvalidReference(text, problem)
    if tag is not None and not _TAG_RE.match(tag):
        raise InvalidReference(text, _tag_problem(tag))
    if digest:
        problem = _digest_problem(digest)
        if problem:
            raise InvalidReference(text, problem)
    try:
        return ImageRef(domain_part, path, tag, digest or None)
    except InvalidReference as exc:
        raise InvalidReference(text, exc.reason) from None
