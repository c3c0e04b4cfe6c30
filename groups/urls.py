"""Every page of the console and its JSON API (groups/api/; sign-in and Django admin are in console/urls.py)."""

from django.urls import include, path, re_path, register_converter

from groups import api
from groups.converters import GroupIdConverter
from groups.views import (
    alerts,
    audit,
    clusters,
    consumer_groups,
    health,
    metrics,
    offset_deletion,
    operations,
    records,
    replays,
    requests,
    resets,
    share_deletion,
    share_groups,
    share_resets,
    streams_groups,
    topics,
)

register_converter(GroupIdConverter, "group_id")

urlpatterns = [
    path("", clusters.cluster_list, name="cluster_list"),
    path("clusters/<str:cluster>/", clusters.cluster_overview, name="cluster_overview"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    re_path(r"^metrics/?$", metrics.metrics, name="metrics"),  # Prometheus' default path; a slash is forgiven
    path("clusters/<str:cluster>/groups/", consumer_groups.group_list, name="group_list"),
    # Group ids may contain slashes and newlines, so the id is a <group_id:> segment (groups.converters) closed by
    # the final slash.
    path("clusters/<str:cluster>/groups/<group_id:group>/", consumer_groups.group_page, name="group_page"),
    path("clusters/<str:cluster>/topics/", topics.topic_list, name="topic_list"),
    path("clusters/<str:cluster>/topics/<str:topic>/", topics.topic_page, name="topic_page"),
    path("clusters/<str:cluster>/share-groups/", share_groups.share_group_list, name="share_group_list"),
    path(
        "clusters/<str:cluster>/share-groups/<group_id:group>/", share_groups.share_group_page, name="share_group_page"
    ),
    path(
        "clusters/<str:cluster>/streams-groups/<group_id:group>/",
        streams_groups.streams_group_page,
        name="streams_group_page",
    ),
    path("clusters/<str:cluster>/topics/<str:topic>/records/", records.records_page, name="topic_records"),
    # Actions take their own prefixes so the group id, which may contain slashes, stays the last segment.
    path("clusters/<str:cluster>/reset-preview/<group_id:group>/", resets.reset_preview, name="reset_preview"),
    path("clusters/<str:cluster>/reset-confirm/<group_id:group>/", resets.reset_confirm, name="reset_confirm"),
    path("clusters/<str:cluster>/reset/<group_id:group>/", resets.reset_form, name="reset_form"),
    path("clusters/<str:cluster>/delete/<group_id:group>/", resets.delete_group, name="delete_group"),
    path(
        "clusters/<str:cluster>/share-delete/<group_id:group>/",
        share_deletion.share_group_delete,
        name="share_group_delete",
    ),
    path(
        "clusters/<str:cluster>/delete-offsets/<group_id:group>/", offset_deletion.offsets_form, name="delete_offsets"
    ),
    path(
        "clusters/<str:cluster>/delete-offsets-preview/<group_id:group>/",
        offset_deletion.offsets_preview,
        name="delete_offsets_preview",
    ),
    path(
        "clusters/<str:cluster>/delete-offsets-confirm/<group_id:group>/",
        offset_deletion.offsets_confirm,
        name="delete_offsets_confirm",
    ),
    path(
        "clusters/<str:cluster>/share-reset/<group_id:group>/", share_resets.share_reset_form, name="share_reset_form"
    ),
    path(
        "clusters/<str:cluster>/share-reset-preview/<group_id:group>/",
        share_resets.share_reset_preview,
        name="share_reset_preview",
    ),
    path(
        "clusters/<str:cluster>/share-reset-confirm/<group_id:group>/",
        share_resets.share_reset_confirm,
        name="share_reset_confirm",
    ),
    path("clusters/<str:cluster>/replay-action/<str:topic>/", replays.replay_action, name="replay_action"),
    path("clusters/<str:cluster>/replay/<str:topic>/", replays.replay_form, name="replay_form"),
    path("clusters/<str:cluster>/replay-preview/<str:topic>/", replays.replay_preview, name="replay_preview"),
    path("clusters/<str:cluster>/replay-confirm/<str:topic>/", replays.replay_confirm, name="replay_confirm"),
    path("operations/<int:pk>/", operations.operation_page, name="operation_page"),
    path("operations/<int:pk>/approve/", operations.approve_operation, name="approve_operation"),
    path("operations/<int:pk>/reject/", operations.reject_operation, name="reject_operation"),
    path("operations/<int:pk>/cancel/", operations.cancel_operation, name="cancel_operation"),
    # A running replay is stopped here; a request still awaiting approval is withdrawn through cancel_operation.
    path("operations/<int:pk>/cancel-replay/", operations.cancel_replay, name="cancel_replay"),
    path("approvals/", operations.approval_list, name="approval_list"),
    path("my/requests/", requests.my_requests, name="my_requests"),
    path("api/", api.api.urls),
    path(
        "audit/",
        include(
            [
                path("", audit.audit_list, name="audit_list"),
                path("<int:pk>/", audit.audit_event, name="audit_event"),
                path("export.csv", audit.audit_export_csv, name="audit_export_csv"),
                path("export.json", audit.audit_export_json, name="audit_export_json"),
            ]
        ),
    ),
    path("alerts/", alerts.alert_list, name="alert_list"),
    path("alerts/rules/", alerts.alert_rules, name="alert_rules"),
    path("alerts/rules/new/", alerts.alert_rule_new, name="alert_rule_new"),
    path("alerts/rules/create/", alerts.alert_rule_create, name="alert_rule_create"),
    path("alerts/rules/<int:pk>/", alerts.alert_rule_edit, name="alert_rule_edit"),
    path("alerts/rules/<int:pk>/save/", alerts.alert_rule_save, name="alert_rule_save"),
    path("alerts/rules/<int:pk>/delete/", alerts.alert_rule_delete_confirm, name="alert_rule_delete_confirm"),
    path("alerts/rules/<int:pk>/delete/confirm/", alerts.alert_rule_delete, name="alert_rule_delete"),
]
