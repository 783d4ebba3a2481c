"""Settings come from the environment through strict helpers: a bad value stops the process at
start with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from veille.env import SettingError, env_bool, env_int, parse_database_url


def test_booleans_and_integers_are_strict(monkeypatch):
    monkeypatch.setenv("VEILLE_X", "maybe")
    with pytest.raises(SettingError, match="VEILLE_X"):
        env_bool("VEILLE_X", False)
    monkeypatch.setenv("VEILLE_X", "12a")
    with pytest.raises(SettingError, match="VEILLE_X='12a' is not an integer"):
        env_int("VEILLE_X", 1)
    monkeypatch.setenv("VEILLE_X", "0")
    with pytest.raises(SettingError, match="below the minimum 1"):
        env_int("VEILLE_X", 5, minimum=1)
    monkeypatch.setenv("VEILLE_X", "yes")
    assert env_bool("VEILLE_X", False) is True


def test_database_urls():
    pg = parse_database_url("VEILLE_DATABASE_URL", "postgresql://u:p%40ss@db.internal:5433/veille?sslmode=require")
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == ("veille", "u", "p@ss", "db.internal", "5433")
    assert pg["OPTIONS"] == {"sslmode": "require"}
    assert parse_database_url("V", "sqlite:////tmp/x.sqlite3")["NAME"] == "/tmp/x.sqlite3"
    assert parse_database_url("V", "sqlite:///var/x.sqlite3")["NAME"] == "var/x.sqlite3"
    with pytest.raises(SettingError, match="unsupported scheme 'mysql'"):
        parse_database_url("VEILLE_DATABASE_URL", "mysql://x/y")
    with pytest.raises(SettingError, match="no database name"):
        parse_database_url("VEILLE_DATABASE_URL", "postgresql://host/")


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("VEILLE_INGEST_BATCH", "lots", "VEILLE_INGEST_BATCH='lots' is not an integer"),
    ("VEILLE_DATABASE_URL", "oracle://db/x", "VEILLE_DATABASE_URL"),
    ("VEILLE_LANGUAGE", "es", "VEILLE_LANGUAGE"),
    ("VEILLE_SECRET_KEY", "short", "VEILLE_SECRET_KEY must be at least 32 characters"),
])
def test_the_command_refuses_to_start_and_names_the_variable(tmp_path, name, value, expected):
    env = {**os.environ, "VEILLE_VAR_DIR": str(tmp_path), name: value}
    result = subprocess.run([sys.executable, "-m", "veille.cli", "worker", "--drain"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
