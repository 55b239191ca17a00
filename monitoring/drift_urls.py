from django.urls import path

from monitoring import drift_views

urlpatterns = [
    path("", drift_views.drift_overview, name="drift-overview"),
    path("models/<int:model_id>/", drift_views.model_drift, name="model-drift"),
    path("models/<int:model_id>/start", drift_views.start_analysis, name="drift-start"),
    path("models/<int:model_id>/settings", drift_views.save_drift_settings, name="drift-settings"),
    path("analyses/<int:pk>/", drift_views.analysis_detail, name="drift-analysis"),
    path(
        "analyses/<int:pk>/features/<str:name>/",
        drift_views.feature_detail,
        name="drift-feature",
    ),
    path("analyses/<int:pk>/classifier/", drift_views.classifier_detail, name="drift-classifier"),
]
