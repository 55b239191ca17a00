"""In Chromium, as a new contributor: from a model's page to its drift page, an analysis of
September's training data against a month where total_value is 1.6 times larger is
started through the form; its page turns "Drifted" when the worker is done, lists
total_value as drifted, and leads to the feature's distributions and the domain
classifier's importances and most unlike rows; the model's drift page then draws its
heatmap and timeline.

Screenshots of the model drift page and the analysis page, wide and narrow, land in
/tmp/drift-shots/ for people to look at (they are not compared).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier

from lineage.demo.transactions import FEATURES, TARGET, make_transactions
from tests.browser.helpers import screenshot, wait_for_charts
from tests.portal_stack import PortalStack, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.services]

ROWS = 3000
VALUE_FACTOR = 1.6
ANALYSIS_TIMEOUT_MS = 120_000
SHOTS = Path("/tmp/drift-shots")
DATASET_NAME = "browser-drift"

ROW_CELLS = "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"


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


def upload(stack: PortalStack, dataset_id: int, frame: pd.DataFrame, name: str) -> dict[str, Any]:
    response = stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset_id)},
        files={"file": (name, frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status == 201, response.text
    assert wait_for_job(stack, response.body["job"])["state"] == "succeeded"
    return response.body


def register_model(
    stack: PortalStack, project: str, reference: dict[str, Any], frame: pd.DataFrame
) -> dict[str, Any]:
    """A model and its v1, a classifier trained on the reference's numeric features."""
    model = stack.api(
        "POST",
        "models/",
        json_body={"project": project, "name": "fraud-scorer", "task": "classification"},
    )
    assert model.status == 201, model.text
    features = numeric_features(frame)
    estimator = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    artifact = sio.dumps(estimator.fit(frame[features], frame[TARGET]))
    metadata = {"training_dataset_version": reference["id"], "target_column": TARGET}
    version = stack.api(
        "POST",
        "model-versions/",
        fields={"model": str(model.body["id"]), "metadata": json.dumps(metadata)},
        files={"artifact": ("fraud-scorer.skops", artifact, "application/octet-stream")},
    )
    assert version.status == 201, version.text
    return model.body


def card(page: Any, heading: str) -> Any:
    return page.locator("section.card").filter(
        has=page.get_by_role("heading", name=heading, exact=True)
    )


def test_a_contributor_investigates_a_drifted_total_value(
    contributor_page: tuple[Any, dict[str, Any]],
    page_errors: list[str],
    portal_stack: PortalStack,
) -> None:
    page, dataset = contributor_page
    base = portal_stack.base_url
    reference_data = reference_frame()
    reference = upload(portal_stack, dataset["id"], reference_data, "september.csv")
    current = upload(portal_stack, dataset["id"], current_frame(), "october.csv")
    model = register_model(portal_stack, dataset["project"], reference, reference_data)

    # The model's page, its "Drift" button; nothing analysed yet.
    page.goto(f"{base}/models/{model['id']}/")
    page.locator(".head-actions").get_by_role("link", name="Drift", exact=True).click()
    page.wait_for_url(re.compile(rf"/drift/models/{model['id']}/$"))
    assert page.locator("h1 .badge").inner_text() == "Not analysed"

    # The start form: v1 against the newest version of its training dataset by default.
    start = card(page, "Start an analysis")
    current_choice = start.locator("#id_current_version")
    assert current_choice.input_value() == str(current["id"])
    assert start.locator("#id_reference_version").input_value() == ""  # the training data
    start.locator("#id_window_column").fill("timestamp")
    start.locator("#id_window_frequency").select_option("day")
    start.get_by_role("button", name="Analyse drift").click()

    # The analysis page; its job box reloads it when the worker is done.
    page.wait_for_url(re.compile(r"/drift/analyses/\d+/$"))
    analysis_url = page.url
    analysis_id = int(re.search(r"/analyses/(\d+)/$", analysis_url).group(1))
    assert "Drift analysis started" in page.locator(".messages").inner_text()
    page.locator("h1 .badge", has_text=re.compile(r"^Drifted$")).wait_for(
        timeout=ANALYSIS_TIMEOUT_MS
    )
    analysis = portal_stack.api("GET", f"drift-analyses/{analysis_id}/")
    assert analysis.status == 200, analysis.text
    assert analysis.body["state"] == "succeeded"
    assert analysis.body["created_by"] != portal_stack.username  # the contributor's
    assert analysis.body["current_version"] == current["id"]
    assert analysis.body["window_frequency"] == "day"

    rows = card(page, "Features").locator("tbody tr").evaluate_all(ROW_CELLS)
    by_name = {cells[0]: cells for cells in rows}
    assert set(by_name) == set(numeric_features(reference_data)), rows
    assert by_name["total_value"][2] == "Drifted", rows
    assert by_name["hour"][2] == "Not drifted", rows
    assert rows[0][0] == "total_value"  # drifted features first
    assert card(page, "Domain classifier").count() == 1
    assert card(page, "Predictions and confidence").count() == 1
    assert card(page, "Over time").count() == 1
    wait_for_charts(page, "main")
    screenshot(page, SHOTS, "analysis")

    # The feature's page: reference and current distributions drawn.
    card(page, "Features").get_by_role("link", name="total_value", exact=True).click()
    page.wait_for_url(re.compile(rf"/drift/analyses/{analysis_id}/features/total_value/$"))
    assert page.locator("h1 .badge").inner_text() == "Drifted"
    distributions = card(page, "Reference and current")
    distributions.locator("[data-plotly=feature-distribution] .main-svg").first.wait_for()
    wait_for_charts(page, "section.card")

    # The domain classifier's page: its importance chart and the most unlike rows.
    page.goto(analysis_url)
    card(page, "Domain classifier").get_by_role(
        "link", name=re.compile("Importances and the rows most unlike")
    ).click()
    page.wait_for_url(re.compile(rf"/drift/analyses/{analysis_id}/classifier/$"))
    importance = card(page, "What gives it away")
    importance.locator("[data-plotly=domain-importance] .main-svg").first.wait_for()
    wait_for_charts(page, "main")
    unlike = card(page, "Current rows most unlike the reference")
    headers = unlike.locator("table thead th").all_text_contents()
    assert headers[:2] == ["Row", "P(current)"], headers
    assert "total_value" in headers, headers
    probabilities = [
        float(cells[1]) for cells in unlike.locator("tbody tr").evaluate_all(ROW_CELLS)
    ]
    assert probabilities, "no rows most unlike the reference"
    assert all(0.5 <= probability <= 1 for probability in probabilities), probabilities

    # Back on the model's drift page: the latest status, the heatmap and the timeline.
    page.goto(f"{base}/drift/models/{model['id']}/")
    assert page.locator("h1 .badge").inner_text() == "Drifted"
    assert f"#{analysis_id}" in page.locator("header.page-head").inner_text()
    where = card(page, "Where and when")
    where.locator("[data-plotly=drift-heatmap] .main-svg").first.wait_for()
    where.locator("[data-plotly=drift-timeline] .main-svg").first.wait_for()
    wait_for_charts(page, "main")
    screenshot(page, SHOTS, "model-drift")

    assert page_errors == []
