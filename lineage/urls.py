from django.urls import path

from lineage import lineage_pages, views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/", views.project_list, name="project-list"),
    path("projects/new", views.project_create, name="project-create"),
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
    path("projects/<slug:slug>/edit", views.project_edit, name="project-edit"),
    path("projects/<slug:slug>/members", views.project_members, name="project-members"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/new", views.dataset_create, name="dataset-create"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/edit", views.dataset_edit, name="dataset-edit"),
    path(
        "datasets/<int:pk>/versions/new",
        views.dataset_version_create,
        name="dataset-version-create",
    ),
    path(
        "datasets/<int:pk>/versions/<int:version>/",
        views.dataset_version_detail,
        name="dataset-version-detail",
    ),
    path(
        "datasets/<int:pk>/versions/<int:version>/download",
        views.dataset_version_download,
        name="dataset-version-download",
    ),
    path(
        "datasets/<int:pk>/versions/<int:version>/reprofile",
        views.dataset_version_reprofile,
        name="dataset-version-reprofile",
    ),
    path("models/", views.model_list, name="model-list"),
    path("models/new", views.model_create, name="model-create"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("models/<int:pk>/edit", views.model_edit, name="model-edit"),
    path("models/<int:pk>/versions/new", views.model_version_create, name="model-version-create"),
    path(
        "models/<int:pk>/versions/<int:version>/",
        views.model_version_detail,
        name="model-version-detail",
    ),
    path(
        "models/<int:pk>/versions/<int:version>/stage",
        views.model_version_stage,
        name="model-version-stage",
    ),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/retry", views.job_retry, name="job-retry"),
    path("lineage/", lineage_pages.lineage_graph, name="lineage-graph"),
    path("lineage/downstream", lineage_pages.lineage_downstream, name="lineage-downstream"),
    path("lineage/upstream", lineage_pages.lineage_upstream, name="lineage-upstream"),
]
