"""Runtime observability pages: every production model's health at a glance, one model's
dashboard (traffic, latency, predictions, confidence, performance), and the look-up of one
prediction by its request id.

The dashboards read only `PredictionRollup` (through `monitoring.prediction_stats`) and, for
the recent predictions list, the newest 20 rows of one model through the (model, logged_at)
index: a model with millions of logged predictions renders as fast as one with a hundred.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from lineage.choices import ModelTask, Stage
from lineage.models import DatasetVersion, ModelVersion, RegisteredModel
from lineage.permissions import (
    RESTRICTED_SENSITIVITIES,
    can_see_dataset,
    member_projects,
    visible_projects,
)
from monitoring import prediction_stats, serving_charts
from monitoring.models import AlertIncident, PredictionRecord, PredictionRollup
from monitoring.permissions import hidden_inputs

#: The overview and the home card look at the last day.
HEALTH_WINDOW = timedelta(hours=24)
#: Ground truth arrives late: performance is read over the last week.
PERFORMANCE_WINDOW = timedelta(days=7)
RECENT_PREDICTIONS = 20
MASK = "•••• (hidden)"


@dataclass(frozen=True)
class TimeRange:
    """A dashboard's time range: [start, end) cut into buckets of one hour or one day (UTC)."""

    key: str
    label: str
    span: timedelta
    bucket: str


RANGES = {
    "24h": TimeRange("24h", "24 hours", timedelta(hours=24), "hour"),
    "7d": TimeRange("7d", "7 days", timedelta(days=7), "hour"),
    "30d": TimeRange("30d", "30 days", timedelta(days=30), "day"),
    "90d": TimeRange("90d", "90 days", timedelta(days=90), "day"),
}
DEFAULT_RANGE = "7d"


def window_of(time_range: TimeRange, now: datetime) -> tuple[datetime, datetime]:
    """The range's [start, end): it ends with the bucket holding `now`, so the current hour
    (or day) is the last bar and buckets line up with the hourly rollups."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if time_range.bucket == "day":
        current = current.replace(hour=0)
        end = current + timedelta(days=1)
    else:
        end = current + timedelta(hours=1)
    return end - time_range.span, end


# --------------------------------------------------------------------------------------------
# Figures a person scans for: formatted once here, so the templates stay plain
# --------------------------------------------------------------------------------------------


def _ms(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:,.1f} ms"


def _share(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _score(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}"


def _amount(value: Any) -> str:
    return "—" if value is None else f"{value:,.4g}"


def performance_of(summary: Mapping[str, Any] | None, task: str) -> tuple[str, str]:
    """The one performance figure of a summary: (name, formatted value); accuracy for
    classifiers, MAE for regressors."""
    performance = (summary or {}).get("performance") or {}
    if task == ModelTask.REGRESSION:
        return "MAE", _amount(performance.get("mae"))
    return "accuracy", _score(performance.get("accuracy"))


def headline(summary: Mapping[str, Any], task: str) -> list[dict[str, str]]:
    """The dashboard's headline tiles over the whole range: label, value and a detail line."""
    latency = summary.get("latency") or {}
    confidence = summary.get("confidence") or {}
    performance = summary.get("performance") or {}
    requests = summary.get("requests") or 0
    errors = summary.get("errors") or 0
    tiles = [
        {
            "label": "Requests",
            "value": f"{requests:,}",
            "detail": f"{errors:,} refused" if errors else "none refused",
        },
        {
            "label": "Error rate",
            "value": _share(summary.get("error_rate"), 2),
            "detail": "refused / all requests",
        },
        {
            "label": "Latency p95",
            "value": _ms(latency.get("p95")),
            "detail": f"p50 {_ms(latency.get('p50'))} · p99 {_ms(latency.get('p99'))}",
        },
    ]
    if task == ModelTask.REGRESSION:
        tiles.append(
            {
                "label": "MAE",
                "value": _amount(performance.get("mae")),
                "detail": f"RMSE {_amount(performance.get('rmse'))}",
            }
        )
    else:
        tiles.append(
            {
                "label": "Mean confidence",
                "value": _score(confidence.get("mean")),
                "detail": f"10th percentile {_score(confidence.get('p10'))}",
            }
        )
        tiles.append(
            {
                "label": "Accuracy",
                "value": _score(performance.get("accuracy")),
                "detail": f"F1 {_score(performance.get('f1'))} · "
                f"ROC AUC {_score(performance.get('roc_auc'))}",
            }
        )
    labelled = summary.get("labelled") or 0
    tiles.append(
        {
            "label": "Labelled",
            "value": _share(summary.get("labelled_fraction")),
            "detail": f"{labelled:,} with ground truth",
        }
    )
    return tiles


# --------------------------------------------------------------------------------------------
# Every production model at a glance
# --------------------------------------------------------------------------------------------


def production_health(user: Any, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each production model the user may see with its last 24 hours: traffic, latency p95,
    error rate, mean confidence, performance with the labelled fraction, the drift status of
    the production version, the quality status of its training data and its open incidents.

    A fixed number of queries whatever the number of models: the versions, the rollups of all
    of them at once, the open incidents, the user's projects.
    """
    now = now or timezone.now()
    since = now - HEALTH_WINDOW
    versions = list(
        ModelVersion.objects.filter(
            stage=Stage.PRODUCTION, model__project__in=visible_projects(user)
        )
        .select_related("model__project", "training_dataset_version__dataset")
        # The versions' and the training data's large JSON stay in the database.
        .defer(
            "hyperparameters",
            "metrics",
            "packages",
            "signature",
            "training_dataset_version__profile",
            "training_dataset_version__schema",
            "training_dataset_version__facets",
        )
        .order_by("model__project__name", "model__name")
    )
    if not versions:
        return []
    models = [version.model for version in versions]
    summaries = prediction_stats.health(models, since)
    weekly = prediction_stats.health(models, now - PERFORMANCE_WINDOW)
    incidents = dict(
        AlertIncident.objects.filter(
            model_id__in=[model.pk for model in models], resolved_at__isnull=True
        )
        .values_list("model_id")
        .annotate(count=Count("pk"))
    )
    member_of = (
        None
        if getattr(user, "is_superuser", False)
        else set(member_projects(user).values_list("pk", flat=True))
    )
    rows = []
    for version in versions:
        model = version.model
        summary = summaries.get(model.pk)
        latency = (summary or {}).get("latency") or {}
        confidence = (summary or {}).get("confidence") or {}
        performance_name, performance_value = performance_of(weekly.get(model.pk), model.task)
        training = version.training_dataset_version
        rows.append(
            {
                "model": model,
                "version": version,
                "project": model.project,
                "url": reverse("model-monitoring", args=[model.pk]),
                "summary": summary,
                "requests": (summary or {}).get("requests") or 0,
                "latency_p95": _ms(latency.get("p95")),
                "error_rate": _share((summary or {}).get("error_rate"), 2),
                "confidence_mean": _score(confidence.get("mean"))
                if model.task != ModelTask.REGRESSION
                else "n/a",
                "performance_name": performance_name,
                "performance": performance_value,
                "labelled_fraction": _share((weekly.get(model.pk) or {}).get("labelled_fraction")),
                "training": training,
                "training_visible": training is not None and _may_see(training, member_of),
                "open_incidents": incidents.get(model.pk, 0),
            }
        )
    return rows


def _may_see(training: DatasetVersion, member_of: set[int] | None) -> bool:
    dataset = training.dataset
    return (
        member_of is None
        or dataset.sensitivity not in RESTRICTED_SENSITIVITIES
        or dataset.project_id in member_of
    )


def monitoring_overview(request: HttpRequest) -> HttpResponse:
    rows = production_health(request.user)
    in_production = {row["model"].pk for row in rows}
    others = (
        RegisteredModel.objects.filter(project__in=visible_projects(request.user))
        .exclude(pk__in=in_production)
        .select_related("project")
        .only("name", "project__name")
        .order_by("project__name", "name")
    )
    return render(
        request,
        "monitoring/serving_overview.html",
        {
            "rows": rows,
            "other_models": others,
            "total_requests": sum(row["requests"] for row in rows),
            "open_incidents": sum(row["open_incidents"] for row in rows),
            "lookup_form": LookupForm(),
        },
    )


# --------------------------------------------------------------------------------------------
# One model's dashboard
# --------------------------------------------------------------------------------------------


def model_monitoring(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(
        RegisteredModel.objects.filter(project__in=visible_projects(request.user)).select_related(
            "project"
        ),
        pk=pk,
    )
    time_range = RANGES.get(request.GET.get("range", ""), RANGES[DEFAULT_RANGE])
    versions = list(
        model.versions.only("version", "stage", "signature", "model_id").order_by("-version")
    )
    version = _chosen_version(request, versions)
    start, end = window_of(time_range, timezone.now())

    series, summary = prediction_stats.series_with_total(
        model, start, end, bucket=time_range.bucket, version=version
    )
    recent = _recent_predictions(model, start, end, version)
    number_of = {item.pk: item.version for item in versions}
    for record in recent:
        record.version_number = number_of.get(record.model_version_id)
        record.prediction_text = short_value(record.prediction)
        record.label_text = short_value(record.label)
    ever = bool(summary["requests"] or summary["errors"] or recent) or (
        PredictionRollup.objects.filter(model=model).exists()
    )
    production = next((item for item in versions if item.stage == Stage.PRODUCTION), None)
    bucket = time_range.bucket
    task = model.task
    charts = {
        "volume": serving_charts.volume_figure(series, bucket=bucket),
        "latency": serving_charts.latency_figure(series, bucket=bucket),
        "predictions": serving_charts.prediction_figure(series, bucket=bucket, task=task),
        "performance": serving_charts.performance_figure(series, bucket=bucket, task=task),
    }
    if task != ModelTask.REGRESSION:
        charts["confidence"] = serving_charts.confidence_histogram_figure(summary)
        charts["confidence_trend"] = serving_charts.confidence_trend_figure(series, bucket=bucket)
    open_incidents = AlertIncident.objects.filter(model=model, resolved_at__isnull=True).count()
    return render(
        request,
        "monitoring/serving_model.html",
        {
            "model": model,
            "project": model.project,
            "versions": versions,
            "version": version,
            "production": production,
            "ranges": RANGES.values(),
            "time_range": time_range,
            "start": start,
            "end": end,
            "summary": summary,
            "tiles": headline(summary, task),
            "charts": charts,
            "recent": recent,
            "has_predictions": ever,
            "open_incidents": open_incidents,
            "curl_example": curl_example(request, model, production),
            "ingest_example": ingest_example(request, model, versions),
            "feedback_example": feedback_example(request, model),
        },
    )


def _chosen_version(request: HttpRequest, versions: Sequence[ModelVersion]) -> ModelVersion | None:
    wanted = request.GET.get("version", "").strip()
    if not wanted:
        return None
    chosen = next((item for item in versions if str(item.version) == wanted), None)
    if chosen is None:
        messages.warning(request, f"This model has no version {wanted}: showing all versions.")
    return chosen


def _recent_predictions(
    model: RegisteredModel, start: datetime, end: datetime, version: ModelVersion | None
) -> list[PredictionRecord]:
    """The newest predictions of the range, read backwards along the (model, logged_at)
    index; inputs and probabilities stay in the database."""
    records = PredictionRecord.objects.filter(model=model, logged_at__gte=start, logged_at__lt=end)
    if version is not None:
        records = records.filter(model_version=version)
    return list(
        records.only(
            "request_id",
            "model_version_id",
            "logged_at",
            "source",
            "prediction",
            "confidence",
            "latency_ms",
            "label",
        ).order_by("-logged_at")[:RECENT_PREDICTIONS]
    )


def example_inputs(version: ModelVersion | None) -> dict[str, Any]:
    """A record shaped like the version's signature, with a placeholder value of each
    feature's type (as the predict API checks them)."""
    example: dict[str, Any] = {}
    for feature in (version.signature if version else None) or []:
        kind = str(feature.get("type", "")).lower()
        example[str(feature.get("name"))] = _placeholder(kind)
    return example or {"feature": 0}


def _placeholder(kind: str) -> Any:
    if "bool" in kind:
        return False
    if "int" in kind:
        return 0
    if any(word in kind for word in ("float", "double", "number", "decimal")):
        return 0.0
    if "datetime" in kind or "timestamp" in kind:
        return "2026-11-26T14:03:00Z"
    if "date" in kind:
        return "2026-11-26"
    return "…"


def curl_example(request: HttpRequest, model: RegisteredModel, version: ModelVersion | None) -> str:
    url = request.build_absolute_uri(f"/api/v1/models/{model.pk}/predict")
    body = json.dumps({"inputs": example_inputs(version)}, ensure_ascii=False)
    return (
        f'curl -H "Authorization: Token $TOKEN" -H "Content-Type: application/json" \\\n'
        f"  -d '{body}' \\\n  {url}"
    )


EXAMPLE_REQUEST_ID = "0b7c6f1e-2a52-4b1e-9a55-0d5f2b9f6a10"


def _heredoc(request: HttpRequest, path: str, body: Mapping[str, Any]) -> str:
    url = request.build_absolute_uri(path)
    return (
        'curl -H "Authorization: Token $TOKEN" -H "Content-Type: application/json" \\\n'
        f"  --data-binary @- {url} <<'JSON'\n"
        f"{json.dumps(body, indent=2, ensure_ascii=False)}\nJSON"
    )


def ingest_example(
    request: HttpRequest, model: RegisteredModel, versions: Sequence[ModelVersion]
) -> str:
    """A batch of one prediction made elsewhere, shaped for this model (the version named
    when none is in production)."""
    production = next((item for item in versions if item.stage == Stage.PRODUCTION), None)
    record: dict[str, Any] = {
        "request_id": EXAMPLE_REQUEST_ID,
        "timestamp": "2026-11-26T14:03:00Z",
        "inputs": example_inputs(production or (versions[0] if versions else None)),
    }
    if model.task == ModelTask.REGRESSION:
        record["prediction"] = 42.0
    else:
        record["prediction"] = 1
        record["probabilities"] = {"0": 0.2, "1": 0.8}
    record["latency_ms"] = 4.1
    body: dict[str, Any] = {"model": model.pk}
    if production is None and versions:
        body["model_version"] = versions[0].version
    body["records"] = [record]
    return _heredoc(request, "/api/v1/predictions", body)


def feedback_example(request: HttpRequest, model: RegisteredModel) -> str:
    label: Any = 40.5 if model.task == ModelTask.REGRESSION else 1
    body = {"records": [{"request_id": EXAMPLE_REQUEST_ID, "label": label}]}
    return _heredoc(request, "/api/v1/feedback", body)


# --------------------------------------------------------------------------------------------
# One prediction
# --------------------------------------------------------------------------------------------


class LookupForm(forms.Form):
    request_id = forms.CharField(
        label="Request id",
        max_length=200,
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. 3f2b8c1e-5d4a-4e8f-9a61-0c7d2b9e4f10", "class": "mono"}
        ),
        help_text="The UUID the predict API answered with (request_id), or the one you sent.",
    )

    def clean_request_id(self) -> uuid.UUID:
        text = self.cleaned_data["request_id"].strip()
        try:
            return uuid.UUID(text)
        except ValueError:
            raise forms.ValidationError(
                "“%(value)s” is not a UUID: a request id has 32 hexadecimal digits, "
                "like 3f2b8c1e-5d4a-4e8f-9a61-0c7d2b9e4f10.",
                code="invalid",
                params={"value": text},
            ) from None


def prediction_lookup(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.GET if "request_id" in request.GET else None)
    if form.is_bound and form.is_valid():
        request_id = form.cleaned_data["request_id"]
        found = PredictionRecord.objects.filter(
            request_id=request_id, model__project__in=visible_projects(request.user)
        ).exists()
        if found:
            return redirect("prediction-detail", request_id)
        form.add_error("request_id", f"No prediction with request id {request_id}.")
    return render(request, "monitoring/serving_lookup.html", {"form": form})


def prediction_detail(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    record = get_object_or_404(
        PredictionRecord.objects.filter(model__project__in=visible_projects(request.user))
        .select_related(
            "model__project", "model_version__training_dataset_version__dataset__project"
        )
        .defer(
            "model_version__training_dataset_version__profile",
            "model_version__training_dataset_version__schema",
        ),
        request_id=request_id,
    )
    model = record.model
    version = record.model_version
    project = model.project
    training = version.training_dataset_version
    hidden = hidden_inputs(request.user, version)
    inputs = _input_rows(record.inputs, version, hidden)
    return render(
        request,
        "monitoring/serving_prediction.html",
        {
            "record": record,
            "model": model,
            "version": version,
            "project": project,
            "training": training,
            "training_visible": training is None or can_see_dataset(request.user, training.dataset),
            "inputs": inputs,
            "inputs_hidden": hidden is None,
            "masked_count": sum(1 for row in inputs if row["masked"]),
            "prediction": _plain(record.prediction),
            "probabilities": _probability_rows(record.probabilities, record.prediction),
            "outcome": _outcome(record, model.task),
            "label": _plain(record.label),
            "packages": len(version.packages or {}),
        },
    )


def _input_rows(
    inputs: Any, version: ModelVersion, hidden: frozenset[str] | None
) -> list[dict[str, Any]]:
    """Inputs in the signature's order (then any others), hidden ones masked."""
    if hidden is None or not isinstance(inputs, Mapping):
        return []
    order = [str(feature.get("name")) for feature in version.signature or []]
    names = [name for name in order if name in inputs]
    names += sorted(name for name in inputs if name not in set(order))
    types = {
        str(feature.get("name")): feature.get("type", "") for feature in version.signature or []
    }
    return [
        {
            "name": name,
            "type": types.get(name, ""),
            "value": MASK if name in hidden else _plain(inputs[name]),
            "masked": name in hidden,
        }
        for name in names
    ]


def short_value(value: Any) -> str:
    """A predicted or true value for a table cell: numbers to 6 significant digits, long
    text cut; "—" for none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.6g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _probability_rows(probabilities: Any, prediction: Any) -> list[dict[str, Any]]:
    if not isinstance(probabilities, Mapping):
        return []
    rows = [
        {
            "label": str(label),
            "probability": float(probability),
            "percent": f"{100 * float(probability):.2f}%",
            "width": f"{max(0.0, min(1.0, float(probability))) * 100:.1f}",
            "predicted": str(label) == str(prediction),
        }
        for label, probability in probabilities.items()
        if isinstance(probability, int | float)
    ]
    return sorted(rows, key=lambda row: -row["probability"])


def _outcome(record: PredictionRecord, task: str) -> dict[str, Any] | None:
    """How the prediction compares with the ground truth, once it arrived."""
    if record.label is None:
        return None
    if task == ModelTask.REGRESSION:
        if isinstance(record.prediction, int | float) and isinstance(record.label, int | float):
            error = float(record.prediction) - float(record.label)
            return {"text": f"off by {error:+,.4g} (prediction − truth)", "correct": None}
        return {"text": "not comparable", "correct": None}
    correct = str(record.prediction) == str(record.label)
    return {"text": "correct" if correct else "wrong", "correct": correct}
