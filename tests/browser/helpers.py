"""Helpers the browser tests share: a contributor account made through the portal's own
shell, waiting for Plotly to draw, and screenshots at a wide and a narrow width."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.portal_stack import REPO, PortalStack

WIDE, NARROW = 1400, 420

ADD_CONTRIBUTOR = """
from django.contrib.auth.models import User
from lineage.models import Membership, Project
user = User.objects.create_user({username!r}, password={password!r})
Membership.objects.create(project=Project.objects.get(slug={slug!r}), user=user, role="contributor")
"""

CHARTS_DRAWN = """(selector) => {
  const plots = [...document.querySelectorAll(selector + ' .plot')];
  return plots.length > 0 && plots.every(plot => plot.querySelector('.main-svg'));
}"""


def add_contributor(stack: PortalStack, project_slug: str) -> tuple[str, str]:
    """A new account with the contributor role in the project (there is no API for users)."""
    username, password = f"carl-{uuid.uuid4().hex[:6]}", "carl-password-1"
    code = ADD_CONTRIBUTOR.format(username=username, password=password, slug=project_slug)
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
    return username, password


def wait_for_charts(page: Any, selector: str) -> None:
    """Until every Plotly chart under `selector` has drawn its SVG."""
    page.wait_for_function(CHARTS_DRAWN, arg=selector)


def screenshot(page: Any, directory: Path, name: str) -> None:
    """The page full length at both widths (for people; nothing compares them)."""
    directory.mkdir(parents=True, exist_ok=True)
    for width in (WIDE, NARROW):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # Plotly's responsive resize is debounced
        page.screenshot(path=str(directory / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDE, "height": 900})
