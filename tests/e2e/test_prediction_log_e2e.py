"""No loss, no duplicates, with the real stack: 3,000 predictions made elsewhere arrive
through the bulk API in batches with client UUIDs (some batches sent again, some twice at
the same moment, as clients retrying after a timeout do) and 300 predict calls are scored,
from 8 threads, while the Celery worker is stopped and started again in the middle. Serving
does not need the worker; afterwards every UUID is stored exactly once and the hourly
aggregates count every record once.

The web process logs through its spool and writer thread (PREDICTION_LOG_WRITER=thread,
the default), so this is the path production takes; the small load test of the issue's
no-loss requirement (bench/ has the large one)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from tests.portal_stack import REPO, ApiResponse, PortalStack, create_project

pytestmark = [pytest.mark.slow, pytest.mark.services]

BULK_RECORDS = 3_000
BATCH = 100
PREDICT_CALLS = 300
THREADS = 8
STORE_TIMEOUT = 10.0
SIGNATURE = [
    {"name": "amount", "type": "float"},
    {"name": "items", "type": "integer"},
    {"name": "channel", "type": "string"},
]
CHANNELS = ["online", "chip", "contactless"]

CREATE_REVIEWER = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
user = User.objects.create_superuser("e2e-reviewer", "reviewer@example.com", "e2e-reviewer-pw-1")
print("TOKEN=" + Token.objects.create(user=user).key)
"""


def artifact() -> bytes:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 40.0, 400).round(2),
            "items": rng.integers(1, 8, 400),
            "channel": rng.choice(CHANNELS, 400),
        }
    )
    target = ((frame["amount"] > 90) | (frame["channel"] == "online")).astype(int)
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"])],
                    remainder="passthrough",
                ),
            ),
            ("model", GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0)),
        ]
    )
    return sio.dumps(pipeline.fit(frame, target))


def as_reviewer(stack: PortalStack) -> PortalStack:
    """The same stack seen by a second superuser: production needs someone other than the
    requester to approve."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_REVIEWER],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    token = result.stdout.decode().rsplit("TOKEN=", 1)[1].strip()
    return PortalStack(**{**stack.__dict__, "token": token, "processes": {}})


def served_model(stack: PortalStack) -> dict[str, Any]:
    """A classifier registered through the API and moved to production by a review."""
    project = create_project(stack, "e2e-serving")
    model = stack.api(
        "POST",
        "models/",
        json_body={"project": project["slug"], "name": "fraud-scorer", "task": "classification"},
    )
    assert model.status == 201, model.text
    metadata = {"signature": SIGNATURE, "target_column": "is_fraud"}
    version = stack.api(
        "POST",
        "model-versions/",
        fields={"model": str(model.body["id"]), "metadata": json.dumps(metadata)},
        files={"artifact": ("fraud-scorer.skops", artifact(), "application/octet-stream")},
    )
    assert version.status == 201, version.text
    review = stack.api("POST", "reviews/", json_body={"model_version": version.body["id"]})
    assert review.status == 201, review.text
    approved = as_reviewer(stack).api(
        "POST", f"reviews/{review.body['id']}/approve/", json_body={"comment": "Load test"}
    )
    assert approved.status == 200, approved.text
    return dict(model.body)


def inputs(rng: random.Random) -> dict[str, Any]:
    return {
        "amount": round(rng.uniform(1, 400), 2),
        "items": rng.randint(1, 7),
        "channel": rng.choice(CHANNELS),
    }


class Traffic:
    """The clients: what they sent, what they were answered, and what went wrong."""

    def __init__(self, stack: PortalStack, model_id: int) -> None:
        self.stack = stack
        self.model_id = model_id
        self.lock = threading.Lock()
        self.returned: list[str] = []  # UUIDs answered by predict
        self.stored_counts: dict[int, int] = {}  # bulk batch -> records it stored, all sends
        self.retries = 0
        self.failures: list[str] = []

    def call(self, path: str, body: Any) -> ApiResponse:
        """A client that retries on an answer meaning "not now" (5xx) or a dropped connection."""
        for attempt in range(20):
            try:
                response = self.stack.api("POST", path, json_body=body, timeout=60)
            except OSError as exc:
                response = ApiResponse(0, None, str(exc))
            if response.status and response.status < 500:
                return response
            with self.lock:
                self.retries += 1
            time.sleep(0.05 * (attempt + 1))
        return response

    def bulk(self, number: int, records: list[dict[str, Any]]) -> None:
        response = self.call("predictions", {"model": self.model_id, "records": records})
        with self.lock:
            if response.status != 200 or response.body["refused"]:
                self.failures.append(f"batch {number}: {response.status} {response.text[:300]}")
                return
            self.stored_counts[number] = self.stored_counts.get(number, 0) + response.body["stored"]

    def predict(self, record: dict[str, Any]) -> None:
        response = self.call(f"models/{self.model_id}/predict", {"inputs": record})
        with self.lock:
            if response.status != 200:
                self.failures.append(f"predict: {response.status} {response.text[:300]}")
                return
            self.returned.append(response.body["request_id"])


def test_every_prediction_is_stored_exactly_once_through_a_worker_restart(
    portal_stack: PortalStack,
) -> None:
    model = served_model(portal_stack)
    rng = random.Random(6)
    batches = []
    for number in range(BULK_RECORDS // BATCH):
        records = [
            {
                "request_id": str(uuid.uuid4()),
                "inputs": inputs(rng),
                "prediction": rng.randint(0, 1),
                "probabilities": {"0": 0.4, "1": 0.6},
                "latency_ms": 2.0,
            }
            for _ in range(BATCH)
        ]
        batches.append((number, records))
    sent = {record["request_id"] for _, records in batches for record in records}
    assert len(sent) == BULK_RECORDS

    traffic = Traffic(portal_stack, model["id"])
    work: list[tuple[Any, ...]] = [(traffic.bulk, number, records) for number, records in batches]
    work += [(traffic.bulk, number, records) for number, records in batches[::5]]  # sent again
    work += [(traffic.predict, inputs(rng)) for _ in range(PREDICT_CALLS)]
    rng.shuffle(work)
    # Two batches sent twice at the same moment, by two threads (a retry after a timeout).
    for number, records in batches[1:3]:
        work.remove((traffic.bulk, number, records))
        work[len(work) // 2 : len(work) // 2] = [(traffic.bulk, number, records)] * 2

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(function, *arguments) for function, *arguments in work]
        # The worker goes down in the middle of the traffic and comes back.
        while sum(future.done() for future in futures) < len(futures) // 3:
            time.sleep(0.05)
        done_before = sum(future.done() for future in futures)
        portal_stack.restart_worker(down_for=2.0)
        done_during = sum(future.done() for future in futures) - done_before
        for future in futures:
            future.result()
    assert done_before < len(futures) and done_during > 0, "serving went on without the worker"
    assert traffic.failures == []

    # Bulk: each batch's records were new exactly once, whatever the retries.
    assert traffic.stored_counts == {number: BATCH for number, _ in batches}
    returned = set(traffic.returned)
    assert len(returned) == len(traffic.returned) == PREDICT_CALLS
    expected = len(sent) + len(returned)

    table = "monitoring_predictionrecord"
    deadline = time.monotonic() + STORE_TIMEOUT
    while True:
        ((count,),) = portal_stack.query(
            f"SELECT count(*) FROM {table} WHERE model_id = %s", (model["id"],)
        )
        if count >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ((total, distinct),) = portal_stack.query(
        f"SELECT count(*), count(DISTINCT request_id) FROM {table} WHERE model_id = %s",
        (model["id"],),
    )
    assert (total, distinct) == (expected, expected)
    stored = {
        str(uuid.UUID(str(value)))
        for (value,) in portal_stack.query(
            f"SELECT request_id FROM {table} WHERE model_id = %s", (model["id"],)
        )
    }
    assert stored == sent | returned
    by_source = dict(
        portal_stack.query(
            f"SELECT source, count(*) FROM {table} WHERE model_id = %s GROUP BY source",
            (model["id"],),
        )
    )
    assert by_source == {"ingested": BULK_RECORDS, "served": PREDICT_CALLS}

    # The aggregates were written with the records: every record counted once.
    ((requests, errors),) = portal_stack.query(
        "SELECT sum(requests), sum(errors) FROM monitoring_predictionrollup WHERE model_id = %s",
        (model["id"],),
    )
    assert (int(requests), int(errors)) == (expected, 0)

    # One of them read back by its UUID.
    lookup = portal_stack.api("GET", f"predictions/{traffic.returned[0]}")
    assert lookup.status == 200, lookup.text
    assert lookup.body["source"] == "served" and lookup.body["model_version"] == 1
