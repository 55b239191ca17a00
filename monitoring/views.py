"""Quality pages: the overview, a dataset's suite (checks, charts, runs, schedule), the
check editor with its live preview, suggestions, and a run's results. Thin: the rules are
in `monitoring.services`, the figures in `monitoring.charts`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from lineage import profiling
from lineage.choices import JobState, JobType, QualityStatus
from lineage.models import Dataset, DatasetVersion, Job
from lineage.permissions import (
    can_contribute,
    may_see_pii,
    visible_dataset_versions,
    visible_datasets,
)
from monitoring import charts, checks, services
from monitoring.choices import CheckOutcome, RunTrigger
from monitoring.filtersets import QualityRunFilterSet
from monitoring.forms import CheckForm, SuiteSettingsForm
from monitoring.models import QualityCheckResult, QualityRun, QualitySuite
from monitoring.permissions import visible_runs, visible_suites

GRID_VERSIONS = 30
RESULT_ORDER = {"failed": 0, "warning": 1, "errored": 2, "passed": 3}


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied("Your role in this project does not allow this.")


def _dataset(request: HttpRequest, dataset_id: int) -> Dataset:
    return get_object_or_404(
        visible_datasets(request.user).select_related("project", "owner"), pk=dataset_id
    )


def _suite(dataset: Dataset) -> QualitySuite | None:
    return QualitySuite.objects.filter(dataset=dataset).first()


def quality_overview(request: HttpRequest) -> HttpResponse:
    suites = (
        visible_suites(request.user)
        .select_related("dataset__project")
        .order_by("dataset__project__name", "dataset__name")
    )
    runs_filter = QualityRunFilterSet(
        request.GET,
        queryset=visible_runs(request.user)
        .select_related("dataset_version__dataset__project", "suite_version")
        .order_by("-created_at", "-pk"),
    )
    page = Paginator(runs_filter.qs, 25).get_page(request.GET.get("page"))
    latest_by_dataset = _latest_versions([suite.dataset_id for suite in suites])
    rows = [(suite, latest_by_dataset.get(suite.dataset_id)) for suite in suites]
    return render(
        request,
        "monitoring/quality_overview.html",
        {"rows": rows, "filter": runs_filter, "page": page},
    )


def _latest_versions(dataset_ids: list[int]) -> dict[int, DatasetVersion]:
    latest: dict[int, DatasetVersion] = {}
    versions = (
        DatasetVersion.objects.filter(dataset_id__in=dataset_ids)
        .only("pk", "dataset_id", "version", "quality_status", "quality_checked_at")
        .order_by("dataset_id", "-version")
    )
    for version in versions:
        latest.setdefault(version.dataset_id, version)
    return latest


def suite_detail(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    # The unfinished jobs first: a run that ends while the page is built then still has
    # its progress box, which reloads the page, rather than a status read before it ended.
    runs = QualityRun.objects.filter(dataset_version__dataset=dataset)
    active_jobs = list(
        Job.objects.filter(
            job_type=JobType.RUN_QUALITY_SUITE,
            state__in=[JobState.QUEUED, JobState.RUNNING],
            target_type=ContentType.objects.get_for_model(QualityRun),
            target_id__in=runs.values("pk"),
        ).order_by("-created_at")[:5]
    )
    suite = _suite(dataset)
    latest = dataset.versions.defer("profile").order_by("-version").first()
    checkable = services.latest_checkable_version(dataset)
    runs = runs.select_related("dataset_version", "suite_version", "created_by").order_by(
        "-created_at", "-pk"
    )
    current_checks = suite.latest.checks if suite and suite.latest else []
    settings_form = None
    if suite is not None:
        settings_form = SuiteSettingsForm(
            initial={
                "description": suite.description,
                "run_on_new_versions": suite.run_on_new_versions,
                "schedule_kind": suite.schedule_kind,
                "schedule_cron": suite.schedule_cron,
            }
        )
    return render(
        request,
        "monitoring/suite_detail.html",
        {
            "dataset": dataset,
            "project": dataset.project,
            "suite": suite,
            "checks": [
                (index, check, checks.describe_check(check))
                for index, check in enumerate(current_checks)
            ],
            "check_types": checks.CHECK_TYPES.values(),
            "latest": latest,
            "reference": _reference_version(dataset),
            "checkable": checkable,
            "runs": runs[:20],
            "jobs": active_jobs,
            "suite_versions": suite.versions.select_related("created_by").order_by("-version")[:20]
            if suite
            else [],
            "settings_form": settings_form,
            "can_contribute": can_contribute(request.user, dataset.project),
            "grid_figure": charts.check_grid_figure(
                _grid_cells(dataset, reveal=may_see_pii(request.user, dataset.project))
            ),
            "trend_figure": charts.metric_trend_figure(_metric_points(dataset)),
        },
    )


def _grid_cells(dataset: Dataset, *, reveal: bool) -> list[dict[str, Any]]:
    """The latest finished run of each of the newest versions, one cell per check."""
    versions = list(
        dataset.versions.order_by("-version").values_list("pk", "version")[:GRID_VERSIONS]
    )
    latest_runs: dict[int, int] = {}
    for run_id, version_id in (
        QualityRun.objects.finished()
        .filter(dataset_version_id__in=[pk for pk, _ in versions], state="succeeded")
        .order_by("-created_at", "-pk")
        .values_list("pk", "dataset_version_id")
    ):
        latest_runs.setdefault(version_id, run_id)
    number = dict(versions)
    results = QualityCheckResult.objects.filter(run_id__in=latest_runs.values()).values(
        "run__dataset_version_id",
        "name",
        "outcome",
        "severity",
        "message",
        "failing_fraction",
        "failing_count",
        "column",
        "position",
    )
    return [
        {
            "check": row["name"],
            "version": number[row["run__dataset_version_id"]],
            "outcome": row["outcome"],
            "severity": row["severity"],
            "message": services.masked_message(
                row["message"],
                row["column"],
                dataset,
                reveal=reveal,
                failing_count=row["failing_count"],
            ),
            "failing_fraction": row["failing_fraction"],
        }
        for row in sorted(results, key=lambda row: row["position"])
    ]


def _metric_points(dataset: Dataset) -> list[dict[str, Any]]:
    points = []
    for cell_source in (
        QualityCheckResult.objects.filter(
            run__dataset_version__dataset=dataset, run__state="succeeded"
        )
        .order_by("run__dataset_version__version", "run__created_at", "position")
        .values("name", "observed", "run__dataset_version__version")
    ):
        for metric, value in (cell_source["observed"] or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                points.append(
                    {
                        "check": cell_source["name"],
                        "metric": metric,
                        "version": cell_source["run__dataset_version__version"],
                        "value": value,
                    }
                )
    # Several runs of one version: the last one wins.
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for point in points:
        latest[(point["check"], point["metric"], point["version"])] = point
    # The menu opens on a check that failed somewhere: the series most worth a look.
    failing = set(
        QualityCheckResult.objects.filter(run__dataset_version__dataset=dataset)
        .exclude(outcome=CheckOutcome.PASSED)
        .values_list("name", flat=True)
    )
    return sorted(latest.values(), key=lambda point: point["check"] not in failing)


@require_POST
def run_now(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    _require(can_contribute(request.user, dataset.project))
    version_number = request.POST.get("version")
    version = (
        dataset.versions.filter(version=version_number).first()
        if version_number
        else services.latest_checkable_version(dataset)
    )
    if version is None:
        messages.error(request, "There is no stored version to check.")
        return redirect("quality-suite", dataset.pk)
    try:
        run = services.start_quality_run(version, user=request.user, trigger=RunTrigger.MANUAL)
    except services.QualityError as exc:
        messages.error(request, exc.message)
        return redirect("quality-suite", dataset.pk)
    messages.success(request, f"Checking {version}: the results appear when the run ends.")
    return redirect(run)


def check_edit(request: HttpRequest, dataset_id: int, index: int | None = None) -> HttpResponse:
    """Add a check (index None) or change one, saving the suite as a new version."""
    dataset = _dataset(request, dataset_id)
    _require(can_contribute(request.user, dataset.project))
    suite = _suite(dataset)
    current = list(suite.latest.checks) if suite and suite.latest else []
    existing = None
    if index is not None:
        if index >= len(current):
            raise Http404("No such check in the current suite.")
        existing = current[index]
    check_type = existing["type"] if existing else request.GET.get("type", "")
    if check_type not in checks.CHECK_TYPES:
        raise Http404("Unknown check type.")
    latest = (
        services.latest_checkable_version(dataset) or dataset.versions.order_by("-version").first()
    )
    columns = latest.schema if latest else []
    form = CheckForm(
        request.POST or None, check_type=check_type, columns=columns, initial_check=existing
    )
    preview = None
    if request.method == "POST":
        check = form.normalised()
        if check is not None and request.POST.get("action") == "preview":
            preview = _preview(request, dataset, check)
        elif check is not None:
            if request.POST.get("suite_version") != str(suite.current_version if suite else 0):
                form.add_error(None, "The suite changed while you edited it: reload the page.")
            else:
                updated = [*current]
                if index is None:
                    updated.append(check)
                else:
                    updated[index] = check
                try:
                    services.save_suite(
                        dataset,
                        updated,
                        user=request.user,
                        change_note=f"{'Changed' if existing else 'Added'} {check['name']}",
                    )
                except services.QualityError as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(request, f"Check {check['name']} saved.")
                    return redirect("quality-suite", dataset.pk)
    return render(
        request,
        "monitoring/check_form.html",
        {
            "dataset": dataset,
            "project": dataset.project,
            "form": form,
            "check_type": checks.CHECK_TYPES[check_type],
            "editing": existing,
            "suite_version": suite.current_version if suite else 0,
            "preview_version": latest,
            "preview": preview,
            "preview_url": reverse("quality-check-preview-page", args=[dataset.pk, check_type]),
        },
    )


def _preview(request: HttpRequest, dataset: Dataset, check: dict[str, Any]) -> dict[str, Any]:
    version = services.latest_checkable_version(dataset)
    if version is None:
        return {"error": "There is no stored version to try the check on."}
    try:
        result = services.preview_check(version, check)
    except (services.QualityError, profiling.DataFileError) as exc:
        return {"error": str(exc)}
    reveal = may_see_pii(request.user, dataset.project)
    column = result.get("column")
    result["sample_rows"] = services.masked_rows(result["sample_rows"], dataset, reveal=reveal)
    result["observed"] = services.masked_observed(
        result["observed"], column, dataset, reveal=reveal
    )
    result["message"] = services.masked_message(
        result["message"], column, dataset, reveal=reveal, failing_count=result["failing_count"]
    )
    distribution = services.masked_distribution(
        result["distribution"], column, dataset, reveal=reveal
    )
    result["figure"] = (
        charts.failing_values_figure(distribution, column=column or "", check_name=result["name"])
        if distribution
        else None
    )
    result["version"] = version
    result["sample_columns"] = _sample_columns(result["sample_rows"])
    return result


@require_POST
def check_preview(request: HttpRequest, dataset_id: int, check_type: str) -> HttpResponse:
    """The live preview: the check form's fields in, an HTML fragment out."""
    dataset = _dataset(request, dataset_id)
    if check_type not in checks.CHECK_TYPES:
        raise Http404("Unknown check type.")
    latest = services.latest_checkable_version(dataset)
    form = CheckForm(request.POST, check_type=check_type, columns=latest.schema if latest else [])
    check = form.normalised()
    preview = _preview(request, dataset, check) if check is not None else None
    return render(
        request, "monitoring/_check_preview.html", {"preview": preview, "form": form, "live": True}
    )


@require_POST
def check_delete(request: HttpRequest, dataset_id: int, index: int) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    _require(can_contribute(request.user, dataset.project))
    suite = _suite(dataset)
    if suite is None or suite.latest is None or index >= len(suite.latest.checks):
        raise Http404("No such check in the current suite.")
    if request.POST.get("suite_version") != str(suite.current_version):
        messages.error(request, "The suite changed meanwhile: nothing was deleted. Try again.")
        return redirect("quality-suite", dataset.pk)
    remaining = list(suite.latest.checks)
    removed = remaining.pop(index)
    services.save_suite(
        dataset, remaining, user=request.user, change_note=f"Removed {removed['name']}"
    )
    messages.success(request, f"Check {removed['name']} removed.")
    return redirect("quality-suite", dataset.pk)


def suggest_page(request: HttpRequest, dataset_id: int) -> HttpResponse:
    """Checks proposed from a version's profile; the user picks which to add."""
    dataset = _dataset(request, dataset_id)
    versions = dataset.versions.defer("profile").order_by("-version")
    chosen = request.GET.get("version") or request.POST.get("version")
    version = (
        dataset.versions.filter(version=chosen).first() if chosen else _reference_version(dataset)
    )
    if version is None:
        raise Http404("This dataset has no version to learn from.")
    error = ""
    suggestions = []
    try:
        suggestions = services.suggested_checks(version)
    except services.QualityError as exc:
        error = exc.message
    suite = _suite(dataset)
    if request.method == "POST":
        _require(can_contribute(request.user, dataset.project))
        picked = set(request.POST.getlist("accept"))
        accepted = [
            services.suggestion_as_check(s) for s in suggestions if s.check["name"] in picked
        ]
        if not accepted:
            messages.error(request, "Select at least one check to add.")
        else:
            current = list(suite.latest.checks) if suite and suite.latest else []
            by_name = {check["name"]: position for position, check in enumerate(current)}
            for check in accepted:
                if check["name"] in by_name:
                    current[by_name[check["name"]]] = check
                else:
                    current.append(check)
            services.save_suite(
                dataset,
                current,
                user=request.user,
                change_note=f"Accepted {len(accepted)} suggested checks from v{version.version}",
            )
            messages.success(
                request, f"{len(accepted)} checks added from the profile of v{version.version}."
            )
            return redirect("quality-suite", dataset.pk)
    existing = {
        check["name"]: check for check in (suite.latest.checks if suite and suite.latest else [])
    }
    return render(
        request,
        "monitoring/suggest.html",
        {
            "dataset": dataset,
            "project": dataset.project,
            "version": version,
            "versions": versions,
            "error": error,
            "suggestions": [
                (
                    s,
                    checks.describe_check(s.check),
                    _suggestion_state(services.suggestion_as_check(s), existing),
                )
                for s in suggestions
            ],
            "can_contribute": can_contribute(request.user, dataset.project),
        },
    )


def _reference_version(dataset: Dataset) -> DatasetVersion | None:
    """The version to learn from by default: the newest that passed its quality gate, else
    the newest not known to be bad, else the newest."""
    versions = dataset.versions.defer("profile").order_by("-version")
    return (
        versions.filter(quality_status=QualityStatus.PASSED).first()
        or versions.exclude(quality_status=QualityStatus.FAILED).first()
        or versions.first()
    )


def _suggestion_state(check: dict[str, Any], existing: dict[str, dict[str, Any]]) -> str:
    current = existing.get(check["name"])
    if current is None:
        return "new"
    return "same" if current == check else "changed"


@require_POST
def suite_settings(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    _require(can_contribute(request.user, dataset.project))
    suite = _suite(dataset)
    if suite is None:
        raise Http404("This dataset has no quality suite yet.")
    form = SuiteSettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.set_schedule(
                suite, data["schedule_kind"], data["schedule_cron"], user=request.user
            )
        except services.QualityError as exc:
            messages.error(request, exc.message)
            return redirect("quality-suite", dataset.pk)
        services.save_suite(
            dataset,
            suite.latest.checks if suite.latest else [],
            user=request.user,
            description=data["description"],
            run_on_new_versions=data["run_on_new_versions"],
        )
        messages.success(request, "Suite settings saved.")
    else:
        messages.error(request, "The settings were not saved: " + form.errors.as_text())
    return redirect("quality-suite", dataset.pk)


def suite_version_detail(request: HttpRequest, dataset_id: int, version: int) -> HttpResponse:
    dataset = _dataset(request, dataset_id)
    suite = _suite(dataset)
    if suite is None:
        raise Http404("This dataset has no quality suite.")
    suite_version = get_object_or_404(suite.versions.select_related("created_by"), version=version)
    return render(
        request,
        "monitoring/suite_version.html",
        {
            "dataset": dataset,
            "project": dataset.project,
            "suite": suite,
            "suite_version": suite_version,
            "checks": [(check, checks.describe_check(check)) for check in suite_version.checks],
            "runs": suite_version.runs.select_related("dataset_version").order_by("-created_at")[
                :20
            ],
        },
    )


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # The job before the run: if the job is still going, its box reloads the page when it
    # ends; if it has ended, so has the run read after it.
    job = Job.objects.filter(
        target_type=ContentType.objects.get_for_model(QualityRun), target_id=pk
    ).first()
    run = get_object_or_404(
        visible_runs(request.user).select_related(
            "dataset_version__dataset__project", "suite_version", "created_by"
        ),
        pk=pk,
    )
    dataset = run.dataset_version.dataset
    reveal = may_see_pii(request.user, dataset.project)
    results = []
    for result in run.results.all():
        rows = services.masked_rows(result.sample_rows, dataset, reveal=reveal)
        distribution = services.masked_distribution(
            result.distribution, result.column, dataset, reveal=reveal
        )
        results.append(
            {
                "result": result,
                "observed": services.masked_observed(
                    result.observed, result.column, dataset, reveal=reveal
                ),
                "message": services.masked_message(
                    result.message,
                    result.column,
                    dataset,
                    reveal=reveal,
                    failing_count=result.failing_count,
                ),
                "sample_rows": rows,
                "sample_columns": _sample_columns(rows),
                "chart_id": f"failing-{result.position}",
                "figure": charts.failing_values_figure(
                    distribution, column=result.column, check_name=result.name
                )
                if distribution and result.outcome == CheckOutcome.FAILED
                else None,
            }
        )
    # What needs attention first: failures, then warnings, errors, and the passed checks.
    results.sort(key=lambda item: RESULT_ORDER.get(item["result"].state_word, 9))
    return render(
        request,
        "monitoring/run_detail.html",
        {
            "run": run,
            "dataset": dataset,
            "project": dataset.project,
            "version": run.dataset_version,
            "results": results,
            "job": job,
            "can_contribute": can_contribute(request.user, dataset.project),
            "masked": not reveal,
        },
    )


def _sample_columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for column in row:
            if column not in columns:
                columns.append(column)
    return columns


def version_runs(request: HttpRequest, dataset_id: int, version: int) -> HttpResponse:
    """The newest run of a dataset version, or the suite page when it has none."""
    dataset_version = get_object_or_404(
        visible_dataset_versions(request.user), dataset_id=dataset_id, version=version
    )
    run = dataset_version.quality_runs.order_by("-created_at", "-pk").first()
    return redirect(run) if run else redirect("quality-suite", dataset_id)
