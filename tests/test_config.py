"""Configuration discovery ([tool.dockerfix] / .dockerfix.toml), validation, and CLI overrides."""

from __future__ import annotations

import io

import pytest

from dockerfix import cli_core
from dockerfix.cli_core import Options, run
from dockerfix.config import Config, ConfigError, Finder, load

FIXABLE = "FROM alpine\nADD app.py /app/\n"


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def invoke(opts: Options, stdin: bytes = b""):
    out, err = io.BytesIO(), io.BytesIO()
    code = run(opts, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue().decode()


def test_pyproject_found_upward(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.dockerfix]\nignore = ["DFX001"]\nunsafe = true\n')
    df = write(tmp_path / "a" / "b" / "Dockerfile", FIXABLE)
    cfg = Finder().for_file(str(df))
    assert cfg.path == str(tmp_path / "pyproject.toml")
    assert cfg.ignore == ("DFX001",) and cfg.unsafe is True and cfg.select is None


def test_dockerfix_toml_wins_in_same_folder_and_nearest_wins(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.dockerfix]\nselect = "DFX001"\n')
    write(tmp_path / ".dockerfix.toml", 'ignore = "add-local-to-copy"\n')
    write(tmp_path / "sub" / ".dockerfix.toml", "unsafe = false\n")
    f = Finder()
    assert f.for_dir(str(tmp_path)).path.endswith(".dockerfix.toml")
    assert f.for_dir(str(tmp_path)).ignore == ("add-local-to-copy",)
    assert f.for_dir(str(tmp_path / "sub")).path == str(tmp_path / "sub" / ".dockerfix.toml")


def test_pyproject_without_table_is_skipped(tmp_path):
    write(tmp_path / ".dockerfix.toml", 'select = ["DFX001"]\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "x"\n')
    assert load(str(tmp_path / "sub" / "pyproject.toml")) is None
    assert Finder().for_dir(str(tmp_path / "sub")).path == str(tmp_path / ".dockerfix.toml")


def test_no_config_is_empty(tmp_path):
    cfg = Finder().for_dir(str(tmp_path))
    assert cfg.path is None or not cfg.path.startswith(str(tmp_path))


def test_settings_registries_and_context(tmp_path):
    write(tmp_path / "pyproject.toml", """
[tool.dockerfix]
context = "ctx"
[tool.dockerfix.settings]
merge-runs = { max = 3 }
[tool.dockerfix.registries]
"docker.io" = { mirror = "https://mirror.example" }
""")
    cfg = load(str(tmp_path / "pyproject.toml"))
    assert cfg.context == str(tmp_path / "ctx")
    assert cfg.fix_settings() == {"merge-runs": {"max": 3}, "registries": {"docker.io": {"mirror": "https://mirror.example"}}}


def test_task_gets_config_settings_and_flags_override(tmp_path):
    write(tmp_path / ".dockerfix.toml", 'select = ["DFX001"]\nunsafe = true\ncontext = "."\n[registries]\nx = 1\n')
    df = write(tmp_path / "sub" / "Dockerfile", FIXABLE)
    tasks, failed = cli_core._tasks(Options(paths=(str(df),)), [str(df)], Finder())
    (t,) = tasks
    assert failed == [] and t.select == ("DFX001",) and t.unsafe is True and t.context == str(tmp_path)
    assert t.settings == {"registries": {"x": 1}}
    opts = Options(paths=(str(df),), select=("DFX101",), unsafe=False, context=str(tmp_path / "sub"))
    (t,), _ = cli_core._tasks(opts, [str(df)], Finder())
    assert t.select == ("DFX101",) and t.unsafe is False and t.context == str(tmp_path / "sub")


def test_default_context_is_the_dockerfile_folder(tmp_path):
    df = write(tmp_path / "svc" / "Dockerfile", FIXABLE)
    (t,), _ = cli_core._tasks(Options(paths=(str(df),)), [str(df)], Finder())
    assert t.context == str(tmp_path / "svc")


@pytest.mark.parametrize(
    "text, msg",
    [
        ("selct = []\n", "unknown key"),
        ("unsafe = 1\n", "'unsafe' must be true or false"),
        ("select = [1]\n", "'select' must be a list"),
        ("select = ['DFX999']\n", "unknown transform"),
        ("ignore = 'nope'\n", "unknown transform"),
        ("settings = 3\n", "'settings' must be a table"),
        ("select = [\n", "invalid TOML"),
    ],
)
def test_invalid_config(tmp_path, text, msg):
    write(tmp_path / ".dockerfix.toml", text)
    with pytest.raises(ConfigError, match=msg):
        Finder().for_dir(str(tmp_path))


def test_config_applies_and_cli_overrides(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.dockerfix]\nignore = ["DFX001", "DFX203"]\n')
    df = write(tmp_path / "Dockerfile", FIXABLE)
    write(tmp_path / "app.py", "")  # in the build context and no archive: DFX001 is a safe fix
    code, out, err = invoke(Options(paths=(str(df),)))
    assert code == 0 and out == b"", err
    code, out, err = invoke(Options(paths=(str(df),), ignore=()))
    assert code == 1 and b"DFX001 [*]" in out


def test_bad_config_is_exit_2_with_path(tmp_path):
    write(tmp_path / ".dockerfix.toml", "bogus = 1\n")
    df = write(tmp_path / "Dockerfile", FIXABLE)
    code, out, err = invoke(Options(paths=(str(df),), mode="write"))
    assert code == 2 and ".dockerfix.toml: unknown key(s): bogus" in err
    assert df.read_text() == FIXABLE


def test_stdin_uses_stdin_filename_folder_or_cwd(tmp_path, monkeypatch):
    # DFX107 (pip-no-cache-dir) is safe without a build context, which stdin without --stdin-filename lacks:
    # only the config found (or not) decides whether it applies.
    fixable = "FROM python:3.12\nRUN pip install flask\n"
    write(tmp_path / "proj" / ".dockerfix.toml", 'ignore = ["DFX107"]\n')
    (tmp_path / "other").mkdir()
    opts = Options(paths=("-",), mode="stdin", stdin_filename=str(tmp_path / "proj" / "Dockerfile"))
    code, out, err = invoke(opts, fixable.encode())
    assert code == 0 and out == fixable.encode()
    monkeypatch.chdir(tmp_path / "proj")
    code, out, err = invoke(Options(paths=("-",), mode="stdin"), fixable.encode())
    assert out == fixable.encode()
    monkeypatch.chdir(tmp_path / "other")
    code, out, err = invoke(Options(paths=("-",), mode="stdin"), fixable.encode())
    assert code == 0 and out == fixable.replace("pip install", "pip install --no-cache-dir").encode()


def test_config_defaults_and_registries_only():
    assert Config().fix_settings() == {}
    assert Config(registries={"a": 1}).fix_settings() == {"registries": {"a": 1}}


@pytest.mark.parametrize("body, message", [
    ('exclude = "legacy/"', "'exclude' must be a list of patterns"),
    ("extend-exclude = [1]", "'extend-exclude' must be a list of patterns"),
    ('respect-gitignore = "yes"', "'respect-gitignore' must be true or false"),
    ("create-files = 1", "'create-files' must be true or false"),
])
def test_discovery_and_companion_keys_are_validated(tmp_path, body, message):
    write(tmp_path / ".dockerfix.toml", body + "\n")
    with pytest.raises(ConfigError, match=message):
        load(str(tmp_path / ".dockerfix.toml"))


def test_discovery_and_companion_keys(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.dockerfix]\nexclude = ["/legacy"]\nextend-exclude = ["gen/"]\n'
                                       "respect-gitignore = false\ncreate-files = true\n")
    cfg = load(str(tmp_path / "pyproject.toml"))
    assert (cfg.exclude, cfg.extend_exclude, cfg.respect_gitignore, cfg.create_files) == (
        ("/legacy",), ("gen/",), False, True)
    assert Config().exclude is None and Config().create_files is None
