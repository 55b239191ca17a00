"""API authentication beyond DRF's defaults."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """DRF's API tokens sent as `Authorization: Bearer <key>`.

    OpenLineage clients (Airflow, Spark, dbt, the Python client's `api_key` auth) send their
    key with the Bearer keyword; the same tokens keep working as `Token <key>`.
    """

    keyword = "Bearer"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents the Bearer keyword as its own scheme (the `Token` one would otherwise claim
    this subclass under the same name)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token, as sent by OpenLineage clients: `Bearer <key>`.",
        }


class CachedTokenMixin:
    """Remembers a token's user for `SERVING_TOKEN_CACHE_SECONDS` in this process, for
    endpoints called many times a second by the same client (predict), where looking the
    token up was a third of the request's time. A revoked token or a deactivated user is
    refused at most that many seconds later."""

    _cache: dict[str, tuple[float, Any]] = {}
    _lock = threading.Lock()
    MAX_ENTRIES = 1024

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        now = time.monotonic()
        with self._lock:
            found = self._cache.get(key)
        if found is not None and found[0] > now:
            return found[1]
        credentials = super().authenticate_credentials(key)  # type: ignore[misc]
        with self._lock:
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now + settings.SERVING_TOKEN_CACHE_SECONDS, credentials)
        return credentials


class CachedTokenAuthentication(CachedTokenMixin, TokenAuthentication):
    pass


class CachedBearerTokenAuthentication(CachedTokenMixin, BearerTokenAuthentication):
    pass


class CachedTokenScheme(OpenApiAuthenticationExtension):
    """The same `Token <key>` header, documented under its own name (one name per class)."""

    target_class = CachedTokenAuthentication
    name = "servingTokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An API token, as `Token <key>` (remembered for a few seconds).",
        }


class CachedBearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = CachedBearerTokenAuthentication
    name = "servingBearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token, as `Bearer <key>` (remembered for a few seconds).",
        }
