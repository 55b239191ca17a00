"""Production settings pass Django's deployment checklist, and a production start without a
secret key stops at once, naming it."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS_FROM_ENV = (
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "DJANGO_SETTINGS_MODULE",
)


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS_FROM_ENV}
    environment.update(VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """The three starts run side by side: each is a cold Django start of a few seconds."""
    tmp_path = tmp_path_factory.mktemp("deploy")
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    secret_key = "".join(secrets.choice(alphabet) for _ in range(50))
    running = {
        "production": run_manage(
            tmp_path,
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            DEBUG="false",
            SECRET_KEY=secret_key,
            ALLOWED_HOSTS="portal.example.com",
        ),
        "debug": run_manage(
            tmp_path,
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            DEBUG="true",
            SECRET_KEY=secret_key,
        ),
        "no_secret": run_manage(tmp_path, "check", DEBUG="false"),
        "bad_debug": run_manage(tmp_path, "check", DEBUG="maybe"),
    }
    return {name: finish(process) for name, process in running.items()}


def test_production_settings_pass_the_deployment_checklist(
    outcomes: dict[str, tuple[int, str]],
) -> None:
    returncode, output = outcomes["production"]

    assert returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output
    assert "security.W" not in output


def test_the_checklist_does_flag_debug_mode(outcomes: dict[str, tuple[int, str]]) -> None:
    # The clean pass above means something: the same check does complain about DEBUG on.
    returncode, output = outcomes["debug"]

    assert returncode != 0
    assert "security.W018" in output


def test_production_without_a_secret_key_refuses_to_start(
    outcomes: dict[str, tuple[int, str]],
) -> None:
    returncode, output = outcomes["no_secret"]

    assert returncode != 0
    assert "SECRET_KEY" in output


def test_a_malformed_boolean_names_the_variable(outcomes: dict[str, tuple[int, str]]) -> None:
    returncode, output = outcomes["bad_debug"]

    assert returncode != 0
    assert "DEBUG='maybe' is not a boolean" in output
