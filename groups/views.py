from __future__ import annotations

from functools import partial

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from groups import access, reading
from groups.kafka import ConsoleError, client_for
from groups.models import Cluster, Operation

GROUPS_PER_PAGE = 50
RECENT_OPERATIONS = 10
SORT_KEYS = {
    "name": lambda g: g.group_id,
    "state": lambda g: (g.state, g.group_id),
    "lag": lambda g: (g.lag if g.lag is not None else -1, g.group_id),
    "members": lambda g: (g.members, g.group_id),
    "partitions": lambda g: (g.partitions, g.group_id),
}


class BadQuery(Exception):
    pass


def _get_cluster(request: HttpRequest, name: str, action: str = "view", group_id: str | None = None) -> Cluster:
    """The cluster named in the URL, if the user may do `action` there (on `group_id`, when given)."""
    try:
        cluster = Cluster.objects.get(name=name)
    except Cluster.DoesNotExist:
        raise Http404(f"Cluster '{name}' is not registered in this console.") from None
    access.require(request, action, cluster, group_id)
    return cluster


def _visible(request: HttpRequest, cluster: Cluster):
    return partial(access.visible_groups, request.user, cluster)


def _recent_operations(cluster: Cluster, group_id: str) -> QuerySet[Operation]:
    return Operation.objects.filter(cluster=cluster, group_id=group_id).select_related("requester")[:RECENT_OPERATIONS]


def _is_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _render(request: HttpRequest, template: str, partial: str, context: dict, status: int = 200) -> HttpResponse:
    """The full page, or only its live fragment when htmx asks for a refresh.

    A refresh that hits an error still answers 200 so htmx swaps the error message in
    instead of silently keeping stale figures on screen.
    """
    if _is_partial(request):
        return render(request, f"{template}#{partial}", context, status=200)
    return render(request, template, context, status=status)


def _error_status(error: ConsoleError) -> int:
    return 404 if error.not_found else 503


def _query_sort(request: HttpRequest) -> tuple[str, bool]:
    raw = request.GET.get("sort", "name")
    key = raw.removeprefix("-")
    if key not in SORT_KEYS:
        raise BadQuery(f"sort must be one of {', '.join(sorted(SORT_KEYS))} (prefix '-' to reverse), not '{raw}'.")
    return key, raw.startswith("-")


def _query_page(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    # isdecimal, not isdigit: '²' is a digit that int() refuses.
    if not (raw.isascii() and raw.isdecimal()) or int(raw) < 1:
        raise BadQuery(f"page must be a whole number from 1 up, not '{raw}'.")
    return int(raw)


def _bad_request(request: HttpRequest, error: BadQuery) -> HttpResponse:
    return render(request, "groups/bad_request.html", {"reason": str(error)}, status=400)


@require_GET
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = [c for c in Cluster.objects.all() if access.allowed(request.user, "view", c)]
    return render(request, "groups/cluster_list.html", {"clusters": clusters})


@require_GET
def group_list(request: HttpRequest, cluster: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster)
    try:
        sort_key, descending = _query_sort(request)
        page_number = _query_page(request)
    except BadQuery as error:
        return _bad_request(request, error)
    query = request.GET.get("q", "").strip()
    context = {"cluster": cluster_row, "q": query, "sort": request.GET.get("sort", "name")}
    try:
        # Filtered before anything is described: each open tab polls this every 5 s.
        groups = reading.cluster_groups(client_for(cluster_row), visible=_visible(request, cluster_row), query=query)
    except ConsoleError as error:
        return _render(request, "groups/group_list.html", "live", {**context, "error": error}, _error_status(error))
    groups.sort(key=SORT_KEYS[sort_key], reverse=descending)
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(page_number)
    return _render(request, "groups/group_list.html", "live", {**context, "page": page, "total": len(groups)})


@require_GET
def group_page(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster, group_id=group)
    context = {
        "cluster": cluster_row, "group_id": group, "recent_operations": _recent_operations(cluster_row, group),
        "may": {action: access.allowed(request.user, action, cluster_row, group) for action in ("reset", "delete")},
        "needs": access.ROLE_NEEDED,
    }
    try:
        detail = reading.group_detail(client_for(cluster_row), group)
    except ConsoleError as error:
        return _render(request, "groups/group_page.html", "live", {**context, "error": error}, _error_status(error))
    return _render(request, "groups/group_page.html", "live", {**context, "detail": detail})


@require_GET
def topic_page(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = _get_cluster(request, cluster)
    context = {"cluster": cluster_row, "topic": topic}
    try:
        detail = reading.topic_detail(client_for(cluster_row), topic, visible=_visible(request, cluster_row))
    except ConsoleError as error:
        return _render(request, "groups/topic_page.html", "live", {**context, "error": error}, _error_status(error))
    return _render(request, "groups/topic_page.html", "live", {**context, "detail": detail})


def _json_error(error: ConsoleError) -> JsonResponse:
    return JsonResponse({"error": error.message, "code": error.code}, status=_error_status(error))


@require_GET
def api_clusters(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"clusters": [{"name": c.name, "bootstrap_servers": c.bootstrap_servers} for c in Cluster.objects.all()
                      if access.allowed(request.user, "view", c)]}
    )


@require_GET
def api_groups(request: HttpRequest, cluster: str) -> JsonResponse:
    cluster_row = _get_cluster(request, cluster)
    try:
        groups = reading.cluster_groups(client_for(cluster_row), visible=_visible(request, cluster_row))
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
    cluster_row = _get_cluster(request, cluster, group_id=group)
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


def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403 for pages and the JSON API alike, saying what is missing and whom to ask (from `access.require`)."""
    reason = str(exception) or "You may not do this: ask an admin for a role that allows it."
    if request.path.startswith("/api/"):
        return JsonResponse({"error": reason, "code": "FORBIDDEN"}, status=403)
    return render(request, "403.html", {"reason": reason}, status=403)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for pages and the JSON API alike, saying what was not found and where to go back."""
    reason = exception.args[0] if exception.args and isinstance(exception.args[0], str) else "Nothing lives here."
    if request.path.startswith("/api/"):
        return JsonResponse({"error": reason, "code": "NOT_FOUND"}, status=404)
    return render(request, "404.html", {"reason": reason}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "The console failed unexpectedly; the error was logged.", "code": "INTERNAL"},
                            status=500)
    return render(request, "500.html", status=500)
