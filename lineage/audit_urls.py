from django.urls import path

from lineage import audit_views

urlpatterns = [
    path("", audit_views.audit_log, name="audit-log"),
    path("export.csv", audit_views.audit_log_csv, name="audit-log-export"),
]
