"""Calling a project's webhook: a JSON POST with a short timeout, no library needed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 5


class WebhookServerError(OSError):
    """The receiver failed (5xx): worth retrying."""


def post_json(url: str, payload: dict[str, Any]) -> int:
    """POST `payload`; return the status. Raises OSError (retryable) on network errors and
    5xx answers; a 4xx is returned, since sending the same thing again will not help."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "mlops-portal-webhook"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise WebhookServerError(f"{url} answered {error.code}") from error
        return int(error.code)
