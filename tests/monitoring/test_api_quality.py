"""The quality API: suites whose checks are validated at save time and versioned, runs that
are started with POST and read with their per-check results, the quality status on dataset
versions, suggested checks from a profile, a one-check preview, the same role rules as the
catalog, PII masked in sample rows for non-members, and list endpoints that cost a fixed
number of queries."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from lineage import governance
from lineage import services as catalog
from lineage.choices import Sensitivity
from lineage.models import Dataset, DatasetVersion, Project
from monitoring import checks as check_rules
from monitoring import services
from monitoring.models import QualityCheckResult, QualityRun, QualitySuite

pytestmark = pytest.mark.django_db

SUITES = "/api/v1/quality-suites/"
RUNS = "/api/v1/quality-runs/"
PREVIEW = "/api/v1/quality-checks/preview"
MASK = "•••• (PII)"
Inline = Callable[[], AbstractContextManager[Any]]


def suite_url(suite: QualitySuite) -> str:
    return f"{SUITES}{suite.pk}/"


def run_url(run: QualityRun) -> str:
    return f"{RUNS}{run.pk}/"


def version_url(version: DatasetVersion) -> str:
    return f"/api/v1/dataset-versions/{version.pk}/"


def suggestions_url(version: DatasetVersion) -> str:
    return f"/api/v1/dataset-versions/{version.pk}/suggested-checks"


def results_by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["name"]: result for result in body["results"]}


def listed_ids(response: Any) -> set[int]:
    return {item["id"] for item in response.data["results"]}


# Creating suites --------------------------------------------------------------------------


def test_a_contributor_creates_a_suite_with_normalised_checks(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    dataset: Dataset,
) -> None:
    response = api_client_for(contributor).post(
        SUITES,
        {
            "dataset": dataset.pk,
            "description": "Gate for the fraud model",
            "checks": [{"type": "range", "column": "total_value", "min": 0}],
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["version"] == 1
    assert response.data["dataset_name"] == "transactions"
    assert response.data["project"] == "card-fraud"
    assert response.data["checks"] == [
        {
            "name": "range:total_value",
            "type": "range",
            "severity": "fail",
            "column": "total_value",
            "min": 0,
            "max": None,
            "min_inclusive": True,
            "max_inclusive": True,
            "max_failing_fraction": 0,
        }
    ]
    suite = QualitySuite.objects.get(dataset=dataset)
    assert suite.description == "Gate for the fraud model"
    assert suite.latest is not None
    assert suite.latest.checks == response.data["checks"]
    assert suite.latest.created_by == contributor


@pytest.mark.parametrize(
    ("check", "field"),
    [
        ({"type": "range", "column": "total_value", "min": "abc"}, "checks[0].min"),
        ({"type": "checksum", "column": "total_value"}, "checks[0].type"),
        ({"type": "regex", "column": "country", "pattern": "[A-"}, "checks[0].pattern"),
        ({"type": "expression", "expression": "__import__('os')"}, "checks[0].expression"),
        ({"type": "range", "column": "total_value", "min": 5, "max": 1}, "checks[0].min"),
        ({"type": "not_null", "column": "country", "colour": "red"}, "checks[0].colour"),
    ],
)
def test_a_malformed_check_is_refused_with_its_field_named_and_nothing_is_saved(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    dataset: Dataset,
    check: dict[str, Any],
    field: str,
) -> None:
    response = api_client_for(contributor).post(
        SUITES,
        {"dataset": dataset.pk, "checks": [check]},
        format="json",
    )

    assert response.status_code == 400
    assert field in str(response.data["checks"])
    assert not QualitySuite.objects.exists()


def test_a_malformed_second_check_is_named_by_its_position(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).post(
        SUITES,
        {
            "dataset": dataset.pk,
            "checks": [
                {"type": "not_null", "column": "country"},
                {"type": "range", "column": "total_value", "max": "lots"},
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "checks[1].max" in str(response.data["checks"])
    assert not QualitySuite.objects.exists()


def test_a_dataset_has_one_suite(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    suite: QualitySuite,
    basic_checks: list[dict[str, Any]],
) -> None:
    response = api_client_for(contributor).post(
        SUITES, {"dataset": suite.dataset_id, "checks": basic_checks}, format="json"
    )

    assert response.status_code == 400
    assert "dataset" in response.data
    assert QualitySuite.objects.count() == 1
    assert suite.versions.count() == 1


def test_creating_a_suite_checks_the_latest_stored_version(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    clean_version: DatasetVersion,
    basic_checks: list[dict[str, Any]],
    inline: Inline,
) -> None:
    with inline():
        response = api_client_for(contributor).post(
            SUITES, {"dataset": clean_version.dataset_id, "checks": basic_checks}, format="json"
        )

    assert response.status_code == 201
    run = QualityRun.objects.get()
    assert (run.dataset_version, run.trigger, run.status) == (
        clean_version,
        "suite_change",
        "passed",
    )
    clean_version.refresh_from_db()
    assert clean_version.quality_status == "passed"
    assert response.data["checks"] == run.suite_version.checks


def test_a_suite_can_be_created_with_a_schedule(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).post(
        SUITES,
        {
            "dataset": dataset.pk,
            "checks": [{"type": "row_count", "min_rows": 1}],
            "schedule_kind": "cron",
            "schedule_cron": "30 2 * * 1-5",
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    assert (response.data["schedule_kind"], response.data["schedule_cron"]) == (
        "cron",
        "30 2 * * 1-5",
    )
    suite = QualitySuite.objects.get()
    assert suite.periodic_task is not None
    assert suite.periodic_task.crontab is not None
    assert suite.periodic_task.crontab.day_of_week == "1-5"


def test_a_suite_with_a_bad_cron_is_refused_and_nothing_is_saved(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).post(
        SUITES,
        {
            "dataset": dataset.pk,
            "checks": [{"type": "row_count", "min_rows": 1}],
            "schedule_kind": "cron",
            "schedule_cron": "61 * * * *",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "schedule_cron" in response.data
    # A refused request leaves nothing behind, as with a malformed check.
    assert not QualitySuite.objects.exists()


def test_a_bad_cron_on_update_changes_nothing(
    api_client_for: Callable[[User], APIClient], contributor: User, suite: QualitySuite
) -> None:
    response = api_client_for(contributor).patch(
        suite_url(suite),
        {
            "checks": [{"type": "row_count", "min_rows": 1}],
            "schedule_kind": "cron",
            "schedule_cron": "* * *",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "schedule_cron" in response.data
    suite.refresh_from_db()
    assert suite.current_version == 1
    assert suite.schedule_kind == "none"


def test_deleting_a_suite_removes_its_schedule(
    api_client_for: Callable[[User], APIClient], contributor: User, suite: QualitySuite
) -> None:
    services.set_schedule(suite, "hourly")
    suite.refresh_from_db()
    task_id = suite.periodic_task_id

    response = api_client_for(contributor).delete(suite_url(suite))

    assert response.status_code == 204
    assert not QualitySuite.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


# Changing suites --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_new_checks_make_a_new_suite_version_and_old_runs_keep_theirs(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    suite: QualitySuite,
    inline: Inline,
    method: str,
) -> None:
    client = api_client_for(contributor)
    [first_run] = QualityRun.objects.all()
    new_checks = [{"type": "row_count", "min_rows": 1_000}]

    with inline():
        response = getattr(client, method)(
            suite_url(suite),
            {"checks": new_checks, "change_note": "Only the row count for now"},
            format="json",
        )

    assert response.status_code == 200, response.data
    assert response.data["version"] == 2
    assert [check["name"] for check in response.data["checks"]] == ["row_count"]
    history = client.get(f"{suite_url(suite)}versions/").data
    assert [item["version"] for item in history] == [2, 1]
    assert history[0]["change_note"] == "Only the row count for now"
    assert history[0]["created_by"] == "carl"
    assert [check["name"] for check in history[1]["checks"]] == [
        "range:total_value",
        "not_null:transaction_id",
        "allowed_values:channel",
    ]
    assert client.get(run_url(first_run)).data["suite_version"] == 1
    second_run = QualityRun.objects.exclude(pk=first_run.pk).get()
    assert second_run.suite_version.version == 2
    assert [result["name"] for result in client.get(run_url(second_run)).data["results"]] == [
        "row_count"
    ]


def test_a_patch_without_checks_keeps_the_suite_version(
    api_client_for: Callable[[User], APIClient], contributor: User, suite: QualitySuite
) -> None:
    response = api_client_for(contributor).patch(
        suite_url(suite),
        {"description": "Checked before every training", "run_on_new_versions": False},
        format="json",
    )

    assert response.status_code == 200
    assert response.data["version"] == 1
    suite.refresh_from_db()
    assert suite.description == "Checked before every training"
    assert suite.run_on_new_versions is False
    assert suite.versions.count() == 1


def test_a_malformed_update_keeps_the_suite_as_it_was(
    api_client_for: Callable[[User], APIClient], contributor: User, suite: QualitySuite
) -> None:
    response = api_client_for(contributor).patch(
        suite_url(suite),
        {"checks": [{"type": "not_null", "column": "country", "max_null_fraction": 2}]},
        format="json",
    )

    assert response.status_code == 400
    assert "checks[0].max_null_fraction" in str(response.data["checks"])
    suite.refresh_from_db()
    assert suite.current_version == 1
    assert suite.versions.count() == 1


# Runs -------------------------------------------------------------------------------------


def test_a_run_is_started_with_post_and_its_results_read_back(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    suite: QualitySuite,
    month_with_sentinels: bytes,
    upload_version: Callable[..., DatasetVersion],
    inline: Inline,
) -> None:
    client = api_client_for(contributor)
    # Stored without its automatic run, to start one by hand.
    suite.run_on_new_versions = False
    suite.save()
    november = upload_version(suite.dataset, month_with_sentinels)
    assert november.quality_status == "not_checked"

    with inline():
        started = client.post(RUNS, {"dataset_version": november.pk}, format="json")

    assert started.status_code == 202, started.data
    assert started.data["state"] == "queued"
    assert started.data["trigger"] == "api"
    assert started.data["suite_version"] == 1
    assert started.data["job"]["job_type"] == "run_quality_suite"
    assert started.data["job"]["target_id"] == started.data["id"]
    body = client.get(f"{RUNS}{started.data['id']}/").data
    assert (body["state"], body["status"]) == ("succeeded", "failed")
    assert body["row_count"] == 2_000
    assert (body["checks_passed"], body["checks_failed"], body["checks_errored"]) == (2, 1, 0)
    results = results_by_name(body)
    assert list(results) == [
        "range:total_value",
        "not_null:transaction_id",
        "allowed_values:channel",
    ]
    broken = results["range:total_value"]
    assert broken["outcome"] == "failed"
    assert broken["failing_count"] == 60
    assert broken["failing_fraction"] == pytest.approx(0.03)
    assert broken["observed"]["min"] == -1
    assert "60 of 2,000 rows" in broken["message"]
    assert len(broken["sample_rows"]) == 20  # 60 rows fail; 20 are kept as samples
    assert {row["total_value"] for row in broken["sample_rows"]} == {-1}
    assert broken["distribution"] is not None
    passed = results["not_null:transaction_id"]
    assert (passed["outcome"], passed["failing_count"], passed["sample_rows"]) == (
        "passed",
        0,
        [],
    )
    assert client.get(version_url(november)).data["quality_status"] == "failed"


def test_the_quality_status_of_versions_is_exposed_and_filters_the_list(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    clean_version: DatasetVersion,
    failed_version: DatasetVersion,
    dataset: Dataset,
    next_clean_month: bytes,
    upload_version: Callable[..., DatasetVersion],
) -> None:
    client = api_client_for(viewer)
    december = upload_version(dataset, next_clean_month)

    assert client.get(version_url(clean_version)).data["quality_status"] == "passed"
    assert client.get(version_url(failed_version)).data["quality_status"] == "failed"
    checked_at = client.get(version_url(december)).data["quality_checked_at"]
    assert checked_at is not None
    failed = client.get("/api/v1/dataset-versions/", {"quality_status": "failed"})
    assert listed_ids(failed) == {failed_version.pk}
    passed = client.get("/api/v1/dataset-versions/", {"quality_status": "passed"})
    assert listed_ids(passed) == {clean_version.pk, december.pk}


def test_a_version_is_not_checked_until_a_run_finishes(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    suite: QualitySuite,
    month_with_sentinels: bytes,
    upload_version: Callable[..., DatasetVersion],
) -> None:
    november = upload_version(suite.dataset, month_with_sentinels, run_jobs=False)

    run = QualityRun.objects.get(dataset_version=november)
    assert (run.state, run.status) == ("queued", "not_checked")
    body = api_client_for(contributor).get(version_url(november)).data
    assert body["quality_status"] == "not_checked"
    assert body["quality_checked_at"] is None


def test_the_runs_list_filters_by_status_and_dataset(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    clean_version: DatasetVersion,
    failed_version: DatasetVersion,
) -> None:
    client = api_client_for(viewer)
    failed_run = QualityRun.objects.get(dataset_version=failed_version)
    passed_run = QualityRun.objects.get(dataset_version=clean_version)

    assert listed_ids(client.get(RUNS, {"status": "failed"})) == {failed_run.pk}
    assert listed_ids(client.get(RUNS, {"dataset_version": clean_version.pk})) == {passed_run.pk}
    assert listed_ids(client.get(RUNS, {"dataset": clean_version.dataset_id})) == {
        failed_run.pk,
        passed_run.pk,
    }
    assert listed_ids(client.get(RUNS, {"trigger": "new_version"})) == {failed_run.pk}


def test_a_run_needs_a_suite(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    clean_version: DatasetVersion,
) -> None:
    response = api_client_for(contributor).post(
        RUNS, {"dataset_version": clean_version.pk}, format="json"
    )

    assert response.status_code == 400
    assert "no quality suite" in str(response.data["dataset"])
    assert not QualityRun.objects.exists()


def test_a_suite_without_checks_runs_nothing_and_passes_nothing(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    clean_version: DatasetVersion,
    upload_version: Callable[..., DatasetVersion],
    next_clean_month: bytes,
) -> None:
    client = api_client_for(contributor)
    created = client.post(
        SUITES, {"dataset": clean_version.dataset_id, "checks": []}, format="json"
    )
    assert created.status_code == 201

    response = client.post(RUNS, {"dataset_version": clean_version.pk}, format="json")
    later = upload_version(clean_version.dataset, next_clean_month)

    assert response.status_code == 400
    assert "no checks" in str(response.data["dataset"])
    assert not QualityRun.objects.exists()
    later.refresh_from_db()
    assert later.quality_status == "not_checked"


# Bad input --------------------------------------------------------------------------------


def test_a_run_on_an_external_version_is_refused(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    suite: QualitySuite,
) -> None:
    elsewhere = catalog.create_external_dataset_version(
        suite.dataset, "s3://fraud-lake/transactions/2026-10.parquet", user=contributor
    )

    response = api_client_for(contributor).post(
        RUNS, {"dataset_version": elsewhere.pk}, format="json"
    )

    assert response.status_code == 400
    assert "dataset_version" in response.data
    assert "stored elsewhere" in str(response.data["dataset_version"])
    assert not QualityRun.objects.filter(dataset_version=elsewhere).exists()


def test_a_run_on_destroyed_data_fails_and_says_why(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    owner: User,
    suite: QualitySuite,
    clean_version: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)
    with inline():
        governance.destroy_dataset_version(clean_version, owner, "Retention period over")

    with inline():
        started = client.post(RUNS, {"dataset_version": clean_version.pk}, format="json")

    assert started.status_code == 202
    body = client.get(f"{RUNS}{started.data['id']}/").data
    assert (body["state"], body["status"]) == ("failed", "failed")
    assert "destroyed" in body["error"]
    assert body["results"] == []
    job = client.get(f"/api/v1/jobs/{started.data['job']['id']}/").data
    assert job["state"] == "failed"
    assert "destroyed" in job["error"]
    assert client.get(version_url(clean_version)).data["quality_status"] == "failed"


def test_destroying_a_version_drops_the_sample_rows_of_its_results(
    owner: User, failed_version: DatasetVersion, inline: Inline
) -> None:
    results = QualityCheckResult.objects.filter(run__dataset_version=failed_version)
    assert any(result.sample_rows for result in results)

    with inline():
        governance.destroy_dataset_version(failed_version, owner, "Contains customer data")

    assert [result.sample_rows for result in results.all()] == [[], [], []]
    assert [result.distribution for result in results.all()] == [None, None, None]
    # The verdicts stay: what was found is history, only the copied data goes.
    assert [result.failing_count for result in results.all()] == [60, 0, 0]


def test_a_check_on_a_missing_column_fails_and_the_others_still_run(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    clean_version: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)
    with inline():
        created = client.post(
            SUITES,
            {
                "dataset": clean_version.dataset_id,
                "checks": [
                    {"type": "not_null", "column": "merchant"},
                    {"type": "not_null", "column": "transaction_id"},
                ],
            },
            format="json",
        )
    assert created.status_code == 201

    run = QualityRun.objects.get()
    body = client.get(run_url(run)).data
    assert (body["state"], body["status"]) == ("succeeded", "failed")
    missing, present = body["results"]
    assert missing["outcome"] == "failed"
    assert "does not exist" in missing["message"]
    assert "merchant" in missing["message"]
    assert present["outcome"] == "passed"
    assert (body["checks_failed"], body["checks_passed"]) == (1, 1)


def test_a_check_that_cannot_be_evaluated_is_errored_and_warns(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    clean_version: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)
    with inline():
        client.post(
            SUITES,
            {
                "dataset": clean_version.dataset_id,
                "checks": [
                    {"type": "range", "column": "country", "min": 0},
                    {"type": "not_null", "column": "transaction_id"},
                ],
            },
            format="json",
        )

    body = client.get(run_url(QualityRun.objects.get())).data
    errored, passed = body["results"]
    assert errored["outcome"] == "errored"
    assert errored["state"] == "errored"
    assert errored["message"]
    assert passed["outcome"] == "passed"
    assert (body["checks_errored"], body["checks_failed"], body["checks_passed"]) == (1, 0, 1)
    assert body["status"] == "warning"
    assert client.get(version_url(clean_version)).data["quality_status"] == "warning"


# Suggestions and previews -----------------------------------------------------------------


def test_suggested_checks_come_from_the_profile_and_are_valid_checks(
    api_client_for: Callable[[User], APIClient], viewer: User, clean_version: DatasetVersion
) -> None:
    response = api_client_for(viewer).get(suggestions_url(clean_version))

    assert response.status_code == 200
    assert response.data["dataset_version"] == clean_version.pk
    suggested = response.data["checks"]
    assert len(suggested) > 10
    for check in suggested:
        assert check_rules.normalise_check(check) == check
        assert check["description"]  # what was observed
    names = {check["name"] for check in suggested}
    assert {"range:total_value", "unique:transaction_id", "allowed_values:channel"} <= names


def test_a_version_without_a_profile_has_no_suggestions_yet(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    dataset: Dataset,
    clean_month: bytes,
    upload_version: Callable[..., DatasetVersion],
) -> None:
    unprofiled = upload_version(dataset, clean_month, run_jobs=False)

    response = api_client_for(contributor).get(suggestions_url(unprofiled))

    assert response.status_code == 409
    assert "no profile yet" in str(response.data["dataset_version"])


def test_an_outsider_gets_no_suggestions_from_confidential_data(
    api_client_for: Callable[[User], APIClient], outsider: User, clean_version: DatasetVersion
) -> None:
    assert api_client_for(outsider).get(suggestions_url(clean_version)).status_code == 404


def test_a_preview_runs_one_check_and_stores_nothing(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    failed_version: DatasetVersion,
) -> None:
    runs_before = QualityRun.objects.count()

    response = api_client_for(contributor).post(
        PREVIEW,
        {
            "dataset_version": failed_version.pk,
            "check": {"type": "sentinel", "column": "total_value", "values": [-1]},
        },
        format="json",
    )

    assert response.status_code == 200, response.data
    assert response.data["name"] == "sentinel:total_value"
    assert response.data["outcome"] == "failed"
    assert response.data["failing_count"] == 60
    assert response.data["version"] == failed_version.version
    assert response.data["check"]["values"] == [-1]
    assert {row["total_value"] for row in response.data["sample_rows"]} == {-1}
    assert QualityRun.objects.count() == runs_before
    assert QualityCheckResult.objects.filter(check_type="sentinel").count() == 0


def test_a_preview_without_a_version_uses_the_latest_stored_one(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    failed_version: DatasetVersion,
) -> None:
    response = api_client_for(contributor).post(
        PREVIEW,
        {
            "dataset": failed_version.dataset_id,
            "check": {"type": "range", "column": "total_value", "min": 0},
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.data["dataset_version"] == failed_version.pk
    assert response.data["failing_count"] == 60


def test_a_malformed_preview_names_the_field(
    api_client_for: Callable[[User], APIClient], contributor: User, clean_version: DatasetVersion
) -> None:
    response = api_client_for(contributor).post(
        PREVIEW,
        {
            "dataset_version": clean_version.pk,
            "check": {"type": "range", "column": "total_value", "min": "abc"},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "check.min" in response.data
    assert not QualityRun.objects.exists()


def test_an_outsider_cannot_preview_on_confidential_data(
    api_client_for: Callable[[User], APIClient], outsider: User, clean_version: DatasetVersion
) -> None:
    response = api_client_for(outsider).post(
        PREVIEW,
        {
            "dataset_version": clean_version.pk,
            "check": {"type": "not_null", "column": "country"},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "dataset_version" in response.data
    assert "country" not in str(response.data)


# Who may do what --------------------------------------------------------------------------


def test_a_viewer_cannot_create_a_suite(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    basic_checks: list[dict[str, Any]],
) -> None:
    response = api_client_for(viewer).post(
        SUITES, {"dataset": dataset.pk, "checks": basic_checks}, format="json"
    )

    assert response.status_code == 403
    assert not QualitySuite.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_viewer_cannot_change_a_suite(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    suite: QualitySuite,
    method: str,
) -> None:
    response = getattr(api_client_for(viewer), method)(
        suite_url(suite), {"checks": [{"type": "row_count", "min_rows": 1}]}, format="json"
    )

    assert response.status_code == 403
    suite.refresh_from_db()
    assert suite.current_version == 1


def test_a_viewer_cannot_delete_a_suite(
    api_client_for: Callable[[User], APIClient], viewer: User, suite: QualitySuite
) -> None:
    assert api_client_for(viewer).delete(suite_url(suite)).status_code == 403
    assert QualitySuite.objects.filter(pk=suite.pk).exists()


def test_a_viewer_cannot_start_a_run(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    suite: QualitySuite,
    clean_version: DatasetVersion,
) -> None:
    runs_before = QualityRun.objects.count()

    response = api_client_for(viewer).post(RUNS, {"dataset_version": clean_version.pk})

    assert response.status_code == 403
    assert QualityRun.objects.count() == runs_before


def test_a_viewer_reads_suites_and_runs(
    api_client_for: Callable[[User], APIClient], viewer: User, failed_version: DatasetVersion
) -> None:
    client = api_client_for(viewer)
    run = QualityRun.objects.get(dataset_version=failed_version)

    assert client.get(suite_url(failed_version.dataset.quality_suite)).status_code == 200
    body = client.get(run_url(run)).data
    # A member sees the failing rows as they are.
    assert MASK not in str(body["results"][0]["sample_rows"])


def test_an_outsider_does_not_see_a_confidential_datasets_suite_or_runs(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    failed_version: DatasetVersion,
) -> None:
    client = api_client_for(outsider)
    suite = failed_version.dataset.quality_suite
    run = QualityRun.objects.get(dataset_version=failed_version)

    assert client.get(suite_url(suite)).status_code == 404
    assert client.get(f"{suite_url(suite)}versions/").status_code == 404
    assert client.get(run_url(run)).status_code == 404
    assert client.patch(suite_url(suite), {"description": "x"}, format="json").status_code == 404
    assert client.get(SUITES).data["results"] == []
    assert client.get(RUNS).data["results"] == []
    assert client.get(RUNS, {"dataset_version": failed_version.pk}).data["results"] == []


def test_a_non_member_follows_the_job_of_a_run_on_data_they_may_see(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    shared_failed_run: QualityRun,
) -> None:
    job = services.job_of(shared_failed_run)

    response = api_client_for(outsider).get(f"/api/v1/jobs/{job.pk}/")

    assert response.status_code == 200
    assert response.data["job_type"] == "run_quality_suite"


def test_an_outsider_cannot_follow_the_job_of_a_run_on_confidential_data(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    failed_version: DatasetVersion,
) -> None:
    job = services.job_of(QualityRun.objects.get(dataset_version=failed_version))

    assert api_client_for(outsider).get(f"/api/v1/jobs/{job.pk}/").status_code == 404


@pytest.mark.parametrize("url", [SUITES, RUNS])
def test_the_browsable_api_does_not_name_a_confidential_dataset_to_an_outsider(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    failed_version: DatasetVersion,
    url: str,
) -> None:
    response = api_client_for(outsider).get(url, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    # Neither in the (empty) results nor among the choices of the filter form.
    assert "transactions" not in response.content.decode()


def test_an_outsider_cannot_start_a_run_on_a_confidential_version(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    suite: QualitySuite,
    clean_version: DatasetVersion,
) -> None:
    runs_before = QualityRun.objects.count()

    response = api_client_for(outsider).post(
        RUNS, {"dataset_version": clean_version.pk}, format="json"
    )

    assert response.status_code == 400
    assert "dataset_version" in response.data
    assert QualityRun.objects.count() == runs_before


def test_a_member_of_another_project_cannot_give_itself_a_suite_here(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    internal_dataset: Dataset,
    basic_checks: list[dict[str, Any]],
) -> None:
    """The outsider is admin of its own project; that gives it no role in this one."""
    client = api_client_for(outsider)

    response = client.post(
        SUITES, {"dataset": internal_dataset.pk, "checks": basic_checks}, format="json"
    )

    assert response.status_code == 403
    assert not QualitySuite.objects.exists()


def test_another_projects_suite_cannot_be_changed_from_here(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    outsider: User,
    other_project: Project,
) -> None:
    customers = Dataset.objects.create(
        project=other_project, name="customers", owner=outsider, sensitivity=Sensitivity.INTERNAL
    )
    theirs = services.save_suite(customers, [{"type": "row_count", "min_rows": 1}], user=outsider)

    response = api_client_for(contributor).patch(
        suite_url(theirs), {"checks": [{"type": "row_count", "min_rows": 5}]}, format="json"
    )

    assert response.status_code == 403
    theirs.refresh_from_db()
    assert theirs.current_version == 1


# PII in sample rows -----------------------------------------------------------------------


def test_a_non_member_sees_an_internal_datasets_runs_with_pii_masked(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    shared_failed_run: QualityRun,
) -> None:
    client = api_client_for(outsider)

    assert shared_failed_run.pk in listed_ids(client.get(RUNS))
    body = client.get(run_url(shared_failed_run)).data
    results = results_by_name(body)
    rows = results["range:total_value"]["sample_rows"]
    assert rows
    assert {row["merchant_category"] for row in rows} == {MASK}
    # Other columns are not PII: the reviewer still sees what is wrong.
    assert {row["total_value"] for row in rows} == {-1}
    assert all(row["country"] != MASK for row in rows)
    categories = results["allowed_values:merchant_category"]
    assert {row["merchant_category"] for row in categories["sample_rows"]} == {MASK}
    assert categories["observed"]["unexpected_values"] == MASK
    assert categories["distribution"] is None


def test_a_non_member_does_not_read_pii_values_in_a_results_message(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    shared_failed_run: QualityRun,
) -> None:
    stored = QualityCheckResult.objects.get(
        run=shared_failed_run, name="allowed_values:merchant_category"
    )
    unexpected = stored.observed["unexpected_values"]
    assert unexpected, "the run needs merchant categories outside the allowed list"

    body = api_client_for(outsider).get(run_url(shared_failed_run)).data

    result = results_by_name(body)["allowed_values:merchant_category"]
    assert result["outcome"] == "failed"
    assert result["failing_count"] == stored.failing_count
    # The masked observed values must not be readable in the sentence beside them.
    leaked = [value for value in unexpected if value in result["message"]]
    assert leaked == []


def test_a_member_sees_the_pii_columns_raw(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    shared_failed_run: QualityRun,
) -> None:
    body = api_client_for(viewer).get(run_url(shared_failed_run)).data

    results = results_by_name(body)
    rows = results["range:total_value"]["sample_rows"]
    stored = QualityCheckResult.objects.get(run=shared_failed_run, name="range:total_value")
    assert rows == stored.sample_rows
    assert MASK not in {row["merchant_category"] for row in rows}
    categories = results["allowed_values:merchant_category"]
    assert "electronics" in categories["observed"]["unexpected_values"]
    assert categories["distribution"] is not None


def test_a_preview_masks_pii_for_a_non_member(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    shared_failed_run: QualityRun,
) -> None:
    response = api_client_for(outsider).post(
        PREVIEW,
        {
            "dataset_version": shared_failed_run.dataset_version_id,
            "check": {"type": "range", "column": "total_value", "min": 0},
        },
        format="json",
    )

    assert response.status_code == 200
    assert {row["merchant_category"] for row in response.data["sample_rows"]} == {MASK}


# Query counts -----------------------------------------------------------------------------


def queries_for(client: APIClient, url: str, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert response.data["count"] == expected_rows
    return len(captured.captured_queries)


@pytest.fixture
def make_suites(
    project: Project, contributor: User, upload_version: Callable[..., DatasetVersion]
) -> Callable[[int], None]:
    """Datasets with a small stored version and a two-version suite each."""
    made = 0

    def make(count: int) -> None:
        nonlocal made
        for _ in range(count):
            made += 1
            dataset = Dataset.objects.create(
                project=project, name=f"feed-{made}", owner=contributor
            )
            upload_version(dataset, b"id,amount\n1,2.5\n2,3.5\n", run_jobs=False)
            services.save_suite(dataset, [{"type": "row_count", "min_rows": 1}], user=contributor)
            services.save_suite(dataset, [{"type": "row_count", "min_rows": 2}], user=contributor)

    return make


def test_the_suites_list_costs_the_same_queries_for_2_or_10_suites(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    make_suites: Callable[[int], None],
) -> None:
    client = api_client_for(contributor)
    make_suites(2)
    with_two = queries_for(client, SUITES, 2)

    make_suites(8)

    assert queries_for(client, SUITES, 10) == with_two


def test_the_runs_list_costs_the_same_queries_for_2_or_10_runs(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    make_suites: Callable[[int], None],
) -> None:
    client = api_client_for(contributor)
    make_suites(1)  # two queued runs: one per suite version
    with_two = queries_for(client, RUNS, 2)

    make_suites(4)

    assert queries_for(client, RUNS, 10) == with_two
