from django.urls import path
from rest_framework.routers import SimpleRouter

from monitoring.api import serving_admin

router = SimpleRouter()
router.register("alert-rules", serving_admin.AlertRuleViewSet, basename="alertrule")
router.register("alert-incidents", serving_admin.AlertIncidentViewSet, basename="alertincident")

urlpatterns = [
    *router.urls,
    path(
        "models/<int:pk>/serving-settings",
        serving_admin.ServingSettingsView.as_view(),
        name="model-serving-settings",
    ),
]
