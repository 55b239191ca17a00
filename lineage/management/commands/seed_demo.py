"""Load the demo: a card-fraud project with three versions of a transactions dataset, a
model trained on each of the first two (registered with metrics, parameters, environment
and lineage), and a quality suite that the third version fails."""

from __future__ import annotations

import datetime as dt
import platform
import tempfile
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from lineage import capture, governance, openlineage, services
from lineage.api.serializers import set_tags
from lineage.choices import EdgeKind, JobState, ModelTask, Role, Sensitivity, Stage
from lineage.demo.transactions import FEATURES, TARGET, make_transactions
from lineage.models import Dataset, DatasetVersion, Job, Membership, Project, RegisteredModel
from mlops_portal.celery import app as celery_app

CATEGORICAL = ["merchant_category", "country", "channel"]


def run_queued_jobs() -> None:
    """Run the queued jobs here and now, in order, so the demo's pages have their profiles
    and quality results before the worker starts."""
    from lineage.tasks import run_job

    for job_id in (
        Job.objects.filter(state=JobState.QUEUED).order_by("pk").values_list("pk", flat=True)
    ):
        run_job(job_id)


NUMERIC = [name for name in FEATURES if name not in CATEGORICAL]


def pd_timestamp(moment: dt.datetime) -> Any:
    """A naive timestamp in UTC, comparable with the demo frames' timestamp column."""
    import pandas as pd

    return pd.Timestamp(moment.replace(tzinfo=None))


def plain(value: Any) -> Any:
    """A JSON value from a pandas cell."""
    return value.item() if isinstance(value, np.generic) else value


def train(frame: Any, seed: int) -> tuple[Pipeline, dict[str, float]]:
    """Fit the fraud model on 80% of the rows and measure it on the rest."""
    rng = np.random.default_rng(seed)
    holdout = rng.random(len(frame)) < 0.2
    features = frame[FEATURES].copy()
    features["card_present"] = features["card_present"].astype(int)
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                    remainder="passthrough",
                ),
            ),
            (
                "classifier",
                HistGradientBoostingClassifier(max_iter=120, learning_rate=0.08, random_state=seed),
            ),
        ]
    )
    pipeline.fit(features[~holdout], frame[TARGET][~holdout])
    # The alert threshold is the one with the best F1 on the training rows, as a team would
    # pick it; the metrics are measured on the held-out rows.
    precision, recall, thresholds = precision_recall_curve(
        frame[TARGET][~holdout], pipeline.predict_proba(features[~holdout])[:, 1]
    )
    f1_by_threshold = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    threshold = float(thresholds[int(np.argmax(f1_by_threshold[:-1]))])
    scores = pipeline.predict_proba(features[holdout])[:, 1]
    predicted = (scores >= threshold).astype(int)
    truth = frame[TARGET][holdout]
    metrics = {
        "roc_auc": round(float(roc_auc_score(truth, scores)), 4),
        "average_precision": round(float(average_precision_score(truth, scores)), 4),
        "f1": round(float(f1_score(truth, predicted, zero_division=0)), 4),
        "precision": round(float(precision_score(truth, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(truth, predicted, zero_division=0)), 4),
    }
    return pipeline, metrics


def environment() -> dict[str, Any]:
    names = ["scikit-learn", "numpy", "pandas", "pyarrow", "scipy", "skops"]
    packages = {}
    for name in names:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python_version": platform.python_version(), "packages": packages}


class Command(BaseCommand):
    help = "Create the demo admin user and, if the catalog is empty, the card-fraud demo project."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rows", type=int, default=20_000, help="Rows per dataset version.")
        parser.add_argument("--password", default="admin", help="The demo admin's password.")

    def handle(self, *args: Any, rows: int, password: str, **options: Any) -> None:
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username="admin",
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
        )
        if created:
            admin.set_password(password)
            admin.save()
            self.stdout.write(f"Demo admin created: sign in as admin / {password}")
        if Project.objects.exists():
            self.stdout.write("The catalog has data already: demo data not loaded again.")
            return
        # Profile inline so the demo's pages have their charts before the worker starts.
        celery_app.conf.task_always_eager = True
        with transaction.atomic():  # a failed load leaves nothing, and runs again next time
            self.load(admin, rows)
        self.stdout.write(self.style.SUCCESS("Demo data loaded: project 'Card fraud detection'."))

    def load(self, admin: Any, rows: int) -> None:
        user_model = get_user_model()
        with transaction.atomic():
            project = Project.objects.create(
                name="Card fraud detection",
                slug="card-fraud",
                description="Scores card transactions for fraud before authorisation.",
                created_by=admin,
            )
            Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
            for username, role in (
                ("dana", Role.CONTRIBUTOR),
                ("rui", Role.REVIEWER),
                ("val", Role.VIEWER),
            ):
                member, _ = user_model.objects.get_or_create(username=username)
                if not member.has_usable_password():
                    member.set_unusable_password()
                    member.save()
                Membership.objects.create(project=project, user=member, role=role)
            dataset = Dataset.objects.create(
                project=project,
                name="card-transactions",
                description="Authorised card transactions with the confirmed fraud label.",
                owner=admin,
                sensitivity=Sensitivity.CONFIDENTIAL,
            )
            set_tags(dataset, ["fraud", "transactions", "monthly"])
            external = Dataset.objects.create(
                project=project,
                name="merchant-risk-scores",
                description="Risk scores per merchant, computed by the payments data team.",
                owner=admin,
                sensitivity=Sensitivity.INTERNAL,
            )
            set_tags(external, ["fraud", "external"])
        services.create_external_dataset_version(
            external,
            "s3://payments-lake/merchant_risk/2026-10.parquet",
            user=admin,
            description="October scores",
            schema=[
                {"name": "merchant_id", "type": "integer"},
                {"name": "risk_score", "type": "float"},
            ],
        )
        model = RegisteredModel.objects.create(
            project=project,
            name="fraud-detector",
            task=ModelTask.CLASSIFICATION,
            owner=admin,
            description="Gradient-boosted trees over transaction, card and customer features.",
        )
        set_tags(model, ["fraud", "gbdt"])
        months = [
            ("2026-09-01", 0.0, "September transactions"),
            ("2026-10-01", 0.02, "October transactions"),
        ]
        versions = []
        data_versions = []
        for index, (start, shift, note) in enumerate(months, start=1):
            frame = make_transactions(rows, seed=index, start=start, fraud_shift=shift)
            upload = ContentFile(
                frame.to_csv(index=False).encode(), name=f"transactions-{start[:7]}.csv"
            )
            data_version = services.create_dataset_version_from_upload(
                dataset, upload, user=admin, description=note
            )
            pipeline, metrics = train(frame, seed=index)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.skops"
                sio.dump(pipeline, path)
                artifact = ContentFile(path.read_bytes(), name="model.skops")
            version = services.register_model_version(
                model,
                artifact,
                {
                    "description": f"Trained on {note.lower()}.",
                    "training_dataset_version": data_version.pk,
                    "target_column": TARGET,
                    "metrics": metrics,
                    "code_repository": "https://git.example.com/payments/fraud-models",
                    "code_commit": f"{'3f9c2e1' if index == 1 else '8b41d07'}",
                    **environment(),
                },
                user=admin,
            )
            versions.append(version)
            data_versions.append(data_version)
        self.load_quality(admin, dataset, data_versions, rows)
        versions[0].change_stage(Stage.PRODUCTION, admin, "First model in production.")
        versions[1].change_stage(Stage.STAGING, admin, "Candidate trained on October data.")
        self.load_drift(admin, model, versions[0], dataset)
        self.load_serving(admin, model, versions[0])
        self.load_lineage_and_governance(project, admin, data_versions, versions, external)

    def load_quality(
        self, admin: Any, dataset: Dataset, data_versions: list[Any], rows: int
    ) -> None:
        """A quality suite suggested from September's profile, and November's extract, where
        field agents typed -1 in total_value to flag transactions for follow-up: its run
        fails the quality gate and shows the rows. From the 20th the holiday season moves
        spending up and online, which the drift analysis finds day by day."""
        from monitoring import services as quality_services
        from monitoring.choices import RunTrigger

        run_queued_jobs()  # the profiles the suggestions are made from
        september = data_versions[0]
        september.refresh_from_db()
        quality_services.save_suite(
            dataset,
            quality_services.suggested_suite(september),
            user=admin,
            change_note="Suggested from the profile of v1 and accepted",
            description="Rules every monthly extract must follow before training uses it.",
            run_latest=False,
        )
        for version in data_versions:
            quality_services.start_quality_run(version, user=admin, trigger=RunTrigger.SUITE_CHANGE)
        frame = make_transactions(rows, seed=3, start="2026-11-01", fraud_shift=0.02)
        # From the 20th, the holiday season: people spend more, and more of it online.
        rng = np.random.default_rng(3)
        season = (frame["timestamp"] >= "2026-11-20").to_numpy()
        frame.loc[season, "total_value"] = (frame.loc[season, "total_value"] * 1.8).round(2)
        online = season & (rng.random(len(frame)) < 0.3)
        frame.loc[online, "channel"] = "online"
        frame.loc[online, "card_present"] = False
        flagged = rng.random(len(frame)) < 0.03
        frame.loc[flagged, "total_value"] = -1.0
        services.create_dataset_version_from_upload(
            dataset,
            ContentFile(frame.to_csv(index=False).encode(), name="transactions-2026-11.csv"),
            user=admin,
            description="November transactions (agents flagged some with -1; holiday "
            "spending from the 20th)",
        )
        run_queued_jobs()  # profiling, and the quality runs the new version started

    def load_drift(
        self, admin: Any, model: RegisteredModel, production: Any, dataset: Dataset
    ) -> None:
        """The production model's training data (September) against November, day by day,
        and a daily schedule doing the same with the newest data."""
        from monitoring import drift_runs
        from monitoring.choices import RunTrigger

        drift_runs.save_settings(
            model,
            window_column="timestamp",
            window_frequency="day",
            schedule_kind="daily",
        )
        drift_runs.start_drift_analysis(
            production,
            user=admin,
            trigger=RunTrigger.MANUAL,
            current_version=dataset.versions.order_by("-version").first(),
            window_column="timestamp",
            window_frequency="day",
        )
        run_queued_jobs()

    def load_serving(self, admin: Any, model: RegisteredModel, production: Any) -> None:
        """Two weeks of the production model's traffic up to now, scored by the model itself:
        a daily rhythm, the holiday shift in the last six days (lower confidence), ground
        truth for most requests older than three days, alert rules evaluated once, and a
        drift analysis of the last week of logged inputs by day."""
        from lineage import artifacts
        from monitoring import alerts, drift_runs, prediction_store
        from monitoring.choices import AlertMetric, CurrentSource, RunTrigger
        from monitoring.models import AlertRule

        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        start = now - dt.timedelta(days=14)
        rows = 14 * 1_500
        frame = make_transactions(rows, seed=4, start=start.strftime("%Y-%m-%d %H:%M"), days=14)
        rng = np.random.default_rng(4)
        season = (frame["timestamp"] >= pd_timestamp(now - dt.timedelta(days=6))).to_numpy()
        frame.loc[season, "total_value"] = (frame.loc[season, "total_value"] * 1.8).round(2)
        online = season & (rng.random(rows) < 0.3)
        frame.loc[online, "channel"] = "online"
        frame.loc[online, "card_present"] = False
        frame = frame[frame["timestamp"] < pd_timestamp(now)].sort_values("timestamp")
        with production.artifact.open("rb") as handle:
            estimator = artifacts.load_estimator(handle, extra_trusted=settings.MODEL_TRUSTED_TYPES)
        probabilities = estimator.predict_proba(frame[FEATURES])
        classes = [int(label) for label in estimator.classes_]
        latency = rng.lognormal(np.log(6.0), 0.35, len(frame)) + season[: len(frame)] * 2.0
        inputs = frame[FEATURES].to_dict("records")
        truth = frame[TARGET].to_numpy()
        times = frame["timestamp"].dt.tz_localize("UTC").dt.to_pydatetime()
        labelled = (rng.random(len(frame)) < 0.8) & (
            frame["timestamp"] < pd_timestamp(now - dt.timedelta(days=3))
        ).to_numpy()
        records = []
        for index, row_inputs in enumerate(inputs):
            best = int(probabilities[index].argmax())
            records.append(
                {
                    "request_id": uuid.UUID(bytes=rng.bytes(16), version=4),
                    "model_id": model.pk,
                    "model_version_id": production.pk,
                    "logged_at": times[index],
                    "source": "ingested",
                    "inputs": {key: plain(value) for key, value in row_inputs.items()},
                    "prediction": classes[best],
                    "probabilities": {
                        str(label): round(float(p), 5)
                        for label, p in zip(classes, probabilities[index], strict=True)
                    },
                    "confidence": round(float(probabilities[index].max()), 5),
                    "latency_ms": round(float(latency[index]), 2),
                    "label": int(truth[index]) if labelled[index] else None,
                    "labelled_at": now if labelled[index] else None,
                }
            )
        for first in range(0, len(records), 5_000):
            prediction_store.store_predictions(records[first : first + 5_000])
        for metric, threshold, window in (
            (AlertMetric.LATENCY_P95, 25.0, 60),
            (AlertMetric.CONFIDENCE_MEAN, 0.93, 24 * 60),
            (AlertMetric.ACCURACY, 0.9, 7 * 24 * 60),
            (AlertMetric.DRIFT, None, 60),
        ):
            AlertRule.objects.create(
                model=model,
                metric=metric,
                threshold=threshold,
                window_minutes=window,
                created_by=admin,
            )
        alerts.evaluate_rules()
        drift_runs.start_drift_analysis(
            production,
            user=admin,
            trigger=RunTrigger.MANUAL,
            current_source=CurrentSource.PREDICTIONS,
            current_start=now - dt.timedelta(days=7),
            current_end=now,
            window_frequency="day",
        )
        run_queued_jobs()

    def load_lineage_and_governance(
        self,
        project: Project,
        admin: Any,
        data_versions: list[Any],
        model_versions: list[Any],
        merchant_risk: Dataset,
    ) -> None:
        """The pipeline behind the monthly extracts (reported as OpenLineage events), so the
        graph shows that the model was trained on PII; a production review waiting; and
        data kept past its retention date."""
        merchant_risk.refresh_from_db()  # its namespace and name came with its first version
        cardholders = Dataset.objects.create(
            project=project,
            name="cardholders",
            description="Card holders from core banking: names, e-mails, addresses.",
            owner=admin,
            sensitivity=Sensitivity.PII,
        )
        set_tags(cardholders, ["customers", "core-banking"])
        services.create_external_dataset_version(
            cardholders,
            "postgres://core-banking:5432/bank/public/cardholders",
            user=admin,
            schema=[
                {"name": "cardholder_id", "type": "integer"},
                {"name": "email", "type": "string"},
                {"name": "birth_date", "type": "date"},
            ],
        )
        for index, data_version in enumerate(data_versions, start=1):
            month = data_version.description.split()[0].lower()
            run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-extract-{index}"))
            common = {
                "producer": "https://github.com/apache/airflow/tree/providers-openlineage",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": run_id},
                "job": {"namespace": "airflow-payments", "name": "fraud.monthly_extract"},
                "inputs": [
                    {
                        "namespace": "postgres://core-banking:5432",
                        "name": "bank.public.cardholders",
                    },
                    {"namespace": merchant_risk.namespace, "name": merchant_risk.source_name},
                ],
                "outputs": [
                    {
                        "namespace": "s3://payments-lake",
                        "name": f"extracts/transactions-{month}.csv",
                    }
                ],
            }
            started = data_version.created_at - dt.timedelta(minutes=20)
            for event_type, at in (
                ("START", started),
                ("COMPLETE", started + dt.timedelta(minutes=12)),
            ):
                openlineage.ingest_event(
                    {**common, "eventType": event_type, "eventTime": at.isoformat()},
                    user=admin,
                    project_slug=project.slug,
                )
            extract = DatasetVersion.objects.get(produced_by_run__run_id=run_id)
            # The uploaded CSV is that extract, so the graph continues into the model.
            capture.link(extract, data_version, EdgeKind.DERIVED_FROM)
        dana = get_user_model().objects.get(username="dana")
        governance.request_review(
            model_versions[1], dana, "Better recall on October data; shadow traffic looked fine."
        )
        chargebacks = Dataset.objects.create(
            project=project,
            name="chargebacks-2024",
            description="Chargeback disputes of 2024, kept for the audit of last year's model.",
            owner=admin,
            sensitivity=Sensitivity.CONFIDENTIAL,
            retain_until=dt.date(2026, 6, 30),
        )
        frame = make_transactions(500, seed=9, start="2024-03-01")[
            ["transaction_id", "total_value"]
        ]
        services.create_dataset_version_from_upload(
            chargebacks,
            ContentFile(frame.to_csv(index=False).encode(), name="chargebacks-2024.csv"),
            user=admin,
            description="Closed disputes",
        )
