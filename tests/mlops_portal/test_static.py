"""The portal serves its own assets (plotly.js, Swagger UI, its stylesheet and script); no
page pulls anything from a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.test import Client, RequestFactory

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
ASSETS = [
    "plotly/plotly.min.js",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    "css/portal.css",
    "js/portal.js",
]


@pytest.mark.parametrize("asset", ASSETS)
def test_the_portal_finds_its_own_copy_of_each_asset(asset: str) -> None:
    found = finders.find(asset)

    assert found, asset
    assert Path(found).stat().st_size > 0


@pytest.mark.parametrize("asset", ["plotly/plotly.min.js", "css/portal.css"])
def test_the_static_view_serves_an_asset(asset: str) -> None:
    request = RequestFactory().get(f"/static/{asset}")

    response = serve(request, asset, insecure=True)

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == Path(finders.find(asset)).read_bytes()


def test_plotly_is_the_real_library() -> None:
    head = Path(finders.find("plotly/plotly.min.js")).read_bytes()[:2000].decode(errors="ignore")

    assert "plotly.js" in head.lower()


def test_no_template_links_to_another_site() -> None:
    external = re.compile(r"""https?://|(?:src|href)\s*=\s*["']//""", re.I)
    offenders = [
        f"{template.relative_to(TEMPLATES_DIR)}:{number}: {line.strip()}"
        for template in sorted(TEMPLATES_DIR.rglob("*.html"))
        for number, line in enumerate(template.read_text().splitlines(), start=1)
        if external.search(line)
    ]

    assert offenders == []


@pytest.mark.django_db
def test_pages_load_scripts_and_styles_from_the_portal(admin_client: Client) -> None:
    pages = {path: admin_client.get(path).content.decode() for path in ("/", "/api/docs/")}

    for path, html in pages.items():
        sources = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", html)
        assert sources, path
        for source in sources:
            assert source.startswith("/static/"), f"{path} loads {source}"
    assert "/static/plotly/plotly.min.js" in pages["/"]
    assert (
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
        in pages["/api/docs/"]
    )
