"""Drift investigation pages: a model's drift (status, heatmap, timelines, analyses,
settings), one analysis, one feature, and the domain classifier. Everything is drawn from
stored results (`monitoring.drift_charts`); nothing is recomputed on a page view."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from lineage.choices import JobState
from lineage.models import DatasetVersion, RegisteredModel
from lineage.permissions import can_contribute, visible_dataset_versions, visible_projects
from monitoring import drift, drift_charts, drift_runs
from monitoring.choices import CurrentSource, RunTrigger, ScheduleKind, WindowFrequency
from monitoring.models import DriftAnalysis
from monitoring.permissions import visible_analyses

TIMELINE_ANALYSES = 30


def _model(request: HttpRequest, model_id: int) -> RegisteredModel:
    return get_object_or_404(
        RegisteredModel.objects.filter(project__in=visible_projects(request.user)).select_related(
            "project"
        ),
        pk=model_id,
    )


def _analysis(request: HttpRequest, pk: int) -> DriftAnalysis:
    return get_object_or_404(
        visible_analyses(request.user).select_related(
            "model_version__model__project",
            "reference_version__dataset",
            "current_version__dataset",
            "created_by",
        ),
        pk=pk,
    )


LOGGED_INPUTS = "logged"


class StartAnalysisForm(forms.Form):
    model_version = forms.TypedChoiceField(coerce=int, label="Model version")
    reference_version = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Reference",
        help_text="Empty: the model version's training data.",
    )
    current_version = forms.ChoiceField(label="Current data")
    logged_from = forms.DateTimeField(
        required=False,
        label="Logged from (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="With logged inputs: empty is a day before the end.",
    )
    logged_to = forms.DateTimeField(
        required=False,
        label="Logged until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: now.",
    )
    window_column = forms.CharField(
        required=False,
        label="Window by column",
        help_text="A date or time column, e.g. timestamp (logged inputs: logged_at).",
    )
    window_frequency = forms.ChoiceField(
        choices=WindowFrequency.choices, required=False, label="Windows"
    )

    def __init__(self, *args: Any, model: RegisteredModel, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        versions = list(model.versions.order_by("-version"))
        self.fields["model_version"].choices = [
            (version.pk, f"v{version.version} ({version.get_stage_display().lower()})")
            for version in versions
        ]
        data = (
            visible_dataset_versions(user)
            .filter(dataset__project=model.project)
            .exclude(file="")
            .filter(destroyed_at__isnull=True)
            .select_related("dataset")
            .defer("profile")
            .order_by("dataset__name", "-version")
        )
        choices = [(version.pk, str(version)) for version in data]
        self.fields["reference_version"].choices = [("", "Training data"), *choices]
        self.fields["current_version"].choices = [
            (LOGGED_INPUTS, "Inputs logged in production"),
            *choices,
        ]


class DriftSettingsForm(forms.Form):
    alpha = forms.FloatField(
        label="Significance (FDR, Benjamini-Hochberg)", min_value=0.0001, max_value=0.5
    )
    ks = forms.FloatField(label="KS statistic over", min_value=0, max_value=1)
    wasserstein = forms.FloatField(label="Wasserstein / reference spread over", min_value=0)
    psi = forms.FloatField(label="PSI over", min_value=0)
    jensen_shannon = forms.FloatField(
        label="Jensen-Shannon distance over", min_value=0, max_value=1
    )
    missing_rate = forms.FloatField(label="Missing-rate change over", min_value=0, max_value=1)
    domain_auc = forms.FloatField(
        label="Domain classifier AUC at least", min_value=0.5, max_value=1
    )
    domain_alpha = forms.FloatField(
        label="Domain classifier significance", min_value=0.0001, max_value=0.5
    )
    window_column = forms.CharField(required=False, label="Scheduled: window by column")
    window_frequency = forms.ChoiceField(
        choices=WindowFrequency.choices, required=False, label="Scheduled: windows"
    )
    schedule_kind = forms.ChoiceField(
        choices=ScheduleKind.choices,
        label="Schedule",
        help_text="Compares the production version's training data with the newest version "
        "of that dataset.",
    )
    schedule_cron = forms.CharField(required=False, label="Cron expression")


def model_drift(request: HttpRequest, model_id: int) -> HttpResponse:
    model = _model(request, model_id)
    analyses = (
        visible_analyses(request.user)
        .filter(model_version__model=model)
        .select_related("model_version", "current_version__dataset", "reference_version__dataset")
        .order_by("-created_at", "-pk")
    )
    active = [analysis for analysis in analyses.defer("result")[:5] if not analysis.is_finished]
    jobs = [job for analysis in active if (job := drift_runs.job_of(analysis))]
    latest = analyses.filter(state=JobState.SUCCEEDED).first()
    settings = drift_runs.settings_of(model)
    effective = drift_runs.thresholds_for(model)
    context = {
        "model": model,
        "project": model.project,
        "analyses": Paginator(analyses.defer("result"), 20).get_page(request.GET.get("page")),
        "latest": latest,
        "jobs": jobs,
        "settings": settings,
        "can_contribute": can_contribute(request.user, model.project),
        "start_form": StartAnalysisForm(
            model=model, user=request.user, initial=_start_initial(model)
        ),
        "settings_form": DriftSettingsForm(
            initial={
                **effective,
                "window_column": settings.window_column,
                "window_frequency": settings.window_frequency,
                "schedule_kind": settings.schedule_kind,
                "schedule_cron": settings.schedule_cron,
            }
        ),
        **_model_charts(latest, analyses.filter(state=JobState.SUCCEEDED)),
    }
    return render(request, "monitoring/model_drift.html", context)


def _start_initial(model: RegisteredModel) -> dict[str, Any]:
    version = (
        model.versions.filter(stage="production").order_by("-version").first()
        or model.versions.order_by("-version").first()
    )
    if version is None:
        return {}
    initial: dict[str, Any] = {"model_version": version.pk}
    training = version.training_dataset_version
    if training is not None:
        newest = (
            training.dataset.versions.exclude(file="")
            .filter(destroyed_at__isnull=True)
            .order_by("-version")
            .first()
        )
        if newest is not None:
            initial["current_version"] = newest.pk
    settings = drift_runs.settings_of(model)
    initial["window_column"] = settings.window_column
    initial["window_frequency"] = settings.window_frequency
    return initial


def _model_charts(
    latest: DriftAnalysis | None, finished: QuerySet[DriftAnalysis]
) -> dict[str, Any]:
    """The heatmap of the latest analysis's windows (or of successive analyses when it has
    none), the timeline of drift scores and the confidence trend."""
    windows = ((latest.result or {}) if latest else {}).get("windows") or []
    columns: list[tuple[str, list[dict[str, Any]]]] = []
    points: list[dict[str, Any]] = []
    confidence: list[dict[str, Any]] = []
    if windows:
        for window in windows:
            columns.append((window["label"], window["features"]))
            points.append(
                {
                    "label": window["label"],
                    "score": window.get("drift_share"),
                    "drifted": window.get("drifted"),
                }
            )
            if window.get("confidence_mean") is not None:
                confidence.append({"label": window["label"], "mean": window["confidence_mean"]})
    else:
        # One query for the newest analyses, oldest first along the axis.
        for analysis in list(finished[:TIMELINE_ANALYSES])[::-1]:
            label = f"#{analysis.pk} {analysis.created_at:%m-%d %H:%M}"
            result = analysis.result or {}
            points.append(
                {
                    "label": label,
                    "score": analysis.score,
                    "drifted": analysis.drifted,
                    "auc": analysis.domain_auc,
                }
            )
            columns.append((label, result.get("features") or []))
            prediction = result.get("prediction") or {}
            mean = (prediction.get("confidence") or {}).get("current_mean")
            if mean is not None:
                confidence.append({"label": label, "mean": mean})
    return {
        "heatmap": drift_charts.feature_heatmap_figure(columns) if columns else None,
        "timeline": drift_charts.drift_timeline_figure(points) if points else None,
        "confidence": drift_charts.confidence_trend_figure(confidence) if confidence else None,
        "windowed": bool(windows),
    }


@require_POST
def start_analysis(request: HttpRequest, model_id: int) -> HttpResponse:
    model = _model(request, model_id)
    if not can_contribute(request.user, model.project):
        raise PermissionDenied("You need the contributor role in this project.")
    form = StartAnalysisForm(request.POST, model=model, user=request.user)
    if not form.is_valid():
        messages.error(request, "The analysis was not started: " + form.errors.as_text())
        return redirect("model-drift", model.pk)
    data = form.cleaned_data
    version = model.versions.get(pk=data["model_version"])
    visible = visible_dataset_versions(request.user)
    logged = data["current_version"] == LOGGED_INPUTS
    window_column = data["window_column"].strip()
    if logged and window_column not in {feature["name"] for feature in version.signature or []}:
        # The form comes filled with the settings' column of the model's datasets, which
        # logged inputs do not have: they are windowed by the time they were logged.
        window_column = ""
    try:
        analysis = drift_runs.start_drift_analysis(
            version,
            user=request.user,
            trigger=RunTrigger.MANUAL,
            reference_version=visible.get(pk=data["reference_version"])
            if data["reference_version"]
            else None,
            current_source=CurrentSource.PREDICTIONS if logged else CurrentSource.DATASET_VERSION,
            current_version=None if logged else visible.get(pk=int(data["current_version"])),
            current_start=data["logged_from"] if logged else None,
            current_end=data["logged_to"] if logged else None,
            window_column=window_column,
            window_frequency=data["window_frequency"],
        )
    except (drift_runs.DriftError, DatasetVersion.DoesNotExist) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return redirect("model-drift", model.pk)
    messages.success(request, "Drift analysis started: the results appear when it ends.")
    return redirect(analysis)


@require_POST
def save_drift_settings(request: HttpRequest, model_id: int) -> HttpResponse:
    model = _model(request, model_id)
    if not can_contribute(request.user, model.project):
        raise PermissionDenied("You need the contributor role in this project.")
    form = DriftSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The settings were not saved: " + form.errors.as_text())
        return redirect("model-drift", model.pk)
    data = form.cleaned_data
    defaults = drift.DriftThresholds().as_dict()
    thresholds = {key: data[key] for key in defaults if key in data and data[key] != defaults[key]}
    try:
        drift_runs.save_settings(
            model,
            thresholds=thresholds,
            window_column=data["window_column"],
            window_frequency=data["window_frequency"],
            schedule_kind=data["schedule_kind"],
            schedule_cron=data["schedule_cron"],
        )
    except drift_runs.DriftError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Drift settings saved.")
    return redirect("model-drift", model.pk)


def analysis_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # The job first: if it is still going its box reloads the page when it ends.
    job = drift_runs.job_of(DriftAnalysis(pk=pk))
    analysis = _analysis(request, pk)
    result = drift_runs.visible_result(analysis, request.user)
    features = result.get("features") or []
    order = {True: 0, False: 1}
    features = sorted(
        features,
        key=lambda feature: (
            order[bool(feature.get("drifted"))],
            -(feature.get("effect_size") or 0),
        ),
    )
    windows = result.get("windows") or []
    prediction = result.get("prediction") or None
    return render(
        request,
        "monitoring/drift_analysis.html",
        {
            "analysis": analysis,
            "model": analysis.model_version.model,
            "project": analysis.model_version.model.project,
            "result": result,
            "features": features,
            "summary": result.get("summary") or {},
            "domain": result.get("domain_classifier"),
            "prediction": prediction,
            "job": job,
            "can_contribute": can_contribute(request.user, analysis.model_version.model.project),
            "heatmap": drift_charts.feature_heatmap_figure(
                [(window["label"], window["features"]) for window in windows]
            )
            if windows
            else None,
            "timeline": drift_charts.drift_timeline_figure(
                [
                    {
                        "label": w["label"],
                        "score": w.get("drift_share"),
                        "drifted": w.get("drifted"),
                    }
                    for w in windows
                ]
            )
            if windows
            else None,
            "auc_chart": drift_charts.auc_figure(
                result["domain_classifier"], threshold=analysis.thresholds.get("domain_auc")
            )
            if result.get("domain_classifier")
            else None,
            "prediction_charts": [
                (f"prediction-{index}", figure)
                for index, figure in enumerate(drift_charts.prediction_figures(prediction))
            ]
            if prediction and prediction.get("predictions")
            else [],
        },
    )


def feature_detail(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    analysis = _analysis(request, pk)
    result = drift_runs.visible_result(analysis, request.user)
    feature = next((f for f in result.get("features") or [] if f.get("name") == name), None)
    if feature is None:
        raise Http404("This analysis has no such feature.")
    trend = [
        {
            "label": window["label"],
            **next((f for f in window["features"] if f.get("name") == name), {}),
        }
        for window in result.get("windows") or []
    ]
    return render(
        request,
        "monitoring/drift_feature.html",
        {
            "analysis": analysis,
            "model": analysis.model_version.model,
            "project": analysis.model_version.model.project,
            "feature": feature,
            "distribution": drift_charts.feature_distribution_figure(feature),
            "trend": drift_charts.feature_trend_figure(trend) if trend else None,
        },
    )


def classifier_detail(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = _analysis(request, pk)
    domain = drift_runs.visible_result(analysis, request.user).get("domain_classifier")
    if not domain:
        raise Http404("This analysis has no domain classifier result.")
    rows = domain.get("most_unlike") or []
    columns: list[str] = []
    for row in rows:
        for column in row.get("values") or {}:
            if column not in columns:
                columns.append(column)
    return render(
        request,
        "monitoring/drift_classifier.html",
        {
            "analysis": analysis,
            "model": analysis.model_version.model,
            "project": analysis.model_version.model.project,
            "domain": domain,
            "auc_chart": drift_charts.auc_figure(
                domain, threshold=analysis.thresholds.get("domain_auc")
            ),
            "importance_chart": drift_charts.importance_figure(domain.get("importances") or []),
            "rows": rows,
            "columns": columns,
        },
    )


def drift_overview(request: HttpRequest) -> HttpResponse:
    analyses = (
        visible_analyses(request.user)
        .select_related("model_version__model__project", "current_version__dataset")
        .defer("result")
        .order_by("-created_at", "-pk")
    )
    models = (
        RegisteredModel.objects.filter(project__in=visible_projects(request.user))
        .select_related("project")
        .order_by("project__name", "name")
    )
    return render(
        request,
        "monitoring/drift_overview.html",
        {
            "analyses": Paginator(analyses, 25).get_page(request.GET.get("page")),
            "models": models,
        },
    )
