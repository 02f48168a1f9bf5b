"""Settings come from DUSTTWIN_* variables and .env, read when asked, never at import."""

from __future__ import annotations

from pathlib import Path

import pytest

from dusttwin.settings import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUSTTWIN_MQTT_PORT", "18830")
    monkeypatch.setenv("DUSTTWIN_TIMESCALEDB", "off")
    settings = Settings()
    assert settings.mqtt_port == 18830
    assert settings.timescaledb == "off"


def test_dotenv_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUSTTWIN_API_PORT", raising=False)
    (tmp_path / ".env").write_text("DUSTTWIN_API_PORT=9001\nDUSTTWIN_DASH_PORT=9002\n")
    monkeypatch.setenv("DUSTTWIN_DASH_PORT", "9003")
    settings = Settings()
    assert (settings.api_port, settings.dash_port) == (9001, 9003)


def test_secrets_do_not_show_in_logs_or_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUSTTWIN_MQTT_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("DUSTTWIN_DATABASE_URL", "postgresql://u:pw-secret@127.0.0.1/db")
    shown = repr(Settings()) + str(Settings().model_dump())
    assert "hunter2-secret" not in shown
    assert "pw-secret" not in shown


def test_invalid_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUSTTWIN_API_PORT", "70000")
    with pytest.raises(ValueError, match="api_port"):
        Settings()
