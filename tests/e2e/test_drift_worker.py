"""Drift end to end, through the API, with the stack's real Celery worker on Redis: a model
trained on September's transactions is compared with a month where total_value is 1.6 times
larger; the analysis, split into feature groups run as worker tasks (the stack sets
DRIFT_CHUNK_ROWS=1000), flags total_value and not hour, its domain classifier tells the
months apart, and it stores daily windows and the model's prediction drift."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier

from lineage.demo.transactions import FEATURES, TARGET, make_transactions
from tests.portal_stack import PortalStack, create_dataset, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.services]

ROWS = 3000
VALUE_FACTOR = 1.6
ANALYSIS_TIMEOUT = 120.0


def reference_frame() -> pd.DataFrame:
    return make_transactions(ROWS, seed=1)


def current_frame() -> pd.DataFrame:
    """A later month: more online spending and fraud, and every total_value 1.6 times larger."""
    frame = make_transactions(ROWS, seed=2, fraud_shift=0.08)
    frame["total_value"] = (frame["total_value"] * VALUE_FACTOR).round(2)
    return frame


def numeric_features(frame: pd.DataFrame) -> list[str]:
    return [
        name
        for name in FEATURES
        if pd.api.types.is_numeric_dtype(frame[name])
        and not pd.api.types.is_bool_dtype(frame[name])
    ]


def model_artifact(frame: pd.DataFrame) -> bytes:
    """A classifier fitted on a DataFrame (so it knows its feature names); it tolerates the
    missing customer ages."""
    features = numeric_features(frame)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    return sio.dumps(model.fit(frame[features], frame[TARGET]))


def upload(stack: PortalStack, dataset_id: int, frame: pd.DataFrame, name: str) -> dict[str, Any]:
    response = stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset_id)},
        files={"file": (name, frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status == 201, response.text
    job = wait_for_job(stack, response.body["job"])
    assert job["state"] == "succeeded", job
    return response.body


def register_model(
    stack: PortalStack, project: str, reference: dict[str, Any], frame: pd.DataFrame
) -> dict[str, Any]:
    model = stack.api(
        "POST",
        "models/",
        json_body={"project": project, "name": "fraud-scorer", "task": "classification"},
    )
    assert model.status == 201, model.text
    metadata = {"training_dataset_version": reference["id"], "target_column": TARGET}
    version = stack.api(
        "POST",
        "model-versions/",
        fields={"model": str(model.body["id"]), "metadata": json.dumps(metadata)},
        files={
            "artifact": ("fraud-scorer.skops", model_artifact(frame), "application/octet-stream")
        },
    )
    assert version.status == 201, version.text
    assert [feature["name"] for feature in version.body["signature"]] == numeric_features(frame)
    return version.body


def test_a_worker_flags_a_scaled_total_value_in_feature_groups(
    portal_stack: PortalStack,
) -> None:
    dataset = create_dataset(portal_stack, "e2e-drift")
    reference_data, current_data = reference_frame(), current_frame()
    reference = upload(portal_stack, dataset["id"], reference_data, "september.csv")
    current = upload(portal_stack, dataset["id"], current_data, "october.csv")
    version = register_model(portal_stack, dataset["project"], reference, reference_data)
    features = numeric_features(reference_data)
    assert len(features) > 5  # more than one group of DRIFT_FEATURES_PER_CHUNK (5)

    started = portal_stack.api(
        "POST",
        "drift-analyses/",
        json_body={
            "model_version": version["id"],
            "current_version": current["id"],
            "window_column": "timestamp",
            "window_frequency": "day",
        },
    )
    assert started.status == 202, started.text
    assert started.body["reference_version"] == reference["id"]  # the training data
    assert started.body["job"]["job_type"] == "run_drift_analysis"
    job = wait_for_job(portal_stack, started.body["job"]["id"], timeout=ANALYSIS_TIMEOUT)
    assert job["state"] == "succeeded", job

    response = portal_stack.api("GET", f"drift-analyses/{started.body['id']}/")
    assert response.status == 200, response.text
    analysis = response.body
    assert analysis["state"] == "succeeded", analysis["error"]
    assert analysis["error"] == ""
    assert (analysis["reference_rows"], analysis["current_rows"]) == (ROWS, ROWS)
    result = analysis["result"]

    # The dataset-level decision.
    summary = result["summary"]
    assert summary["drifted"] is True, summary
    assert analysis["drifted"] is True
    assert "total_value" in summary["drifted_features"]

    # Per feature: every signature feature analysed; total_value drifted, hour not.
    by_name = {feature["name"]: feature for feature in result["features"]}
    assert sorted(by_name) == sorted(features)
    value = by_name["total_value"]
    assert value["status"] == "ok"
    assert value["drifted"] is True, value
    assert value["p_value_adjusted"] < 0.05
    assert value["p_value_adjusted"] >= value["p_value"]  # corrected across features
    assert value["effect_size"] > value["effect_threshold"], value
    hour = by_name["hour"]
    assert hour["status"] == "ok"
    assert hour["drifted"] is False, hour

    # The domain classifier tells the two months apart, with an interval around its AUC.
    domain = result["domain_classifier"]
    assert domain["auc"] > 0.5
    assert domain["auc_low"] < domain["auc"] < domain["auc_high"]
    assert analysis["domain_auc"] == pytest.approx(domain["auc"])
    assert domain["importances"]
    assert domain["most_unlike"]

    # Daily windows of the current month, each with its features.
    windows = result["windows"]
    assert len(windows) >= 28
    assert all(window["label"] for window in windows)
    assert sum(window["current_rows"] for window in windows) == ROWS
    assert {feature["name"] for feature in windows[0]["features"]} == set(features)

    # The model scored both sides.
    prediction = result["prediction"]
    assert prediction is not None
    assert prediction["task"] == "classification", prediction
    assert prediction["predictions"] and prediction["confidence"], prediction
    assert isinstance(prediction["drifted"], bool)
    assert prediction["message"]

    # The features were split into groups, each run as a task and counted once.
    ((chunks_total, chunks_done, state),) = portal_stack.query(
        "SELECT chunks_total, chunks_done, state FROM monitoring_driftanalysis WHERE id = %s",
        (analysis["id"],),
    )
    assert chunks_total > 1
    assert (chunks_done, state) == (chunks_total, "succeeded")

    tasks = portal_stack.query(
        "SELECT worker, task_args, status FROM django_celery_results_taskresult "
        "WHERE task_name = %s",
        ("monitoring.drift_runs.analyse_drift_chunk",),
    )
    ours = [row for row in tasks if re.search(rf"\(\s*{analysis['id']}\s*,", row[1] or "")]
    assert (
        sorted((worker, status) for worker, _, status in ours)
        == [(portal_stack.worker_name, "SUCCESS")] * chunks_total
    ), tasks

    # The model version's drift status follows its latest analysis (read from the database:
    # the model-versions API does not show it).
    ((drift_status,),) = portal_stack.query(
        "SELECT drift_status FROM lineage_modelversion WHERE id = %s", (version["id"],)
    )
    assert drift_status == "drifted"
