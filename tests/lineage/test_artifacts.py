"""Model artifacts are inspected without unpickling, and anything unsafe is refused by name."""

from __future__ import annotations

import functools
import io
import json
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io as sio
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lineage.artifacts import ArtifactError, inspect_artifact, load_estimator

TREE = "sklearn.tree._tree.Tree"


def iris_like() -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated 4-feature blobs labelled like iris species."""
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    X = np.vstack([centre + rng.normal(scale=0.2, size=(30, 4)) for centre in centres])
    y = np.repeat(np.array(["setosa", "versicolor", "virginica"]), 30)
    return X, y


def regression_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["age", "income", "tenure"])
    y = 2.0 * X["age"] - X["income"] + rng.normal(scale=0.1, size=80)
    return X, y


@pytest.fixture(scope="module")
def logistic_skops() -> bytes:
    X, y = iris_like()
    return sio.dumps(LogisticRegression(C=0.5, max_iter=500).fit(X, y))


@pytest.fixture(scope="module")
def boosting_pipeline() -> Pipeline:
    X, y = regression_frame()
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("model", GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0)),
        ]
    )
    return pipeline.fit(X, y)


def test_it_inspects_a_logistic_regression_classifier(logistic_skops: bytes) -> None:
    info = inspect_artifact(logistic_skops)
    assert info.estimator_class == "sklearn.linear_model.LogisticRegression"
    assert info.framework == "scikit-learn"
    assert info.framework_version == sklearn.__version__
    assert info.task == "classification"
    assert info.classes == ["setosa", "versicolor", "virginica"]
    assert info.n_features == 4
    assert info.feature_names is None
    assert info.hyperparameters["C"] == 0.5
    assert info.hyperparameters["max_iter"] == 500


def test_it_returns_json_safe_information(logistic_skops: bytes) -> None:
    info = inspect_artifact(logistic_skops)
    assert json.loads(json.dumps(asdict(info), allow_nan=False)) == asdict(info)


def test_it_accepts_a_path_and_a_file_object(tmp_path: Path, logistic_skops: bytes) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(logistic_skops)
    assert inspect_artifact(path).task == "classification"
    assert inspect_artifact(str(path)).task == "classification"
    assert inspect_artifact(io.BytesIO(logistic_skops)).task == "classification"


def test_it_loads_a_working_estimator(logistic_skops: bytes) -> None:
    X, y = iris_like()
    estimator = load_estimator(logistic_skops)
    assert (estimator.predict(X) == y).mean() > 0.9


def test_it_inspects_a_linear_pipeline_fitted_on_a_dataframe() -> None:
    X, y = regression_frame()
    pipeline = Pipeline([("scale", StandardScaler()), ("model", Ridge(alpha=2.0))]).fit(X, y)
    info = inspect_artifact(sio.dumps(pipeline))
    assert info.estimator_class == "sklearn.pipeline.Pipeline"
    assert info.task == "regression"
    assert info.feature_names == ["age", "income", "tenure"]
    assert info.n_features == 3
    assert info.classes is None
    # Pipelines are flattened the scikit-learn way; the step objects themselves are left out.
    assert info.hyperparameters["model__alpha"] == 2.0
    assert info.hyperparameters["scale__with_mean"] is True
    assert "steps" not in info.hyperparameters
    assert "model" not in info.hyperparameters


def test_it_refuses_a_tree_pipeline_by_default_naming_the_tree_type(
    boosting_pipeline: Pipeline,
) -> None:
    # skops 0.16 distrusts tree node storage: a crafted Tree can crash predict().
    assert sio.get_untrusted_types(data=sio.dumps(boosting_pipeline)) == [TREE]
    with pytest.raises(ArtifactError, match=TREE.replace(".", r"\.")):
        inspect_artifact(sio.dumps(boosting_pipeline))


def test_it_inspects_a_boosting_pipeline_when_the_tree_type_is_explicitly_trusted(
    boosting_pipeline: Pipeline,
) -> None:
    info = inspect_artifact(sio.dumps(boosting_pipeline), extra_trusted=[TREE])
    assert info.estimator_class == "sklearn.pipeline.Pipeline"
    assert info.task == "regression"
    assert info.feature_names == ["age", "income", "tenure"]
    assert info.n_features == 3
    assert info.classes is None
    assert info.hyperparameters["model__n_estimators"] == 10
    assert info.hyperparameters["model__learning_rate"] == 0.1


def test_it_reports_the_public_path_of_a_private_module_class(
    boosting_pipeline: Pipeline,
) -> None:
    booster = boosting_pipeline.named_steps["model"]
    info = inspect_artifact(sio.dumps(booster), extra_trusted=[TREE])
    assert type(booster).__module__ == "sklearn.ensemble._gb"
    assert info.estimator_class == "sklearn.ensemble.GradientBoostingRegressor"
    assert info.hyperparameters["n_estimators"] == 10


def test_it_refuses_a_pickle_with_the_pickle_message() -> None:
    X, y = iris_like()
    payload = pickle.dumps(LogisticRegression(max_iter=500).fit(X, y))
    with pytest.raises(ArtifactError) as excinfo:
        inspect_artifact(payload)
    message = str(excinfo.value)
    assert message.startswith("This looks like a pickle file.")
    assert "skops.io.dump(model, 'model.skops')" in message


def test_it_refuses_random_bytes_as_not_a_skops_file() -> None:
    payload = np.random.default_rng(3).bytes(512)
    payload = b"x" + payload[1:]  # never the pickle opcode, never a zip signature
    with pytest.raises(ArtifactError, match=r"^The artifact is not a skops file \("):
        inspect_artifact(payload)


def test_it_refuses_an_empty_upload() -> None:
    with pytest.raises(ArtifactError, match="empty"):
        inspect_artifact(b"")
    with pytest.raises(ArtifactError, match="empty"):
        inspect_artifact(io.BytesIO())


def test_it_refuses_a_corrupt_zip(logistic_skops: bytes) -> None:
    with pytest.raises(ArtifactError, match="not a valid skops file"):
        inspect_artifact(logistic_skops[: len(logistic_skops) // 2])


def test_it_refuses_a_zip_without_a_skops_schema() -> None:

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.pkl", b"\x80\x05N.")
    with pytest.raises(ArtifactError, match="not a valid skops file"):
        inspect_artifact(buffer.getvalue())


def test_it_refuses_untrusted_types_naming_them() -> None:
    payload = sio.dumps({"callback": functools.partial(print, "hi")})
    assert sio.get_untrusted_types(data=payload) == ["builtins.print", "functools.partial"]
    with pytest.raises(ArtifactError) as excinfo:
        inspect_artifact(payload)
    assert "builtins.print" in str(excinfo.value)
    assert "functools.partial" in str(excinfo.value)
    with pytest.raises(ArtifactError):
        load_estimator(payload)


def test_it_refuses_a_skops_file_that_holds_no_estimator() -> None:
    with pytest.raises(ArtifactError, match="not a scikit-learn estimator"):
        inspect_artifact(sio.dumps({"weights": [1, 2, 3]}))


def test_it_describes_an_unfitted_estimator_without_fitted_attributes() -> None:
    info = inspect_artifact(sio.dumps(Ridge()))
    assert info.task == "regression"
    assert info.n_features is None
    assert info.feature_names is None
    assert info.classes is None
