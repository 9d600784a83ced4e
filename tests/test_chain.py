"""dockerfix.model.chain: does a RUN's chain remove a tool after a position (so an appended command of it fails)."""

from __future__ import annotations

import pytest

import dockerfix
from dockerfix.model.chain import TOOLS, tool_removal
from dockerfix.model.shell import parse_shell


def _after_first(src: str, word: str) -> int:
    """End of the first command whose name is ``word`` (the install an appended command would follow)."""
    script = parse_shell(src)
    for s in script.sites:
        if s.command.effective.basename == word:
            return s.command.span[1]
    raise AssertionError(f"no {word} in {src!r}")


@pytest.mark.parametrize("src,tool,via", [
    ("npm ci && apt-get purge -y --autoremove npm", "npm", "npm"),
    ("npm ci && apt-get remove -y nodejs:amd64", "npm", "node"),
    ("npm ci && apt-get autoremove -y npm", "npm", "npm"),
    ("npm ci && apk del npm nodejs", "npm", "npm"),
    ("npm ci && apk del --purge nodejs~=20", "npm", "node"),
    ("apk add --virtual .node nodejs npm && npm ci && apk del .node", "npm", "npm"),
    ("apk add -t build-deps nodejs npm && npm ci && apk del build-deps", "npm", "npm"),
    ("npm ci && apk del .build-deps", "npm", "npm"),  # a group this RUN did not make: its content is unknown
    ("npm ci && dnf remove -y nodejs", "npm", "node"),
    ("npm ci && yum erase -y 'nodejs*'", "npm", "npm"),  # the glob takes nodejs-npm too
    ("npm ci && microdnf remove nodejs-npm", "npm", "npm"),
    ("npm ci && zypper rm -y npm20", "npm", "npm"),
    ("npm ci && dpkg --purge nodejs", "npm", "node"),
    ("npm ci && rpm -e nodejs", "npm", "node"),
    ("npm ci && npm uninstall -g npm", "npm", "npm"),
    ("npm ci && npm rm --global npm@10", "npm", "npm"),
    ("npm ci && npm -g un npm", "npm", "npm"),
    ("npm ci && npm uninstall --location=global npm", "npm", "npm"),
    ("npm ci && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm", "npm", "npm"),
    ("npm ci && rm -rf /usr/local/lib/node_modules/*", "npm", "npm"),
    ("npm ci && rm -rf /usr/local/lib/node_modules/npm/node_modules", "npm", "npm"),
    ("npm ci && rm -f /usr/local/bin/node", "npm", "node"),
    ("npm ci && rm -rf /usr/local", "npm", "npm"),
    ("npm ci && cd /usr/local/bin && rm npm", "npm", "npm"),
    ('npm ci && rm -f "$(command -v npm)"', "npm", "npm"),
    ('npm ci && rm -rf "$NVM_DIR"', "npm", "node"),
    ("npm ci || apt-get purge -y nodejs", "npm", "node"),  # may run: enough to refuse
    ("npm ci && if true; then apk del npm; fi", "npm", "npm"),
    ("npm ci && sudo apt-get purge -y npm", "npm", "npm"),
    ("yarn install && apt-get purge -y yarn", "yarn", "yarn"),
    ("yarn install && npm uninstall -g yarn", "yarn", "yarn"),
    ("yarn install && rm -rf /opt/yarn-v1.22.19 /usr/local/bin/yarn", "yarn", "yarn"),
    ("yarn install && corepack disable", "yarn", "yarn"),
    ("yarn install && apk del nodejs", "yarn", "node"),
    ("conda install -y numpy && rm -rf /opt/conda", "conda", "conda"),
    ("conda install -y numpy && rm -rf /opt/conda/bin", "conda", "conda"),
    ("micromamba install -y python && rm /usr/local/bin/micromamba", "micromamba", "micromamba"),
])
def test_removes(src, tool, via):
    first = {"npm": "npm", "yarn": "yarn", "conda": "conda", "micromamba": "micromamba"}[tool]
    if src.startswith("apk add"):
        first = "npm"
    r = tool_removal(parse_shell(src), tool, _after_first(src, first))
    assert r is not None and r.tool == tool and r.via == via, r
    assert r.how and r.text in src


@pytest.mark.parametrize("src,tool", [
    ("npm ci && rm -rf node_modules/.cache /tmp/*", "npm"),
    ("npm ci && rm -rf /usr/local/lib/node_modules/npm/docs /usr/local/lib/node_modules/npm/man", "npm"),
    ("npm ci && rm -rf /usr/local/include/node /usr/local/share/doc/node", "npm"),
    ("npm ci && rm -rf ~/.npm /root/.cache", "npm"),
    ('npm ci && rm -rf "$(npm config get cache)"', "npm"),
    ("npm ci && apt-get purge -y --autoremove build-essential python3", "npm"),
    ("npm ci && apt-get autoremove -y", "npm"),  # explicitly installed packages stay; node may be no package
    ("npm ci && apk del build-base", "npm"),
    ("npm ci && npm uninstall lodash", "npm"),  # a project dependency, not a global package
    ("npm ci && npm uninstall -g typescript", "npm"),
    ("npm ci && apk del npm && apk add npm", "npm"),  # put back before the end
    ("apt-get purge -y npm && apt-get install -y npm && npm ci", "npm"),  # before the position
    ("npm ci && corepack disable", "npm"),  # corepack does not manage npm unless named
    ("yarn install && rm -rf /usr/local/share/.cache/yarn", "yarn"),
    ("conda install -y numpy && rm -rf /opt/conda/pkgs/* ~/.conda/pkgs", "conda"),
    ("conda install -y numpy && find /opt/conda -name '*.pyc' -delete", "conda"),
])
def test_keeps(src, tool):
    first = "npm" if tool == "npm" else tool
    assert tool_removal(parse_shell(src), tool, _after_first(src, first)) is None


def test_position_is_respected():
    src = "rm -rf /usr/local/bin/npm && npm ci && echo done"
    script = parse_shell(src)
    assert tool_removal(script, "npm", 0) is not None
    assert tool_removal(script, "npm", _after_first(src, "npm")) is None


def test_unknown_tool_and_unreadable_script():
    assert tool_removal(parse_shell("npm ci && apk del npm"), "cargo", 0) is None
    assert "npm" in TOOLS and TOOLS["npm"].needs == ("node",)


def test_npm_cache_clean_uses_it():
    """DFX108 refuses to append after a removal and says which command removed npm."""
    text = "FROM node:22-slim\nRUN npm ci && apt-get purge -y --autoremove npm\n"
    r = dockerfix.fix(text, select=["DFX108"], unsafe=True)
    assert r.text == text and not r.changes
    (f,) = r.findings
    assert not f.fixable and "apt-get purge" in f.reason and "exit 127" in f.reason
