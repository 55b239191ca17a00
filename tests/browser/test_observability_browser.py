"""In Chromium, against the real portal: runtime observability as its users see it.

Two production models of one project share a gradient boosting pipeline trained on the
project's uploaded data: `fraud-scorer`, which the tests score through the predict API,
and `card-risk`, which has a known history of logged predictions (320 over the last six
days, half of them labelled with 80% right, the last day's amounts three times larger;
160 more from 9 to 19 days ago).

- A contributor scores a record with the predict API, pastes the answer's request UUID into
  the look-up page and reads the prediction: its inputs, output, model version and the link
  to that version's environment.
- card-risk's dashboard draws all its charts with the known headline figures, switches to
  30 days, and fits a 420 px wide screen; the home page's production card leads there.
- On the alerts page a contributor adds a latency rule; a viewer sees the rules, no form.
- The drift page's start form compares the training data with the inputs logged in
  production, and that analysis finds the last day's larger amounts.

Screenshots, wide and narrow, land in /tmp/observability-shots/ for people to look at.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.browser.helpers import NARROW, WIDE, screenshot, wait_for_charts
from tests.portal_stack import REPO, PortalStack, create_dataset, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.services]

SHOTS = Path("/tmp/observability-shots")
DATASET_NAME = "browser-observability"
ANALYSIS_TIMEOUT_MS = 90_000

SIGNATURE = [
    {"name": "amount", "type": "float"},
    {"name": "items", "type": "integer"},
    {"name": "channel", "type": "string"},
]
PACKAGES = {name: metadata.version(name) for name in ("scikit-learn", "numpy", "skops")}

# card-risk's history: RECENT predictions over the last six days (the newest LAST_DAY of
# them in the last 24 hours), OLDER ones from 9 to 19 days ago.
RECENT, OLDER, LAST_DAY = 320, 160, 54
RECENT_STEP = dt.timedelta(minutes=27)
# Confidence cycles through 0.60, 0.65, ... 0.95: a mean of 0.775 over whole cycles.
CONFIDENCE_CYCLE = 8

ROW_CELLS = "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"
CHARTS = [
    "serving-volume",
    "serving-latency",
    "serving-predictions",
    "serving-confidence-trend",
    "serving-confidence",
    "serving-performance",
]
# What Plotly drew in a chart: its traces' types and the y values of its bars.
CHART_DATA = """(element) => element.data.map(trace => ({
  type: trace.type || 'scatter',
  ys: (trace.y || []).filter(y => typeof y === 'number'),
}))"""


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def transactions(rows: int, seed: int) -> pd.DataFrame:
    """Card payments: fraud is likelier for large online amounts."""
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
    return frame


def pipeline_artifact(frame: pd.DataFrame) -> bytes:
    """A scikit-learn gradient boosting pipeline (one-hot channel) as a skops artifact."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

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
    pipeline.fit(frame[["amount", "items", "channel"]], frame["is_fraud"])
    return sio.dumps(pipeline)


def history(now: dt.datetime) -> list[dict[str, Any]]:
    """card-risk's logged predictions (model ids are filled in by the seed script).

    Recent record i: confidence 0.60 + 0.05 (i mod 8), class 1 when i is a multiple of 5;
    labelled when i is even, wrongly (class 1 for a 0) when i mod 10 is 2: accuracy 0.8 on
    half of them; latency 4 + (i mod 10) ms; amounts of the last day times 3.
    """
    frame = transactions(RECENT + OLDER, seed=7)
    records = []
    for i, row in enumerate(frame.itertuples(index=False)):
        recent = i < RECENT
        if recent:
            logged_at = now - dt.timedelta(minutes=5) - i * RECENT_STEP
        else:
            logged_at = now - dt.timedelta(days=9, hours=1.5 * (i - RECENT))
        amount = float(row.amount) * (3 if i < LAST_DAY else 1)
        confidence = round(0.6 + 0.05 * (i % CONFIDENCE_CYCLE), 2)
        prediction = 1 if i % 5 == 0 else 0
        other = round(1 - confidence, 2)
        probabilities = (
            {"0": other, "1": confidence} if prediction else {"0": confidence, "1": other}
        )
        label = None
        if recent and i % 2 == 0:
            label = 1 - prediction if i % 10 == 2 else prediction
        records.append(
            {
                "request_id": str(uuid.uuid4()),
                "logged_at": logged_at.isoformat(),
                "inputs": {
                    "amount": round(amount, 2),
                    "items": int(row.items),
                    "channel": row.channel,
                },
                "prediction": prediction,
                "probabilities": probabilities,
                "confidence": confidence,
                "latency_ms": float(4 + i % 10),
                "label": label,
            }
        )
    return records


SEED = """
import datetime as dt, json, uuid
from pathlib import Path
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from lineage import services
from lineage.choices import Stage
from lineage.models import Membership, Project, RegisteredModel
from monitoring import prediction_store

spec = json.loads(Path({spec!r}).read_text())
project = Project.objects.get(slug=spec["project"])
people = {{}}
for role, name in (("contributor", spec["contributor"]), ("viewer", spec["viewer"])):
    user = User.objects.create_user(name, password=spec["password"])
    Membership.objects.create(project=project, user=user, role=role)
    people[role] = user
out = {{"token": Token.objects.create(user=people["contributor"]).key}}
artifact = Path(spec["artifact"]).read_bytes()
for name in ("fraud-scorer", "card-risk"):
    model = RegisteredModel.objects.create(
        project=project, name=name, task="classification", owner=people["contributor"]
    )
    version = services.register_model_version(
        model, SimpleUploadedFile("model.skops", artifact), spec["metadata"],
        user=people["contributor"],
    )
    version.change_stage(Stage.PRODUCTION, people["contributor"], "Serve it.")
    out[name] = model.pk
history_version = version  # card-risk's
labelled_at = dt.datetime.now(dt.UTC)
rows = [
    {{
        **record,
        "request_id": uuid.UUID(record["request_id"]),
        "model_id": out["card-risk"],
        "model_version_id": history_version.pk,
        "logged_at": dt.datetime.fromisoformat(record["logged_at"]),
        "source": "ingested",
        "labelled_at": labelled_at if record["label"] is not None else None,
    }}
    for record in spec["history"]
]
stored = prediction_store.store_predictions(rows)
assert len(stored) == len(rows), (len(stored), len(rows))
print("SEED=" + json.dumps(out))
"""


def run_shell(stack: PortalStack, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def world(portal_stack: PortalStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project, its training data (uploaded and profiled), a contributor and a viewer,
    and the two production models, card-risk with its history."""
    dataset = create_dataset(portal_stack, DATASET_NAME)
    training_frame = transactions(600, seed=1)
    upload = portal_stack.api(
        "POST",
        "dataset-versions/",
        fields={"dataset": str(dataset["id"])},
        files={"file": ("payments.csv", training_frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert upload.status == 201, upload.text
    assert wait_for_job(portal_stack, upload.body["job"])["state"] == "succeeded"

    folder = tmp_path_factory.mktemp("observability")
    artifact = folder / "model.skops"
    artifact.write_bytes(pipeline_artifact(training_frame))
    suffix = uuid.uuid4().hex[:6]
    spec = {
        "project": dataset["project"],
        "contributor": f"olga-{suffix}",
        "viewer": f"victor-{suffix}",
        "password": "observe-password-1",
        "artifact": str(artifact),
        "metadata": {
            "signature": SIGNATURE,
            "target_column": "is_fraud",
            "training_dataset_version": upload.body["id"],
            "python_version": "3.12.7",
            "packages": PACKAGES,
            "code_repository": "https://git.example.com/risk/models",
            "code_commit": "4f2a9c1",
        },
        "history": history(dt.datetime.now(dt.UTC)),
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    output = run_shell(portal_stack, SEED.format(spec=str(folder / "spec.json")))
    match = re.search(r"SEED=(\{.*\})", output)
    assert match, output
    return {**spec, **json.loads(match.group(1)), "training": upload.body}


def sign_in(browser: Any, stack: PortalStack, username: str, password: str) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{stack.base_url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        assert page.get_by_text(f"Signed in as {username}").count() == 1
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="module")
def states(browser: Any, portal_stack: PortalStack, world: dict[str, Any]) -> dict[str, Any]:
    """Signed-in sessions of the contributor and the viewer, made once."""
    return {
        role: sign_in(browser, portal_stack, world[role], world["password"])
        for role in ("contributor", "viewer")
    }


def open_page(browser: Any, state: dict[str, Any], errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": WIDE, "height": 900}, storage_state=state)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


@pytest.fixture
def contributor(browser: Any, states: dict[str, Any], page_errors: list[str]) -> Iterator[Any]:
    page = open_page(browser, states["contributor"], page_errors)
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture
def viewer(browser: Any, states: dict[str, Any], page_errors: list[str]) -> Iterator[Any]:
    page = open_page(browser, states["viewer"], page_errors)
    try:
        yield page
    finally:
        page.context.close()


def card(page: Any, heading: str) -> Any:
    return page.locator("section.card").filter(
        has=page.get_by_role("heading", name=re.compile(rf"^{re.escape(heading)}"))
    )


def facts(section: Any) -> dict[str, str]:
    """A <dl class="facts"> as {term: text}."""
    terms = section.locator("dl.facts dt").all_inner_texts()
    values = section.locator("dl.facts dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


def tiles(page: Any) -> dict[str, str]:
    """The headline tiles as {label: value} (text content: the labels are styled upper case)."""
    labels = page.locator(".stat-tiles .stat-label").all_text_contents()
    values = page.locator(".stat-tiles .stat-value").all_text_contents()
    return dict(zip(map(str.strip, labels), map(str.strip, values), strict=True))


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_a_contributor_traces_a_scored_request_to_its_version_and_environment(
    contributor: Any, world: dict[str, Any], portal_stack: PortalStack, page_errors: list[str]
) -> None:
    page = contributor
    base = portal_stack.base_url
    model_id = world["fraud-scorer"]
    inputs = {"amount": 180.5, "items": 2, "channel": "online"}
    answer = page.request.post(
        f"{base}/api/v1/models/{model_id}/predict",
        data=json.dumps({"inputs": inputs}),
        headers={"Authorization": f"Token {world['token']}", "Content-Type": "application/json"},
    )
    assert answer.status == 200, answer.text()
    scored = answer.json()
    request_id = scored["request_id"]
    assert scored["model_version"] == 1
    assert answer.headers["x-request-id"] == request_id
    assert set(scored["probabilities"]) == {"0", "1"}
    wait_until_logged(portal_stack, request_id)

    # From the observability overview to the look-up: a wrong id first, then the real one.
    page.goto(f"{base}/monitoring/")
    assert page.locator("h1").inner_text() == "Observability"
    lookup = card(page, "Look up a prediction")
    lookup.locator("input[name=request_id]").fill("not-a-uuid")
    lookup.get_by_role("button", name="Look up").click()
    page.wait_for_url(re.compile(r"/monitoring/predictions/\?"))
    assert "is not a UUID" in page.locator(".form-error").inner_text()
    page.locator("input[name=request_id]").fill(f"  {request_id} ")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url(re.compile(rf"/monitoring/predictions/{request_id}/$"))

    assert page.locator("h1").inner_text() == request_id
    output = facts(card(page, "Output"))
    assert output["Prediction"] == str(scored["prediction"]), output
    assert output["Confidence"].startswith(f"{scored['confidence']:.4f}"), output
    assert output["Source"] == "Served by the portal", output
    assert output["Latency"].endswith(" ms"), output
    # The class probabilities, likeliest (the predicted class) first.
    probabilities = card(page, "Output").locator("table tbody tr").evaluate_all(ROW_CELLS)
    expected = sorted(scored["probabilities"].items(), key=lambda item: -item[1])
    assert probabilities == [
        [f"{label}{' predicted' if label == str(scored['prediction']) else ''}", f"{p:.2%}"]
        for label, p in expected
    ], probabilities

    rows = card(page, "Inputs").locator("tbody tr").evaluate_all(ROW_CELLS)
    assert rows == [
        ["amount", "float", "180.5"],
        ["items", "integer", "2"],
        ["channel", "string", "online"],
    ], rows

    origin = card(page, "Where it came from")
    where = facts(origin)
    assert where["Model"].startswith("fraud-scorer"), where
    assert "Python 3.12.7" in where["Environment"], where
    assert "3 packages" in where["Environment"], where
    assert "4f2a9c1" in where["Code"], where
    assert where["Training data"].startswith("transactions v1 · quality"), where
    version_url = f"/models/{model_id}/versions/1/"
    version_link = origin.locator("dd").nth(1).get_by_role("link", name="v1")
    assert version_link.get_attribute("href") == version_url
    lineage = origin.get_by_role("link", name="Lineage graph")
    assert "type=model_version" in lineage.get_attribute("href")
    screenshot(page, SHOTS, "prediction")

    origin.get_by_role("link", name="full environment").click()
    page.wait_for_url(f"{base}{version_url}#environment")
    environment = page.locator("section#environment")
    assert environment.get_by_role("heading").inner_text() == "Training environment (3 packages)"
    assert f"scikit-learn=={PACKAGES['scikit-learn']}" in environment.inner_text()
    assert environment.is_visible()
    assert page_errors == []


def wait_until_logged(stack: PortalStack, request_id: str, timeout: float = 15.0) -> None:
    """The predict answer leaves before the log's writer thread stores the record (within
    PREDICTION_LOG_FLUSH_SECONDS): wait for it as a client of the API would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.api("GET", f"predictions/{request_id}").status == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"Prediction {request_id} was not logged after {timeout:.0f} s")


def test_the_dashboard_draws_a_models_history_over_7_and_30_days(
    contributor: Any, world: dict[str, Any], portal_stack: PortalStack, page_errors: list[str]
) -> None:
    page = contributor
    model_id = world["card-risk"]

    # The home page's card lists both production models and leads to the dashboard.
    page.goto(f"{portal_stack.base_url}/")
    home = card(page, "Production models, last 24 hours")
    names = home.locator("tbody tr td:first-child a").all_inner_texts()
    assert {"card-risk", "fraud-scorer"} <= set(names), names
    home.get_by_role("link", name="card-risk", exact=True).click()
    page.wait_for_url(re.compile(rf"/monitoring/models/{model_id}/$"))

    assert page.locator(".range-picker [aria-current]").inner_text() == "7 days"
    figures = tiles(page)
    assert figures["Requests"] == f"{RECENT:,}", figures
    assert figures["Mean confidence"] == "0.775", figures
    assert figures["Accuracy"] == "0.800", figures
    assert figures["Labelled"] == "50.0%", figures
    assert figures["Error rate"] == "0.00%", figures
    assert figures["Latency p95"].endswith(" ms"), figures
    assert "ROC AUC —" not in page.locator(".stat-tiles").inner_text()  # both classes labelled
    wait_for_charts(page, "main")
    for chart in CHARTS:
        plot = page.locator(f"[data-plotly={chart}]")
        assert plot.locator(".main-svg").count() > 0, chart
        assert plot.evaluate(CHART_DATA), f"{chart} has no trace"
    volume = page.locator("[data-plotly=serving-volume]").evaluate(CHART_DATA)
    assert sum(sum(trace["ys"]) for trace in volume if trace["type"] == "bar") == RECENT, volume
    recent = card(page, "Recent predictions").locator("tbody tr")
    assert recent.count() == 20
    screenshot(page, SHOTS, "dashboard-7d")

    # Thirty days: daily buckets, the older history too.
    page.locator(".range-picker").get_by_role("link", name="30 days").click()
    page.wait_for_url(re.compile(r"range=30d"))
    assert page.locator(".range-picker [aria-current]").inner_text() == "30 days"
    assert "daily" in page.locator("header.page-head").inner_text()
    figures = tiles(page)
    assert figures["Requests"] == f"{RECENT + OLDER:,}", figures
    assert figures["Labelled"] == "33.3%", figures
    wait_for_charts(page, "main")
    volume = page.locator("[data-plotly=serving-volume]").evaluate(CHART_DATA)
    assert sum(sum(trace["ys"]) for trace in volume if trace["type"] == "bar") == RECENT + OLDER

    # A phone's width: the page does not scroll sideways; the charts keep a readable width
    # and scroll inside their own box (.chart), which fits the screen.
    page.set_viewport_size({"width": NARROW, "height": 900})
    page.wait_for_timeout(400)  # Plotly's responsive resize is debounced
    assert page.evaluate(NO_OVERFLOW), page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    edges = page.locator("figure.chart").evaluate_all(
        "figures => figures.map(figure => figure.getBoundingClientRect().right)"
    )
    assert len(edges) == len(CHARTS) and max(edges) <= NARROW, edges
    page.set_viewport_size({"width": WIDE, "height": 900})
    screenshot(page, SHOTS, "dashboard-30d")

    page.goto(f"{portal_stack.base_url}/monitoring/")
    rows = card(page, "Production models").locator("tbody tr").evaluate_all(ROW_CELLS)
    by_name = {cells[0].split()[0]: cells for cells in rows}
    assert set(by_name) >= {"card-risk", "fraud-scorer"}, rows
    screenshot(page, SHOTS, "overview")
    assert page_errors == []


def test_a_contributor_adds_a_latency_rule_and_a_viewer_only_reads_the_rules(
    contributor: Any,
    viewer: Any,
    world: dict[str, Any],
    portal_stack: PortalStack,
    page_errors: list[str],
) -> None:
    url = f"{portal_stack.base_url}/monitoring/models/{world['card-risk']}/alerts"
    page = contributor
    page.goto(f"{portal_stack.base_url}/monitoring/models/{world['card-risk']}/")
    page.locator(".head-actions").get_by_role("link", name=re.compile("^Alerts")).click()
    page.wait_for_url(url)
    assert "No alert rule yet" in card(page, "Rules").inner_text()

    form = card(page, "Add a rule")
    form.get_by_label("Alert when").select_option(label="Latency p95 (ms) above")
    form.get_by_label("Threshold").fill("250")
    form.get_by_label("Over the last (minutes)").fill("10080")
    form.get_by_role("button", name="Add rule").click()
    page.wait_for_url(url)
    assert "Rule added" in page.locator(".messages").inner_text()
    rows = card(page, "Rules").locator("tbody tr").evaluate_all(ROW_CELLS)
    assert len(rows) == 1, rows
    rule = rows[0]
    assert rule[0] == "Latency p95 (ms) above", rows
    assert rule[1] == "250.0 ms", rows
    assert rule[2].startswith("7 d"), rows
    # Over the last week: the six days of recent predictions, 4 to 13 ms each.
    assert rule[3].endswith(" ms") and 12 <= float(rule[3].removesuffix(" ms")) <= 14, rows
    assert rule[4] == str(RECENT), rows
    assert rule[5] == "OK", rows
    assert "Disable" in rule[6] and "Delete" in rule[6], rows
    screenshot(page, SHOTS, "alerts")

    viewer.goto(url)
    rows = card(viewer, "Rules").locator("tbody tr").evaluate_all(ROW_CELLS)
    assert [cells[:3] for cells in rows] == [rule[:3]], rows
    assert len(rows[0]) == 6, rows  # no actions column
    assert card(viewer, "Add a rule").count() == 0
    assert card(viewer, "Retention").count() == 0
    assert viewer.get_by_role("button").filter(has_text=re.compile("Disable|Delete")).count() == 0
    assert page_errors == []


def test_a_drift_analysis_of_the_inputs_logged_in_production(
    contributor: Any, world: dict[str, Any], portal_stack: PortalStack, page_errors: list[str]
) -> None:
    page = contributor
    page.goto(f"{portal_stack.base_url}/drift/models/{world['card-risk']}/")
    start = card(page, "Start an analysis")
    choice = start.locator("#id_current_version")
    options = choice.locator("option").all_inner_texts()
    assert options[0] == "Inputs logged in production", options
    choice.select_option(label="Inputs logged in production")
    start.get_by_role("button", name="Analyse drift").click()

    page.wait_for_url(re.compile(r"/drift/analyses/\d+/$"))
    analysis_id = int(re.search(r"/analyses/(\d+)/$", page.url).group(1))
    assert "Drift analysis started" in page.locator(".messages").inner_text()
    page.locator("h1 .badge", has_text=re.compile(r"^(Drifted|Not drifted|Failed)$")).wait_for(
        timeout=ANALYSIS_TIMEOUT_MS
    )
    analysis = portal_stack.api("GET", f"drift-analyses/{analysis_id}/")
    assert analysis.status == 200, analysis.text
    body = analysis.body
    assert body["state"] == "succeeded", body
    assert body["current_source"] == "predictions", body
    assert body["current_version"] is None, body
    # The default window is the last day: the newest predictions, whose amounts tripled.
    span = dt.datetime.fromisoformat(body["current_end"]) - dt.datetime.fromisoformat(
        body["current_start"]
    )
    assert span == dt.timedelta(days=1), body
    assert page.locator("h1 .badge").inner_text() == "Drifted"
    features = card(page, "Features").locator("tbody tr").evaluate_all(ROW_CELLS)
    by_name = {cells[0]: cells for cells in features}
    assert by_name["amount"][2] == "Drifted", features
    assert page_errors == []
