"""An upload through the API is profiled by a real Celery worker process, over Redis."""

from __future__ import annotations

import re
import statistics

import pytest

from tests.portal_stack import PortalStack, create_dataset, version_count, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.services]

ROWS = 3000
CITIES = ["paris"] * 5 + ["lyon"] * 3 + ["nice"] * 2  # 50 %, 30 %, 20 % of the rows


def build_csv() -> tuple[bytes, list[float]]:
    lines = ["id,amount,city"]
    amounts = []
    for index in range(ROWS):
        amount = (index % 100) * 1.5 + 0.25
        amounts.append(amount)
        lines.append(f"{index + 1},{amount},{CITIES[index % 10]}")
    return ("\n".join(lines) + "\n").encode(), amounts


def column(profile: dict, name: str) -> dict:
    return next(entry for entry in profile["columns"] if entry["name"] == name)


def test_a_worker_profiles_an_uploaded_csv(portal_stack: PortalStack) -> None:
    dataset = create_dataset(portal_stack, "e2e-profile")
    content, amounts = build_csv()

    created = portal_stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset["id"]), "description": "built by the e2e test"},
        files={"file": ("payments.csv", content, "text/csv")},
    )

    assert created.status == 201, created.text
    assert created.body["version"] == 1
    assert created.body["row_count"] == ROWS
    job_id = created.body["job"]
    assert isinstance(job_id, int)

    job = wait_for_job(portal_stack, job_id, timeout=60)
    assert job["state"] == "succeeded", job
    assert job["progress"] == 100
    assert job["attempts"] == 1
    assert job["started_at"] and job["finished_at"]

    version = portal_stack.api("GET", f"dataset-versions/{created.body['id']}/")
    assert version.status == 200, version.text
    assert version.body["profile_status"] == "succeeded"
    profile = version.body["profile"]
    assert profile["row_count"] == ROWS
    assert profile["column_count"] == 3
    assert [entry["name"] for entry in profile["columns"]] == ["id", "amount", "city"]

    amount = column(profile, "amount")
    assert amount["kind"] == "numeric"
    assert amount["count"] == ROWS
    assert amount["min"] == pytest.approx(0.25)
    assert amount["max"] == pytest.approx(148.75)
    assert amount["mean"] == pytest.approx(statistics.fmean(amounts))
    assert sum(amount["histogram"]["counts"]) == ROWS

    identifier = column(profile, "id")
    assert (identifier["min"], identifier["max"], identifier["distinct"]) == (1, ROWS, ROWS)

    city = column(profile, "city")
    assert city["distinct"] == 3
    assert city["top_values"] == [
        {"value": "paris", "count": 1500},
        {"value": "lyon", "count": 900},
        {"value": "nice", "count": 600},
    ]
    assert city["other_count"] == 0

    # The job ran in the subprocess worker (not eagerly in the web process): Celery's result
    # row names that worker, and the task's argument is this job.
    results = portal_stack.query(
        "SELECT worker, task_args, status FROM django_celery_results_taskresult "
        "WHERE task_name = %s",
        ("lineage.tasks.run_job",),
    )
    ours = [row for row in results if re.search(rf"\(\s*{job_id}\s*,?\s*\)", row[1] or "")]
    assert ours, f"no Celery result for job {job_id} among {results}"
    assert [(worker, status) for worker, _, status in ours] == [
        (portal_stack.worker_name, "SUCCESS")
    ]


def test_a_malformed_csv_is_refused_naming_the_bad_line_and_creates_no_version(
    portal_stack: PortalStack,
) -> None:
    dataset = create_dataset(portal_stack, "e2e-malformed")
    before = version_count(portal_stack, dataset["id"])
    content = b"id,amount,city\n1,2.5,paris\n2,3.5\n3,4.5,lyon\n"

    response = portal_stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset["id"])},
        files={"file": ("broken.csv", content, "text/csv")},
    )

    assert response.status == 400, response.text
    assert list(response.body) == ["file"], response.body
    (message,) = response.body["file"]
    assert "Line 3 has 2 fields but the header has 3" in message, message
    assert version_count(portal_stack, dataset["id"]) == before == 0
    jobs = portal_stack.api("GET", f"jobs/?project={dataset['project']}")
    assert jobs.status == 200, jobs.text
    assert jobs.body["count"] == 0
