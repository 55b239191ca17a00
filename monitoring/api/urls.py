from django.urls import path
from rest_framework.routers import SimpleRouter

from monitoring.api import drift, views

router = SimpleRouter()
router.register("quality-suites", views.QualitySuiteViewSet, basename="qualitysuite")
router.register("quality-runs", views.QualityRunViewSet, basename="qualityrun")
router.register("drift-analyses", drift.DriftAnalysisViewSet, basename="driftanalysis")

urlpatterns = [
    *router.urls,
    path(
        "dataset-versions/<int:pk>/suggested-checks",
        views.SuggestedChecksView.as_view(),
        name="dataset-version-suggested-checks",
    ),
    path("quality-checks/preview", views.CheckPreviewView.as_view(), name="quality-check-preview"),
    path(
        "models/<int:pk>/drift-settings",
        drift.DriftSettingsView.as_view(),
        name="model-drift-settings",
    ),
]
