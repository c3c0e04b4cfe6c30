from django.urls import path

from groups import views_audit

urlpatterns = [
    path("audit/", views_audit.audit_list, name="audit_list"),
    path("audit/<int:pk>/", views_audit.audit_event, name="audit_event"),
    path("audit/export.csv", views_audit.audit_export_csv, name="audit_export_csv"),
    path("audit/export.json", views_audit.audit_export_json, name="audit_export_json"),
]
