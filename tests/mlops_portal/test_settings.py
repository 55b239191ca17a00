"""Settings come from the environment through small typed readers whose errors name the
variable; secrets can come from files; the broker works without a server by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_portal.env import broker_settings, envbool, envint, envlist, envstr


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "on"])
def test_envbool_reads_true(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PORTAL_FLAG", value)

    assert envbool("PORTAL_FLAG", False) is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "off"])
def test_envbool_reads_false(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PORTAL_FLAG", value)

    assert envbool("PORTAL_FLAG", True) is False


@pytest.mark.parametrize("value", [None, "", "   "])
def test_envbool_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("PORTAL_FLAG", raising=False)
    else:
        monkeypatch.setenv("PORTAL_FLAG", value)

    assert envbool("PORTAL_FLAG", True) is True
    assert envbool("PORTAL_FLAG", False) is False


def test_envbool_refuses_anything_else_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTAL_FLAG", "maybe")

    with pytest.raises(ValueError, match=r"PORTAL_FLAG='maybe' is not a boolean"):
        envbool("PORTAL_FLAG", False)


def test_envint_reads_an_integer_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_NUMBER", raising=False)
    assert envint("PORTAL_NUMBER", 7) == 7

    monkeypatch.setenv("PORTAL_NUMBER", "512")
    assert envint("PORTAL_NUMBER", 7) == 512

    monkeypatch.setenv("PORTAL_NUMBER", "")
    assert envint("PORTAL_NUMBER", 7) == 7


@pytest.mark.parametrize("value", ["ten", "1.5", "12MB"])
def test_envint_refuses_a_non_integer_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MAX_UPLOAD_MB", value)

    with pytest.raises(ValueError, match=rf"MAX_UPLOAD_MB='{value}' is not an integer"):
        envint("MAX_UPLOAD_MB", 512)


def test_envstr_reads_a_secret_from_a_file_before_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("  from-the-file\n")
    monkeypatch.setenv("PORTAL_SECRET", "from-the-variable")
    monkeypatch.setenv("PORTAL_SECRET_FILE", str(secret))

    assert envstr("PORTAL_SECRET") == "from-the-file"


def test_envstr_reads_the_variable_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_SECRET_FILE", raising=False)
    monkeypatch.delenv("PORTAL_SECRET", raising=False)
    assert envstr("PORTAL_SECRET", "fallback") == "fallback"

    monkeypatch.setenv("PORTAL_SECRET", "from-the-variable")
    assert envstr("PORTAL_SECRET", "fallback") == "from-the-variable"


def test_envstr_fails_loudly_when_the_secret_file_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORTAL_SECRET_FILE", str(tmp_path / "absent"))

    with pytest.raises(FileNotFoundError, match="absent"):
        envstr("PORTAL_SECRET")


def test_envlist_splits_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " portal.example.com, ,api.example.com ")

    assert envlist("ALLOWED_HOSTS", ["localhost"]) == ["portal.example.com", "api.example.com"]

    monkeypatch.delenv("ALLOWED_HOSTS")
    assert envlist("ALLOWED_HOSTS", ["localhost"]) == ["localhost"]


@pytest.mark.parametrize("url", ["", "filesystem://"])
def test_the_default_broker_is_the_filesystem_with_its_folders_created(
    tmp_path: Path, url: str
) -> None:
    broker_url, options = broker_settings(url, tmp_path)

    assert broker_url == "filesystem://"
    folder = tmp_path / "broker"
    for sub in ("queue", "processed", "control"):
        assert (folder / sub).is_dir()
    assert options["data_folder_in"] == str(folder / "queue")
    assert options["data_folder_out"] == str(folder / "queue")
    assert options["processed_folder"] == str(folder / "processed")
    assert options["control_folder"] == str(folder / "control")
    assert options["store_processed"] is False


def test_a_redis_broker_url_passes_through(tmp_path: Path) -> None:
    broker_url, options = broker_settings("redis://cache.internal:6379/0", tmp_path)

    assert broker_url == "redis://cache.internal:6379/0"
    assert options == {}
    assert not (tmp_path / "broker").exists()


def test_the_running_settings_use_the_celery_prefix_and_json() -> None:
    from django.conf import settings

    from mlops_portal.celery import app

    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert settings.MAX_UPLOAD_BYTES % (1024 * 1024) == 0
