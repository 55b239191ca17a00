from django.urls import path

from monitoring import alert_views

urlpatterns = [
    path("models/<int:pk>/alerts", alert_views.model_alerts, name="model-alerts"),
    path("models/<int:pk>/alerts/rules", alert_views.add_alert_rule, name="alert-rule-add"),
    path(
        "models/<int:pk>/alerts/rules/<int:rule_id>/toggle",
        alert_views.toggle_alert_rule,
        name="alert-rule-toggle",
    ),
    path(
        "models/<int:pk>/alerts/rules/<int:rule_id>/delete",
        alert_views.delete_alert_rule,
        name="alert-rule-delete",
    ),
    path("models/<int:pk>/alerts/retention", alert_views.save_retention, name="serving-retention"),
]
