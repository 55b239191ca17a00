"""Runtime observability pages, mounted at /monitoring/."""

from django.urls import path

from monitoring import serving_views

urlpatterns = [
    path("", serving_views.monitoring_overview, name="monitoring-overview"),
    path("models/<int:pk>/", serving_views.model_monitoring, name="model-monitoring"),
    path("predictions/", serving_views.prediction_lookup, name="prediction-lookup"),
    path(
        "predictions/<uuid:request_id>/",
        serving_views.prediction_detail,
        name="prediction-detail",
    ),
]
