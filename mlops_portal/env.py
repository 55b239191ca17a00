"""Tiny typed readers for settings that come from the environment."""

from __future__ import annotations

import os
from pathlib import Path


def envstr(name: str, default: str = "") -> str:
    """A string setting; `NAME_FILE` (a path, as secrets are mounted) wins over `NAME`."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (use true or false)")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def broker_settings(url: str, var_dir: Path) -> tuple[str, dict[str, object]]:
    """The broker URL and transport options.

    An empty URL means the embedded default: kombu's filesystem transport under
    `var/broker`, which needs no server, so a fresh laptop runs a real worker.
    """
    if url and not url.startswith("filesystem://"):
        return url, {}
    folder = var_dir / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(folder / "control"),
    }
    return "filesystem://", options
