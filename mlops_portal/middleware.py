"""Login on every page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponseBase


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required middleware, except for the API and its schema.

    API views authenticate themselves (token or session) and answer 401 in JSON instead
    of redirecting to a login page that a client cannot use. The documentation pages
    (/api/docs/, /api/redoc/) are pages: they redirect to the login like any other.
    """

    API_PREFIXES = ("/api/v1/", "/api/schema/")

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        if request.path.startswith(self.API_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
