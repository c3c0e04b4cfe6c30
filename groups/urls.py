from django.urls import path, register_converter

from groups import views, views_approval, views_replay, views_reset
from groups.converters import GroupIdConverter

register_converter(GroupIdConverter, "group_id")

urlpatterns = [
    path("", views.cluster_list, name="cluster_list"),
    path("clusters/<str:cluster>/groups/", views.group_list, name="group_list"),
    # Group ids may contain slashes and newlines, so the id is a <group_id:> segment (groups.converters) closed by
    # the final slash.
    path("clusters/<str:cluster>/groups/<group_id:group>/", views.group_page, name="group_page"),
    path("clusters/<str:cluster>/topics/<str:topic>/", views.topic_page, name="topic_page"),
    # Actions take their own prefixes so the group id, which may contain slashes, stays the last segment.
    path("clusters/<str:cluster>/reset-preview/<group_id:group>/", views_reset.reset_preview, name="reset_preview"),
    path("clusters/<str:cluster>/reset-confirm/<group_id:group>/", views_reset.reset_confirm, name="reset_confirm"),
    path("clusters/<str:cluster>/reset/<group_id:group>/", views_reset.reset_form, name="reset_form"),
    path("clusters/<str:cluster>/delete/<group_id:group>/", views_reset.delete_group, name="delete_group"),
    path("clusters/<str:cluster>/replay-action/<str:topic>/", views_replay.replay_action, name="replay_action"),
    path("clusters/<str:cluster>/replay/<str:topic>/", views_replay.replay_form, name="replay_form"),
    path("clusters/<str:cluster>/replay-preview/<str:topic>/", views_replay.replay_preview, name="replay_preview"),
    path("clusters/<str:cluster>/replay-confirm/<str:topic>/", views_replay.replay_confirm, name="replay_confirm"),
    path("operations/<int:pk>/", views_reset.operation_page, name="operation_page"),
    path("operations/<int:pk>/approve/", views_approval.approve_operation, name="approve_operation"),
    path("operations/<int:pk>/reject/", views_approval.reject_operation, name="reject_operation"),
    path("operations/<int:pk>/cancel/", views_approval.cancel_operation, name="cancel_operation"),
    # A running replay is stopped here; a request still awaiting approval is withdrawn through cancel_operation.
    path("operations/<int:pk>/cancel-replay/", views_replay.cancel_replay, name="cancel_replay"),
    path("approvals/", views_approval.approval_list, name="approval_list"),
    path("api/clusters/", views.api_clusters, name="api_clusters"),
    path("api/clusters/<str:cluster>/groups/", views.api_groups, name="api_groups"),
    path("api/clusters/<str:cluster>/groups/<group_id:group>/", views.api_group, name="api_group"),
]
