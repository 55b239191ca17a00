from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("api/v1/", include("monitoring.api.serving_urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("lineage.api.urls")),
    path("api/v1/", include("lineage.api.governance_urls")),
    path("api/v1/", include("monitoring.api.urls")),
    path("api/v1/", include("monitoring.api.serving_admin_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("audit/", include("lineage.audit_urls")),
    path("quality/", include("monitoring.urls")),
    path("drift/", include("monitoring.drift_urls")),
    path("monitoring/", include("monitoring.serving_urls")),
    path("monitoring/", include("monitoring.alert_urls")),
    path("", include("monitoring.health_urls")),
    path("", include("lineage.governance_urls")),
    path("", include("lineage.urls")),
]
