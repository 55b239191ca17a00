from django.urls import path

from lineage import governance_views as views

urlpatterns = [
    path("governance/", views.governance_home, name="governance"),
    path(
        "models/<int:pk>/versions/<int:version>/review",
        views.review_request,
        name="model-version-review",
    ),
    path("reviews/<int:review_id>/decide", views.review_decide, name="review-decide"),
    path(
        "datasets/<int:pk>/versions/<int:version>/destroy",
        views.destroy_version,
        name="dataset-version-destroy",
    ),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read", views.notification_read, name="notifications-read"),
]
