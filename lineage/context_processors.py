from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from lineage.models import Notification


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    """The unread count for the navigation, counted only when a page asks for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": lambda: Notification.objects.filter(
            user=user, read_at__isnull=True
        ).count()
    }
