"""In Chromium, as a contributor: a quality suite is suggested from a clean version's profile
and accepted; the next version, with -1 in total_value, fails its gate and its run page shows
the failing rows and where they sit; the check editor previews a range check as it is typed.

Screenshots of the suite and run pages, wide and narrow, land in /tmp/quality-shots/ for
people to look at (they are not compared).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lineage.demo.transactions import make_transactions
from tests.browser.helpers import screenshot, wait_for_charts
from tests.portal_stack import PortalStack, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.services]

ROWS = 3000
SENTINEL_ROWS = 90  # 3 % of the rows
RUN_TIMEOUT = 60.0
SHOTS = Path("/tmp/quality-shots")
DATASET_NAME = "browser-quality"


def transactions_csv(sentinel_rows: int = 0) -> bytes:
    """The demo transactions as CSV, `sentinel_rows` of them with total_value -1."""
    frame = make_transactions(ROWS, seed=1)
    flagged = np.random.default_rng(7).choice(ROWS, size=sentinel_rows, replace=False)
    frame.loc[flagged, "total_value"] = -1
    return frame.to_csv(index=False).encode()


def wait_for_finished_run(stack: PortalStack, dataset_id: int, version: int) -> dict[str, Any]:
    """The version's newest quality run once it has finished, and its profile (bounded)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        stack.check_alive()
        response = stack.api("GET", f"quality-runs/?dataset={dataset_id}")
        assert response.status == 200, response.text
        runs = [run for run in response.body["results"] if run["version"] == version]
        if runs and runs[0]["finished_at"]:
            profiled = stack.api("GET", f"dataset-versions/{runs[0]['dataset_version']}/")
            if profiled.body["profile_status"] in ("succeeded", "failed"):
                return runs[0]
        time.sleep(0.25)
    pytest.fail(f"v{version} had no finished quality run after {RUN_TIMEOUT:.0f} s: {runs}")


def card(page: Any, heading: str) -> Any:
    return page.locator("section.card").filter(
        has=page.get_by_role("heading", name=heading, exact=True)
    )


def test_a_contributor_catches_minus_one_in_total_value_from_a_suggested_suite(
    contributor_page: tuple[Any, dict[str, Any]],
    page_errors: list[str],
    portal_stack: PortalStack,
) -> None:
    page, dataset = contributor_page
    base, dataset_id = portal_stack.base_url, dataset["id"]
    clean = portal_stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset_id)},
        files={"file": ("september.csv", transactions_csv(), "text/csv")},
    )
    assert clean.status == 201, clean.text
    assert wait_for_job(portal_stack, clean.body["job"])["state"] == "succeeded"

    # The dataset's "Quality checks" button; no suite yet, and the empty state says what next.
    page.goto(f"{base}/datasets/{dataset_id}/")
    page.get_by_role("link", name="Quality checks", exact=True).click()
    page.wait_for_url(re.compile(rf"/quality/datasets/{dataset_id}/$"))
    empty = card(page, "Checks").locator("p.empty")
    assert "No quality suite yet" in empty.inner_text()
    empty.get_by_role("link", name="suggest one from version 1").click()

    # Suggestions from v1's profile, all preselected; accept them.
    page.wait_for_url(re.compile(rf"/quality/datasets/{dataset_id}/suggest(\?version=1)?$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Checks learned from v1"
    boxes = page.locator("input[name=accept]")
    suggested = boxes.evaluate_all("boxes => boxes.map(box => box.value)")
    assert "range:total_value" in suggested
    assert boxes.evaluate_all("boxes => boxes.every(box => box.checked)")
    page.get_by_role("button", name="Add selected checks to the suite").click()

    page.wait_for_url(re.compile(rf"/quality/datasets/{dataset_id}/$"))
    assert f"{len(suggested)} checks added from the profile of v1." in (
        page.locator(".messages").inner_text()
    )
    names = card(page, "Checks").locator("tbody tr td:first-child").all_inner_texts()
    assert names == suggested
    # Saving the suite checks v1 (the suite page shows that run at the end). Leave before
    # the page's job box reloads it, which would race the next navigation.
    page.goto("about:blank")
    assert wait_for_finished_run(portal_stack, dataset_id, version=1)["status"] == "passed"

    # A bad version uploaded through the page: 3 % of total_value are -1.
    page.goto(f"{base}/datasets/{dataset_id}/")
    page.get_by_role("link", name="Upload new version").click()
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "october.csv",
                "mimeType": "text/csv",
                "buffer": transactions_csv(SENTINEL_ROWS),
            }
        ],
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(rf"/datasets/{dataset_id}/versions/2/$"))
    # Leave before the page's job box reloads it (a reload racing the next navigation),
    # and come back once the worker is done.
    page.goto("about:blank")
    run = wait_for_finished_run(portal_stack, dataset_id, version=2)
    assert run["trigger"] == "new_version"

    # From the version page's quality line to the run page.
    page.goto(f"{base}/datasets/{dataset_id}/versions/2/")
    quality_line = page.locator("dl.facts dt:text-is('Quality') + dd")
    assert quality_line.locator(".badge").inner_text() == "Failed"
    quality_line.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/quality/runs/{run['id']}/$"))
    assert page.locator("h1 .badge").inner_text() == "Failed"

    results = (
        card(page, "Checks")
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))")
    )
    by_name = {cells[0]: cells for cells in results}
    assert [name for name, cells in by_name.items() if cells[1] != "Passed"] == [
        "range:total_value"
    ], results
    _, outcome, _, failing_count, failing_share, _ = by_name["range:total_value"]
    assert (outcome, failing_count, failing_share) == ("Failed", str(SENTINEL_ROWS), "3.00%")

    failing = page.locator("section.card").filter(
        has=page.locator("h2", has_text="range:total_value")
    )
    # Headers are upper-cased by CSS: read their text, not their rendering.
    headers = failing.locator("table.sample-rows thead th").all_text_contents()
    column = headers.index("total_value")
    values = [
        sample.locator("td").nth(column).inner_text()
        for sample in failing.locator("table.sample-rows tbody tr").all()
    ]
    assert 0 < len(values) <= 20
    assert {float(value) for value in values} == {-1.0}, values
    wait_for_charts(page, "section.card:has(table.sample-rows)")
    assert failing.locator(".plot .main-svg").count() > 0
    screenshot(page, SHOTS, "run")

    # The suite page after both runs, with its charts over versions.
    page.goto(f"{base}/quality/datasets/{dataset_id}/")
    assert page.locator("h1 .badge").inner_text() == "Failed"  # the newest version's gate
    runs = (
        card(page, "Runs")
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))")
    )
    assert [(row[1], row[2], row[8]) for row in runs] == [
        ("v2", "Failed", "New version"),
        ("v1", "Passed", "Suite changed"),
    ], runs
    wait_for_charts(page, "main")
    screenshot(page, SHOTS, "suite")

    # A new range check, previewed on v2 as it is filled in: no click needed.
    page.select_option("select[name=type]", "range")
    page.get_by_role("button", name="Add…").click()
    page.wait_for_url(re.compile(rf"/quality/datasets/{dataset_id}/checks/new\?type=range$"))
    assert page.get_by_role("heading", name="Preview on v2").count() == 1
    preview = page.locator("#check-preview")
    assert "Failing rows" not in preview.inner_text()
    page.select_option("#id_column", "total_value")
    page.fill("#id_min", "0")
    preview.locator("dt", has_text="Failing rows").wait_for()
    failing_rows = preview.locator("dt:text-is('Failing rows') + dd").inner_text()
    assert failing_rows == f"{SENTINEL_ROWS} (3.00%)", failing_rows
    assert preview.locator(".badge").first.inner_text() == "Failed"
    wait_for_charts(page, "#check-preview")
    assert page.url.endswith("/checks/new?type=range")  # nothing was submitted...

    suites = portal_stack.api("GET", f"quality-suites/?dataset={dataset_id}")
    assert suites.status == 200, suites.text
    assert [suite["version"] for suite in suites.body["results"]] == [1]  # ...nor saved
    assert page_errors == []
