"""Share groups (KIP-932): the cluster's share groups and one share group, as pages (each with its live
fragment) and as the JSON API, from the same reads and with the same rights as consumer groups."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from groups import access, share_reading
from groups.kafka import ConsoleError, client_for, share_client_for
from groups.views.common import error_status, get_cluster, recent_operations, render_page, visible


def _json_error(error: ConsoleError) -> JsonResponse:
    return JsonResponse({"error": error.message, "code": error.code}, status=error_status(error))


@require_GET
def share_group_list(request: HttpRequest, cluster: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    context: dict = {"cluster": cluster_row}
    try:
        groups = share_reading.share_groups(share_client_for(cluster_row), visible=visible(request, cluster_row))
    except ConsoleError as error:
        return render_page(request, "groups/share_group_list.html", "live", {**context, "error": error}, 503)
    return render_page(request, "groups/share_group_list.html", "live", {**context, "groups": groups})


@require_GET
def share_group_page(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    context: dict = {
        "cluster": cluster_row,
        "group_id": group,
        "recent_operations": recent_operations(cluster_row, group),
        "may_reset": access.allowed(request.user, "reset", cluster_row, group),
        "may_delete": access.allowed(request.user, "delete", cluster_row, group),
    }
    try:
        detail = share_reading.share_group_detail(share_client_for(cluster_row), client_for(cluster_row), group)
    except ConsoleError as error:
        status = error_status(error)
        return render_page(request, "groups/share_group_page.html", "live", {**context, "error": error}, status)
    return render_page(request, "groups/share_group_page.html", "live", {**context, "detail": detail})


@require_GET
def api_share_groups(request: HttpRequest, cluster: str) -> JsonResponse:
    cluster_row = get_cluster(request, cluster)
    try:
        groups = share_reading.share_groups(share_client_for(cluster_row), visible=visible(request, cluster_row))
    except ConsoleError as error:
        return _json_error(error)
    return JsonResponse({"share_groups": [{"group": g.group_id, "state": g.state} for g in groups]})


@require_GET
def api_share_group(request: HttpRequest, cluster: str, group: str) -> JsonResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    try:
        detail = share_reading.share_group_detail(share_client_for(cluster_row), client_for(cluster_row), group)
    except ConsoleError as error:
        return _json_error(error)
    d = detail.description
    return JsonResponse(
        {
            "group": d.group_id,
            "type": "share",
            "state": d.state,
            "group_epoch": d.group_epoch,
            "assignment_epoch": d.assignment_epoch,
            "assignor": d.assignor,
            "coordinator": d.coordinator,
            "members": [
                {
                    "member_id": m.member_id,
                    "client_id": m.client_id,
                    "host": m.host,
                    "rack": m.rack,
                    "member_epoch": m.member_epoch,
                    "subscribed_topics": list(m.subscribed_topics),
                    "assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in m.assignment],
                }
                for m in d.members
            ],
            "partitions": [
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "start_offset": r.start_offset,
                    "leader_epoch": r.leader_epoch,
                    "lag": r.lag,
                    "log_start": r.log_start,
                    "log_end": r.log_end,
                    "consumers": [m.member_id for m in r.consumers],
                    "error": r.error,
                }
                for r in detail.rows
            ],
            "lag": detail.total_lag,
        }
    )
