"""The observability charts draw exactly what the rollup summaries say: requests stacked by
version, latency percentiles, class shares or the regression band, the confidence histogram
and trend, performance with the labelled fraction on its own axis. Each chart has a title and
labelled axes, is plain validated JSON, covers its whole bucket in UTC, and still renders
(with a note saying why) when there is no data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitoring import rollups
from monitoring.serving_charts import (
    MAX_CLASSES,
    OTHER_CLASSES,
    confidence_histogram_figure,
    confidence_trend_figure,
    latency_figure,
    performance_figure,
    prediction_figure,
    volume_figure,
)

START = datetime(2026, 3, 2, 10, tzinfo=UTC)


def assert_plain_json(figure: dict[str, Any]) -> None:
    assert json.loads(json.dumps(figure, allow_nan=False)) == figure
    assert "template" not in figure["layout"]


def titles(figure: dict[str, Any]) -> tuple[str, str, str]:
    layout = figure["layout"]
    return (
        layout["title"]["text"],
        layout["xaxis"]["title"]["text"],
        layout["yaxis"]["title"]["text"],
    )


def note(figure: dict[str, Any]) -> str:
    return " ".join(annotation["text"] for annotation in figure["layout"].get("annotations", []))


def summary_of(rows: list[dict[str, Any]], task: str = "classification") -> dict[str, Any]:
    """The summary the dashboard gets for these prediction rows, through the real rollups."""
    parts = rollups.partials(rows, task=task) if rows else []
    return rollups.summary(
        rollups.merge(part["stats"] for part in parts),
        requests=sum(part["requests"] for part in parts),
        errors=sum(part["errors"] for part in parts),
        labelled=sum(part["labelled"] for part in parts),
        task=task,
    )


def classified(
    hour: int, predictions: list[str], *, labels: list[str] | None = None, version: int = 1
) -> list[dict[str, Any]]:
    rows = []
    for index, predicted in enumerate(predictions):
        confidence = 0.6 + 0.4 * (index % 5) / 5
        other = "b" if predicted == "a" else "a"
        rows.append(
            {
                "model_version_id": version,
                "logged_at": START + timedelta(hours=hour, minutes=index % 60),
                "prediction": predicted,
                "probabilities": {predicted: confidence, other: 1 - confidence},
                "confidence": confidence,
                "latency_ms": 2.0 + index,
                "label": labels[index] if labels else None,
            }
        )
    return rows


def bucket(hour: int, summary: dict[str, Any], by_version: dict[Any, int]) -> dict[str, Any]:
    return {"start": START + timedelta(hours=hour), "summary": summary, "by_version": by_version}


def empty_bucket(hour: int, task: str = "classification") -> dict[str, Any]:
    return bucket(hour, summary_of([], task), {})


# --- traffic ---------------------------------------------------------------------------------


def test_volume_stacks_requests_by_version_oldest_first_and_errors_on_top() -> None:
    series = [
        bucket(0, {**summary_of([]), "errors": 0}, {"10": 5, 2: 7}),
        bucket(1, {**summary_of([]), "errors": 3}, {2: 1}),
        empty_bucket(2),
    ]

    figure = volume_figure(series, bucket="hour")

    assert_plain_json(figure)
    assert titles(figure) == (
        "Requests per hour by model version",
        "time (UTC)",
        "requests per hour",
    )
    assert figure["layout"]["barmode"] == "stack"
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["v2", "v10", "refused (errors)"]  # numeric order, not text order
    assert figure["data"][0]["y"] == [7, 1, 0]
    assert figure["data"][1]["y"] == [5, 0, 0]
    assert figure["data"][2]["y"] == [0, 3, 0]
    assert figure["data"][2]["marker"]["color"] == "#b3261e"


def test_each_bar_covers_its_bucket_in_utc_and_the_hover_names_it() -> None:
    paris = timezone(timedelta(hours=1))
    series = [
        {
            "start": datetime(2026, 3, 2, 11, tzinfo=paris),
            "summary": summary_of([]),
            "by_version": {1: 4},
        },
        {
            "start": datetime(2026, 3, 2, 12, tzinfo=paris),
            "summary": summary_of([]),
            "by_version": {1: 2},
        },
    ]

    trace = volume_figure(series, bucket="hour")["data"][0]

    assert trace["x"] == ["2026-03-02 10:00", "2026-03-02 11:00"]
    assert trace["xperiod"] == 3_600_000
    assert trace["xperiodalignment"] == "middle"
    assert trace["customdata"][0] == "2026-03-02 10:00–11:00 UTC"
    assert "%{y:,} requests" in trace["hovertemplate"]
    daily = volume_figure(series, bucket="day")
    assert daily["data"][0]["xperiod"] == 86_400_000
    assert daily["data"][0]["customdata"][0] == "2026-03-02 (UTC day)"
    assert daily["layout"]["yaxis"]["title"]["text"] == "requests per day"


def test_volume_without_requests_is_an_empty_frame_over_the_range_with_a_note() -> None:
    series = [empty_bucket(hour) for hour in range(24)]

    figure = volume_figure(series, bucket="hour")

    assert_plain_json(figure)
    assert figure["data"] == []
    assert note(figure) == "No requests in this range."
    assert figure["layout"]["xaxis"]["range"] == ["2026-03-02 10:00", "2026-03-03 10:00"]
    assert volume_figure([], bucket="day")["data"] == []


def test_an_unknown_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="bucket"):
        volume_figure([bucket(0, summary_of([]), {1: 1})], bucket="week")


def test_latency_draws_the_three_percentiles_with_gaps_where_nothing_was_timed() -> None:
    first = summary_of(classified(0, ["a"] * 100))
    series = [bucket(0, first, {1: 100}), empty_bucket(1)]

    figure = latency_figure(series, bucket="hour")

    assert_plain_json(figure)
    assert titles(figure) == ("Latency p50 / p95 / p99", "time (UTC)", "latency (ms)")
    by_name = {trace["name"]: trace for trace in figure["data"]}
    assert list(by_name) == ["p50", "p95", "p99"]
    for name in ("p50", "p95", "p99"):
        assert by_name[name]["y"] == [first["latency"][name], None]
        assert by_name[name]["connectgaps"] is False
    # Latencies 2..101 ms: the rollup's estimates are within 5% of the true percentiles.
    assert by_name["p50"]["y"][0] == pytest.approx(51.5, rel=0.05)
    assert by_name["p99"]["y"][0] == pytest.approx(100, rel=0.05)
    assert "ms" in by_name["p95"]["hovertemplate"]


def test_latency_without_timed_requests_says_so() -> None:
    figure = latency_figure([empty_bucket(0)], bucket="hour")
    assert figure["data"] == []
    assert note(figure) == "No timed requests in this range."


# --- predictions -----------------------------------------------------------------------------


def test_class_shares_are_stacked_to_one_per_bucket_with_the_counts_in_the_hover() -> None:
    series = [
        bucket(0, summary_of(classified(0, ["a"] * 3 + ["b"])), {1: 4}),
        empty_bucket(1),
        bucket(2, summary_of(classified(2, ["b"] * 5)), {1: 5}),
    ]

    figure = prediction_figure(series, bucket="hour", task="classification")

    assert_plain_json(figure)
    assert titles(figure)[2] == "share of predictions"
    assert figure["layout"]["barmode"] == "stack"
    shares = {trace["name"]: trace["y"] for trace in figure["data"]}
    assert shares == {"class a": [0.75, None, 0.0], "class b": [0.25, None, 1.0]}
    class_a = figure["data"][0]
    assert class_a["customdata"][0][:2] == [3, 4]
    assert "%{customdata[0]:,} of %{customdata[1]:,}" in class_a["hovertemplate"]


def test_rare_classes_beyond_the_limit_share_one_band() -> None:
    counts = {f"c{index:02d}": 100 - index for index in range(MAX_CLASSES + 3)}
    summary = {**summary_of([]), "predictions": {"kind": "classes", "counts": counts}}

    figure = prediction_figure([bucket(0, summary, {1: 1})], bucket="hour", task="classification")

    names = [trace["name"] for trace in figure["data"]]
    assert len(names) == MAX_CLASSES + 1
    assert names[-1] == OTHER_CLASSES
    total = sum(counts.values())
    hidden = sum(counts[f"c{index:02d}"] for index in range(MAX_CLASSES, MAX_CLASSES + 3))
    assert figure["data"][-1]["y"] == [pytest.approx(hidden / total)]
    assert sum(trace["y"][0] for trace in figure["data"]) == pytest.approx(1.0)


def test_regression_predictions_are_a_mean_line_in_a_p05_to_p95_band() -> None:
    rows = [
        {
            "model_version_id": 1,
            "logged_at": START,
            "prediction": float(value),
            "probabilities": None,
            "confidence": None,
            "latency_ms": 1.0,
            "label": None,
        }
        for value in range(1, 101)
    ]
    summary = summary_of(rows, "regression")
    series = [bucket(0, summary, {1: 100}), empty_bucket(1, "regression")]

    figure = prediction_figure(series, bucket="hour", task="regression")

    assert_plain_json(figure)
    assert titles(figure)[2] == "predicted value (target units)"
    by_name = {trace["name"]: trace for trace in figure["data"]}
    assert by_name["mean"]["y"] == [pytest.approx(50.5), None]
    assert by_name["p05"]["y"][0] == summary["predictions"]["p05"]
    assert by_name["p05–p95"]["y"][0] == summary["predictions"]["p95"]
    assert by_name["p05–p95"]["fill"] == "tonexty"
    assert by_name["median"]["y"][0] == pytest.approx(50.5, rel=0.05)


def test_no_predictions_is_said_for_both_tasks() -> None:
    for task in ("classification", "regression"):
        figure = prediction_figure([empty_bucket(0, task)], bucket="day", task=task)
        assert figure["data"] == []
        assert note(figure) == "No predictions in this range."


# --- confidence ------------------------------------------------------------------------------


def test_the_confidence_histogram_shows_shares_per_bin_and_marks_the_mean() -> None:
    summary = summary_of(classified(0, ["a"] * 50))

    figure = confidence_histogram_figure(summary)

    assert_plain_json(figure)
    assert titles(figure) == (
        "Confidence distribution",
        "confidence (largest class probability, 0–1)",
        "share of predictions",
    )
    trace = figure["data"][0]
    counts = summary["confidence"]["histogram"]["counts"]
    assert trace["y"] == pytest.approx([count / 50 for count in counts])
    assert trace["x"][0] == pytest.approx(0.025)
    assert trace["width"][0] == pytest.approx(0.05)
    mean = summary["confidence"]["mean"]
    assert figure["layout"]["shapes"][0]["x0"] == pytest.approx(mean)
    assert figure["layout"]["annotations"][0]["text"] == f"mean {mean:.3f}"
    assert figure["layout"]["xaxis"]["range"] == [0, 1]


def test_a_summary_without_probabilities_gets_an_empty_histogram_with_a_note() -> None:
    for summary in (summary_of([]), None, {}):
        figure = confidence_histogram_figure(summary)
        assert_plain_json(figure)
        assert figure["data"] == []
        assert "No class probabilities" in note(figure)


def test_the_confidence_trend_draws_the_mean_and_the_10th_percentile() -> None:
    sure = summary_of(classified(0, ["a"] * 20))
    series = [bucket(0, sure, {1: 20}), empty_bucket(1)]

    figure = confidence_trend_figure(series, bucket="hour")

    assert_plain_json(figure)
    assert titles(figure)[2] == "confidence (0–1)"
    mean, p10 = figure["data"]
    assert mean["y"] == [sure["confidence"]["mean"], None]
    assert p10["y"] == [sure["confidence"]["p10"], None]
    assert confidence_trend_figure([empty_bucket(0)], bucket="hour")["data"] == []


# --- performance -----------------------------------------------------------------------------


def test_classifier_performance_lines_with_the_labelled_fraction_on_the_right_axis() -> None:
    # Bucket 0: 4 of 5 labelled, 3 right; bucket 1: none labelled.
    rows = classified(0, ["a", "a", "b", "b", "a"], labels=["a", "b", "b", "a", "a"])
    rows[-1]["label"] = None
    labelled = summary_of(rows)
    series = [bucket(0, labelled, {1: 5}), bucket(1, summary_of(classified(1, ["a"])), {1: 1})]

    figure = performance_figure(series, bucket="hour", task="classification")

    assert_plain_json(figure)
    assert titles(figure) == ("Performance on labelled predictions", "time (UTC)", "score (0–1)")
    by_name = {trace["name"]: trace for trace in figure["data"]}
    assert by_name["accuracy"]["y"] == [pytest.approx(0.5), None]
    assert by_name["F1 (macro)"]["y"][0] == labelled["performance"]["f1"]
    assert by_name["ROC AUC"]["y"][0] == labelled["performance"]["roc_auc"]
    fraction = by_name["labelled fraction (right axis)"]
    assert fraction["yaxis"] == "y2"
    assert fraction["y"] == [pytest.approx(0.8), 0.0]
    assert [point[1] for point in fraction["customdata"]] == [4, 0]
    assert figure["layout"]["yaxis2"]["overlaying"] == "y"
    assert figure["layout"]["yaxis2"]["tickformat"] == ".0%"


def test_regressor_performance_draws_mae_and_rmse() -> None:
    rows = [
        {
            "model_version_id": 1,
            "logged_at": START,
            "prediction": prediction,
            "probabilities": None,
            "confidence": None,
            "latency_ms": None,
            "label": label,
        }
        for prediction, label in ((10.0, 12.0), (5.0, 1.0))
    ]
    summary = summary_of(rows, "regression")

    figure = performance_figure([bucket(0, summary, {1: 2})], bucket="day", task="regression")

    by_name = {trace["name"]: trace for trace in figure["data"]}
    assert by_name["MAE"]["y"] == [pytest.approx(3.0)]
    assert by_name["RMSE"]["y"] == [pytest.approx(10.0**0.5)]
    assert titles(figure)[2] == "error (target units)"


def test_without_ground_truth_the_performance_chart_says_how_to_send_it() -> None:
    series = [bucket(0, summary_of(classified(0, ["a"] * 3)), {1: 3})]
    figure = performance_figure(series, bucket="hour", task="classification")
    assert figure["data"] == []
    assert note(figure) == "No ground truth yet: send labels to POST /api/v1/feedback."
