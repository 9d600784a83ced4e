"""Each fixture app's own (unoptimised) Dockerfile builds, exports, flattens, and its SMOKE command passes."""

from __future__ import annotations

import pytest

from labkit import APPS

pytestmark = pytest.mark.lab

APP_NAMES = sorted(p.name for p in APPS.iterdir() if (p / "Dockerfile").is_file())

# where each Dockerfile puts the sources, and a file that must be there
EXPECTED_SOURCE = {
    "python-flask": "app/app.py",
    "python-native": "srv/worker.py",
    "node-express": "usr/src/app/server.js",
    "go-http": "go/src/app/main.go",
    "python-chown": "app/app/server.py",
}


def test_the_reference_apps_are_present():
    assert set(EXPECTED_SOURCE) <= set(APP_NAMES)
    for app in APP_NAMES:
        assert (APPS / app / "SMOKE").is_file(), f"{app} has no SMOKE command"


@pytest.mark.parametrize("app", APP_NAMES)
def test_app_builds_flattens_and_passes_its_smoke_command(lab, app):
    built = lab.built(app)
    assert built.result.built_steps + built.result.cached_steps == len(built.result.steps) - 1  # all but FROM
    image = built.image
    if app in EXPECTED_SOURCE:
        assert EXPECTED_SOURCE[app] in image.entries
    assert image.config.cmd, "every app sets CMD"
    assert image.layer_count > 1 and image.compressed_size == image.uncompressed_size  # docker-archive: plain tars
    smoke = (APPS / app / "SMOKE").read_text().strip()
    run = lab.builder.run(built.tag, smoke)
    assert run.ok, f"SMOKE failed ({run.returncode}): {smoke}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"


def test_node_dependencies_come_from_the_lockfile(lab):
    entries = lab.built("node-express").image.entries
    assert "usr/src/app/node_modules/express/package.json" in entries
    assert entries["usr/src/app/server.js"].uid == 1000  # RUN chown -R node:node


def test_native_extension_was_compiled_in_the_image(lab):
    entries = lab.built("python-native").image.entries
    compiled = [p for p in entries if "psycopg2/_psycopg" in p and p.endswith(".so")]
    assert compiled, "psycopg2's C extension is missing"
    assert "usr/bin/gcc" in entries or any(p.startswith("usr/bin/gcc-") for p in entries)
