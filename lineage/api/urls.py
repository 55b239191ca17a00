from django.urls import path
from rest_framework.routers import DefaultRouter

from lineage.api import lineage_views, views
from lineage.api.openlineage_views import OpenLineageIngestSlashView, OpenLineageIngestView
from lineage.audit_views import AuditEntryViewSet

router = DefaultRouter()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("dataset-versions", views.DatasetVersionViewSet, basename="datasetversion")
router.register("models", views.RegisteredModelViewSet, basename="registeredmodel")
router.register("model-versions", views.ModelVersionViewSet, basename="modelversion")
router.register("jobs", views.JobViewSet, basename="job")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("audit-log", AuditEntryViewSet, basename="auditentry")

urlpatterns = router.urls
urlpatterns += [path("lineage", OpenLineageIngestView.as_view(), name="openlineage-ingest")]
urlpatterns += [path("lineage/", OpenLineageIngestSlashView.as_view())]
urlpatterns += [
    path("lineage/graph", lineage_views.LineageGraphView.as_view(), name="lineage-api-graph"),
    path(
        "lineage/upstream", lineage_views.LineageUpstreamView.as_view(), name="lineage-api-upstream"
    ),
    path(
        "lineage/downstream",
        lineage_views.LineageDownstreamView.as_view(),
        name="lineage-api-downstream",
    ),
]
