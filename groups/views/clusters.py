"""The read side: the clusters, a cluster's groups, one group, one topic, as pages (each with its live
fragment) and as the JSON API, from the same reads and with the same rights."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from groups import access, reading
from groups.kafka import ConsoleError, client_for
from groups.models import Cluster
from groups.views.common import (
    BadQuery,
    bad_request,
    error_status,
    get_cluster,
    query_page,
    recent_operations,
    render_page,
    visible,
)

GROUPS_PER_PAGE = 50
SORT_KEYS = {
    "name": lambda g: g.group_id,
    "state": lambda g: (g.state, g.group_id),
    "lag": lambda g: (g.lag if g.lag is not None else -1, g.group_id),
    "members": lambda g: (g.members, g.group_id),
    "partitions": lambda g: (g.partitions, g.group_id),
}


def _query_sort(request: HttpRequest) -> tuple[str, bool]:
    raw = request.GET.get("sort", "name")
    key = raw.removeprefix("-")
    if key not in SORT_KEYS:
        raise BadQuery(f"sort must be one of {', '.join(sorted(SORT_KEYS))} (prefix '-' to reverse), not '{raw}'.")
    return key, raw.startswith("-")


@require_GET
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = [c for c in Cluster.objects.all() if access.allowed(request.user, "view", c)]
    return render(request, "groups/cluster_list.html", {"clusters": clusters})


@require_GET
def group_list(request: HttpRequest, cluster: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    try:
        sort_key, descending = _query_sort(request)
        page_number = query_page(request)
    except BadQuery as error:
        return bad_request(request, error)
    query = request.GET.get("q", "").strip()
    context = {"cluster": cluster_row, "q": query, "sort": request.GET.get("sort", "name")}
    try:
        # Filtered before anything is described: each open tab polls this every 5 s.
        groups = reading.cluster_groups(client_for(cluster_row), visible=visible(request, cluster_row), query=query)
    except ConsoleError as error:
        return render_page(request, "groups/group_list.html", "live", {**context, "error": error}, error_status(error))
    groups.sort(key=SORT_KEYS[sort_key], reverse=descending)
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(page_number)
    return render_page(request, "groups/group_list.html", "live", {**context, "page": page, "total": len(groups)})


@require_GET
def group_page(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    context = {
        "cluster": cluster_row,
        "group_id": group,
        "recent_operations": recent_operations(cluster_row, group),
        "may": {action: access.allowed(request.user, action, cluster_row, group) for action in ("reset", "delete")},
    }
    try:
        detail = reading.group_detail(client_for(cluster_row), group)
    except ConsoleError as error:
        return render_page(request, "groups/group_page.html", "live", {**context, "error": error}, error_status(error))
    return render_page(request, "groups/group_page.html", "live", {**context, "detail": detail})


@require_GET
def topic_page(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    may_read = access.allowed(request.user, "read_records", cluster_row)
    context = {"cluster": cluster_row, "topic": topic, "may_read_records": may_read}
    try:
        detail = reading.topic_detail(client_for(cluster_row), topic, visible=visible(request, cluster_row))
    except ConsoleError as error:
        return render_page(request, "groups/topic_page.html", "live", {**context, "error": error}, error_status(error))
    return render_page(request, "groups/topic_page.html", "live", {**context, "detail": detail})


def _json_error(error: ConsoleError) -> JsonResponse:
    return JsonResponse({"error": error.message, "code": error.code}, status=error_status(error))


@require_GET
def api_clusters(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "clusters": [
                {"name": c.name, "bootstrap_servers": c.bootstrap_servers}
                for c in Cluster.objects.all()
                if access.allowed(request.user, "view", c)
            ]
        }
    )


@require_GET
def api_groups(request: HttpRequest, cluster: str) -> JsonResponse:
    cluster_row = get_cluster(request, cluster)
    try:
        groups = reading.cluster_groups(client_for(cluster_row), visible=visible(request, cluster_row))
    except ConsoleError as error:
        return _json_error(error)
    return JsonResponse(
        {
            "groups": [
                {
                    "group": g.group_id,
                    "state": g.state,
                    "protocol_type": g.type,
                    "members": g.members,
                    "topics": list(g.topics),
                    "partitions": g.partitions,
                    "lag": g.lag,
                }
                for g in groups
            ]
        }
    )


@require_GET
def api_group(request: HttpRequest, cluster: str, group: str) -> JsonResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    try:
        detail = reading.group_detail(client_for(cluster_row), group)
    except ConsoleError as error:
        return _json_error(error)
    d = detail.description
    return JsonResponse(
        {
            "group": d.group_id,
            "state": d.state,
            "protocol_type": d.type,
            "coordinator": d.coordinator,
            "members": [
                {
                    "member_id": m.member_id,
                    "client_id": m.client_id,
                    "host": m.host,
                    "assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in m.assignment],
                }
                for m in d.members
            ],
            "partitions": [
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "committed": r.committed,
                    "log_start": r.log_start,
                    "log_end": r.log_end,
                    "lag": r.lag,
                    "lag_ms": r.time_lag_ms,
                }
                for r in detail.rows
            ],
        }
    )
