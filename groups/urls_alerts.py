from django.urls import path

from groups import views_alerts

urlpatterns = [
    path("alerts/", views_alerts.alert_list, name="alert_list"),
    path("alerts/rules/", views_alerts.alert_rules, name="alert_rules"),
    path("alerts/rules/new/", views_alerts.alert_rule_new, name="alert_rule_new"),
    path("alerts/rules/create/", views_alerts.alert_rule_create, name="alert_rule_create"),
    path("alerts/rules/<int:pk>/", views_alerts.alert_rule_edit, name="alert_rule_edit"),
    path("alerts/rules/<int:pk>/save/", views_alerts.alert_rule_save, name="alert_rule_save"),
    path("alerts/rules/<int:pk>/delete/", views_alerts.alert_rule_delete_confirm, name="alert_rule_delete_confirm"),
    path("alerts/rules/<int:pk>/delete/confirm/", views_alerts.alert_rule_delete, name="alert_rule_delete"),
]
