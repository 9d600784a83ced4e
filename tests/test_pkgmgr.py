"""Tests for dockerfix.model.pkgmgr: package-manager calls, options, cleanups, rm paths."""

from __future__ import annotations

import pytest

from dockerfix.model.pkgmgr import (
    find_cleanups,
    find_package_calls,
    parse_package_call,
    removed_paths,
)
from dockerfix.model.shell import parse_shell


def calls(src):
    script = parse_shell(src)
    assert script.ok, script.error
    return find_package_calls(script)


def one_call(src):
    (call,) = calls(src)
    return call


def opts(call):
    return [(o.name, o.value) for o in call.options]


@pytest.mark.parametrize(
    ("src", "manager", "action", "options", "packages"),
    (
        ("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates",
         "apt-get", "install", [("-y", None), ("--no-install-recommends", None)], ["curl", "ca-certificates"]),
        ("apt-get -qq update", "apt-get", "update", [("-q", None), ("-q", None)], []),
        ("apt-get install -qy -o Dpkg::Options::=--force-confold x", "apt-get", "install",
         [("-q", None), ("-y", None), ("-o", "Dpkg::Options::=--force-confold")], ["x"]),
        ("apt install -y x", "apt", "install", [("-y", None)], ["x"]),
        ("apt-get purge -y --auto-remove x", "apt-get", "purge", [("-y", None), ("--auto-remove", None)], ["x"]),
        ("apt-get distclean", "apt-get", "dist-clean", [], []),
        ("apk add --no-cache --virtual .build-deps gcc musl-dev", "apk", "add",
         [("--no-cache", None), ("--virtual", ".build-deps")], ["gcc", "musl-dev"]),
        ("apk del .build-deps", "apk", "remove", [], [".build-deps"]),
        ("apk update", "apk", "update", [], []),
        ("yum install -y x", "yum", "install", [("-y", None)], ["x"]),
        ("yum update -y", "yum", "upgrade", [("-y", None)], []),
        ("yum clean all", "yum", "clean", [], ["all"]),
        ("dnf -y --setopt=install_weak_deps=False install y", "dnf", "install",
         [("-y", None), ("--setopt", "install_weak_deps=False")], ["y"]),
        ("dnf makecache", "dnf", "update", [], []),
        ("microdnf install -y --nodocs x", "microdnf", "install", [("-y", None), ("--nodocs", None)], ["x"]),
        ("zypper --non-interactive in -y z", "zypper", "install", [("--non-interactive", None), ("-y", None)],
         ["z"]),
        ("zypper clean -a", "zypper", "clean", [("-a", None)], []),
        ("zypper ref", "zypper", "update", [], []),
        ("pip install --no-cache-dir -r requirements.txt", "pip", "install",
         [("--no-cache-dir", None), ("-r", "requirements.txt")], []),
        ("pip3 install --upgrade pip setuptools", "pip", "install", [("--upgrade", None)], ["pip", "setuptools"]),
        ("pip3.11 install -rrequirements.txt x==1.0", "pip", "install", [("-r", "requirements.txt")], ["x==1.0"]),
        ("pip install --index-url https://x/simple 'pkg[extra]>=2'", "pip", "install",
         [("--index-url", "https://x/simple")], ["pkg[extra]>=2"]),
        ("pip uninstall -y x", "pip", "remove", [("-y", None)], ["x"]),
        ("pip cache purge", "pip", "cache-clean", [], []),
        ("npm ci --omit=dev", "npm", "ci", [("--omit", "dev")], []),
        ("npm install -g --unsafe-perm yarn@1", "npm", "install", [("-g", None), ("--unsafe-perm", None)],
         ["yarn@1"]),
        ("npm i", "npm", "install", [], []),
        ("npm cache clean --force", "npm", "cache-clean", [("--force", None)], []),
        ("yarn install --frozen-lockfile", "yarn", "install", [("--frozen-lockfile", None)], []),
        ("yarn global add serve", "yarn", "add", [], ["serve"]),
        ("yarn cache clean", "yarn", "cache-clean", [], []),
        ("yarn", "yarn", None, [], []),
        ("pnpm i --frozen-lockfile --prod", "pnpm", "install", [("--frozen-lockfile", None), ("--prod", None)], []),
        ("pnpm add -g pnpm", "pnpm", "add", [("-g", None)], ["pnpm"]),
        ("pnpm store prune", "pnpm", "cache-clean", [], []),
        ("gem install --no-document bundler -v 2.4.22", "gem", "install",
         [("--no-document", None), ("-v", "2.4.22")], ["bundler"]),
        ("gem update --system", "gem", "upgrade", [("--system", None)], []),
        ("composer install --no-dev --optimize-autoloader", "composer", "install",
         [("--no-dev", None), ("--optimize-autoloader", None)], []),
        ("composer global require phpunit/phpunit", "composer", "add", [], ["phpunit/phpunit"]),
        ("composer clear-cache", "composer", "cache-clean", [], []),
        ("conda install -y -c conda-forge numpy=1.26", "conda", "install",
         [("-y", None), ("-c", "conda-forge")], ["numpy=1.26"]),
        ("conda clean -afy", "conda", "clean", [("-a", None), ("-f", None), ("-y", None)], []),
        ("conda env create -f environment.yml -n app", "conda", "env-create",
         [("-f", "environment.yml"), ("-n", "app")], []),
        ("mamba install -y -n base python=3.11", "mamba", "install", [("-y", None), ("-n", "base")],
         ["python=3.11"]),
        ("micromamba install -y -n base -f env.yaml", "micromamba", "install",
         [("-y", None), ("-n", "base"), ("-f", None)], ["env.yaml"]),
    ),
)
def test_package_calls(src, manager, action, options, packages):
    call = one_call(src)
    assert call.manager == manager
    assert call.action == action
    assert opts(call) == options
    assert list(call.package_names) == packages


@pytest.mark.parametrize(
    ("src", "invocation", "packages"),
    (
        ("python -m pip install .", ["python", "-m", "pip"], ["."]),
        ("python3 -m pip install --no-cache-dir -U pip", ["python3", "-m", "pip"], ["pip"]),
        ("python3.12 -u -m pip install x", ["python3.12", "-u", "-m", "pip"], ["x"]),
        ("/usr/local/bin/python -m pip install x", ["/usr/local/bin/python", "-m", "pip"], ["x"]),
        ("uv pip install --system -r req.txt x", ["uv", "pip"], ["x"]),
        ("pip install x", ["pip"], ["x"]),
    ),
)
def test_pip_invocations(src, invocation, packages):
    call = one_call(src)
    assert call.manager == "pip" and call.action == "install"
    assert [w.raw for w in call.invocation] == invocation
    assert list(call.package_names) == packages


@pytest.mark.parametrize(
    "src",
    ("python -c 'import pip'", "python -m venv /v", "python script.py pip", "pipenv install", "pipx install x",
     "apt-cache policy x", "echo apt-get install x", "npx create-react-app x", "command -v apt-get",
     '"$PM" install x'),
)
def test_not_package_calls(src):
    assert calls(src) == []


def test_wrappers_are_looked_through_but_kept():
    call = one_call("sudo -E env DEBIAN_FRONTEND=noninteractive apt-get -y install z")
    assert (call.manager, call.action, call.package_names) == ("apt-get", "install", ("z",))
    assert call.command.name_value == "sudo"  # the command as written
    assert opts(call) == [("-y", None)]


def test_option_spans_and_helpers():
    src = "pip install --no-cache-dir -r requirements.txt caf\u00e9"
    call = one_call(src)
    r = call.option("-r")
    assert r is not None and src[r.span[0]:r.span[1]] == "-r requirements.txt"
    assert call.has_option("--no-cache-dir") and not call.has_option("--user")
    assert call.option_values("-r") == ["requirements.txt"]
    (pkg,) = call.packages
    assert src[pkg.span[0]:pkg.span[1]] == "caf\u00e9"
    assert call.is_install and not call.is_cleanup


def test_dynamic_words_stay_positional():
    call = one_call('apt-get install -y "$PKGS" $EXTRA')
    assert call.package_names == (None, None)
    assert [w.raw for w in call.packages] == ['"$PKGS"', "$EXTRA"]


def test_end_of_options():
    call = one_call("apt-get install -- -weird-name")
    assert call.package_names == ("-weird-name",)


def test_sites_are_attached():
    (first, second) = calls("apt-get update || true; (cd /x && npm ci)")
    assert first.site.chain_index == 0 and not first.site.conditional
    assert second.site.in_subshell and second.site.chain_index == 2


def test_chain_in_order():
    src = ("set -eux; apt-get update; apt-get install -y --no-install-recommends curl; "
           "rm -rf /var/lib/apt/lists/*")
    assert [(c.manager, c.action) for c in calls(src)] == [("apt-get", "update"), ("apt-get", "install")]


def test_not_ok_script_has_no_calls():
    script = parse_shell("apt-get install 'x")
    assert not script.ok
    assert find_package_calls(script) == []
    assert find_cleanups(script) == []


def test_parse_package_call_on_one_command():
    (cmd,) = parse_shell("apk add x").commands
    call = parse_package_call(cmd)
    assert call is not None and call.site is None and call.manager == "apk"


# --- rm --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "paths"),
    (
        ("rm -rf /var/lib/apt/lists/*", ["/var/lib/apt/lists/*"]),
        ("rm -r -f /a /b", ["/a", "/b"]),
        ("rm -fr -- -x", ["-x"]),
        ("rm --recursive --force '/tmp/a b'", ["/tmp/a b"]),
        ('rm -rf "$GNUPGHOME" go.tgz.asc', ["go.tgz.asc"]),
        ("rm -rf ~/.cache/pip", ["~/.cache/pip"]),
        ("sudo rm -rf /x", ["/x"]),
        ("echo rm -rf /x", []),
    ),
)
def test_removed_paths(src, paths):
    (cmd,) = parse_shell(src).commands
    assert removed_paths(cmd) == paths


# --- cleanups --------------------------------------------------------------------------------------------


def cleanups(src):
    script = parse_shell(src)
    assert script.ok, script.error
    return [(c.manager, c.cache, c.path) for c in find_cleanups(script)]


@pytest.mark.parametrize(
    ("src", "expected"),
    (
        ("rm -rf /var/lib/apt/lists/*", [("apt", "/var/lib/apt/lists", "/var/lib/apt/lists/*")]),
        ("rm -rf /tmp/* /var/lib/apt/lists/* /var/tmp/*",
         [("apt", "/var/lib/apt/lists", "/var/lib/apt/lists/*")]),
        ("rm -r -f /var/lib/apt/lists", [("apt", "/var/lib/apt/lists", "/var/lib/apt/lists")]),
        ("rm -fr /var/lib/apt/lists/", [("apt", "/var/lib/apt/lists", "/var/lib/apt/lists/")]),
        ("rm -rf /var/cache/apt/archives/*.deb", [("apt", "/var/cache/apt", "/var/cache/apt/archives/*.deb")]),
        ("apt-get clean", [("apt", None, None)]),
        ("apt-get dist-clean", [("apt", None, None)]),
        ("dnf clean all", [("dnf", None, None)]),
        ("yum clean all", [("yum", None, None)]),
        ("yum clean", []),
        ("zypper clean -a", [("zypper", None, None)]),
        ("npm cache clean --force", [("npm", None, None)]),
        ("yarn cache clean", [("yarn", None, None)]),
        ("conda clean -afy", [("conda", None, None)]),
        ("micromamba clean --all --yes", [("conda", None, None)]),
        ("pip cache purge", [("pip", None, None)]),
        ("uv cache clean", []),
        ("apk cache clean", [("apk", None, None)]),
        ("rm -rf /var/cache/apk/*", [("apk", "/var/cache/apk", "/var/cache/apk/*")]),
        ("rm -rf ~/.cache/pip", [("pip", "~/.cache/pip", "~/.cache/pip")]),
        ("rm -rf /root/.cache/pip/*", [("pip", "~/.cache/pip", "/root/.cache/pip/*")]),
        ("rm -rf /root/.npm", [("npm", "~/.npm", "/root/.npm")]),
        ("rm -rf ~/.npm/_cacache", [("npm", "~/.npm", "~/.npm/_cacache")]),
        ("rm -rf /usr/local/share/.cache/yarn", [("yarn", "/usr/local/share/.cache/yarn",
                                                  "/usr/local/share/.cache/yarn")]),
        ("rm -rf /opt/conda/pkgs/*", [("conda", "/opt/conda/pkgs", "/opt/conda/pkgs/*")]),
        ("rm -rf /var/cache/dnf /var/cache/yum", [("dnf", "/var/cache/dnf", "/var/cache/dnf"),
                                                   ("yum", "/var/cache/yum", "/var/cache/yum")]),
        ("rm -rf $HOME/.cache/pip", []),
        ("rm -rf /tmp/*", []),
        ("rm -rf /var/cache/*.log", []),
        ("rm -rf /var/cache/*", [("apt", "/var/cache/apt", "/var/cache/*"), ("apk", "/var/cache/apk", "/var/cache/*"),
                                 ("dnf", "/var/cache/dnf", "/var/cache/*"), ("yum", "/var/cache/yum", "/var/cache/*"),
                                 ("zypper", "/var/cache/zypp", "/var/cache/*")]),
        ("rm -rf /var/lib/apt/listsX", []),
        ("rm -rf /root", []),
        ("echo rm -rf /var/lib/apt/lists/*", []),
        ("apt-get install -y x", []),
    ),
)
def test_cleanups(src, expected):
    assert cleanups(src) == expected


def test_parent_directory_removal_clears_each_cache_inside():
    found = cleanups("rm -rf /root/.cache")
    assert ("pip", "~/.cache/pip", "/root/.cache") in found
    assert ("yarn", "~/.cache/yarn", "/root/.cache") in found


def test_cleanup_inside_chain_with_install():
    src = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
           "curl && apt-get clean && rm -rf /var/lib/apt/lists/*")
    script = parse_shell(src)
    found = find_cleanups(script)
    assert [(c.manager, c.cache) for c in found] == [("apt", None), ("apt", "/var/lib/apt/lists")]
    assert found[0].call is not None and found[0].call.action == "clean"
    assert [c.site.chain_index for c in found] == [2, 3]


def test_views_of_a_script_live_and_die_with_it():
    """A script's calls and cleanups are computed once and kept on the script (``Script.view``), not in a module
    cache: a second ask gives equal lists without recomputing, and the script is freed with its views."""
    import gc
    import weakref

    script = parse_shell("apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*")
    calls = find_package_calls(script)
    assert [c.action for c in calls] == ["update", "install"]
    again = find_package_calls(script)
    assert again == calls and again is not calls  # a copy: a caller may change its list
    assert all(a is b for a, b in zip(again, calls))  # the same calls, not parsed twice
    assert [c.cache for c in find_cleanups(script)] == ["/var/lib/apt/lists"]
    ref = weakref.ref(script)
    del script, calls, again
    gc.collect()
    assert ref() is None
