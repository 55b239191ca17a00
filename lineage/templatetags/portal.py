"""Small template helpers: status badges with one meaning per colour, sortable headers,
and pagination links that keep the current filters."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()

# One colour per meaning across the portal; the word always travels with it.
BADGE_CLASS = {
    "passed": "ok",
    "succeeded": "ok",
    "profiled": "ok",
    "production": "ok",
    "warning": "warn",
    "failed": "bad",
    "profiling failed": "bad",
    "drifted": "drift",
    "not drifted": "ok",
    "not analysed": "idle",
    "needs review": "review",
    "approved": "ok",
    "created": "ok",
    "signed in": "ok",
    "changed": "review",
    "stage changed": "review",
    "review requested": "review",
    "review decided": "review",
    "deleted": "bad",
    "data destroyed": "bad",
    "sign-in failed": "bad",
    "rejected": "bad",
    "withdrawn": "idle",
    "pii": "bad",
    "confidential": "warn",
    "staging": "review",
    "queued": "busy",
    "running": "busy",
    "pending": "busy",
    "profiling": "busy",
    "not checked": "idle",
    "errored": "err",
    "fail": "bad",
    "warn": "warn",
    "none": "idle",
    "archived": "idle",
    "not stored here": "idle",
    "public": "idle",
    "internal": "idle",
}


@register.simple_tag
def badge(label: Any, title: str = "") -> str:
    text = str(label)
    css = BADGE_CLASS.get(text.lower(), "idle")
    return format_html(
        '<span class="badge badge-{}" title="{}">{}</span>', css, title or text, text
    )


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (page, ordering)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], field: str, label: str) -> str:
    """A table header that sorts by `field`, flipping direction on the second click."""
    current = context["request"].GET.get("ordering", "")
    if current == field:
        target, arrow = f"-{field}", " ▲"
    elif current == f"-{field}":
        target, arrow = field, " ▼"
    else:
        target, arrow = field, ""
    href = query_with(context, ordering=target, page=None)
    return format_html('<a class="sort" href="{}">{}{}</a>', href, label, arrow)


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{100 * float(value):.{digits}f}%"


@register.filter
def number(value: Any) -> str:
    """A compact number for profile tables: integers with separators, floats to 4 figures."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


@register.filter
def quality_label(value: Any) -> str:
    """A stored quality status as its word ("failed" → "Failed"); empty without one."""
    from lineage.choices import QualityStatus

    if not value:
        return ""
    try:
        return str(QualityStatus(value).label)
    except ValueError:
        return str(value)


@register.filter
def pretty_json(value: Any) -> str:
    """A JSON value indented for a <pre> block (escaped by the template as usual)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
