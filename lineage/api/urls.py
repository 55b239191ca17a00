from rest_framework.routers import DefaultRouter

from lineage.api import views

router = DefaultRouter()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("dataset-versions", views.DatasetVersionViewSet, basename="datasetversion")
router.register("models", views.RegisteredModelViewSet, basename="registeredmodel")
router.register("model-versions", views.ModelVersionViewSet, basename="modelversion")
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = router.urls
