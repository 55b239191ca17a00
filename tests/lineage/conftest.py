"""Catalog fixtures: a dataset of card transactions with uploaded versions, a registered model,
and small real scikit-learn estimators saved with skops.

Files are built in memory (tens of rows) so the suite stays fast; every helper is a fixture
because test modules here are not a package and cannot import from each other.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import skops.io as sio
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from lineage import services
from lineage.api.serializers import set_tags
from lineage.choices import ModelTask, Sensitivity
from lineage.models import Dataset, DatasetVersion, ModelVersion, Project, RegisteredModel

MERCHANTS = ["grocer", "fuel", "online", "travel"]


def transactions_frame(rows: int = 40, seed: int = 0) -> pd.DataFrame:
    """Card transactions: a float amount, an integer hour, a merchant and the fraud label."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.gamma(2.0, 30.0, size=rows), 2)
    hour = rng.integers(0, 24, size=rows)
    merchant = [MERCHANTS[index % len(MERCHANTS)] for index in range(rows)]
    is_fraud = ((amount > 80) | (hour < 4)).astype(int)
    return pd.DataFrame(
        {"amount": amount, "hour": hour, "merchant": merchant, "is_fraud": is_fraud}
    )


@pytest.fixture
def transactions_csv() -> Callable[..., bytes]:
    def make(rows: int = 40, seed: int = 0) -> bytes:
        return transactions_frame(rows, seed).to_csv(index=False).encode()

    return make


@pytest.fixture
def transactions_parquet() -> Callable[..., bytes]:
    def make(rows: int = 40, seed: int = 0) -> bytes:
        buffer = io.BytesIO()
        table = pa.Table.from_pandas(transactions_frame(rows, seed), preserve_index=False)
        pq.write_table(table, buffer)
        return buffer.getvalue()

    return make


@pytest.fixture
def upload() -> Callable[..., SimpleUploadedFile]:
    """A file as a browser or an API client would send it."""

    def make(content: bytes, name: str = "transactions.csv") -> SimpleUploadedFile:
        return SimpleUploadedFile(name, content, content_type="application/octet-stream")

    return make


@pytest.fixture
def media_files() -> Callable[[], list[Path]]:
    """Every file stored under MEDIA_ROOT (uploads land there, nowhere else)."""

    def list_files() -> list[Path]:
        root = Path(settings.MEDIA_ROOT)
        return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []

    return list_files


@pytest.fixture
def dataset(project: Project, contributor: User) -> Dataset:
    dataset = Dataset.objects.create(
        project=project,
        name="transactions",
        description="Card transactions labelled by the fraud team",
        owner=contributor,
        sensitivity=Sensitivity.CONFIDENTIAL,
    )
    set_tags(dataset, ["fraud", "payments"])
    return dataset


@pytest.fixture
def other_dataset(other_project: Project, outsider: User) -> Dataset:
    return Dataset.objects.create(project=other_project, name="customers", owner=outsider)


@pytest.fixture
def add_version(
    contributor: User, transactions_csv: Callable[..., bytes], upload: Callable[..., Any]
) -> Callable[..., DatasetVersion]:
    """Upload a CSV as the dataset's next version, through the same service as the API."""

    def make(
        dataset: Dataset,
        content: bytes | None = None,
        name: str = "transactions.csv",
        user: User | None = None,
    ) -> DatasetVersion:
        return services.create_dataset_version_from_upload(
            dataset,
            upload(content if content is not None else transactions_csv(), name),
            user=user or contributor,
        )

    return make


@pytest.fixture
def classifier(project: Project, contributor: User) -> RegisteredModel:
    model = RegisteredModel.objects.create(
        project=project,
        name="fraud-detector",
        task=ModelTask.CLASSIFICATION,
        description="Scores card transactions",
        owner=contributor,
    )
    set_tags(model, ["fraud"])
    return model


@pytest.fixture
def other_classifier(other_project: Project, outsider: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=other_project, name="churn", task=ModelTask.CLASSIFICATION, owner=outsider
    )


@pytest.fixture(scope="session")
def logistic_skops() -> bytes:
    """A LogisticRegression fitted on a DataFrame, so it knows its feature names."""
    frame = transactions_frame(60)
    model = LogisticRegression(C=0.5, max_iter=300).fit(frame[["amount", "hour"]], frame.is_fraud)
    return sio.dumps(model)


@pytest.fixture(scope="session")
def boosting_skops() -> bytes:
    """A HistGradientBoostingClassifier: its TreePredictor type is trusted by the settings."""
    frame = transactions_frame(60)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    return sio.dumps(model.fit(frame[["amount", "hour"]], frame.is_fraud))


@pytest.fixture(scope="session")
def regressor_skops() -> bytes:
    frame = transactions_frame(60)
    return sio.dumps(LinearRegression().fit(frame[["amount", "hour"]], frame.is_fraud))


@pytest.fixture
def register_version(
    contributor: User, logistic_skops: bytes, upload: Callable[..., Any]
) -> Callable[..., ModelVersion]:
    """Register a model version through the same service as the API."""

    def make(
        model: RegisteredModel,
        artifact: bytes | None = None,
        user: User | None = None,
        **metadata: Any,
    ) -> ModelVersion:
        return services.register_model_version(
            model,
            upload(artifact if artifact is not None else logistic_skops, "model.skops"),
            metadata,
            user=user or contributor,
        )

    return make
