"""What a stage builds, and what its runtime needs: package classes, build commands, base-image families.

Pure data and small predicates over shell commands (``dockerfix.model.shell``) and image names; no I/O. Used by
DFX501 (multi-stage) and DFX502 (build-tools-in-final-stage).
"""

from __future__ import annotations

import re
from functools import lru_cache

from dockerfix._lazyre import lazy
from dockerfix.model import tools as _tools

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from dockerfix.model.shell import SimpleCommand

# ------------------------------------------------------------------ packages
BUILD_TOOLS = frozenset({
    "build-essential", "build-base", "gcc", "g++", "gcc-c++", "cpp", "make", "cmake", "ninja-build", "autoconf",
    "automake", "libtool", "pkg-config", "pkgconf", "pkgconfig", "clang", "llvm", "gfortran", "musl-dev",
    "linux-headers", "linux-libc-dev", "libc6-dev", "libc-dev", "binutils", "bison", "flex", "swig", "cargo",
    "rustc", "golang", "golang-go", "go", "default-jdk", "openjdk-17-jdk", "openjdk-11-jdk", "openjdk-21-jdk",
    "maven", "gradle", "python3-dev", "python-dev", "python3-devel", "python-devel", "node-gyp",
    "development-tools", "kernel-headers", "glibc-devel",
})

# -dev (Debian) / -devel (RPM) header packages -> the runtime library that ships the shared objects.
APT_RUNTIME_LIBS = {
    "libpq-dev": "libpq5",
    "libxml2-dev": "libxml2",
    "libxslt1-dev": "libxslt1.1",
    "libxslt-dev": "libxslt1.1",
    "libjpeg-dev": "libjpeg62-turbo",
    "libjpeg62-turbo-dev": "libjpeg62-turbo",
    "libpng-dev": "libpng16-16",
    "libffi-dev": "libffi8",
    "libssl-dev": "libssl3",
    "zlib1g-dev": "zlib1g",
    "libyaml-dev": "libyaml-0-2",
    "libmariadb-dev": "libmariadb3",
    "libmariadb-dev-compat": "libmariadb3",
    "default-libmysqlclient-dev": "libmariadb3",
    "libmysqlclient-dev": "libmariadb3",
    "libsqlite3-dev": "libsqlite3-0",
    "libcurl4-openssl-dev": "libcurl4",
    "libgeos-dev": "libgeos-c1v5",
    "libproj-dev": "libproj25",
    "libgdal-dev": "libgdal32",
    "libmagic-dev": "libmagic1",
    "libtiff-dev": "libtiff6",
    "libtiff5-dev": "libtiff6",
    "libwebp-dev": "libwebp7",
    "libfreetype6-dev": "libfreetype6",
    "libfreetype-dev": "libfreetype6",
    "liblcms2-dev": "liblcms2-2",
    "libopenjp2-7-dev": "libopenjp2-7",
    "libzstd-dev": "libzstd1",
    "liblzma-dev": "liblzma5",
    "libbz2-dev": "libbz2-1.0",
    "libsasl2-dev": "libsasl2-2",
    "libldap2-dev": "libldap-2.5-0",
    "libkrb5-dev": "libkrb5-3",
    "libgmp-dev": "libgmp10",
    "libsnappy-dev": "libsnappy1v5",
    "libpcre3-dev": "libpcre3",
    "libuv1-dev": "libuv1",
    "libglib2.0-dev": "libglib2.0-0",
    "libcairo2-dev": "libcairo2",
    "libpango1.0-dev": "libpango-1.0-0",
    "libgirepository1.0-dev": "libgirepository-1.0-1",
    "libblas-dev": "libblas3",
    "liblapack-dev": "liblapack3",
    "libopenblas-dev": "libopenblas0",
    "libhdf5-dev": "libhdf5-103-1",
    "libsodium-dev": "libsodium23",
    "libzmq3-dev": "libzmq5",
    "libev-dev": "libev4",
    "libedit-dev": "libedit2",
    "libreadline-dev": "libreadline8",
    "libncurses-dev": "libncurses6",
    "libncurses5-dev": "libncurses6",
}
APK_RUNTIME_LIBS = {
    "postgresql-dev": "libpq",
    "libpq-dev": "libpq",
    "libxml2-dev": "libxml2",
    "libxslt-dev": "libxslt",
    "jpeg-dev": "libjpeg-turbo",
    "libjpeg-turbo-dev": "libjpeg-turbo",
    "libpng-dev": "libpng",
    "libffi-dev": "libffi",
    "openssl-dev": "libssl3",
    "zlib-dev": "zlib",
    "yaml-dev": "yaml",
    "mariadb-dev": "mariadb-connector-c",
    "mariadb-connector-c-dev": "mariadb-connector-c",
    "sqlite-dev": "sqlite-libs",
    "curl-dev": "libcurl",
    "geos-dev": "geos",
    "freetype-dev": "freetype",
    "libwebp-dev": "libwebp",
    "tiff-dev": "tiff",
    "lcms2-dev": "lcms2",
    "openjpeg-dev": "openjpeg",
    "zstd-dev": "zstd-libs",
    "librdkafka-dev": "librdkafka",
}


def is_header_package(name: str) -> bool:
    """``libpq-dev``, ``postgresql-devel``, ``libxml2-dev:amd64`` (a header/development package)."""
    base = name.split(":", 1)[0].split("=", 1)[0]
    return base.endswith("-dev") or base.endswith("-devel") or "-dev-" in base


def package_base(name: str) -> str:
    """The package name without ``=version``, ``:arch`` or ``>=...``."""
    return re.split(r"[:=<>~]", name, maxsplit=1)[0]


# A pure function of the name, asked for the same few names (``gcc``, ``libpq-dev``) by every file: cached by string.
@lru_cache(maxsize=2048)
def is_build_package(name: str) -> bool:
    base = package_base(name)
    return base in BUILD_TOOLS or is_header_package(base) or bool(re.fullmatch(r"(gcc|g\+\+|clang)-\d+", base))


def runtime_library(name: str, manager: str) -> str | None:
    """The runtime package that replaces a header package (``libpq-dev`` -> ``libpq5``), or None when unknown."""
    table = APK_RUNTIME_LIBS if manager == "apk" else APT_RUNTIME_LIBS
    return table.get(package_base(name))


SYSTEM_MANAGERS = _tools.system_managers()
"""apt-get, apt, apk, dnf, yum, microdnf, zypper: the system package managers of ``dockerfix.model.tools``."""

# ------------------------------------------------------------------ build commands
COMPILE_COMMANDS = frozenset({
    "gcc", "g++", "cc", "c++", "clang", "make", "cmake", "ninja", "configure", "go", "cargo", "rustc", "mvn",
    "mvnw", "gradle", "gradlew", "dotnet", "tsc", "node-gyp", "javac",
})


_NODE_BUILDERS = frozenset({"npm", "yarn", "pnpm", "tsc", "npx"})
_JAVA_BUILDERS = frozenset({"mvn", "mvnw", "gradle", "gradlew"})


def words(cmd: SimpleCommand) -> list[str | None]:
    return [w.value for w in cmd.words]


def is_go_build(cmd: SimpleCommand) -> bool:
    # The build predicates look at the command name before reading the words: they run on every command of a
    # stage, and building the word list is most of their cost.
    if cmd.basename != "go":
        return False
    w = words(cmd)
    return len(w) > 1 and w[1] in ("build", "install")


def is_node_build(cmd: SimpleCommand) -> bool:
    """``npm run build``, ``yarn build``, ``pnpm run build``, ``tsc``, ``npx tsc``, ``npx vite build``..."""
    b = cmd.basename
    if b not in _NODE_BUILDERS:
        return False
    w = [x or "" for x in words(cmd)]
    if b == "npm" and len(w) > 2 and w[1] in ("run", "run-script") and "build" in w[2]:
        return True
    if b in ("yarn", "pnpm") and len(w) > 1 and ("build" in w[1] or (w[1] == "run" and len(w) > 2 and "build" in w[2])):
        return True
    if b == "tsc":
        return True
    if b == "npx" and len(w) > 1 and (w[1] == "tsc" or (len(w) > 2 and w[2] == "build")):
        return True
    return False


def is_java_build(cmd: SimpleCommand) -> bool:
    b = cmd.basename or ""
    if b not in _JAVA_BUILDERS:
        return False
    w = [x or "" for x in words(cmd)]
    if b in ("mvn", "mvnw"):
        return any(g in ("package", "install", "verify") or g.endswith(":repackage") for g in w[1:])
    if b in ("gradle", "gradlew"):
        return any(g in ("build", "bootJar", "jar", "assemble", "installDist", "shadowJar") for g in w[1:])
    return False


def is_rust_build(cmd: SimpleCommand) -> bool:
    if cmd.basename != "cargo":
        return False
    w = [x or "" for x in words(cmd)]
    return len(w) > 1 and (
        (w[1] == "build" and ("--release" in w or "-r" in w)) or w[1] == "install")


def is_dotnet_publish(cmd: SimpleCommand) -> bool:
    if cmd.basename != "dotnet":
        return False
    w = [x or "" for x in words(cmd)]
    return len(w) > 1 and w[1] == "publish"


def option_value(cmd: SimpleCommand, *names: str) -> str | None:
    """The value of ``-o X`` / ``--output=X`` style options of a command (static values only)."""
    w = [x for x in words(cmd)]
    for i, v in enumerate(w):
        if v is None:
            continue
        for n in names:
            if v == n and i + 1 < len(w):
                return w[i + 1]
            if n.startswith("--") and v.startswith(n + "="):
                return v[len(n) + 1:]
    return None


# ------------------------------------------------------------------ images
def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference, without resolving anything."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    repo, tag = ref, None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        repo, tag = ref[:colon], ref[colon + 1:]
    return repo, tag, digest


# A pure function of the reference, asked for the same few images by the model and the transforms of every file
# (~6,000 calls over the corpus): cached by string.
@lru_cache(maxsize=2048)
def repo_name(ref: str) -> str:
    """``docker.io/library/python`` -> ``python``; ``bitnami/node`` -> ``bitnami/node``."""
    repo = split_image(ref)[0].lower()
    for p in ("docker.io/library/", "index.docker.io/library/", "library/", "docker.io/"):
        if repo.startswith(p):
            return repo[len(p):]
    return repo


def slim_variant(ref: str) -> str | None:
    """``python:3.11`` -> ``python:3.11-slim``; already slim/alpine -> unchanged; digest-pinned or unknown -> None."""
    repo, tag, digest = split_image(ref)
    if digest is not None:
        return None
    t = tag or "latest"
    if "slim" in t or "alpine" in t or "windowsservercore" in t or "nanoserver" in t:
        return ref
    if t == "latest":
        return f"{repo}:slim"
    for codename in ("bookworm", "bullseye", "buster", "trixie"):
        if t.endswith("-" + codename) or t == codename:
            return f"{repo}:{t}-slim"
    return f"{repo}:{t}-slim"


def has_shell_image(ref: str) -> bool:
    r = ref.lower()
    return not (r == "scratch" or "distroless" in r or r.startswith("cgr.dev/chainguard/static"))


def is_alpine(ref: str) -> bool:
    return "alpine" in ref.lower()


def debian_codename(ref: str) -> str:
    tag = split_image(ref)[1] or ""
    for c in ("trixie", "bookworm", "bullseye", "buster"):
        if c in tag:
            return c
    return "bookworm"


def java_version(ref: str) -> str | None:
    repo, tag, _ = split_image(ref)
    tag = tag or ""
    m = re.search(r"(?:jdk|temurin|openjdk|java|corretto)-?(\d{1,2})\b", tag)
    if m:
        return m.group(1)
    name = repo_name(ref)
    if name.split("/")[-1] in ("eclipse-temurin", "openjdk", "amazoncorretto", "ibmjava", "sapmachine") or \
            name.endswith("/openjdk"):
        m = re.match(r"(\d{1,2})\b", tag)
        if m:
            return m.group(1)
    return None


def dotnet_version(ref: str) -> str | None:
    tag = split_image(ref)[1] or ""
    m = re.match(r"(\d+\.\d+)", tag)
    return m.group(1) if m else None


def ecosystem_of_base(ref: str) -> str | None:
    n = repo_name(ref).split("/")[-1]
    if n in ("golang", "go"):
        return "go"
    if n in ("node",):
        return "node"
    if n in ("python", "pypy"):
        return "python"
    if n in ("rust",):
        return "rust"
    if n in ("maven", "gradle", "eclipse-temurin", "openjdk", "amazoncorretto", "sapmachine"):
        return "java"
    if n == "sdk" and "dotnet" in repo_name(ref):
        return "dotnet"
    return None


# ------------------------------------------------------------------ RPM distributions
RPM_IMAGES: dict[str, tuple[str, int | None]] = {
    # repository name (last path component, ``-minimal``/``-micro``/``-init``/``-base``/``-slim`` dropped) ->
    # (family, release of the untagged / ``latest`` image; None when that is not known)
    "centos": ("el", 8),  # docker.io centos: the last ``latest`` was CentOS 8 (8.4.2105); quay.io/centos/centos
    "rockylinux": ("el", 9),  # every release is 8+
    "almalinux": ("el", 9),  # every release is 8+
    "oraclelinux": ("el", None),  # no ``latest`` tag
    "ubi": ("el", None),  # registry.access.redhat.com/ubi8/ubi: the release is in the path
    "rhel": ("el", None),
    "fedora": ("fedora", 1 << 20),  # ``latest``/``rawhide``: the newest release
    "amazonlinux": ("amzn", None),  # ``latest`` moved from 2 to 2023
}
_RPM_TOKENS = {"ubi": "el", "rhel": "el", "el": "el", "centos": "el", "rockylinux": "el", "rocky": "el",
               "almalinux": "el", "alma": "el", "oraclelinux": "el", "ol": "el", "fedora": "fedora", "fc": "fedora",
               "amazonlinux": "amzn", "amzn": "amzn", "al": "amzn"}
_RPM_TOKEN = lazy(r"^(ubi|rhel|el|centos|rockylinux|rocky|almalinux|alma|oraclelinux|ol|fedora|fc|amazonlinux|amzn|al)"
                  r"(\d+)$")
_FIRST_NUMBER = lazy(r"(\d+)")
_VARIANT = lazy(r"-(minimal|micro|init|base|slim)$")


def rpm_release(ref: str) -> tuple[str, int] | None:
    """(family, major release) of an RPM-based base image: ``("el", 7)`` for ``centos:7``, ``("el", 8)`` for
    ``centos`` (untagged), ``quay.io/centos/centos:stream8``, ``rockylinux:8``, ``registry.access.redhat.com/ubi8/ubi``
    or ``nvidia/cuda:12.2.0-base-ubi8``; ``("fedora", 40)``; ``("amzn", 2)`` / ``("amzn", 2023)``. None when the
    reference does not say (another distribution, a custom image, a variable, ``amazonlinux`` untagged)."""
    if not ref or "$" in ref:
        return None
    repo, tag, _ = split_image(ref)
    name = repo_name(ref)
    parts = name.split("/")
    # a release in the repository path: ubi8/ubi-minimal, rhel9/python-311
    for part in parts[:-1] + [_VARIANT.sub("", parts[-1])]:
        m = _RPM_TOKEN.match(part)
        if m:
            return _RPM_TOKENS[m.group(1)], int(m.group(2))
    last = _VARIANT.sub("", parts[-1])
    if last == "fedora-minimal":
        last = "fedora"
    known = RPM_IMAGES.get(last)
    if known is not None:
        family, default = known
        if tag is None or tag in ("latest", "rawhide"):
            return (family, default) if default is not None else None
        m = _FIRST_NUMBER.search(tag)
        if m is None:
            return None
        return family, int(m.group(1))
    # a release in the tag of another image: nvidia/cuda:12.2.0-devel-ubi8, ...-rockylinux9, ...-centos7
    for token in re.split(r"[-_.]", tag or ""):
        m = _RPM_TOKEN.match(token)
        if m:
            return _RPM_TOKENS[m.group(1)], int(m.group(2))
    return None
