from django.urls import path
from rest_framework.routers import SimpleRouter

from monitoring.api import drift, serving, views

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
    path("models/<int:pk>/predict", serving.PredictView.as_view(), name="model-predict"),
    path(
        "models/<int:pk>/versions/<int:version>/predict",
        serving.PredictView.as_view(),
        name="model-version-predict",
    ),
    path("predictions", serving.PredictionIngestView.as_view(), name="prediction-ingest"),
    path(
        "predictions/<uuid:request_id>",
        serving.PredictionDetailView.as_view(),
        name="prediction-api-detail",
    ),
    path("feedback", serving.FeedbackView.as_view(), name="prediction-feedback"),
    path(
        "models/<int:pk>/drift-settings",
        drift.DriftSettingsView.as_view(),
        name="model-drift-settings",
    ),
]
