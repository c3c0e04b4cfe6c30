"""Share groups (KIP-932): the cluster's share groups and one share group, as pages (each with its live
fragment), from the same reads and with the same rights as consumer groups (the JSON API: groups/api/read.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from groups import share_reading
from groups.kafka import ConsoleError, client_for, share_client_for
from groups.snapshot import queries
from groups.views.common import error_status, get_cluster, render_page, visible
from groups.views.consumer_groups import typed_group_context


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
    context = typed_group_context(request, cluster_row, group, "groups/share_group_page.html")
    if isinstance(context, HttpResponse):
        return context
    try:
        detail = share_reading.share_group_detail(share_client_for(cluster_row), client_for(cluster_row), group)
    except ConsoleError as error:
        status = error_status(error)
        return render_page(request, "groups/share_group_page.html", "live", {**context, "error": error}, status)
    rows = detail.judged_rows(queries.details_by_partition(context["row"]))
    return render_page(request, "groups/share_group_page.html", "live", {**context, "detail": detail, "rows": rows})
