"""In Chromium: a signed-in user creates a dataset, uploads a CSV and sees its profile drawn,
and an empty file is refused on the form."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.portal_stack import PortalStack, create_project, version_count

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.services]

PROFILE_TIMEOUT = 60.0

CHART_DRAWN = """() => {
  const el = document.querySelector('.plot');
  return Boolean(el && el.data && el.data.length > 0 && el.data[0].y && el.data[0].y.length > 0
    && el.querySelector('.main-svg'));
}"""


def csv_bytes(rows: int = 500) -> bytes:
    lines = ["id,score,segment"]
    # Every tenth score is missing, so the missing-values chart has a bar to draw.
    lines += [
        f"{i},{'' if i % 10 == 0 else (i % 50) / 10},{'abc'[i % 3]}" for i in range(1, rows + 1)
    ]
    return ("\n".join(lines) + "\n").encode()


def wait_for_js(page: Any, expression: str, timeout: float) -> None:
    """page.wait_for_function, surviving the reload the job box triggers when the job ends."""
    from playwright.sync_api import Error
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            page.wait_for_function(expression, timeout=remaining * 1000)
            return
        except PlaywrightTimeout:
            break
        except Error:
            # The execution context went away with a navigation: wait for the new page.
            page.wait_for_load_state("load")
    pytest.fail(
        f"The page never satisfied {expression} within {timeout:.0f} s; it shows:\n"
        + page.locator("main, body").first.inner_text()[:2000]
    )


def create_dataset_in_the_form(page: Any, stack: PortalStack, prefix: str) -> int:
    """The way a user gets there: the project's page, its "New dataset" button, the form."""
    project = create_project(stack, prefix)
    page.goto(f"{stack.base_url}/projects/{project['slug']}/")
    page.get_by_role("link", name="New dataset").first.click()
    page.wait_for_url(re.compile(r"/datasets/new\?project="))
    assert page.locator("#id_project option:checked").inner_text() == project["name"]
    page.fill("#id_name", "customers")
    page.select_option("#id_sensitivity", "internal")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/datasets/\d+/versions/new$"))
    match = re.search(r"/datasets/(\d+)/versions/new$", page.url)
    assert match, page.url
    return int(match.group(1))


def test_a_user_uploads_a_csv_and_sees_its_profile_drawn(
    page: Any, page_errors: list[str], portal_stack: PortalStack
) -> None:
    dataset_id = create_dataset_in_the_form(page, portal_stack, "browser-upload")

    page.set_input_files(
        "input[name=file]",
        files=[{"name": "customers.csv", "mimeType": "text/csv", "buffer": csv_bytes()}],
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(rf"/datasets/{dataset_id}/versions/1/$"))

    # The job box polls the API and reloads the page once the worker is done.
    wait_for_js(page, CHART_DRAWN, PROFILE_TIMEOUT)
    page.wait_for_load_state("load")
    assert page.locator('.job[data-job-state="succeeded"]').count() == 1
    assert page.locator(".plot .main-svg").count() > 0
    traces = page.evaluate("() => document.querySelector('.plot').data")
    assert traces[0]["x"] == ["id", "score", "segment"]  # the missing-values chart
    assert traces[0]["y"] == [0, 10, 0]
    rows = [row.split("\t") for row in page.locator(".profile-table tbody tr").all_inner_texts()]
    assert [(row[0], row[3]) for row in rows] == [
        ("id", "0.0%"),
        ("score", "10.0%"),
        ("segment", "0.0%"),
    ], rows
    page.screenshot(path=str(portal_stack.tmp_dir / "dataset-profile.png"), full_page=True)
    assert page_errors == []
    assert version_count(portal_stack, dataset_id) == 1


def test_an_empty_file_is_refused_on_the_form_and_creates_no_version(
    page: Any, portal_stack: PortalStack
) -> None:
    dataset_id = create_dataset_in_the_form(page, portal_stack, "browser-empty")

    page.set_input_files(
        "input[name=file]",
        files=[{"name": "empty.csv", "mimeType": "text/csv", "buffer": b""}],
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_load_state("load")

    assert re.search(rf"/datasets/{dataset_id}/versions/new$", page.url), page.url
    errors = page.locator(".form-error").all_inner_texts()
    assert "The file is empty." in errors, errors
    assert version_count(portal_stack, dataset_id) == 0


def test_a_form_opened_directly_without_a_referer_loads(
    page: Any, portal_stack: PortalStack
) -> None:
    """A bookmarked or typed form URL has no Referer header; the page must still render."""
    response = page.goto(f"{portal_stack.base_url}/datasets/new")
    assert response is not None
    assert response.status == 200, page.content()[:500]
    assert page.locator("#id_name").count() == 1
