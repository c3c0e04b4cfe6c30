"""Streams groups (KIP-1071): one streams group as a page (with its live fragment, what the collector made
of it and its lag history), with the same rights as consumer groups. They are listed with every other
group, in the group list; the API answers one as JSON (groups/api/read.py). Its actions are the
consumer-group pages' (reset, delete offsets, delete), which see a streams group as such
(`groups.kafka.describe_group_to_change`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from groups import streams_reading
from groups.kafka import ConsoleError, client_for
from groups.views.common import error_status, get_cluster, render_page
from groups.views.consumer_groups import typed_group_context


@require_GET
def streams_group_page(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    context = typed_group_context(request, cluster_row, group, "groups/streams_group_page.html")
    if isinstance(context, HttpResponse):
        return context
    try:
        detail = streams_reading.streams_group_detail(cluster_row, client_for(cluster_row), group)
    except ConsoleError as error:
        return render_page(
            request, "groups/streams_group_page.html", "live", {**context, "error": error}, error_status(error)
        )
    return render_page(request, "groups/streams_group_page.html", "live", {**context, "detail": detail})
