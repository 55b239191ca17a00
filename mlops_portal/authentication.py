"""API authentication beyond DRF's defaults."""

from __future__ import annotations

from typing import Any

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
