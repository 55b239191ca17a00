"""The quality gate end to end, through the API, with a real Celery worker process on Redis:
a suite suggested from a clean version's profile fails the next version, where field agents
typed -1 into total_value, and the failing rows are counted exactly."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pytest

from lineage.demo.transactions import make_transactions
from tests.portal_stack import PortalStack, create_dataset, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.services]

ROWS = 3000
SENTINEL_SHARE = 0.03
RUN_TIMEOUT = 60.0


def transactions_csv(sentinel_share: float = 0.0) -> tuple[bytes, int]:
    """The demo transactions as CSV, with `sentinel_share` of total_value replaced by -1;
    also the number of rows so flagged."""
    frame = make_transactions(ROWS, seed=1)
    flagged = np.random.default_rng(7).choice(
        ROWS, size=round(ROWS * sentinel_share), replace=False
    )
    frame.loc[flagged, "total_value"] = -1
    return frame.to_csv(index=False).encode(), len(flagged)


def upload(stack: PortalStack, dataset_id: int, content: bytes, name: str) -> dict[str, Any]:
    response = stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset_id)},
        files={"file": (name, content, "text/csv")},
    )
    assert response.status == 201, response.text
    return response.body


def wait_for_finished_run(
    stack: PortalStack, dataset_version_id: int, trigger: str, timeout: float = RUN_TIMEOUT
) -> dict[str, Any]:
    """The version's quality run with this trigger, once it has finished (bounded wait)."""
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        stack.check_alive()
        response = stack.api("GET", f"quality-runs/?dataset_version={dataset_version_id}")
        assert response.status == 200, response.text
        runs = response.body["results"]
        ours = [run for run in runs if run["trigger"] == trigger]
        if ours and ours[0]["finished_at"] and ours[0]["state"] in ("succeeded", "failed"):
            detail = stack.api("GET", f"quality-runs/{ours[0]['id']}/")
            assert detail.status == 200, detail.text
            return detail.body
        time.sleep(0.25)
    pytest.fail(
        f"No finished {trigger} run of dataset version {dataset_version_id} after "
        f"{timeout:.0f} s; runs: {runs}"
    )


def quality_status(stack: PortalStack, dataset_version_id: int) -> str:
    response = stack.api("GET", f"dataset-versions/{dataset_version_id}/")
    assert response.status == 200, response.text
    return str(response.body["quality_status"])


def result_named(run: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [result for result in run["results"] if result["name"] == name]
    assert len(matches) == 1, [result["name"] for result in run["results"]]
    return matches[0]


def test_a_suggested_suite_fails_the_version_with_minus_one_in_total_value(
    portal_stack: PortalStack,
) -> None:
    dataset = create_dataset(portal_stack, "e2e-quality")
    clean_csv, _ = transactions_csv()
    bad_csv, flagged_rows = transactions_csv(SENTINEL_SHARE)
    assert flagged_rows == 90

    # 1. A clean version, profiled by the worker.
    clean = upload(portal_stack, dataset["id"], clean_csv, "transactions-september.csv")
    assert clean["quality_status"] == "not_checked"  # no suite yet: nothing was started
    profiling_job = wait_for_job(portal_stack, clean["job"], timeout=60)
    assert profiling_job["state"] == "succeeded", profiling_job

    # 2. Checks suggested from its profile, saved as the dataset's suite.
    suggested = portal_stack.api("GET", f"dataset-versions/{clean['id']}/suggested-checks")
    assert suggested.status == 200, suggested.text
    assert suggested.body["dataset_version"] == clean["id"]
    checks = suggested.body["checks"]  # saved as they come
    by_name = {check["name"]: check for check in checks}
    amount_range = by_name["range:total_value"]
    assert amount_range["severity"] == "fail"
    assert amount_range["min"] is not None and -1 < amount_range["min"] <= 0

    created = portal_stack.api(
        "POST",
        "quality-suites/",
        json_body={"dataset": dataset["id"], "checks": checks, "change_note": "from v1"},
    )
    assert created.status == 201, created.text
    suite = created.body
    assert suite["version"] == 1
    assert suite["run_on_new_versions"] is True
    assert [check["name"] for check in suite["checks"]] == [check["name"] for check in checks]

    # Saving the suite checks the newest version: the data it was learned from passes.
    reference_run = wait_for_finished_run(portal_stack, clean["id"], "suite_change")
    assert (reference_run["state"], reference_run["status"]) == ("succeeded", "passed"), [
        (result["name"], result["outcome"], result["message"])
        for result in reference_run["results"]
        if result["outcome"] != "passed"
    ]
    assert reference_run["checks_passed"] == len(checks)
    assert reference_run["checks_failed"] == reference_run["checks_errored"] == 0

    # 3. The next version, with -1 in 3 % of total_value, is checked without being asked.
    bad = upload(portal_stack, dataset["id"], bad_csv, "transactions-october.csv")
    assert bad["version"] == 2
    run = wait_for_finished_run(portal_stack, bad["id"], "new_version")

    assert run["state"] == "succeeded", run["error"]  # the run itself worked...
    assert run["status"] == "failed"  # ...and the data failed the gate
    assert run["dataset_version"] == bad["id"]
    assert run["version"] == 2
    assert run["suite_version"] == 1
    assert run["row_count"] == ROWS
    assert run["checks_errored"] == 0
    assert run["checks_failed"] >= 1

    failing = result_named(run, "range:total_value")
    assert failing["outcome"] == "failed"
    assert failing["severity"] == "fail"
    assert failing["failing_count"] == flagged_rows
    assert failing["failing_fraction"] == pytest.approx(flagged_rows / ROWS)
    assert 0 < len(failing["sample_rows"]) <= 20
    assert {row["total_value"] for row in failing["sample_rows"]} == {-1}
    assert failing["distribution"] is not None

    # 4. The gate on each version, as the API shows it to retraining and reviews.
    assert quality_status(portal_stack, bad["id"]) == "failed"
    assert quality_status(portal_stack, clean["id"]) == "passed"
    failed_versions = portal_stack.api(
        "GET", f"dataset-versions/?dataset={dataset['id']}&quality_status=failed"
    )
    assert failed_versions.status == 200, failed_versions.text
    assert [version["id"] for version in failed_versions.body["results"]] == [bad["id"]]

    # The run was executed by the worker subprocess, not eagerly in the web process.
    jobs = portal_stack.api("GET", f"jobs/?project={dataset['project']}")
    assert jobs.status == 200, jobs.text
    (run_job,) = [
        job
        for job in jobs.body["results"]
        if job["job_type"] == "run_quality_suite" and job["target_id"] == run["id"]
    ]
    assert run_job["state"] == "succeeded", run_job
    results = portal_stack.query(
        "SELECT worker, task_args, status FROM django_celery_results_taskresult "
        "WHERE task_name = %s",
        ("lineage.tasks.run_job",),
    )
    ours = [row for row in results if re.search(rf"\(\s*{run_job['id']}\s*,?\s*\)", row[1] or "")]
    assert [(worker, status) for worker, _, status in ours] == [
        (portal_stack.worker_name, "SUCCESS")
    ], results
