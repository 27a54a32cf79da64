"""Settings: INI file, environment, defaults and the JWT key."""

from __future__ import annotations

import stat

import pytest

from hanami.datasets import ParseLimits
from hanami.server.config import ConfigError, ServerSettings, parse_ini

ORIGINAL_CONFIG = """\
[DEFAULT]
debug = False
log_path = "/var/log"
database = "/etc/openhanami/hanami_db"   # comment after a value

[storage]
dataset_location = "/etc/openhanami/datasets"
tempfile_timeout = 20

[auth]
token_key_path = "/etc/openhanami/token_key"
token_expire_time = 600
policies = "/etc/openhanami/policies"

[http]
enable = true
ip = 0.0.0.0
port = 12345
number_of_threads = 8
socket_path = /tmp/ignored
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("HANAMI_"):
            monkeypatch.delenv(key)


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = ServerSettings()
    assert settings.data_dir == tmp_path / ".hanami"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path}/.hanami/hanami.db"
    assert (settings.host, settings.port, settings.token_expire_time) == ("127.0.0.1", 11418, 3600)
    assert settings.dataset_location == tmp_path / ".hanami" / "datasets"
    assert settings.policies is None and settings.forbidden_status == 403


def test_original_ini_keys_are_read(tmp_path):
    config = tmp_path / "hanami.conf"
    config.write_text(ORIGINAL_CONFIG)
    settings = ServerSettings(config_file=config)
    assert (settings.host, settings.port, settings.number_of_threads) == ("0.0.0.0", 12345, 8)
    assert str(settings.database) == "/etc/openhanami/hanami_db"
    assert str(settings.token_key_path) == "/etc/openhanami/token_key"
    assert settings.token_expire_time == 600 and settings.tempfile_timeout == 20
    assert str(settings.policies) == "/etc/openhanami/policies"
    assert settings.debug is False


def test_environment_wins_over_the_file_and_arguments_win_over_both(tmp_path, monkeypatch):
    config = tmp_path / "hanami.conf"
    config.write_text(ORIGINAL_CONFIG)
    monkeypatch.setenv("HANAMI_CONFIG_FILE", str(config))
    monkeypatch.setenv("HANAMI_PORT", "2222")
    monkeypatch.setenv("HANAMI_TOKEN_EXPIRE_TIME", "60")
    settings = ServerSettings()
    assert (settings.port, settings.token_expire_time, settings.host) == (2222, 60, "0.0.0.0")
    assert ServerSettings(port=3333).port == 3333


def test_upload_limits_come_from_the_environment(tmp_path, monkeypatch):
    assert ServerSettings(data_dir=tmp_path).parse_limits == ParseLimits()
    monkeypatch.setenv("HANAMI_DATASET_MAX_COLUMNS", "5")
    monkeypatch.setenv("HANAMI_DATASET_MAX_BYTES", "1000")
    limits = ServerSettings(data_dir=tmp_path).parse_limits
    assert (limits.max_columns, limits.max_rows, limits.max_bytes) == (5, 10_000_000, 1000)
    monkeypatch.setenv("HANAMI_DATASET_MAX_ROWS", "0")
    with pytest.raises(ValueError, match="dataset_max_rows"):
        ServerSettings(data_dir=tmp_path)


def test_database_url_override_is_normalised(tmp_path):
    settings = ServerSettings(data_dir=tmp_path, database_url="postgresql://u:p@db/hanami")
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db/hanami"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[auth]\ntoken_key_path = "unterminated\n', 2),
        ("a = b\n\nnot an item\n", 3),
        ("x = has space\n", 1),
        ("x =\n", 1),
    ],
)
def test_ini_errors_name_the_line(text, line):
    with pytest.raises(ConfigError, match=f"line {line}"):
        parse_ini(text, "hanami.conf")


def test_ini_values():
    values = parse_ini('a = 1\nb = -2.5\nc = True\nd = "q \\" # x" # comment\ne = /p:x@y\n')
    assert values == {
        ("DEFAULT", "a"): 1,
        ("DEFAULT", "b"): -2.5,
        ("DEFAULT", "c"): True,
        ("DEFAULT", "d"): 'q " # x',
        ("DEFAULT", "e"): "/p:x@y",
    }


def test_token_key_file_is_generated_once_with_mode_0600(tmp_path):
    settings = ServerSettings(data_dir=tmp_path)
    key = settings.load_token_key()
    path = tmp_path / "token_key"
    assert len(key) >= 48 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ServerSettings(data_dir=tmp_path).load_token_key() == key


def test_token_key_from_environment_or_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HANAMI_TOKEN_KEY", "e" * 32)
    assert ServerSettings(data_dir=tmp_path).load_token_key() == b"e" * 32
    monkeypatch.delenv("HANAMI_TOKEN_KEY")
    key_file = tmp_path / "key"
    key_file.write_bytes(b"f" * 40 + b"\n")
    settings = ServerSettings(data_dir=tmp_path, token_key_path=key_file)
    assert settings.load_token_key() == b"f" * 40 + b"\n"  # raw content, as the original


def test_short_token_keys_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="at least 32"):
        ServerSettings(data_dir=tmp_path, token_key="asdf").load_token_key()
    key_file = tmp_path / "key"
    key_file.write_text("asdf\n")
    with pytest.raises(ConfigError, match="at least 32"):
        ServerSettings(data_dir=tmp_path, token_key_path=key_file).load_token_key()


def test_the_ray_executor_needs_the_head_address(tmp_path, monkeypatch):
    from hanami.server.context import AppContext

    monkeypatch.setenv("HANAMI_EXECUTOR", "ray")
    settings = ServerSettings(data_dir=tmp_path, token_key="k" * 32)
    assert settings.executor == "ray" and settings.ray_actor_cpus == 1.0
    with pytest.raises(ConfigError, match="HANAMI_RAY_ADDRESS"):
        AppContext.from_settings(settings)
    monkeypatch.setenv("HANAMI_EXECUTOR", "kubernetes")
    with pytest.raises(ValueError, match="executor"):
        ServerSettings(data_dir=tmp_path)
