"""Browser tests: Debian's Chromium, driven by Playwright, against the real portal stack.

The stack is the one tests/e2e uses (tests/portal_stack.py; started once per session).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tests.browser.helpers import WIDE, add_contributor
from tests.portal_stack import PortalStack, attach_logs, create_dataset, portal_stack

__all__ = ["portal_stack"]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    attach_logs(item, report)
    return report


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught JavaScript errors of the test's page."""
    return []


@pytest.fixture(scope="module")
def signed_in_state(browser: Any, portal_stack: PortalStack) -> dict[str, Any]:
    """Sign in once through the login form; tests reuse the session cookie."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{portal_stack.base_url}/login/")
        page.fill("#id_username", portal_stack.username)
        page.fill("#id_password", portal_stack.password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        assert page.get_by_text(f"Signed in as {portal_stack.username}").count() == 1
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, signed_in_state: dict[str, Any], page_errors: list[str]) -> Iterator[Any]:
    """A fresh browser context with the signed-in session."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, storage_state=signed_in_state
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def contributor_page(
    request: pytest.FixtureRequest,
    browser: Any,
    portal_stack: PortalStack,
    page_errors: list[str],
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A browser page signed in, through the login form, as a new contributor of a new
    dataset's project (named by the test module's DATASET_NAME); with that dataset."""
    dataset = create_dataset(portal_stack, request.module.DATASET_NAME)
    username, password = add_contributor(portal_stack, dataset["project"])
    context = browser.new_context(viewport={"width": WIDE, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        page.goto(f"{portal_stack.base_url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        assert page.get_by_text(f"Signed in as {username}").count() == 1
        yield page, dataset
    finally:
        context.close()
