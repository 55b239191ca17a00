"""Safe inspection of uploaded model artifacts saved with skops.

Uploaded models come from users, so they are never unpickled: a pickle can run arbitrary code
the moment it is loaded. Only skops files are accepted, and only when every type they contain is
in skops' default trusted set (plus any types the caller explicitly names); the untrusted types
are listed to the user instead of being loaded. Metadata (estimator class, task, parameters,
features, classes) is read from the safely loaded estimator.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import skops.io as sio
from sklearn.base import is_classifier, is_regressor

try:
    from skops.io.exceptions import UNTRUSTED_TYPE_REASONS
except ImportError:  # skops < 0.16 has no explanations for its distrusted types
    UNTRUSTED_TYPE_REASONS = {}

__all__ = ["ArtifactError", "ArtifactInfo", "inspect_artifact", "load_estimator"]

ArtifactSource = str | os.PathLike[str] | bytes | BinaryIO

_PICKLE_MESSAGE = (
    "This looks like a pickle file. Pickles can run arbitrary code and are refused; "
    "save the estimator with skops.io.dump(model, 'model.skops')."
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class ArtifactError(ValueError):
    """An artifact that cannot be accepted; str(exc) is a user-facing sentence."""


@dataclass(frozen=True)
class ArtifactInfo:
    """What the portal records about an estimator, all JSON-safe."""

    estimator_class: str
    framework: str
    framework_version: str
    task: str | None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    feature_names: list[str] | None = None
    n_features: int | None = None
    classes: list[Any] | None = None


def inspect_artifact(source: ArtifactSource, *, extra_trusted: Iterable[str] = ()) -> ArtifactInfo:
    """Safely load a skops artifact and describe the estimator in it.

    ``extra_trusted`` lets a caller accept specific, reviewed type names beyond skops' defaults
    (for example ``"sklearn.tree._tree.Tree"`` for tree ensembles from a trusted uploader); it
    is empty by default so uploads are held to the default trusted set.
    """
    data = _read_bytes(source)
    estimator = _safe_load(data, extra_trusted)
    return _describe(estimator, _saved_sklearn_version(data))


def load_estimator(source: ArtifactSource, *, extra_trusted: Iterable[str] = ()) -> Any:
    """Return the estimator from a skops artifact, with exactly the checks of inspect_artifact."""
    return _safe_load(_read_bytes(source), extra_trusted)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _read_bytes(source: ArtifactSource) -> bytes:
    """Read the whole artifact; skops needs random access to the zip anyway."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        if isinstance(source, str | os.PathLike):
            with open(source, "rb") as handle:
                return handle.read()
        return source.read()
    except FileNotFoundError as exc:
        raise ArtifactError("The artifact file could not be found.") from exc
    except OSError as exc:
        raise ArtifactError("The artifact file could not be read.") from exc


def _check_container(data: bytes) -> None:
    """Refuse empty files and anything that is not a zip before skops sees it."""
    if not data:
        raise ArtifactError("The artifact file is empty.")
    if data[:1] == b"\x80":  # pickle protocol 2+ opcode PROTO
        raise ArtifactError(_PICKLE_MESSAGE)
    if not data.startswith(_ZIP_MAGIC):
        raise ArtifactError(
            "The artifact is not a skops file (it is not a zip archive). Pickles and joblib "
            "files are refused because they can run arbitrary code; save the estimator with "
            "skops.io.dump(model, 'model.skops')."
        )


def _safe_load(data: bytes, extra_trusted: Iterable[str]) -> Any:
    _check_container(data)
    trusted = sorted(set(extra_trusted))
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, EOFError) as exc:
        raise ArtifactError(
            "The artifact is not a valid skops file: the archive is damaged or has no skops schema."
        ) from exc
    except (TypeError, ValueError) as exc:
        # skops raises these for unknown protocols / loaders; its message names the problem.
        raise ArtifactError(f"The skops file cannot be read: {_first_line(exc)}") from exc
    except Exception as exc:
        raise ArtifactError("The artifact is not a valid skops file.") from exc
    refused = [name for name in untrusted if name not in trusted]
    if refused:
        listed = ", ".join(refused)
        message = (
            f"The artifact contains types that are not trusted by default and was refused: "
            f"{listed}."
        )
        if any(name in UNTRUSTED_TYPE_REASONS for name in refused):
            # skops deliberately distrusts tree storage: crafted node indices crash predict().
            message += (
                " skops does not trust tree models' node storage by default, because a crafted "
                "file can crash the server when it predicts."
            )
        raise ArtifactError(message)
    try:
        with warnings.catch_warnings():
            # A version mismatch warning is expected and recorded via framework_version.
            warnings.simplefilter("ignore")
            estimator = sio.loads(data, trusted=trusted)
    except Exception as exc:
        raise ArtifactError(f"The skops file could not be loaded: {_first_line(exc)}") from exc
    if not (hasattr(estimator, "get_params") and hasattr(estimator, "fit")):
        raise ArtifactError(
            f"The artifact holds a {type(estimator).__name__}, not a scikit-learn estimator."
        )
    return estimator


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _saved_sklearn_version(data: bytes) -> str | None:
    """The scikit-learn version recorded in the root object's state, read from the JSON schema.

    scikit-learn stores ``_sklearn_version`` in every estimator's state, and skops keeps it in
    ``schema.json``; reading the JSON avoids depending on how the loaded object exposes it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
        node = schema["content"]["content"]["_sklearn_version"]
        version = json.loads(node["content"]) if node.get("is_json") else node["content"]
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None
    return version if isinstance(version, str) else None


# --------------------------------------------------------------------------------------------
# Describing
# --------------------------------------------------------------------------------------------


def _describe(estimator: Any, saved_version: str | None) -> ArtifactInfo:
    module = type(estimator).__module__
    root_package = module.split(".")[0]
    framework = "scikit-learn" if root_package == "sklearn" else root_package
    if saved_version is None:
        saved_version = _installed_version(root_package)
    return ArtifactInfo(
        estimator_class=_public_path(type(estimator)),
        framework=framework,
        framework_version=saved_version,
        task=_task(estimator),
        hyperparameters=_json_safe(_params(estimator)),
        feature_names=_feature_names(estimator),
        n_features=_optional_int(_attribute(estimator, "n_features_in_")),
        classes=_classes(estimator),
    )


def _installed_version(package: str) -> str:
    try:
        return str(importlib.import_module(package).__version__)
    except (ImportError, AttributeError):
        return ""


def _public_path(cls: type) -> str:
    """Shortest importable module path for the class ('sklearn.ensemble.X', not '..._gb.X').

    Only parent packages of the class's own (already imported) module are tried.
    """
    parts = cls.__module__.split(".")
    for length in range(1, len(parts)):
        candidate = ".".join(parts[:length])
        if any(part.startswith("_") for part in parts[1:length]):
            break
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        if getattr(module, cls.__name__, None) is cls:
            return f"{candidate}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        last = steps[-1][1]
        if last not in (None, "passthrough"):
            return _final_step(last)
    return estimator


def _task(estimator: Any) -> str | None:
    final = _final_step(estimator)
    for candidate in (estimator, final):
        try:
            if is_classifier(candidate):
                return "classification"
            if is_regressor(candidate):
                return "regression"
        except Exception:  # third-party estimators with unusual tags
            continue
    return None


def _params(estimator: Any) -> dict[str, Any]:
    """Every tunable value, flattened as scikit-learn names them (`classifier__max_depth`).

    Nested estimators and lists of steps are left out: their own parameters are already
    among the flattened ones, and their repr would only repeat them."""
    try:
        params = estimator.get_params(deep=True)
    except Exception:
        return {}
    if not isinstance(params, dict):
        return {}
    return {name: value for name, value in params.items() if not _is_composite(value)}


def _is_composite(value: Any) -> bool:
    if hasattr(value, "get_params"):
        return True
    if isinstance(value, list | tuple):
        return any(isinstance(item, tuple) or hasattr(item, "get_params") for item in value)
    return False


def _attribute(estimator: Any, name: str) -> Any:
    """getattr that also swallows errors from properties delegating to unfitted steps."""
    try:
        return getattr(estimator, name)
    except Exception:
        return None


def _feature_names(estimator: Any) -> list[str] | None:
    names = _attribute(estimator, "feature_names_in_")
    if names is None:
        return None
    return [str(name) for name in np.asarray(names).tolist()]


def _classes(estimator: Any) -> list[Any] | None:
    classes = _attribute(estimator, "classes_")
    if classes is None:
        return None
    safe = _json_safe(np.asarray(classes).tolist())
    return safe if isinstance(safe, list) else None


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return None


def _json_safe(value: Any) -> Any:
    """Plain JSON values stay as they are; anything else becomes its repr()."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {key: _json_safe(item) for key, item in value.items()}
        return repr(value)
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return repr(value)
