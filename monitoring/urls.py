from django.urls import path

from monitoring import views

urlpatterns = [
    path("", views.quality_overview, name="quality-overview"),
    path("datasets/<int:dataset_id>/", views.suite_detail, name="quality-suite"),
    path("datasets/<int:dataset_id>/run", views.run_now, name="quality-run-now"),
    path("datasets/<int:dataset_id>/checks/new", views.check_edit, name="quality-check-add"),
    path(
        "datasets/<int:dataset_id>/checks/<int:index>/edit",
        views.check_edit,
        name="quality-check-edit",
    ),
    path(
        "datasets/<int:dataset_id>/checks/<int:index>/delete",
        views.check_delete,
        name="quality-check-delete",
    ),
    path(
        "datasets/<int:dataset_id>/checks/preview/<str:check_type>",
        views.check_preview,
        name="quality-check-preview-page",
    ),
    path("datasets/<int:dataset_id>/suggest", views.suggest_page, name="quality-suggest"),
    path("datasets/<int:dataset_id>/settings", views.suite_settings, name="quality-settings"),
    path(
        "datasets/<int:dataset_id>/suite/<int:version>/",
        views.suite_version_detail,
        name="quality-suite-version",
    ),
    path(
        "datasets/<int:dataset_id>/versions/<int:version>/",
        views.version_runs,
        name="quality-version-runs",
    ),
    path("runs/<int:pk>/", views.run_detail, name="quality-run"),
]
