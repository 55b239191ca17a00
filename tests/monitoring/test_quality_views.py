"""The quality pages: a dataset's suite, a run's results, suggestions and the check editor
render for members with their status words; viewers read but change nothing; outsiders do
not see confidential data at all; the editor saves valid checks as a new suite version,
keeps invalid ones out with the error on the field, previews without saving and refuses a
stale form; suggestions are accepted as picked; schedules are set from the settings form;
and PII in sample rows is masked for non-members."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from lineage import governance
from lineage.models import Dataset, DatasetVersion, Project
from monitoring import services
from monitoring.models import QualityRun, QualitySuite

pytestmark = pytest.mark.django_db

MASK = "•••• (PII)"
Inline = Callable[[], AbstractContextManager[Any]]


def signed_in(user: User) -> Client:
    client = Client(HTTP_REFERER="http://testserver/")
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def suite_page(dataset: Dataset) -> str:
    return reverse("quality-suite", args=[dataset.pk])


def add_check_page(dataset: Dataset, check_type: str = "range") -> str:
    return reverse("quality-check-add", args=[dataset.pk]) + f"?type={check_type}"


def range_form(**changes: str) -> dict[str, str]:
    """The range check form as a person fills it in: total_value from 0 to 100,000."""
    data = {
        "name": "",
        "severity": "fail",
        "description": "",
        "column": "total_value",
        "min": "0",
        "max": "100000",
        "min_inclusive": "on",
        "max_inclusive": "on",
        "max_failing_fraction": "0",
        "suite_version": "1",
        "action": "save",
    }
    data.update(changes)
    return data


def current_checks(dataset: Dataset) -> list[dict[str, Any]]:
    suite = QualitySuite.objects.get(dataset=dataset)
    assert suite.latest is not None
    return suite.latest.checks


# Pages render for members -----------------------------------------------------------------


def test_the_suite_page_shows_checks_runs_and_the_gate(
    contributor: User, clean_version: DatasetVersion, failed_version: DatasetVersion
) -> None:
    response = signed_in(contributor).get(suite_page(failed_version.dataset))

    assert response.status_code == 200
    html = response.content.decode()
    assert "range:total_value" in html
    assert "total_value between 0 and 100,000" in html
    assert 'class="badge badge-bad" title="Failed">Failed<' in html
    assert ">Passed<" in html
    assert "quality failed" in html  # the newest version's status, in words
    assert f"Run on v{failed_version.version}" in html
    assert reverse("quality-check-add", args=[failed_version.dataset_id]) in html
    assert "Save settings" in html
    # The pass/fail grid of checks x versions has a cell for each check of each version.
    assert response.context["grid_figure"] is not None


def test_a_dataset_without_a_suite_says_what_to_do_next(
    contributor: User, clean_version: DatasetVersion
) -> None:
    response = signed_in(contributor).get(suite_page(clean_version.dataset))

    assert response.status_code == 200
    assert "No quality suite yet" in response.content.decode()
    assert reverse("quality-suggest", args=[clean_version.dataset_id]) in response.content.decode()


def test_the_run_page_shows_each_checks_result_and_the_failing_rows(
    contributor: User, failed_version: DatasetVersion
) -> None:
    run = QualityRun.objects.get(dataset_version=failed_version)

    response = signed_in(contributor).get(reverse("quality-run", args=[run.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert ">Failed<" in html
    assert ">Passed<" in html
    assert "1 failed · 0 warnings · 0 errored · 2 passed" in html
    assert "60 of 2,000 rows (3%) are outside the range" in html
    assert "First 20 failing rows" in html
    [failing] = [item for item in response.context["results"] if item["sample_rows"]]
    assert failing["result"].name == "range:total_value"
    assert {row["total_value"] for row in failing["sample_rows"]} == {-1}
    assert failing["figure"] is not None


def test_the_run_page_of_a_run_on_destroyed_data_says_why(
    contributor: User,
    owner: User,
    suite: QualitySuite,
    clean_version: DatasetVersion,
    inline: Inline,
) -> None:
    with inline():
        governance.destroy_dataset_version(clean_version, owner, "Retention period over")
    with inline():
        run = services.start_quality_run(clean_version, user=contributor, trigger="manual")

    html = signed_in(contributor).get(reverse("quality-run", args=[run.pk])).content.decode()

    assert "The run could not check the data" in html
    assert "destroyed" in html
    assert "Retry" in html


def test_the_suggestion_page_lists_checks_with_their_reasons(
    contributor: User, clean_version: DatasetVersion
) -> None:
    response = signed_in(contributor).get(
        reverse("quality-suggest", args=[clean_version.dataset_id])
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Checks learned from v1" in html
    assert 'value="range:total_value"' in html
    assert 'value="unique:transaction_id"' in html
    assert "Observed" in html
    assert "Add selected checks to the suite" in html


def test_the_suggestion_page_explains_a_missing_profile(
    contributor: User,
    dataset: Dataset,
    clean_month: bytes,
    upload_version: Callable[..., DatasetVersion],
) -> None:
    upload_version(dataset, clean_month, run_jobs=False)

    response = signed_in(contributor).get(reverse("quality-suggest", args=[dataset.pk]))

    assert response.status_code == 200
    assert "has no profile yet" in response.content.decode()


def test_the_check_form_renders_the_types_parameters(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).get(add_check_page(suite.dataset))

    assert response.status_code == 200
    html = response.content.decode()
    assert "New range check" in html
    for field in ("column", "min", "max", "min_inclusive", "max_failing_fraction"):
        assert f'name="{field}"' in html
    assert '<option value="total_value">' in html
    assert 'name="suite_version" value="1"' in html


def test_the_check_form_refuses_an_unknown_type(contributor: User, suite: QualitySuite) -> None:
    response = signed_in(contributor).get(add_check_page(suite.dataset, "checksum"))

    assert response.status_code == 404


def test_the_edit_form_is_filled_in_with_the_check(contributor: User, suite: QualitySuite) -> None:
    response = signed_in(contributor).get(reverse("quality-check-edit", args=[suite.dataset_id, 2]))

    assert response.status_code == 200
    assert "Edit allowed_values:channel" in response.content.decode()
    assert "contactless" in response.content.decode()


def test_the_overview_lists_suites_and_runs(viewer: User, failed_version: DatasetVersion) -> None:
    response = signed_in(viewer).get(reverse("quality-overview"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "transactions" in html
    assert ">Failed<" in html


# Viewers read, they do not change ---------------------------------------------------------


def test_a_viewer_sees_the_suite_without_edit_buttons(
    viewer: User, failed_version: DatasetVersion
) -> None:
    dataset = failed_version.dataset

    response = signed_in(viewer).get(suite_page(dataset))

    assert response.status_code == 200
    html = response.content.decode()
    assert "range:total_value" in html
    assert ">Failed<" in html
    assert "Run on v" not in html
    assert reverse("quality-check-add", args=[dataset.pk]) not in html
    assert reverse("quality-check-edit", args=[dataset.pk, 0]) not in html
    assert reverse("quality-check-delete", args=[dataset.pk, 0]) not in html
    assert "Save settings" not in html
    assert "Suggest checks" not in html


def test_a_viewer_sees_no_run_again_button(viewer: User, failed_version: DatasetVersion) -> None:
    run = QualityRun.objects.get(dataset_version=failed_version)

    response = signed_in(viewer).get(reverse("quality-run", args=[run.pk]))

    assert response.status_code == 200
    assert "Run again" not in response.content.decode()


def test_a_viewer_sees_suggestions_but_cannot_accept_them(
    viewer: User, clean_version: DatasetVersion
) -> None:
    url = reverse("quality-suggest", args=[clean_version.dataset_id])
    client = signed_in(viewer)

    page = client.get(url)
    accepted = client.post(url, {"version": "1", "accept": ["range:total_value"]})

    assert page.status_code == 200
    assert "Add selected checks to the suite" not in page.content.decode()
    assert accepted.status_code == 403
    assert not QualitySuite.objects.exists()


@pytest.mark.parametrize(
    ("name", "args", "data"),
    [
        ("quality-check-add", [], range_form()),
        ("quality-check-edit", [0], range_form(max="5")),
        ("quality-check-delete", [0], {"suite_version": "1"}),
        ("quality-run-now", [], {}),
        ("quality-settings", [], {"schedule_kind": "hourly", "description": "x"}),
    ],
)
def test_a_viewer_cannot_change_a_suite_from_the_pages(
    viewer: User, suite: QualitySuite, name: str, args: list[int], data: dict[str, str]
) -> None:
    runs_before = QualityRun.objects.count()
    url = reverse(name, args=[suite.dataset_id, *args])
    if name == "quality-check-add":
        url += "?type=range"

    response = signed_in(viewer).post(url, data)

    assert response.status_code == 403
    suite.refresh_from_db()
    assert suite.current_version == 1
    assert suite.schedule_kind == "none"
    assert suite.description == ""
    assert QualityRun.objects.count() == runs_before


def test_a_viewer_cannot_open_the_check_editor(viewer: User, suite: QualitySuite) -> None:
    assert signed_in(viewer).get(add_check_page(suite.dataset)).status_code == 403


# Outsiders do not see confidential data ---------------------------------------------------


def test_an_outsider_gets_404_from_a_confidential_datasets_quality_pages(
    outsider: User, other_project: Project, failed_version: DatasetVersion
) -> None:
    dataset = failed_version.dataset
    run = QualityRun.objects.get(dataset_version=failed_version)
    client = signed_in(outsider)

    for url in (
        suite_page(dataset),
        reverse("quality-run", args=[run.pk]),
        reverse("quality-suggest", args=[dataset.pk]),
        add_check_page(dataset),
        reverse("quality-check-edit", args=[dataset.pk, 0]),
        reverse("quality-suite-version", args=[dataset.pk, 1]),
        reverse("quality-version-runs", args=[dataset.pk, failed_version.version]),
    ):
        assert client.get(url).status_code == 404, url
    for url, data in (
        (reverse("quality-run-now", args=[dataset.pk]), {}),
        (reverse("quality-check-delete", args=[dataset.pk, 0]), {"suite_version": "1"}),
        (reverse("quality-settings", args=[dataset.pk]), {"schedule_kind": "hourly"}),
        (reverse("quality-check-preview-page", args=[dataset.pk, "range"]), range_form()),
        (add_check_page(dataset), range_form()),
    ):
        assert client.post(url, data).status_code == 404, url


def test_the_overview_does_not_name_a_confidential_dataset_to_an_outsider(
    outsider: User, other_project: Project, failed_version: DatasetVersion
) -> None:
    response = signed_in(outsider).get(reverse("quality-overview"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "No quality suite yet" in html
    assert "No runs yet." in html
    # Not in the tables, and not in the filter form's choices either.
    assert "transactions" not in html


# The check editor -------------------------------------------------------------------------


def test_adding_a_check_saves_a_new_suite_version(
    contributor: User, suite: QualitySuite, inline: Inline
) -> None:
    with inline():
        response = signed_in(contributor).post(
            add_check_page(suite.dataset, "sentinel"),
            {
                "name": "",
                "severity": "fail",
                "description": "Field agents' follow-up flag",
                "column": "total_value",
                "values": "-1\n9999",
                "max_failing_fraction": "0",
                "suite_version": "1",
                "action": "save",
            },
        )

    assert response.status_code == 302
    assert response["Location"] == suite_page(suite.dataset)
    suite.refresh_from_db()
    assert suite.current_version == 2
    added = current_checks(suite.dataset)[-1]
    assert added == {
        "name": "sentinel:total_value",
        "type": "sentinel",
        "severity": "fail",
        "description": "Field agents' follow-up flag",
        "column": "total_value",
        "values": [-1, 9999],
        "max_failing_fraction": 0,
    }
    assert suite.latest is not None
    assert suite.latest.change_note == "Added sentinel:total_value"
    assert "Check sentinel:total_value saved." in messages_of(response)
    # Saved checks run on the latest stored version at once.
    run = QualityRun.objects.get(suite_version__version=2)
    assert run.results.get(name="sentinel:total_value").outcome == "passed"


def test_the_first_check_added_creates_the_suite(
    contributor: User, clean_version: DatasetVersion
) -> None:
    response = signed_in(contributor).post(
        add_check_page(clean_version.dataset), range_form(suite_version="0")
    )

    assert response.status_code == 302
    suite = QualitySuite.objects.get(dataset=clean_version.dataset)
    assert suite.current_version == 1
    assert [check["name"] for check in current_checks(clean_version.dataset)] == [
        "range:total_value"
    ]


def test_editing_a_check_replaces_it_in_a_new_version(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).post(
        reverse("quality-check-edit", args=[suite.dataset_id, 0]), range_form(max="5000")
    )

    assert response.status_code == 302
    checks = current_checks(suite.dataset)
    assert [check["name"] for check in checks] == [
        "range:total_value",
        "not_null:transaction_id",
        "allowed_values:channel",
    ]
    assert checks[0]["max"] == 5000


def test_a_bad_value_is_shown_on_its_field_and_nothing_is_saved(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).post(
        add_check_page(suite.dataset), range_form(min="500", max="10")
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "must not be greater than max" in form.errors["min"][0]
    html = response.content.decode()
    assert 'class="field has-error"' in html
    assert "must not be greater than max" in html
    suite.refresh_from_db()
    assert suite.current_version == 1


def test_a_value_that_is_not_a_number_is_refused_by_the_form(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).post(add_check_page(suite.dataset), range_form(min="abc"))

    assert response.status_code == 200
    assert "min" in response.context["form"].errors
    suite.refresh_from_db()
    assert suite.current_version == 1


def test_the_preview_button_shows_the_result_and_saves_nothing(
    contributor: User, failed_version: DatasetVersion
) -> None:
    suite = failed_version.dataset.quality_suite
    runs_before = QualityRun.objects.count()

    response = signed_in(contributor).post(
        add_check_page(failed_version.dataset), range_form(action="preview")
    )

    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview["outcome"], preview["failing_count"]) == ("failed", 60)
    assert preview["version"] == failed_version
    html = response.content.decode()
    assert "Failing rows" in html
    assert "60 of 2,000 rows (3%) are outside the range" in html
    suite.refresh_from_db()
    assert suite.current_version == 1
    assert QualityRun.objects.count() == runs_before


def test_the_live_preview_returns_a_fragment_with_the_failing_count(
    viewer: User, failed_version: DatasetVersion
) -> None:
    runs_before = QualityRun.objects.count()

    response = signed_in(viewer).post(
        reverse("quality-check-preview-page", args=[failed_version.dataset_id, "sentinel"]),
        {"severity": "fail", "column": "total_value", "values": "-1"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert ">Failed<" in html
    assert "<dt>Failing rows</dt><dd>60 (3" in html
    assert "First 20 failing rows" in html
    assert QualityRun.objects.count() == runs_before


def test_the_live_preview_names_what_is_wrong_with_the_check(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).post(
        reverse("quality-check-preview-page", args=[suite.dataset_id, "range"]),
        range_form(min="500", max="10"),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "min: " in html
    assert "must not be greater than max" in html


def test_a_stale_form_is_refused(contributor: User, suite: QualitySuite) -> None:
    # Someone else saved version 2 while this form, opened on version 1, was being filled in.
    services.save_suite(suite.dataset, [{"type": "row_count", "min_rows": 1}], user=contributor)

    response = signed_in(contributor).post(
        add_check_page(suite.dataset), range_form(suite_version="1", max="5")
    )

    assert response.status_code == 200
    assert "The suite changed while you edited it" in response.content.decode()
    assert [check["name"] for check in current_checks(suite.dataset)] == ["row_count"]
    suite.refresh_from_db()
    assert suite.current_version == 2


def test_removing_a_check_saves_a_new_version_without_it(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).post(
        reverse("quality-check-delete", args=[suite.dataset_id, 1]), {"suite_version": "1"}
    )

    assert response.status_code == 302
    assert [check["name"] for check in current_checks(suite.dataset)] == [
        "range:total_value",
        "allowed_values:channel",
    ]
    assert "Check not_null:transaction_id removed." in messages_of(response)


def test_a_stale_remove_removes_nothing(contributor: User, suite: QualitySuite) -> None:
    response = signed_in(contributor).post(
        reverse("quality-check-delete", args=[suite.dataset_id, 1]), {"suite_version": "0"}
    )

    assert response.status_code == 302
    assert len(current_checks(suite.dataset)) == 3
    assert any("nothing was deleted" in message for message in messages_of(response))


def test_run_now_starts_a_run_on_the_latest_stored_version(
    contributor: User, failed_version: DatasetVersion, inline: Inline
) -> None:
    with inline():
        response = signed_in(contributor).post(
            reverse("quality-run-now", args=[failed_version.dataset_id])
        )

    run = QualityRun.objects.filter(trigger="manual").get()
    assert response.status_code == 302
    assert response["Location"] == run.get_absolute_url()
    assert run.dataset_version == failed_version
    assert run.status == "failed"
    assert run.created_by == contributor


# Suggestions ------------------------------------------------------------------------------


def test_accepting_suggestions_creates_the_suite_with_exactly_those_checks(
    contributor: User, clean_version: DatasetVersion
) -> None:
    picked = ["range:total_value", "unique:transaction_id", "allowed_values:channel"]
    suggested = {check["name"]: check for check in services.suggested_suite(clean_version)}

    response = signed_in(contributor).post(
        reverse("quality-suggest", args=[clean_version.dataset_id]),
        {"version": "1", "accept": picked},
    )

    assert response.status_code == 302
    suite = QualitySuite.objects.get(dataset=clean_version.dataset)
    assert suite.current_version == 1
    assert sorted(check["name"] for check in current_checks(clean_version.dataset)) == sorted(
        picked
    )
    assert current_checks(clean_version.dataset) == [
        check for name, check in suggested.items() if name in picked
    ]
    assert suite.latest is not None
    assert suite.latest.change_note == "Accepted 3 suggested checks from v1"


def test_accepting_nothing_creates_no_suite(
    contributor: User, clean_version: DatasetVersion
) -> None:
    response = signed_in(contributor).post(
        reverse("quality-suggest", args=[clean_version.dataset_id]), {"version": "1"}
    )

    assert response.status_code == 200
    assert "Select at least one check to add." in messages_of(response)
    assert not QualitySuite.objects.exists()


def test_accepting_a_suggestion_replaces_the_check_of_the_same_name(
    contributor: User, suite: QualitySuite, clean_version: DatasetVersion
) -> None:
    signed_in(contributor).post(
        reverse("quality-suggest", args=[suite.dataset_id]),
        {"version": "1", "accept": ["range:total_value", "row_count"]},
    )

    checks = current_checks(suite.dataset)
    assert [check["name"] for check in checks] == [
        "range:total_value",
        "not_null:transaction_id",
        "allowed_values:channel",
        "row_count",
    ]
    assert checks[0]["max"] < 100_000  # the suggested, tighter range


# Settings and schedule --------------------------------------------------------------------


def test_the_settings_form_sets_a_cron_schedule(contributor: User, suite: QualitySuite) -> None:
    response = signed_in(contributor).post(
        reverse("quality-settings", args=[suite.dataset_id]),
        {
            "description": "Checked before each retraining",
            "run_on_new_versions": "on",
            "schedule_kind": "cron",
            "schedule_cron": "30 2 * * 1-5",
        },
    )

    assert response.status_code == 302
    assert "Suite settings saved." in messages_of(response)
    suite.refresh_from_db()
    assert (suite.schedule_kind, suite.schedule_cron) == ("cron", "30 2 * * 1-5")
    assert suite.description == "Checked before each retraining"
    assert suite.run_on_new_versions is True
    assert suite.current_version == 1
    task = suite.periodic_task
    assert task is not None and task.crontab is not None
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "2", "1-5")
    assert json.loads(task.kwargs) == {"suite_id": suite.pk}
    page = signed_in(contributor).get(suite_page(suite.dataset)).content.decode()
    assert "schedule: cron 30 2 * * 1-5" in page


def test_an_invalid_cron_shows_an_error_and_changes_nothing(
    contributor: User, suite: QualitySuite
) -> None:
    response = signed_in(contributor).post(
        reverse("quality-settings", args=[suite.dataset_id]),
        {
            "description": "Should not be saved",
            "run_on_new_versions": "",
            "schedule_kind": "cron",
            "schedule_cron": "61 * * * *",
        },
    )

    assert response.status_code == 302
    [message] = messages_of(response)
    assert "Invalid cron expression '61 * * * *'" in message
    suite.refresh_from_db()
    assert (suite.schedule_kind, suite.schedule_cron) == ("none", "")
    assert suite.periodic_task is None
    assert suite.description == ""
    assert suite.run_on_new_versions is True


# PII in sample rows -----------------------------------------------------------------------


def test_sample_rows_on_the_run_page_are_masked_for_non_members(
    outsider: User, other_project: Project, shared_failed_run: QualityRun
) -> None:
    stored = shared_failed_run.results.get(name="range:total_value").sample_rows
    categories = {row["merchant_category"] for row in stored}

    response = signed_in(outsider).get(reverse("quality-run", args=[shared_failed_run.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert MASK in html
    assert "PII columns are masked" in html
    shown = next(item for item in response.context["results"] if item["result"].position == 0)
    assert {row["merchant_category"] for row in shown["sample_rows"]} == {MASK}
    for category in categories:
        assert f">{category}<" not in html


def test_sample_rows_on_the_run_page_are_raw_for_members(
    viewer: User, shared_failed_run: QualityRun
) -> None:
    stored = shared_failed_run.results.get(name="range:total_value").sample_rows

    response = signed_in(viewer).get(reverse("quality-run", args=[shared_failed_run.pk]))

    html = response.content.decode()
    assert MASK not in html
    for row in stored:
        assert f">{row['merchant_category']}<" in html


def test_the_quality_pages_do_not_spell_out_pii_values_to_non_members(
    outsider: User, other_project: Project, shared_failed_run: QualityRun
) -> None:
    """The allowed-values check on the PII merchant category found unexpected categories;
    they are masked in the observed column, and must not be readable in the messages (the
    run page's table, the suite page's grid hover text) either."""
    stored = shared_failed_run.results.get(name="allowed_values:merchant_category")
    unexpected = stored.observed["unexpected_values"]
    assert unexpected, "the run needs merchant categories outside the allowed list"
    client = signed_in(outsider)

    run_page = client.get(reverse("quality-run", args=[shared_failed_run.pk])).content.decode()
    suite_html = client.get(
        reverse("quality-suite", args=[shared_failed_run.dataset_version.dataset_id])
    ).content.decode()

    assert [value for value in unexpected if value in run_page] == []
    assert [value for value in unexpected if value in suite_html] == []


def test_the_home_page_lists_versions_failing_their_checks_to_those_who_may_see_them(
    viewer: User, outsider: User, other_project: Project, failed_version: DatasetVersion
) -> None:
    member_page = signed_in(viewer).get("/").content.decode()
    outsider_page = signed_in(outsider).get("/").content.decode()

    assert "Failing their quality checks" in member_page
    assert f"{failed_version.dataset.name} v{failed_version.version}" in member_page
    assert "Failing their quality checks" not in outsider_page
