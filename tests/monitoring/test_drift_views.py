"""The drift pages: the overview, a model's drift page, an analysis, a feature (numeric and
categorical) and the domain classifier render for members with their verdict and their
Plotly figures; analyses are started and settings saved from the model's drift page by
contributors only; outsiders do not see analyses of confidential data, nor values of PII
columns; and the verdict reaches the model's catalog pages and the home page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import skops.io as sio
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from pandas.api.types import is_numeric_dtype
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from lineage import services as catalog
from lineage.choices import ModelTask
from lineage.demo.transactions import make_transactions
from lineage.models import Dataset, DatasetVersion, ModelVersion, Project, RegisteredModel
from monitoring import drift_runs
from monitoring.models import DriftAnalysis, DriftSettings

pytestmark = pytest.mark.django_db

Inline = Callable[[], AbstractContextManager[Any]]
Upload = Callable[..., DatasetVersion]

MASK = "•••• (PII)"
DRIFTED_BADGE = '<span class="badge badge-drift" title="Drifted">Drifted</span>'
ROWS = 1_500
# Numbers and the merchant category, which the shared dataset marks PII.
FEATURES = ["total_value", "merchant_category", "account_age_days", "hour"]
FAST = {"classifier_rows": 2_000}


@pytest.fixture(autouse=True)
def _one_thread_per_test() -> Iterator[None]:
    """The domain classifier's OpenMP threads crawl on a busy shared machine: one each."""
    with threadpool_limits(limits=1):
        yield


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def transactions_csv(
    seed: int,
    *,
    start: str = "2026-09-01",
    shift: dict[str, float] | None = None,
    replace_category: tuple[str, str] | None = None,
) -> bytes:
    frame = make_transactions(ROWS, seed=seed, start=start)
    for column, amount in (shift or {}).items():
        frame[column] = frame[column] + amount
    if replace_category:
        old, new = replace_category
        frame["merchant_category"] = frame["merchant_category"].replace(old, new)
    return frame.to_csv(index=False).encode()


def pipeline_artifact() -> bytes:
    """A classifier on FEATURES: the merchant category one-hot encoded."""
    frame = make_transactions(400, seed=99)
    categorical = [name for name in FEATURES if not is_numeric_dtype(frame[name])]
    estimator = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), remainder="passthrough"
        ),
        LogisticRegression(max_iter=2_000),
    ).fit(frame[FEATURES], frame["is_fraud"])
    return sio.dumps(estimator)


def register(model: RegisteredModel, training: DatasetVersion, user: User) -> ModelVersion:
    return catalog.register_model_version(
        model,
        SimpleUploadedFile("model.skops", pipeline_artifact()),
        {"training_dataset_version": training.pk, "target_column": "is_fraud"},
        user=user,
    )


def run(
    version: ModelVersion, current: DatasetVersion, user: User, inline: Inline, **options: Any
) -> DriftAnalysis:
    with inline():
        analysis = drift_runs.start_drift_analysis(
            version,
            user=user,
            trigger="manual",
            current_version=current,
            thresholds=dict(FAST),
            **options,
        )
    analysis.refresh_from_db()
    assert analysis.state == "succeeded", analysis.error
    return analysis


@pytest.fixture
def model(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="fraud-detector", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def september(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    return upload_version(dataset, transactions_csv(1))


@pytest.fixture
def trained(model: RegisteredModel, september: DatasetVersion, contributor: User) -> ModelVersion:
    return register(model, september, contributor)


@pytest.fixture
def november(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    """Older accounts, and a merchant category ("casino") the reference never had."""
    return upload_version(
        dataset,
        transactions_csv(
            3,
            start="2026-11-01",
            shift={"account_age_days": 1_500},
            replace_category=("pharmacy", "casino"),
        ),
    )


@pytest.fixture
def drifted(
    trained: ModelVersion, november: DatasetVersion, contributor: User, inline: Inline
) -> DriftAnalysis:
    return run(trained, november, contributor, inline)


@pytest.fixture
def calm(
    trained: ModelVersion,
    dataset: Dataset,
    upload_version: Upload,
    contributor: User,
    inline: Inline,
) -> DriftAnalysis:
    october = upload_version(dataset, transactions_csv(2, start="2026-10-01"))
    return run(trained, october, contributor, inline)


def plotly_ids(response: Any) -> set[str]:
    """The charts a page embeds: each a data-plotly element and its JSON figure."""
    html = response.content.decode()
    ids = set()
    for chunk in html.split('data-plotly="')[1:]:
        chart_id = chunk.split('"', 1)[0]
        assert f'<script id="{chart_id}" type="application/json">' in html, chart_id
        ids.add(chart_id)
    return ids


def figure(response: Any, chart_id: str) -> dict[str, Any]:
    html = response.content.decode()
    start = html.index(f'<script id="{chart_id}" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)  # type: ignore[no-any-return]


# Pages for members ------------------------------------------------------------------------


def test_the_overview_lists_models_and_analyses_with_their_verdict(
    viewer: User, model: RegisteredModel, drifted: DriftAnalysis, calm: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(reverse("drift-overview"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "fraud-detector" in html
    assert reverse("model-drift", args=[model.pk]) in html
    assert drifted.get_absolute_url() in html
    assert calm.get_absolute_url() in html
    assert DRIFTED_BADGE in html
    assert ">Not drifted</span>" in html


def test_the_model_drift_page_shows_the_latest_status_and_the_timeline(
    contributor: User, model: RegisteredModel, calm: DriftAnalysis, drifted: DriftAnalysis
) -> None:
    response = signed_in(contributor).get(reverse("model-drift", args=[model.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    header = html.split("</header>", 1)[0]
    assert DRIFTED_BADGE in header  # the latest analysis drifted
    assert f"#{drifted.pk}" in header
    assert "domain classifier AUC" in header
    assert {"drift-heatmap", "drift-timeline"} <= plotly_ids(response)
    assert "Analyse drift" in html  # a contributor may start one
    assert "Save settings" in html


def test_the_analysis_page_shows_features_the_domain_classifier_and_predictions(
    viewer: User, drifted: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(drifted.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert DRIFTED_BADGE in html.split("</header>", 1)[0]
    for name in FEATURES:
        assert reverse("drift-feature", args=[drifted.pk, name]) in html
    assert reverse("drift-classifier", args=[drifted.pk]) in html
    assert "account_age_days" in html
    assert "new: casino" in html  # a member sees the new category by name
    assert "drift-auc" in plotly_ids(response)
    auc = figure(response, "drift-auc")
    assert auc["data"], "the AUC chart has data"


def test_a_numeric_feature_page_overlays_both_distributions(
    viewer: User, drifted: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(
        reverse("drift-feature", args=[drifted.pk, "account_age_days"])
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Kolmogorov-Smirnov" in html
    assert DRIFTED_BADGE in html.split("</header>", 1)[0]
    assert "feature-distribution" in plotly_ids(response)
    distribution = figure(response, "feature-distribution")
    assert len(distribution["data"]) >= 2  # reference and current


def test_a_categorical_feature_page_shows_bars_and_the_new_category(
    viewer: User, drifted: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(
        reverse("drift-feature", args=[drifted.pk, "merchant_category"])
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Jensen-Shannon" in html
    assert "casino" in html
    assert "feature-distribution" in plotly_ids(response)
    assert "casino" in json.dumps(figure(response, "feature-distribution"))


def test_an_unknown_feature_is_not_found(viewer: User, drifted: DriftAnalysis) -> None:
    response = signed_in(viewer).get(reverse("drift-feature", args=[drifted.pk, "no_such"]))

    assert response.status_code == 404


def test_the_classifier_page_shows_the_auc_importances_and_unlike_rows(
    viewer: User, drifted: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(reverse("drift-classifier", args=[drifted.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert DRIFTED_BADGE in html.split("</header>", 1)[0]
    assert "ROC AUC" in html
    assert {"domain-auc", "domain-importance"} <= plotly_ids(response)
    assert "account_age_days" in json.dumps(figure(response, "domain-importance"))
    assert "Current rows most unlike the reference" in html
    assert "<th>merchant_category</th>" in html


# Starting and settings --------------------------------------------------------------------


def test_the_start_form_starts_an_analysis_and_opens_it(
    contributor: User,
    model: RegisteredModel,
    trained: ModelVersion,
    november: DatasetVersion,
    inline: Inline,
) -> None:
    with inline():
        response = signed_in(contributor).post(
            reverse("drift-start", args=[model.pk]),
            {
                "model_version": trained.pk,
                "reference_version": "",
                "current_version": november.pk,
                "window_column": "timestamp",
                "window_frequency": "week",
            },
        )

    analysis = DriftAnalysis.objects.get()
    assert response.status_code == 302
    assert response["Location"] == analysis.get_absolute_url()
    assert (analysis.trigger, analysis.created_by) == ("manual", contributor)
    assert analysis.reference_version == trained.training_dataset_version
    assert (analysis.window_column, analysis.window_frequency) == ("timestamp", "week")
    assert analysis.state == "succeeded", analysis.error
    page = signed_in(contributor).get(response["Location"])
    assert page.status_code == 200
    assert {"drift-heatmap", "drift-timeline"} <= plotly_ids(page)


def test_a_refused_start_says_why_on_the_model_page(
    contributor: User,
    model: RegisteredModel,
    trained: ModelVersion,
    november: DatasetVersion,
) -> None:
    response = signed_in(contributor).post(
        reverse("drift-start", args=[model.pk]),
        {
            "model_version": trained.pk,
            "current_version": november.pk,
            "window_column": "total_value",
            "window_frequency": "day",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("model-drift", args=[model.pk])
    assert any("not timestamps" in message for message in messages_of(response))
    assert not DriftAnalysis.objects.exists()


def settings_form(**changes: str) -> dict[str, str]:
    """The settings form as the page fills it in (the defaults), with `changes`."""
    data = {
        "alpha": "0.05",
        "ks": "0.1",
        "wasserstein": "0.1",
        "psi": "0.2",
        "jensen_shannon": "0.1",
        "missing_rate": "0.05",
        "domain_auc": "0.52",
        "domain_alpha": "0.01",
        "window_column": "",
        "window_frequency": "",
        "schedule_kind": "none",
        "schedule_cron": "",
    }
    data.update(changes)
    return data


def test_the_settings_form_saves_thresholds_and_a_daily_schedule(
    contributor: User, model: RegisteredModel
) -> None:
    response = signed_in(contributor).post(
        reverse("drift-settings", args=[model.pk]),
        settings_form(
            alpha="0.01",
            wasserstein="0.25",
            schedule_kind="daily",
            window_column="timestamp",
            window_frequency="day",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("model-drift", args=[model.pk])
    assert "Drift settings saved." in messages_of(response)
    saved = DriftSettings.objects.get(model=model)
    assert saved.thresholds == {"alpha": 0.01, "wasserstein": 0.25}
    assert (saved.window_column, saved.window_frequency) == ("timestamp", "day")
    assert saved.schedule_kind == "daily"
    task = saved.periodic_task
    assert task is not None
    assert task.task == "monitoring.drift_runs.run_scheduled_drift_analysis"
    assert json.loads(task.kwargs) == {"model_id": model.pk}
    assert task.crontab is not None
    assert (task.crontab.minute, task.crontab.hour) == ("0", "6")
    assert drift_runs.thresholds_for(model)["alpha"] == 0.01
    page = signed_in(contributor).get(reverse("model-drift", args=[model.pk]))
    assert "Schedule: daily." in page.content.decode()


def test_the_settings_form_keeps_a_threshold_out_of_range_out(
    contributor: User, model: RegisteredModel
) -> None:
    response = signed_in(contributor).post(
        reverse("drift-settings", args=[model.pk]), settings_form(domain_auc="0.3")
    )

    assert response.status_code == 302
    assert any("not saved" in message for message in messages_of(response))
    assert not DriftSettings.objects.filter(model=model).exclude(thresholds={}).exists()


def test_a_viewer_can_neither_start_nor_configure(
    viewer: User,
    model: RegisteredModel,
    trained: ModelVersion,
    november: DatasetVersion,
) -> None:
    client = signed_in(viewer)

    started = client.post(
        reverse("drift-start", args=[model.pk]),
        {"model_version": trained.pk, "current_version": november.pk},
    )
    configured = client.post(
        reverse("drift-settings", args=[model.pk]), settings_form(schedule_kind="daily")
    )

    assert (started.status_code, configured.status_code) == (403, 403)
    assert not DriftAnalysis.objects.exists()
    assert not PeriodicTask.objects.filter(task__contains="drift").exists()
    page = client.get(reverse("model-drift", args=[model.pk]))
    assert page.status_code == 200
    assert "Analyse drift" not in page.content.decode()


# Outsiders --------------------------------------------------------------------------------


def test_an_outsider_does_not_see_analyses_of_confidential_data(
    outsider: User, model: RegisteredModel, drifted: DriftAnalysis
) -> None:
    client = signed_in(outsider)

    for url in (
        drifted.get_absolute_url(),
        reverse("drift-feature", args=[drifted.pk, "total_value"]),
        reverse("drift-classifier", args=[drifted.pk]),
    ):
        assert client.get(url).status_code == 404, url
    model_page = client.get(reverse("model-drift", args=[model.pk]))
    overview = client.get(reverse("drift-overview"))
    for page in (model_page, overview):
        assert page.status_code == 200
        assert drifted.get_absolute_url() not in page.content.decode()
    assert "account_age_days" not in model_page.content.decode()


@pytest.fixture
def shared_analysis(
    project: Project,
    contributor: User,
    internal_dataset: Dataset,
    upload_version: Upload,
    inline: Inline,
) -> DriftAnalysis:
    """Analysis of the shared transactions, whose merchant category is PII."""
    september = upload_version(internal_dataset, transactions_csv(1))
    november = upload_version(
        internal_dataset,
        transactions_csv(
            3,
            start="2026-11-01",
            shift={"account_age_days": 1_500},
            replace_category=("pharmacy", "casino"),
        ),
    )
    shared_model = RegisteredModel.objects.create(
        project=project, name="shared-detector", task=ModelTask.CLASSIFICATION
    )
    return run(register(shared_model, september, contributor), november, contributor, inline)


def test_an_outsider_reads_the_classifier_page_with_pii_masked(
    outsider: User, shared_analysis: DriftAnalysis
) -> None:
    response = signed_in(outsider).get(reverse("drift-classifier", args=[shared_analysis.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert MASK in html
    for category in ("grocery", "fuel", "restaurants", "casino"):
        assert f">{category}<" not in html


def test_an_outsider_reads_a_pii_feature_page_without_its_values(
    outsider: User, shared_analysis: DriftAnalysis
) -> None:
    response = signed_in(outsider).get(
        reverse("drift-feature", args=[shared_analysis.pk, "merchant_category"])
    )

    assert response.status_code == 200
    html = response.content.decode()
    for category in ("casino", "pharmacy", "grocery"):
        assert category not in html, f"{category!r} is a value of a PII column"


def test_an_outsider_reads_the_analysis_page_without_pii_values(
    outsider: User, shared_analysis: DriftAnalysis
) -> None:
    response = signed_in(outsider).get(shared_analysis.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "casino" not in html
    assert "pharmacy" not in html


# Where else the verdict shows --------------------------------------------------------------


def test_the_model_catalog_page_shows_each_versions_drift(
    viewer: User, model: RegisteredModel, drifted: DriftAnalysis, september: DatasetVersion
) -> None:
    never_analysed = register(model, september, viewer)

    response = signed_in(viewer).get(reverse("model-detail", args=[model.pk]))

    assert response.status_code == 200
    rows = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    row_of = {
        version: rows.split(f">v{version}</a>", 1)[1].split("</tr>", 1)[0] for version in (1, 2)
    }
    assert DRIFTED_BADGE in row_of[1]
    assert never_analysed.version == 2
    assert ">Not analysed</span>" in row_of[2]
    assert reverse("model-drift", args=[model.pk]) in response.content.decode()


def test_the_model_version_page_shows_its_drift(
    viewer: User, model: RegisteredModel, trained: ModelVersion, drifted: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(
        reverse("model-version-detail", args=[model.pk, trained.version])
    )

    assert response.status_code == 200
    header = response.content.decode().split("</h1>", 1)[0]
    assert ">Drifted</span>" in header
    assert reverse("model-drift", args=[model.pk]) in header


def test_the_home_page_lists_a_drifted_model(
    viewer: User, model: RegisteredModel, drifted: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(reverse("home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Models whose data drifted" in html
    section = html.split("Models whose data drifted", 1)[1].split("</section>", 1)[0]
    assert "fraud-detector v1" in section
    assert reverse("model-drift", args=[model.pk]) in section


def test_the_home_page_leaves_out_a_model_that_did_not_drift(
    viewer: User, calm: DriftAnalysis
) -> None:
    response = signed_in(viewer).get(reverse("home"))

    assert "Models whose data drifted" not in response.content.decode()
