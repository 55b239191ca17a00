from rest_framework.routers import SimpleRouter

from lineage.api import governance_views

router = SimpleRouter()
router.register("reviews", governance_views.ReviewViewSet, basename="review")
router.register("notifications", governance_views.NotificationViewSet, basename="notification")

urlpatterns = router.urls
