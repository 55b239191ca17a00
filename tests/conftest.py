"""Shared fixtures: named actors (owner, contributor, reviewer, viewer, outsider), a project
they belong to, and the real services some tests need.

Tests that need PostgreSQL, Redis or Chromium skip with the reason where those are missing;
with MLOPS_REQUIRE_SERVICES=1 (set by .ci/run) they fail instead, so CI never hides them.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from lineage.choices import Role
from lineage.models import Membership, Project
from tests.portal_stack import missing_service

REDIS_URL = os.environ.get("MLOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("MLOPS_TEST_CHROMIUM", "/usr/bin/chromium")


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not port_open(REDIS_URL):
        missing_service(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing_service(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    """Uploaded files land in a per-test folder, never in var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _prediction_log_in_tmp(settings: Any, tmp_path: Any) -> None:
    """Served predictions are stored by the request itself (no writer thread outside the
    test's transaction), through a spool folder of the test's own."""
    settings.PREDICTION_SPOOL_DIR = tmp_path / "prediction-spool"
    settings.PREDICTION_LOG_WRITER = "sync"


@pytest.fixture(autouse=True)
def _no_model_loaded_by_an_earlier_test() -> Iterator[None]:
    """Loaded models are cached by version id, and ids repeat after a rolled-back test;
    tokens predict has seen are remembered for a few seconds."""
    from mlops_portal.authentication import CachedTokenMixin
    from monitoring import model_cache

    model_cache.forget_all()
    CachedTokenMixin._cache.clear()
    yield
    model_cache.forget_all()
    CachedTokenMixin._cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The named actors get real passwords; a cheap hasher keeps creating them instant."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def eager_tasks(settings: Any) -> Any:
    """Run Celery tasks in-process (unit tests of the job flow; the e2e tests use a real worker)."""
    from mlops_portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(username: str, **extra: Any) -> User:
        return User.objects.create_user(username=username, password="pw-" + username, **extra)

    return make


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("olivia")


@pytest.fixture
def contributor(make_user: Callable[..., User]) -> User:
    return make_user("carl")


@pytest.fixture
def reviewer(make_user: Callable[..., User]) -> User:
    return make_user("rita")


@pytest.fixture
def viewer(make_user: Callable[..., User]) -> User:
    return make_user("vera")


@pytest.fixture
def outsider(make_user: Callable[..., User]) -> User:
    return make_user("otto")


@pytest.fixture
def project(owner: User, contributor: User, reviewer: User, viewer: User) -> Project:
    project = Project.objects.create(name="Card fraud", slug="card-fraud", created_by=owner)
    for user, role in (
        (owner, Role.ADMIN),
        (contributor, Role.CONTRIBUTOR),
        (reviewer, Role.REVIEWER),
        (viewer, Role.VIEWER),
    ):
        Membership.objects.create(project=project, user=user, role=role)
    return project


@pytest.fixture
def other_project(outsider: User) -> Project:
    project = Project.objects.create(name="Churn", slug="churn", created_by=outsider)
    Membership.objects.create(project=project, user=outsider, role=Role.ADMIN)
    return project


@pytest.fixture
def api_client_for() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
