"""The tool table (dockerfix.model.tools): its consistency, each tool's cache for root and for a user with a HOME, the
variables and options that move caches, yum/dnf/microdnf per base image, offline flags, fills, and the consumers that
read the table (cache_needs, pkgmgr, manifests, ecosystems)."""

from __future__ import annotations

import pytest

from dockerfix.model import ecosystems, manifests, pkgmgr, tools
from dockerfix.model.pkgmgr import find_package_calls
from dockerfix.model.shell import parse_shell


def cmd(src: str):
    script = parse_shell(src)
    assert script.ok, script.error
    (c,) = script.commands
    return c


def dirs(src: str, env=None, home="/root", base="", **kw) -> list[tuple[str, str | None]]:
    return [(d.key, d.path) for d in tools.cache_dirs(cmd(src), env or {}, home, base, **kw)]


# ------------------------------------------------------------------ the table itself
_KINDS = {"opt", "prop", "setopt", "env", "xdg-any", "root", "home", "fixed", "relative", "family", "unless-opt",
          "unknown"}


@pytest.mark.parametrize("tool", tools.TOOLS, ids=lambda t: t.name)
def test_table_entries_are_well_formed(tool):
    assert tool.source, f"{tool.name} names no source"
    keys = [c.key for c in tool.caches]
    assert len(keys) == len(set(keys))
    for c in tool.caches:
        assert c.where, f"{tool.name}.{c.key} has no location"
        assert {loc.kind for loc in c.where} <= _KINDS
        last = c.where[-1].kind
        assert last in ("home", "fixed", "relative", "family", "unknown"), \
            f"{tool.name}.{c.key} can fall off its chain"
    for f in tool.offline:
        assert f.how in ("opt", "env", "env=")
        assert set(f.reads) <= set(keys), f"{tool.name} offline {f.name} reads an unknown cache"
    for family_loc in (loc for c in tool.caches for loc in c.where if loc.kind == "family"):
        assert family_loc.name in tools.RPM_CACHEDIRS


def test_every_manager_pkgmgr_parses_comes_from_the_table():
    assert pkgmgr.MANAGERS == ("apt-get", "apt", "apk", "dnf", "yum", "microdnf", "zypper", "pip", "npm", "yarn",
                               "pnpm", "gem", "composer", "conda", "mamba", "micromamba")
    assert set(pkgmgr.MANAGERS) == set(pkgmgr._TOOL)
    assert ecosystems.SYSTEM_MANAGERS == ("apt-get", "apt", "apk", "dnf", "yum", "microdnf", "zypper")


@pytest.mark.parametrize("manager", pkgmgr.MANAGERS)
def test_pkgmgr_reads_each_managers_grammar_from_its_row(manager):
    """Every subcommand alias, two-word subcommand and value option of a row is what pkgmgr parses: the row is the
    only place a manager's grammar is stated."""
    row = tools.manager_tool(manager)
    assert row.value_options and row.verbs, f"{manager}: a pkgmgr row states its options and subcommands"
    for word, action in row.verbs.items():
        call = pkgmgr.parse_package_call(parse_shell(f"{manager} {word} x").sites[0].command)
        assert call is not None and call.action == action, (manager, word)
    for first, seconds in (row.subverbs or {}).items():
        for second, action in seconds.items():
            call = pkgmgr.parse_package_call(parse_shell(f"{manager} {first} {second}").sites[0].command)
            assert call is not None and call.action == action and not call.packages, (manager, first, second)
    for opt in sorted(row.value_options):
        if opt.endswith("_"):
            continue
        call = pkgmgr.parse_package_call(parse_shell(f"{manager} {opt} VALUE install x").sites[0].command)
        assert call is not None and call.option_values(opt) == ["VALUE"], (manager, opt)
    if row.global_prefix:
        call = pkgmgr.parse_package_call(parse_shell(f"{manager} global add x").sites[0].command)
        assert call is not None and call.action == row.verbs.get("add", "add")


def test_install_and_clean_actions_are_the_tables():
    call = pkgmgr.parse_package_call(parse_shell("dnf clean expire-cache").sites[0].command)
    assert call is not None and call.is_cleanup  # the action is clean...
    assert pkgmgr.find_cleanups(parse_shell("dnf clean expire-cache")) == []  # ...but it clears no cache
    assert [c.manager for c in pkgmgr.find_cleanups(parse_shell("dnf clean all"))] == ["dnf"]
    assert tools.INSTALL_ACTIONS >= {"install", "add", "ci"} and "clean" in tools.CLEAN_ACTIONS


def test_manifests_and_lockfiles_come_from_the_table():
    assert manifests.LOCKFILES == {
        "uv": "uv.lock", "poetry": "poetry.lock", "pipenv": "Pipfile.lock", "npm": "package-lock.json",
        "yarn": "yarn.lock", "pnpm": "pnpm-lock.yaml", "go": "go.sum", "cargo": "Cargo.lock",
        "bundler": "Gemfile.lock", "composer": "composer.lock"}
    assert set(manifests.ECOSYSTEM_FILES) == {"poetry", "uv", "pipenv", "npm", "yarn", "pnpm", "go", "cargo",
                                               "maven", "gradle", "bundler", "composer", "dotnet"}
    assert manifests.ECOSYSTEM_FILES["maven"] == (("pom.xml", True, False), (".mvn", False, True))
    for eco, lock in manifests.LOCKFILES.items():
        assert any(p == lock and not req for p, req, _ in manifests.ECOSYSTEM_FILES[eco]), eco


def test_cleanup_paths_and_owners_come_from_the_table():
    assert ("microdnf" not in {m for m, _ in pkgmgr._CACHES})
    assert ("apt", "/var/lib/apt/lists") == pkgmgr._CACHES[0]
    assert ("uv", "~/.cache/uv") in pkgmgr._CACHES and ("conda", "~/micromamba/pkgs") in pkgmgr._CACHES
    assert tools.cleanup_owner("apt-get") == "apt" and tools.cleanup_owner("micromamba") == "conda"
    assert tools.cleanup_owner("mamba") == "conda" and tools.cleanup_owner("dnf") == "dnf"
    found = [(c.manager, c.cache) for c in pkgmgr.find_cleanups(parse_shell("micromamba clean -a -y && "
                                                                            "rm -rf /root/.cache/uv"))]
    assert found == [("conda", None), ("uv", "~/.cache/uv")]


# ------------------------------------------------------------------ caches: root and a user with a HOME
@pytest.mark.parametrize(
    ("src", "base", "root", "user_home"),
    (
        ("apt-get install -y curl", "debian", [("archives", "/var/cache/apt"), ("state", "/var/lib/apt")],
         [("archives", "/var/cache/apt"), ("state", "/var/lib/apt")]),
        ("apk add curl", "alpine", [("cache", "/etc/apk/cache")], [("cache", "/etc/apk/cache")]),
        ("pip install flask", "python", [("cache", "/root/.cache/pip")], [("cache", "/home/app/.cache/pip")]),
        ("python3 -m pip install flask", "python", [("cache", "/root/.cache/pip")],
         [("cache", "/home/app/.cache/pip")]),
        ("uv pip install flask", "python", [("cache", "/root/.cache/uv")], [("cache", "/home/app/.cache/uv")]),
        ("uv sync --frozen", "python", [("cache", "/root/.cache/uv")], [("cache", "/home/app/.cache/uv")]),
        ("poetry install --no-root", "python",
         [("cache", "/root/.cache/pypoetry/cache"), ("artifacts", "/root/.cache/pypoetry/artifacts")],
         [("cache", "/home/app/.cache/pypoetry/cache"), ("artifacts", "/home/app/.cache/pypoetry/artifacts")]),
        ("pipenv install --deploy", "python", [("cache", "/root/.cache/pipenv")],
         [("cache", "/home/app/.cache/pipenv")]),
        ("npm ci", "node", [("cache", "/root/.npm")], [("cache", "/home/app/.npm")]),
        ("yarn install --frozen-lockfile", "node", [("cache", "/usr/local/share/.cache/yarn")],
         [("cache", "/home/app/.cache/yarn")]),
        ("pnpm install", "node", [("store", "/root/.local/share/pnpm/store")],
         [("store", "/home/app/.local/share/pnpm/store")]),
        ("go mod download", "golang", [("modcache", "/go/pkg/mod")], [("modcache", "/go/pkg/mod")]),
        ("go build -o /app .", "debian", [("modcache", "/root/go/pkg/mod"), ("build", "/root/.cache/go-build")],
         [("modcache", "/home/app/go/pkg/mod"), ("build", "/home/app/.cache/go-build")]),
        ("cargo build --release", "rust", [("registry", "/usr/local/cargo/registry"),
                                           ("git", "/usr/local/cargo/git")],
         [("registry", "/usr/local/cargo/registry"), ("git", "/usr/local/cargo/git")]),
        ("cargo fetch", "debian", [("registry", "/root/.cargo/registry"), ("git", "/root/.cargo/git")],
         [("registry", "/home/app/.cargo/registry"), ("git", "/home/app/.cargo/git")]),
        ("mvn -B package", "maven", [("repository", "/root/.m2/repository")],
         [("repository", "/home/app/.m2/repository")]),
        ("./mvnw -B dependency:go-offline", "eclipse-temurin", [("repository", "/root/.m2/repository")],
         [("repository", "/home/app/.m2/repository")]),
        ("gradle build --no-daemon", "gradle", [("caches", "/root/.gradle/caches")],
         [("caches", "/home/app/.gradle/caches")]),
        ("dotnet restore", "mcr.microsoft.com/dotnet/sdk:8.0", [("packages", "/root/.nuget/packages")],
         [("packages", "/home/app/.nuget/packages")]),
        ("composer install", "composer:2", [("cache", "/tmp/cache")], [("cache", "/tmp/cache")]),
        ("bundle install", "ruby", [], []),
        ("gem install rails", "ruby", [], []),
        ("conda install -y numpy", "continuumio/miniconda3", [], []),
        ("zypper install -y curl", "opensuse/leap", [], []),
    ),
)
def test_cache_for_root_and_for_a_user_with_home(src, base, root, user_home):
    assert dirs(src, base=base) == root
    assert dirs(src, home="/home/app", base=base, user="app") == user_home


def test_unknown_home_is_a_reason_not_a_guess():
    (d,) = tools.cache_dirs(cmd("npm ci"), {}, None, "node")
    assert d.path is None and "unknown HOME" in d.reason


# ------------------------------------------------------------------ what moves a cache
@pytest.mark.parametrize(
    ("src", "env", "base", "expected"),
    (
        ("pip install x", {"PIP_CACHE_DIR": "/pc"}, "python", [("cache", "/pc")]),
        ("pip install x", {"XDG_CACHE_HOME": "/xdg"}, "python", [("cache", "/xdg/pip")]),
        ("pip install --cache-dir /opt/pc x", {"PIP_CACHE_DIR": "/pc"}, "python", [("cache", "/opt/pc")]),
        ("PIP_CACHE_DIR=/inline pip install x", {}, "python", [("cache", "/inline")]),
        ("pip install x", {"PIP_CACHE_DIR": None}, "python", [("cache", None)]),
        ("pip install x", {"XDG_CACHE_HOME": ""}, "python", [("cache", "/root/.cache/pip")]),
        ("uv sync", {"UV_CACHE_DIR": "/uvc"}, "python", [("cache", "/uvc")]),
        ("uv sync --cache-dir=/c2", {}, "python", [("cache", "/c2")]),
        ("poetry install", {"POETRY_CACHE_DIR": "/opt/poetry-cache"}, "python",
         [("cache", "/opt/poetry-cache/cache"), ("artifacts", "/opt/poetry-cache/artifacts")]),
        ("pipenv install", {"PIPENV_CACHE_DIR": "/pe"}, "python", [("cache", "/pe")]),
        ("npm ci", {"npm_config_cache": "/tmp/npm"}, "node", [("cache", "/tmp/npm")]),
        ("npm ci", {"NPM_CONFIG_CACHE": "/tmp/NPM"}, "node", [("cache", "/tmp/NPM")]),
        ("npm ci --cache /c", {}, "node", [("cache", "/c")]),
        ("yarn install", {"YARN_CACHE_FOLDER": "/yc"}, "node", [("cache", "/yc")]),
        ("yarn install", {"XDG_CACHE_HOME": "/xdg"}, "node", [("cache", "/xdg/yarn")]),
        ("yarn install --cache-folder /f", {}, "node", [("cache", "/f")]),
        ("pnpm install", {"PNPM_HOME": "/pnpm"}, "node", [("store", "/pnpm/store")]),
        ("pnpm install", {"XDG_DATA_HOME": "/data"}, "node", [("store", "/data/pnpm/store")]),
        ("pnpm install --store-dir /s", {"PNPM_HOME": "/pnpm"}, "node", [("store", "/s")]),
        ("go mod download", {"GOMODCACHE": "/cache/mod"}, "golang", [("modcache", "/cache/mod")]),
        ("go mod download", {"GOPATH": "/a:/b"}, "debian", [("modcache", "/a/pkg/mod")]),
        ("go build .", {"GOCACHE": "/gc", "GOPATH": "/gp"}, "golang",
         [("modcache", "/gp/pkg/mod"), ("build", "/gc")]),
        ("go vet ./...", {"XDG_CACHE_HOME": "/x"}, "golang", [("modcache", "/go/pkg/mod"), ("build", "/x/go-build")]),
        ("cargo build", {"CARGO_HOME": "/ch"}, "rust", [("registry", "/ch/registry"), ("git", "/ch/git")]),
        ("mvn -Dmaven.repo.local=/m2 package", {}, "maven", [("repository", "/m2")]),
        ("mvn package", {"MAVEN_OPTS": "-Xmx1g -Dmaven.repo.local=/opt/m2"}, "maven", [("repository", "/opt/m2")]),
        ("mvn -s /settings.xml package", {}, "maven", [("repository", None)]),
        ("gradle build", {"GRADLE_USER_HOME": "/gh"}, "gradle", [("caches", "/gh/caches")]),
        ("gradle -g /g2 build", {"GRADLE_USER_HOME": "/gh"}, "gradle", [("caches", "/g2/caches")]),
        ("gradle build", {"GRADLE_OPTS": "-Dgradle.user.home=/gp"}, "gradle", [("caches", "/gp/caches")]),
        ("dotnet restore", {"NUGET_PACKAGES": "/nu"}, "mcr.microsoft.com/dotnet/sdk", [("packages", "/nu")]),
        ("dotnet restore --packages /pk", {}, "mcr.microsoft.com/dotnet/sdk", [("packages", "/pk")]),
        ("composer install", {"COMPOSER_CACHE_DIR": "/cc"}, "php", [("cache", "/cc")]),
        ("composer install", {"COMPOSER_HOME": "/ch"}, "php", [("cache", "/ch/cache")]),
        ("composer install", {"XDG_CACHE_HOME": "/x"}, "php", [("cache", "/x/composer")]),
        ("composer install", {"XDG_CONFIG_HOME": "/cfg"}, "php", [("cache", "/root/.cache/composer")]),
        ("composer install", {}, "php:8.3-cli", [("cache", None)]),
        ("apk add --cache-dir /ac curl", {}, "alpine", [("cache", "/ac")]),
        ("dnf --setopt=cachedir=/dc install -y x", {}, "fedora:40", [("cache", "/dc")]),
        ("dnf --installroot=/mnt/root install -y x", {}, "fedora:40", [("cache", None)]),
    ),
)
def test_variables_options_and_images_move_caches(src, env, base, expected):
    assert dirs(src, env, base=base) == expected


def test_variables_that_turn_the_cache_off_leave_nothing_to_mount():
    assert dirs("pip install x", {"PIP_NO_CACHE_DIR": "1"}, base="python") == []
    assert dirs("PIP_NO_CACHE_DIR=off pip install x", base="python") == []
    assert dirs("uv sync", {"UV_NO_CACHE": "1"}, base="python") == []
    assert dirs("pip install --no-cache-dir x", base="python") == [("cache", "/root/.cache/pip")]  # a flag DFX202 drops


def test_yarn_cache_for_root_follows_the_uid_not_home():
    # yarn's userHome is /usr/local/share for uid 0 whatever HOME says (src/util/user-home-dir.js)
    assert dirs("yarn", home="/home/x", user="root", base="node") == [("cache", "/usr/local/share/.cache/yarn")]
    assert dirs("yarn", home="/home/x", base="node") == [("cache", "/home/x/.cache/yarn")]  # inferred: not root
    assert dirs("yarn", home="/home/node", user="node", base="node") == [("cache", "/home/node/.cache/yarn")]


def test_yarn_berry_cache_is_unknown():
    (d,) = tools.cache_dirs(cmd("yarn install --immutable"), {}, "/root", "node")
    assert d.tool == "yarn" and d.path is None and "Berry" in d.reason
    (d,) = tools.cache_dirs(cmd("yarn install"), {"YARN_ENABLE_GLOBAL_CACHE": "true"}, "/root", "node")
    assert d.path is None
    assert dirs("yarn install --frozen-lockfile", base="node") == [("cache", "/usr/local/share/.cache/yarn")]


def test_bundler_global_cache_only_when_enabled_and_then_unknown():
    assert dirs("bundle install", base="ruby") == []
    (d,) = tools.cache_dirs(cmd("bundle install"), {"BUNDLE_GLOBAL_GEM_CACHE": "true"}, "/root", "ruby")
    assert d.path is None and "6616" in d.reason
    assert dirs("bundle install", {"BUNDLE_GLOBAL_GEM_CACHE": "false"}, base="ruby") == []


def test_image_env_only_for_the_images_that_set_it():
    assert dirs("go mod download", base="docker.io/library/golang:1.22-alpine") == [("modcache", "/go/pkg/mod")]
    assert dirs("go mod download", base="mycorp/golang-builder") == [("modcache", "/root/go/pkg/mod")]
    assert dirs("cargo fetch", base="registry.example.com/team/rust-builder:1") == [
        ("registry", "/root/.cargo/registry"), ("git", "/root/.cargo/git")]
    assert dirs("go mod download", {"GOPATH": "/mine"}, base="golang") == [("modcache", "/mine/pkg/mod")]


def test_actions_that_write_no_cache():
    assert dirs("go mod tidy", base="golang") == []
    assert dirs("go version", base="golang") == []
    assert dirs("cargo --version", base="rust") == []
    assert dirs("npm run build", base="node") == []
    assert dirs("pip list", base="python") == []
    assert dirs("apt-get clean", base="debian") == []
    assert dirs("dnf clean all", base="fedora:40") == []


# ------------------------------------------------------------------ yum, dnf, microdnf per base image
@pytest.mark.parametrize(
    ("ref", "release"),
    (
        ("centos", ("el", 8)),
        ("centos:latest", ("el", 8)),
        ("centos:8", ("el", 8)),
        ("centos:centos8.4.2105", ("el", 8)),
        ("centos:7", ("el", 7)),
        ("centos:centos7", ("el", 7)),
        ("docker.io/library/centos:7.9.2009", ("el", 7)),
        ("quay.io/centos/centos:stream9", ("el", 9)),
        ("rockylinux:9", ("el", 9)),
        ("rockylinux/rockylinux:8-minimal", ("el", 8)),
        ("rockylinux", ("el", 9)),
        ("almalinux:8", ("el", 8)),
        ("oraclelinux:7-slim", ("el", 7)),
        ("oraclelinux:8", ("el", 8)),
        ("registry.access.redhat.com/ubi8/ubi", ("el", 8)),
        ("registry.access.redhat.com/ubi9/ubi-minimal:9.4", ("el", 9)),
        ("redhat/ubi8-minimal", ("el", 8)),
        ("registry.redhat.io/rhel9/python-311", ("el", 9)),
        ("nvidia/cuda:12.2.0-devel-ubi8", ("el", 8)),
        ("nvidia/cuda:11.8.0-base-rockylinux8", ("el", 8)),
        ("fedora:40", ("fedora", 40)),
        ("registry.fedoraproject.org/fedora-minimal:38", ("fedora", 38)),
        ("amazonlinux:2", ("amzn", 2)),
        ("amazonlinux:2.0.20240620.0", ("amzn", 2)),
        ("amazonlinux:2023", ("amzn", 2023)),
        ("public.ecr.aws/amazonlinux/amazonlinux:2018.03", ("amzn", 2018)),
        ("amazonlinux", None),
        ("oraclelinux", None),
        ("debian:bookworm", None),
        ("mycorp/base:1", None),
        ("$BASE", None),
        ("", None),
    ),
)
def test_rpm_release(ref, release):
    assert ecosystems.rpm_release(ref) == release


def test_untagged_fedora_is_the_newest():
    family, version = ecosystems.rpm_release("fedora")
    assert family == "fedora" and version > 41


@pytest.mark.parametrize(
    ("tool", "base", "path"),
    (
        ("microdnf", "registry.access.redhat.com/ubi9/ubi-minimal", "/var/cache/yum"),
        ("microdnf", "registry.access.redhat.com/ubi8/ubi-minimal:8.10", "/var/cache/yum"),
        ("microdnf", "rockylinux:9-minimal", "/var/cache/yum"),
        ("microdnf", "oraclelinux:8-slim", "/var/cache/yum"),
        ("microdnf", "registry.fedoraproject.org/fedora-minimal:37", "/var/cache/yum"),
        ("microdnf", "registry.fedoraproject.org/fedora-minimal:40", "/var/cache/libdnf5"),
        ("yum", "centos", "/var/cache/dnf"),
        ("yum", "centos:8", "/var/cache/dnf"),
        ("yum", "rockylinux:9", "/var/cache/dnf"),
        ("yum", "almalinux:8", "/var/cache/dnf"),
        ("yum", "registry.access.redhat.com/ubi8/ubi", "/var/cache/dnf"),
        ("yum", "registry.access.redhat.com/ubi9/ubi", "/var/cache/dnf"),
        ("yum", "oraclelinux:8", "/var/cache/dnf"),
        ("yum", "fedora:40", "/var/cache/dnf"),
        ("yum", "fedora", "/var/cache/libdnf5"),
        ("yum", "centos:7", "/var/cache/yum"),
        ("yum", "amazonlinux:2", "/var/cache/yum"),
        ("yum", "amazonlinux:2023", "/var/cache/dnf"),
        ("dnf", "fedora:40", "/var/cache/dnf"),
        ("dnf", "fedora:41", "/var/cache/libdnf5"),
        ("dnf", "rockylinux:9", "/var/cache/dnf"),
        ("dnf", "amazonlinux:2023", "/var/cache/dnf"),
        ("yum", "mycorp/base:1", None),
        ("yum", "amazonlinux", None),
        ("yum", "${BASE}", None),
        ("dnf", "mycorp/base:1", None),
        ("dnf", "amazonlinux:2", None),
        ("microdnf", "mycorp/minimal", None),
    ),
)
def test_rpm_cache_dir(tool, base, path):
    got, reason = tools.rpm_cache_dir(tool, base)
    assert got == path
    assert (reason is None) == (path is not None)
    if path is None:
        assert "does not show which" in reason


def test_microdnf_on_ubi_minimal_mounts_var_cache_yum():
    assert dirs("microdnf install -y tar gzip", base="registry.access.redhat.com/ubi9/ubi-minimal") == [
        ("cache", "/var/cache/yum")]
    (d,) = tools.cache_dirs(cmd("microdnf install -y tar"), {}, "/root", "registry.access.redhat.com/ubi9/ubi-minimal")
    assert d.sharing == "locked" and not d.store


# ------------------------------------------------------------------ cache_needs reads the table
def needs(src: str, env=None, home="/root", base="", **kw):
    script = parse_shell(src)
    calls = find_package_calls(script)
    extra = [(s.command, s) for s in script.sites if pkgmgr.parse_package_call(s.command) is None]
    return manifests.cache_needs(calls, extra, env or {}, home, base, **kw)


def test_cache_needs_labels_targets_and_reasons():
    got = [(n.tool, [(c.target, c.store, c.sharing) for c in n.caches], n.reason)
           for n in needs("apt-get update && apt-get install -y curl && pip install x && uv pip install y && "
                          "go mod download", base="golang")]
    assert got == [
        ("apt", [("/var/cache/apt", False, "locked"), ("/var/lib/apt", False, "locked")], None),
        ("apt", [("/var/cache/apt", False, "locked"), ("/var/lib/apt", False, "locked")], None),
        ("pip", [("/root/.cache/pip", False, None)], None),
        ("uv", [("/root/.cache/uv", False, None)], None),
        ("go", [("/go/pkg/mod", True, None)], None),
    ]


def test_cache_needs_yum_on_an_unknown_base_gives_a_reason():
    (n,) = needs("yum install -y httpd", base="mycorp/base:1")
    assert n.tool == "yum" and n.caches == [] and "/var/cache/dnf" in n.reason and "mycorp/base:1" in n.reason
    (n,) = needs("yum install -y httpd", base="centos")
    assert [c.target for c in n.caches] == ["/var/cache/dnf"] and n.reason is None
    (n,) = needs("microdnf install -y tar", base="registry.access.redhat.com/ubi9/ubi-minimal")
    assert [c.target for c in n.caches] == ["/var/cache/yum"]


def test_cache_needs_user_keyword():
    (n,) = needs("yarn install", home="/home/x", base="node", user=None)
    assert [c.target for c in n.caches] == ["/usr/local/share/.cache/yarn"]
    (n,) = needs("yarn install", home="/root", base="node", user="1000")
    assert [c.target for c in n.caches] == ["/root/.cache/yarn"]


def test_cache_needs_skips_what_writes_nothing_and_relative_caches_give_reasons():
    assert needs("bundle install && go mod tidy && pip install --user x", {"PIP_NO_CACHE_DIR": "1"},
                 base="golang") == []
    (n,) = needs("npm ci", home=None, base="node")
    assert n.caches == [] and "not at a known place" in n.reason


# ------------------------------------------------------------------ offline flags
@pytest.mark.parametrize(
    ("src", "env", "base", "expected"),
    (
        ("cargo build --offline --release", {}, "rust", [("registry", "/usr/local/cargo/registry", True),
                                                         ("git", "/usr/local/cargo/git", True)]),
        ("cargo build --frozen", {}, "rust", [("registry", "/usr/local/cargo/registry", True),
                                              ("git", "/usr/local/cargo/git", True)]),
        ("cargo build", {"CARGO_NET_OFFLINE": "true"}, "rust", [("registry", "/usr/local/cargo/registry", True),
                                                                ("git", "/usr/local/cargo/git", True)]),
        ("CARGO_NET_OFFLINE=1 cargo test", {}, "rust", [("registry", "/usr/local/cargo/registry", True),
                                                        ("git", "/usr/local/cargo/git", True)]),
        ("cargo build", {"CARGO_NET_OFFLINE": "false"}, "rust", []),
        ("cargo build --release", {}, "rust", []),
        ("dotnet publish --no-restore -c Release -o /out", {}, "mcr.microsoft.com/dotnet/sdk",
         [("packages", "/root/.nuget/packages", True)]),
        ("dotnet build --no-restore", {"NUGET_PACKAGES": "/nu"}, "mcr.microsoft.com/dotnet/sdk",
         [("packages", "/nu", True)]),
        ("dotnet publish -c Release", {}, "mcr.microsoft.com/dotnet/sdk", []),
        ("npm ci --offline", {}, "node", [("cache", "/root/.npm", True)]),
        ("npm ci --prefer-offline", {}, "node", [("cache", "/root/.npm", False)]),
        ("npm ci", {"npm_config_offline": "true"}, "node", [("cache", "/root/.npm", True)]),
        ("npm ci", {}, "node", []),
        ("pip install --no-index --find-links /wheels -r r.txt", {}, "python", [("find-links", "/wheels", True)]),
        ("pip install --no-index -f=/w x", {}, "python", [("find-links", "/w", True)]),
        ("pip install -r r.txt", {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/pw"}, "python",
         [("find-links", "/pw", True)]),
        ("pip install --no-index /wheels/x.whl", {}, "python", [("find-links", None, True)]),
        ("pip install -r r.txt", {}, "python", []),
        ("uv sync --offline", {}, "python", [("cache", "/root/.cache/uv", True)]),
        ("uv pip install --offline x", {}, "python", [("cache", "/root/.cache/uv", True)]),
        ("go build -o /app .", {"GOPROXY": "off"}, "golang", [("modcache", "/go/pkg/mod", True)]),
        ("GOPROXY=off go test ./...", {}, "golang", [("modcache", "/go/pkg/mod", True)]),
        ("go build -o /app .", {"GOFLAGS": "-mod=mod"}, "golang", []),
        ("go build -o /app .", {"GOPROXY": "https://proxy.golang.org,direct"}, "golang", []),
        ("yarn install --offline", {}, "node", [("cache", "/usr/local/share/.cache/yarn", True)]),
        ("yarn --prefer-offline", {}, "node", [("cache", "/usr/local/share/.cache/yarn", False)]),
        ("pnpm install --offline --frozen-lockfile", {}, "node", [("store", "/root/.local/share/pnpm/store", True)]),
        ("pnpm install --prefer-offline", {}, "node", [("store", "/root/.local/share/pnpm/store", False)]),
        ("mvn -B -o package", {}, "maven", [("repository", "/root/.m2/repository", True)]),
        ("./mvnw --offline package", {}, "maven", [("repository", "/root/.m2/repository", True)]),
        ("mvn -B package", {}, "maven", []),
        ("gradle build --offline", {}, "gradle", [("caches", "/root/.gradle/caches", True)]),
        ("./gradlew build --offline", {}, "gradle", [("caches", "/root/.gradle/caches", True)]),
        ("apt-get install -y --no-download curl", {}, "debian", [("archives", "/var/cache/apt", True)]),
        ("apt-get install -y curl", {}, "debian", []),
        ("apk add --no-network curl", {}, "alpine", [("cache", "/etc/apk/cache", True)]),
        ("dnf -C install -y mod_ssl", {}, "fedora:40", [("cache", "/var/cache/dnf", True)]),
        ("yum --cacheonly install -y x", {}, "centos:7", [("cache", "/var/cache/yum", True)]),
        ("bundle install --local", {}, "ruby", [("app-cache", "vendor/cache", True)]),
        ("composer install", {"COMPOSER_DISABLE_NETWORK": "1"}, "composer", [("cache", "/tmp/cache", True)]),
        ("conda install --offline -y numpy", {"CONDA_PKGS_DIRS": "/pk,/pk2"}, "continuumio/miniconda3",
         [("pkgs", "/pk", True)]),
        ("echo --offline", {}, "debian", []),
    ),
)
def test_offline_reads(src, env, base, expected):
    got = tools.offline_reads(cmd(src), env, "/root", base)
    assert [(d.key, d.path, d.strict) for d in got] == expected


def test_offline_reads_takes_a_package_call_and_works_without_env():
    (call,) = find_package_calls(parse_shell("npm ci --offline"))
    assert [d.key for d in tools.offline_reads(call)] == ["cache"]
    assert [d.key for d in tools.offline_reads(cmd("cargo build --offline"))] == ["registry", "git"]
    assert tools.offline_reads(cmd("sudo -E cargo build --offline"))[0].key == "registry"


# ------------------------------------------------------------------ fills
@pytest.mark.parametrize(
    ("src", "env", "base", "expected"),
    (
        ("cargo fetch", {}, "rust", [("registry", "/usr/local/cargo/registry"), ("git", "/usr/local/cargo/git")]),
        ("dotnet restore", {}, "mcr.microsoft.com/dotnet/sdk", [("packages", "/root/.nuget/packages"),
                                                                 ("http-cache", "/root/.local/share/NuGet/v3-cache")]),
        ("go mod download", {}, "golang", [("modcache", "/go/pkg/mod")]),
        ("pip download -d /wheels -r r.txt", {}, "python", [("cache", "/root/.cache/pip"),
                                                            ("download-dir", "/wheels")]),
        ("pip download -r r.txt", {}, "python", [("cache", "/root/.cache/pip"), ("download-dir", ".")]),
        ("pip wheel -w /wh -r r.txt", {}, "python", [("cache", "/root/.cache/pip"), ("wheel-dir", "/wh")]),
        ("npm ci", {}, "node", [("cache", "/root/.npm")]),
        ("pnpm fetch", {}, "node", [("store", "/root/.local/share/pnpm/store")]),
        ("mvn -B dependency:go-offline", {}, "maven", [("repository", "/root/.m2/repository")]),
        ("bundle cache", {}, "ruby", [("app-cache", "vendor/cache")]),
        ("apt-get update", {}, "debian", [("archives", "/var/cache/apt"), ("state", "/var/lib/apt")]),
        ("go mod tidy", {}, "golang", []),
        ("ls -la", {}, "debian", []),
    ),
)
def test_fills(src, env, base, expected):
    assert [(d.key, d.path) for d in tools.fills(cmd(src), env, "/root", base)] == expected


def test_identify():
    u = tools.identify(cmd("sudo apt-get install -y curl"))
    assert (u.tool.name, u.action, u.label) == ("apt", "install", "apt")
    u = tools.identify(cmd("uv pip install x"))
    assert (u.tool.name, u.action, u.label) == ("uv", "install", "uv")
    u = tools.identify(cmd("go mod download -x"))
    assert (u.tool.name, u.action) == ("go", "mod download")
    u = tools.identify(cmd("./gradlew --no-daemon build"))
    assert (u.tool.name, u.action, u.label) == ("gradle", "build", "gradlew")
    assert tools.identify(cmd("gradlew build")) is None  # the wrapper runs by path
    assert tools.identify(cmd("yarn install --immutable")).tool.name == "yarn-berry"
    assert tools.identify(cmd("mamba install -y x")).tool.name == "conda"
    assert tools.identify(cmd("make build")) is None


def test_stores_are_the_caches_read_back_as_installed_data():
    stores = {(t.name, c.key) for t in tools.TOOLS for c in t.caches if c.store}
    assert stores == {("go", "modcache"), ("cargo", "registry"), ("cargo", "git"), ("maven", "repository"),
                      ("gradle", "caches"), ("dotnet", "packages")}
    (d,) = tools.cache_dirs(cmd("dotnet restore"), {}, "/root", "mcr.microsoft.com/dotnet/sdk")
    assert d.store
    (d,) = tools.cache_dirs(cmd("npm ci"), {}, "/root", "node")
    assert not d.store


def test_cache_mounts_reports_why_it_cannot_place_yum_or_composer_caches():
    import dockerfix

    text = "FROM registry.example.com/team/base:1\nUSER root\nRUN yum install -y httpd\n"
    r = dockerfix.fix(text, select=["DFX202"], settings={"strategy": "cache-mount"})
    assert r.text == text
    (f,) = r.findings
    assert "/var/cache/yum" in f.reason and "/var/cache/dnf" in f.reason and "does not show which" in f.reason
    text = "FROM php:8.3-cli\nRUN composer install --no-dev\n"
    (f,) = dockerfix.fix(text, select=["DFX202"], settings={"strategy": "cache-mount"}).findings
    assert "/etc/xdg" in f.reason


# ------------------------------------------------------------------ how a manager is invoked: its row, not pkgmgr's code
_INVOKED = [(m, r) for m in pkgmgr.MANAGERS for r in [tools.manager_tool(m)]]


@pytest.mark.parametrize("manager", [m for m, r in _INVOKED if r.versioned])
def test_a_versioned_row_runs_with_a_version_suffix(manager):
    for name in (f"{manager}3", f"{manager}3.12", f"/usr/local/bin/{manager}3.12"):
        call = pkgmgr.parse_package_call(cmd(f"{name} install x"))
        assert call is not None and call.manager == manager and call.action == "install", name
    assert pkgmgr.parse_package_call(cmd(f"{manager}x install x")) is None
    assert pkgmgr.parse_package_call(cmd(f"{manager}.3 install x")) is None


@pytest.mark.parametrize("manager", [m for m, r in _INVOKED if r.module])
def test_a_rows_python_module_runs_it(manager):
    module = tools.manager_tool(manager).module
    for src, n in ((f"python3 -m {module} install x", 3), (f"python3.12 -u -W ignore -m {module} install x", 6),
                   (f"python -m{module} install x", 2)):
        call = pkgmgr.parse_package_call(cmd(src))
        assert call is not None and call.manager == manager and len(call.invocation) == n, src
        assert call.package_names == ("x",)
    assert pkgmgr.parse_package_call(cmd(f"python3 -c 1 -m {module} install x")) is None


@pytest.mark.parametrize("manager,host", [(m, h) for m, r in _INVOKED for h in r.subcommand_of])
def test_a_row_run_as_a_subcommand_of_another_tool(manager, host):
    call = pkgmgr.parse_package_call(cmd(f"{host} {manager} install x"))
    assert call is not None and call.manager == manager and [w.value for w in call.invocation] == [host, manager]
    # the host's own two-word subcommands (`uv pip cache clean`) and its name for the cleanup
    for first, subs in (tools.tool_named(host).subverbs or {}).items():
        for second in subs:
            script = parse_shell(f"{host} {manager} {first} {second}")
            (cl,) = pkgmgr.find_cleanups(script)
            assert cl.manager == host, (first, second)


def test_what_consumers_state_about_managers_is_the_rows():
    from dockerfix.model import chain
    from dockerfix.transforms import _hygiene, apk_no_cache, dnf_clean

    apt = tools.tool_named("apt")
    assert _hygiene.APT_INSTALLS == apt.installs
    assert _hygiene._APT_NEEDS_LISTS == apt.reads_index >= apt.installs | {"satisfy"}
    assert chain._FAMILY == {m: r.family for m, r in _INVOKED if r.family}
    assert chain._FAMILY["microdnf"] == "rpm" and chain._FAMILY["micromamba"] == "conda"
    assert set(apk_no_cache.APK_CACHES) == {"/var/cache/apk", "/etc/apk/cache"}
    assert set(dnf_clean.RPM_CACHES) == {"/var/cache/dnf", "/var/cache/yum", "/var/cache/libdnf5"}
    for m in dnf_clean.RPM:
        assert dnf_clean.RPM_INSTALLS == tools.manager_tool(m).installs


@pytest.mark.parametrize("manager", [m for m, r in _INVOKED if r.action_value_options])
def test_a_rows_per_action_value_options(manager):
    """An option that takes a value only in one action (conda's `-f`) does so there, and is a flag elsewhere."""
    row = tools.manager_tool(manager)
    spelled = {a: f"{w1} {w2}" for w1, subs in (row.subverbs or {}).items() for w2, a in subs.items()}
    spelled.update({a: w for w, a in (row.verbs or {}).items()})
    for action, opts in row.action_value_options.items():
        for opt in opts:
            call = pkgmgr.parse_package_call(cmd(f"{manager} {spelled[action]} {opt} VALUE x"))
            assert call is not None and call.action == action
            assert call.option_values(opt) == ["VALUE"] and call.package_names == ("x",)
            other = pkgmgr.parse_package_call(cmd(f"{manager} clean {opt} x"))
            assert other is not None and other.option_values(opt) == [None]


@pytest.mark.parametrize("row", [t for t in tools.TOOLS if t.dependency_install and not t.pkgmgr],
                         ids=lambda t: t.name)
def test_a_rows_dependency_install_is_what_reorder_manifests_moves(row):
    for command in row.commands:
        for sub in row.dependency_install:
            (dep,), _ = manifests.dependency_installs(parse_shell(f"{command} {sub} --quiet"))
            assert dep.ecosystem == row.ecosystem and dep.action == sub
            assert dep.options == ("--quiet",)  # what reorder-manifests reads the lockfile flags from
            operand = [row.operand_manifest] if row.operand_manifest else []
            assert [m.path for m in dep.manifests] == [p for p, _r, _d in row.manifests] + operand
            assert dep.project_flag == (row.project_flag[0] if row.project_flag else None)
            for done in row.project_flag:
                (dep,), _ = manifests.dependency_installs(parse_shell(f"{command} {sub} {done}"))
                assert dep.project_flag is None
            installs, _ = manifests.dependency_installs(parse_shell(f"{command} {sub} some-package"))
            assert len(installs) == (1 if row.dependency_operands else 0)
            if row.operand_manifest:
                assert installs[0].manifests[-1].path == "some-package"  # the operand is the manifest
                _, others = manifests.dependency_installs(parse_shell(f"{command} {sub} $PROJECT"))
                assert [k for _c, k in others] == ["other"]
        installs, others = manifests.dependency_installs(parse_shell(f"{command} version"))
        assert installs == [] and [k for _c, k in others] == ["other"]


@pytest.mark.parametrize("low", tools.LOW_LEVEL.values(), ids=lambda t: t.name)
def test_a_low_level_tools_remove_options_are_what_chain_reads(low):
    """dpkg and rpm: each remove option of the table (alone, and a one-letter one in a bundle) takes away a package
    of the tool's family; another option does not."""
    from dockerfix.model import chain

    node = {"deb": "nodejs", "rpm": "nodejs"}[low.family]
    for opt in low.remove_options:
        got = chain.tool_removal(parse_shell(f"{low.name} {opt} {node}"), "node", 0)
        assert got is not None and got.via == "node", (low.name, opt)
        if len(opt) == 2:
            assert chain.tool_removal(parse_shell(f"{low.name} {opt}v {node}"), "node", 0) is not None
    assert chain.tool_removal(parse_shell(f"{low.name} -i {node}"), "node", 0) is None
    assert chain.tool_removal(parse_shell(f"{low.name} {low.remove_options[0]} python3"), "node", 0) is None


def test_reorder_manifests_lockfile_flags_and_project_dirs_are_the_rows():
    """FROZEN and INSTALLED_IN_PROJECT are the rows' `frozen` and `project_dirs`; a `frozen` word is an option or an
    action the row's grammar names (npm's `ci`, whatever alias the command spells)."""
    from dockerfix.transforms import reorder_manifests

    rows = {t.ecosystem: t for t in tools.TOOLS if t.ecosystem}
    assert reorder_manifests.FROZEN == {e: t.frozen for e, t in rows.items() if t.frozen}
    assert reorder_manifests.INSTALLED_IN_PROJECT == {e: t.project_dirs for e, t in rows.items() if t.project_dirs}
    for eco, words in reorder_manifests.FROZEN.items():
        assert rows[eco].lockfile, f"{eco}: frozen flags without a lockfile"
        for w in words:
            assert w.startswith("-") or w in set((rows[eco].verbs or {}).values()) | set(rows[eco].dependency_install)
    for alias in ("ci", "clean-install", "ic", "install-clean"):
        (dep,), _ = manifests.dependency_installs(parse_shell(f"npm {alias}"))
        assert dep.action == "ci" and dep.action in reorder_manifests.FROZEN["npm"]
    (dep,), _ = manifests.dependency_installs(parse_shell("npm install"))
    assert dep.action == "install" and not set(reorder_manifests.FROZEN["npm"]) & {*dep.options, dep.action}


@pytest.mark.parametrize("manager", pkgmgr.MANAGERS)
def test_a_rows_install_and_fetch_actions_are_actions_its_grammar_gives(manager):
    """`installs` and `fetches` name actions as pkgmgr gives them: never a subcommand the row's verbs turn into
    another action (dnf's makecache is the action update)."""
    row = tools.manager_tool(manager)
    aliased = {w for w, a in (row.verbs or {}).items() if w != a and w not in (row.verbs or {}).values()}
    assert not (row.installs | row.fetches) & aliased, (manager, (row.installs | row.fetches) & aliased)


@pytest.mark.parametrize("src", ["dnf groupinstall -y 'Development Tools'", "yum groupinstall -y 'Development Tools'",
                                 "dnf module install -y nodejs:20", "dnf -y module enable nodejs:20",
                                 "dnf install -y gcc", "dnf makecache"])
def test_rpm_installs_and_makecache_write_the_cache(src):
    """Every rpm install dnf-clean cleans up after writes the cache, and so does makecache (a fetch): cache-mounts
    mounts it (groupinstall and module were installs to dnf-clean but wrote no cache as far as the rows knew)."""
    import dockerfix

    assert dirs(src, base="fedora:40") == [("cache", "/var/cache/dnf")]
    text = f"# syntax=docker/dockerfile:1\nFROM fedora:40\nRUN {src}\n"
    out = dockerfix.fix(text, select=["DFX202"]).text
    assert f"RUN --mount=type=cache,target=/var/cache/dnf,sharing=locked {src}\n" in out


def _spellings(row, action):
    """How a command line spells ``action`` of a pkgmgr row (the action itself, or a verb that maps onto it)."""
    if action == "":
        return [""]
    words = [w for w, a in (row.verbs or {}).items() if a == action]
    words += [f"{w1} {w2}" for w1, subs in (row.subverbs or {}).items() for w2, a in subs.items() if a == action]
    return words or [action]


@pytest.mark.parametrize("row", [t for t in tools.TOOLS if t.dependency_install and t.pkgmgr], ids=lambda t: t.name)
def test_a_package_managers_dependency_install_is_its_rows_grammar(row):
    """For the managers pkgmgr parses, the row's dependency actions, manifest options, project options and operands,
    global options, lifecycle-script options and benign actions are what dependency_installs reads."""
    command = row.commands[0]
    req = f" {row.manifest_options[0]} requirements.txt" if row.manifest_options else ""
    eco_files = [p for p, _r, _d in row.manifests]
    for action in row.dependency_install:
        for word in _spellings(row, action):
            line = " ".join(x for x in (command, word) if x) + req
            (dep,), others = manifests.dependency_installs(parse_shell(line))
            assert others == [] and dep.ecosystem == row.ecosystem and (dep.action or "") == action, line
            assert [m.path for m in dep.manifests] == (["requirements.txt"] if req else eco_files)
            assert not dep.ignore_scripts
            for opt in row.no_scripts_options:
                (dep,), _ = manifests.dependency_installs(parse_shell(f"{line} {opt}"))
                assert dep.ignore_scripts
            for opt in row.global_options:
                installs, others = manifests.dependency_installs(parse_shell(f"{line} {opt}"))
                assert installs == [] and [k for _c, k in others] == ["benign"], (line, opt)
            for opt in row.project_options:
                installs, others = manifests.dependency_installs(parse_shell(f"{line} {opt} ."))
                assert installs == [] and [k for _c, k in others] == ["project"], (line, opt)
            installs, others = manifests.dependency_installs(parse_shell(f"{line} ./local-package"))
            kinds = [k for _c, k in others]
            if row.project_operands is not None:
                assert installs == [] and kinds == ["project"], line
            else:
                assert len(installs) == (1 if row.dependency_operands else 0), line
            for suffix in row.project_operands or ():
                _, others = manifests.dependency_installs(parse_shell(f"{line} dist/x{suffix}"))
                assert [k for _c, k in others] == ["project"], (line, suffix)
    for opt in row.manifest_options:
        installs, others = manifests.dependency_installs(parse_shell(f"{command} install {opt} $FILE"))
        assert installs == [] and [k for _c, k in others] == ["other"]
    if row.manifest_options:
        _, others = manifests.dependency_installs(parse_shell(f"{command} install flask"))
        assert [k for _c, k in others] == ["benign"]  # no manifest of the project
    for action in row.benign_actions or ():
        for word in _spellings(row, action):
            installs, others = manifests.dependency_installs(parse_shell(f"{command} {word}"))
            assert installs == [] and [k for _c, k in others] == ["benign"], (command, word)
    installs, others = manifests.dependency_installs(parse_shell(f"{command} run-something-else"))
    assert installs == [] and [k for _c, k in others] == (["benign"] if row.benign_actions is None else ["other"])
    for action in row.lockfile_fetch:  # pnpm fetch: the stage already holds what the install needs
        assert manifests.prefetches(parse_shell(f"{command} {_spellings(row, action)[0]} --prod")) == {row.ecosystem}
    assert manifests.prefetches(parse_shell(f"{command} run-something-else")) == set()


@pytest.mark.parametrize("row", [t for t in tools.TOOLS if t.dependency_goals], ids=lambda t: t.name)
def test_a_build_tools_dependency_goals_are_its_rows(row):
    """Maven and Gradle: options and at least one dependency goal make a dependency install; any other goal, or
    none, does not; the wrapper script run by path is one of its manifests."""
    eco_files = [p for p, _r, _d in row.manifests]
    goal = row.dependency_goals[0].replace("*", "x")
    for command in row.commands:
        (dep,), _ = manifests.dependency_installs(parse_shell(f"{command} -q {goal}"))
        assert dep.ecosystem == row.ecosystem and [m.path for m in dep.manifests] == eco_files
        for line in (f"{command} -q", f"{command} {goal} build", f"{command} $GOAL"):
            installs, others = manifests.dependency_installs(parse_shell(line))
            assert installs == [] and [k for _c, k in others] == ["other"], line
    for script in row.scripts:
        (dep,), _ = manifests.dependency_installs(parse_shell(f"./{script} {goal}"))
        assert [m.path for m in dep.manifests] == eco_files + [script]
        installs, _ = manifests.dependency_installs(parse_shell(f"{script} {goal}"))
        assert installs == []  # on PATH: not the project's wrapper
