"""Quality fixtures: the demo's card transactions (2,000 rows a month) uploaded as dataset
versions, a quality suite over them, and a real HTTP receiver for the project webhook.

Work the portal queues for a worker (profiling, quality runs, webhook calls) runs inline at
the end of a `with inline():` block, as a worker would after the commit. Every helper is a
fixture because test modules here are not a package and cannot import from each other.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from lineage import services
from lineage.choices import Sensitivity
from lineage.demo.transactions import make_transactions
from lineage.models import Dataset, DatasetVersion, Project
from monitoring import services as quality_services
from monitoring.models import QualityRun, QualitySuite

ROWS = 2_000
# Field agents flag a transaction for follow-up by typing -1 as its total value.
SENTINEL_SHARE = 0.03
SENTINEL_ROWS = int(ROWS * SENTINEL_SHARE)

# A hand-written suite the first clean month passes.
BASIC_CHECKS: list[dict[str, Any]] = [
    {"type": "range", "column": "total_value", "min": 0, "max": 100_000},
    {"type": "not_null", "column": "transaction_id"},
    {
        "type": "allowed_values",
        "column": "channel",
        "values": ["chip", "contactless", "online", "magstripe"],
    },
]


def month_csv(seed: int = 1, *, start: str = "2026-09-01", sentinels: int = 0) -> bytes:
    """A month of demo transactions as CSV; `sentinels` rows get a total value of -1."""
    frame = make_transactions(ROWS, seed=seed, start=start)
    if sentinels:
        rows = np.random.default_rng(seed + 100).choice(ROWS, size=sentinels, replace=False)
        frame.loc[rows, "total_value"] = -1.0
    return frame.to_csv(index=False).encode()


@pytest.fixture
def inline(
    eager_tasks: Any, django_capture_on_commit_callbacks: Any
) -> Callable[[], AbstractContextManager[Any]]:
    """`with inline():` runs, when the block ends, everything queued inside it."""

    def block() -> AbstractContextManager[Any]:
        return django_capture_on_commit_callbacks(execute=True)  # type: ignore[no-any-return]

    return block


@pytest.fixture
def make_month() -> Callable[..., bytes]:
    return month_csv


@pytest.fixture
def basic_checks() -> list[dict[str, Any]]:
    return copy.deepcopy(BASIC_CHECKS)


@pytest.fixture
def clean_month() -> bytes:
    return month_csv(seed=1)


@pytest.fixture
def next_clean_month() -> bytes:
    return month_csv(seed=2, start="2026-10-01")


@pytest.fixture
def month_with_sentinels() -> bytes:
    """November, when 3% of the total values are -1."""
    return month_csv(seed=3, start="2026-11-01", sentinels=SENTINEL_ROWS)


@pytest.fixture
def upload_version(
    contributor: User, inline: Callable[[], AbstractContextManager[Any]]
) -> Callable[..., DatasetVersion]:
    """Upload a CSV as the dataset's next version through the catalog's service; profiling
    and any quality run it starts happen before this returns (unless `run_jobs=False`)."""

    def make(
        dataset: Dataset,
        content: bytes,
        *,
        user: User | None = None,
        run_jobs: bool = True,
    ) -> DatasetVersion:
        upload = SimpleUploadedFile("transactions.csv", content, "text/csv")
        if run_jobs:
            with inline():
                version = services.create_dataset_version_from_upload(
                    dataset, upload, user=user or contributor
                )
        else:
            version = services.create_dataset_version_from_upload(
                dataset, upload, user=user or contributor
            )
        version.refresh_from_db()
        return version

    return make


@pytest.fixture
def dataset(project: Project, contributor: User) -> Dataset:
    """The confidential card transactions: only the project's members may see them."""
    return Dataset.objects.create(
        project=project,
        name="transactions",
        owner=contributor,
        sensitivity=Sensitivity.CONFIDENTIAL,
    )


@pytest.fixture
def internal_dataset(project: Project, contributor: User) -> Dataset:
    """Transactions every signed-in user may see, with the merchant category marked PII."""
    return Dataset.objects.create(
        project=project,
        name="shared-transactions",
        owner=contributor,
        sensitivity=Sensitivity.INTERNAL,
        column_sensitivity={"merchant_category": Sensitivity.PII},
    )


@pytest.fixture
def clean_version(
    dataset: Dataset, clean_month: bytes, upload_version: Callable[..., DatasetVersion]
) -> DatasetVersion:
    """September, profiled."""
    version = upload_version(dataset, clean_month)
    assert version.profile, "the fixture needs a profiled version"
    return version


@pytest.fixture
def suite(
    dataset: Dataset,
    clean_version: DatasetVersion,
    contributor: User,
    inline: Callable[[], AbstractContextManager[Any]],
) -> QualitySuite:
    """The basic suite; saving it checked September (passed)."""
    with inline():
        suite = quality_services.save_suite(dataset, BASIC_CHECKS, user=contributor)
    suite.refresh_from_db()
    return suite


@pytest.fixture
def failed_version(
    suite: QualitySuite,
    month_with_sentinels: bytes,
    upload_version: Callable[..., DatasetVersion],
) -> DatasetVersion:
    """November, checked on arrival: it fails range:total_value."""
    return upload_version(suite.dataset, month_with_sentinels)


@pytest.fixture
def shared_failed_run(
    internal_dataset: Dataset,
    contributor: User,
    clean_month: bytes,
    month_with_sentinels: bytes,
    upload_version: Callable[..., DatasetVersion],
    inline: Callable[[], AbstractContextManager[Any]],
) -> QualityRun:
    """A failed run on the internal dataset, whose merchant category is PII."""
    upload_version(internal_dataset, clean_month)
    with inline():
        quality_services.save_suite(
            internal_dataset,
            [
                {"type": "range", "column": "total_value", "min": 0},
                {
                    "type": "allowed_values",
                    "column": "merchant_category",
                    "values": ["grocery", "fuel"],
                },
            ],
            user=contributor,
        )
    november = upload_version(internal_dataset, month_with_sentinels)
    return QualityRun.objects.get(dataset_version=november)


# The project's webhook --------------------------------------------------------------------


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records what is POSTed to it."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return [call["kind"] for call in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/portal"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# Served models -------------------------------------------------------------------------------

SERVED_SIGNATURE = [
    {"name": "amount", "type": "float"},
    {"name": "items", "type": "integer"},
    {"name": "channel", "type": "string"},
]


def serving_frame(rows: int, seed: int = 0) -> Any:
    """Inputs of the served models: fraud is likelier for large online amounts."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 40.0, rows).round(2),
            "items": rng.integers(1, 8, rows),
            "channel": rng.choice(["online", "chip", "contactless"], rows),
        }
    )
    risk = frame["amount"] / 100 + (frame["channel"] == "online") * 1.5 - 2.5
    frame["is_fraud"] = (rng.random(rows) < 1 / (1 + np.exp(-risk))).astype(int)
    frame["spend"] = frame["amount"] * 1.1 + frame["items"] * 3
    return frame


def served_pipeline(target: str) -> bytes:
    """A scikit-learn gradient boosting pipeline (one-hot channel), as a skops artifact."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = serving_frame(600, seed=1)
    estimator = GradientBoostingRegressor if target == "spend" else GradientBoostingClassifier
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"])],
                    remainder="passthrough",
                ),
            ),
            ("model", estimator(n_estimators=20, max_depth=2, random_state=0)),
        ]
    )
    pipeline.fit(frame[["amount", "items", "channel"]], frame[target])
    return sio.dumps(pipeline)


@pytest.fixture
def make_served_model(project: Project, contributor: User) -> Callable[..., Any]:
    """A registered model whose version 1 (the pipeline above) is in production."""
    from lineage.choices import ModelTask, Stage
    from lineage.models import RegisteredModel

    def make(name: str = "fraud-scorer", task: str = ModelTask.CLASSIFICATION) -> Any:
        model = RegisteredModel.objects.create(
            project=project, name=name, task=task, owner=contributor
        )
        target = "is_fraud" if task == ModelTask.CLASSIFICATION else "spend"
        version = services.register_model_version(
            model,
            SimpleUploadedFile("model.skops", served_pipeline(target)),
            {"signature": SERVED_SIGNATURE, "target_column": target},
            user=contributor,
        )
        version.change_stage(Stage.PRODUCTION, contributor)
        return model

    return make


@pytest.fixture
def served_model(make_served_model: Callable[..., Any]) -> Any:
    return make_served_model()


@pytest.fixture
def served_regressor(make_served_model: Callable[..., Any]) -> Any:
    from lineage.choices import ModelTask

    return make_served_model("spend-forecast", ModelTask.REGRESSION)
