"""A cluster's consumer groups: the list (from the collector's snapshot, never from Kafka) and one
group's page (its own figures read live, its status, lag in seconds and history from the collector)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from groups import access, reading
from groups.chart_page import chart_range
from groups.group_links import GROUP_PAGES, group_url
from groups.kafka import ConsoleError, client_for
from groups.models import Cluster, Snapshot
from groups.snapshot import memo, queries, rebalances
from groups.views.common import (
    BadQuery,
    bad_request,
    error_status,
    get_cluster,
    htmx_target,
    is_partial,
    recent_operations,
    render_page,
)
from groups.views.filters import (
    GROUP_STATES,
    GROUP_TYPES,
    PAGE_SIZES,
    STATUS_VALUES,
    Column,
    GroupQuery,
    group_query,
)
from groups.views.group_facts import group_page_facts
from groups.views.history import group_chart, lag_sparklines

CHART_TARGET = "history-chart"  # the id of the chart's figure, which its range links reload alone

SHOWN_CAUSES = 10  # partitions whose status explains the group's, listed under it
SHOWN_REBALANCES = 10

# (sort key, header, numeric, worst first when descending)
GROUP_COLUMNS = (
    ("group", "Group", False, False),
    ("status", "Status", False, True),
    ("state", "State", False, False),
    ("type", "Type", False, False),
    ("members", "Members", True, True),
    ("partitions", "Partitions", True, True),
    ("lag", "Lag", True, True),
    ("lag_seconds", "Lag (time)", True, True),
    ("retention", "Retention margin", True, False),
)


@require_GET
def group_list(request: HttpRequest, cluster: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    try:
        query = group_query(request)
    except BadQuery as error:
        return bad_request(request, error)
    snap = queries.latest_snapshot(cluster_row)
    context = {
        "cluster": cluster_row,
        "snap": snap,
        "query": query,
        "states": GROUP_STATES,
        "statuses": STATUS_VALUES,
        "types": GROUP_TYPES,
        "page_sizes": PAGE_SIZES,
    }
    if snap.snapshot is not None:
        listing = _listing(cluster_row, snap.snapshot, query, access.view_scope(request.user, cluster_row))
        context.update(
            page=listing.page, total=listing.page.paginator.count, columns=listing.columns, table=listing.table
        )
    return render_page(request, "groups/group_list.html", "live", context)


@dataclass(frozen=True)
class _Listing:
    page: Page  # its object_list a list of the page's SnapshotGroup rows
    columns: list[Column]
    table: str  # the count, the table and its pager drawn: a SafeString, as templates render


def _listing(cluster: Cluster, snapshot: Snapshot, query: GroupQuery, scope: Q | None) -> _Listing:
    """The page of the snapshot's groups `query` asks for, within `scope`, and its table: read and
    drawn once per process and snapshot (groups.snapshot.memo), since every open tab asks every 5 s."""
    # The rows' links name the cluster and their lag in seconds is judged against its period.
    key = ("group_list", cluster.name, cluster.collect_every_seconds, query, scope)
    listing = memo.get(snapshot, key)
    if listing is not None:
        return listing
    rows = queries.group_rows(snapshot, **query.rows_filters(), scope=scope)
    page = Paginator(rows, query.per_page).get_page(query.page)
    page.object_list = list(page.object_list)
    sparklines, final = lag_sparklines(cluster, snapshot, [g.group_id for g in page.object_list])
    columns = query.columns(GROUP_COLUMNS)
    table = render_to_string(
        "groups/_group_table.html",
        {
            "cluster": cluster,
            "query": query,
            "columns": columns,
            "page": page,
            "total": page.paginator.count,
            "rows": [(g, sparklines[g.group_id]) for g in page.object_list],
        },
    )
    listing = _Listing(page, columns, table)
    if final:
        memo.put(snapshot, key, listing)
    return listing


def collector_view(request: HttpRequest, cluster_row: Cluster, group: str, template: str) -> dict | HttpResponse:
    """What the collector made of a group (`snap`, `row`) and, unless the request refreshes the live
    figures only, its history chart (`chart`), with `refresh`: a context for the group's page (consumer
    or share group). Or the answer itself: the chart alone when its range links ask (`template`'s
    `history` partial), or 400 for a range it does not know."""
    try:
        time_range = chart_range(request.GET.get("range"))
    except ValueError as error:
        return bad_request(request, BadQuery(str(error)))
    snap, row = queries.served_group(cluster_row, group)
    refresh = is_partial(request)
    context: dict = {"snap": snap, "row": row, "refresh": refresh}
    if not refresh or htmx_target(request) == CHART_TARGET:
        topics = row.topics if row else []
        context["chart"] = group_chart(cluster_row, group, topics, time_range, int(time.time() * 1000))
    if htmx_target(request) == CHART_TARGET:
        return render(request, f"{template}#history", {"cluster": cluster_row, "group_id": group, **context})
    return context


def typed_group_context(request: HttpRequest, cluster_row: Cluster, group: str, template: str) -> dict | HttpResponse:
    """What a share or streams group's page shows besides its live figures: its actions (with the
    user's rights on them and its recent operations) and collector_view's. Or collector_view's answer."""
    observed_or_answer = collector_view(request, cluster_row, group, template)
    if isinstance(observed_or_answer, HttpResponse):
        return observed_or_answer
    return {
        "cluster": cluster_row,
        "group_id": group,
        "recent_operations": recent_operations(cluster_row, group),
        "may_reset": access.allowed(request.user, "reset", cluster_row, group),
        "may_delete": access.allowed(request.user, "delete", cluster_row, group),
        **observed_or_answer,
    }


@require_GET
def group_page(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    """The group's live figures (refreshed every 5 s), what the collector made of them, and its history
    chart, outside the refreshed part: its range links ask for the chart alone."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    observed_or_answer = collector_view(request, cluster_row, group, "groups/group_page.html")
    if isinstance(observed_or_answer, HttpResponse):
        return observed_or_answer
    row = observed_or_answer["row"]
    context = {
        "cluster": cluster_row,
        "group_id": group,
        "recent_operations": recent_operations(cluster_row, group),
        "may": {action: access.allowed(request.user, action, cluster_row, group) for action in ("reset", "delete")},
        **observed_or_answer,
    }
    if not context["refresh"]:
        context["rebalances"] = rebalances.recent(cluster_row, group, SHOWN_REBALANCES)
        context["rebalances_kept_days"] = settings.HISTORY_ROLLUP_RETENTION_DAYS
    # A share or streams group (as the last round saw it) has a page of its own, which the query goes to.
    own_page = None
    if row is not None and row.type in GROUP_PAGES:
        query = request.GET.urlencode()
        own_page = group_url(cluster, group, row.type) + (f"?{query}" if query else "")
    try:
        detail = reading.group_detail(client_for(cluster_row), group)
    except ConsoleError as error:
        if error.not_found and own_page:
            # Kafka knows no consumer group by a share or streams group's id: that group's own page shows it.
            return redirect(own_page)
        return render_page(request, "groups/group_page.html", "live", {**context, "error": error}, error_status(error))
    if own_page and detail.description.state == "Dead" and not detail.description.members:
        # A streams group's committed offsets make librdkafka describe it as a Dead group holding offsets.
        return redirect(own_page)
    observed = queries.details_by_partition(row)
    explained = [p for p in observed.values() if p.status_reason]
    context.update(
        detail=detail,
        rows=[(r, observed.get((r.topic, r.partition))) for r in detail.rows],
        causes=explained[:SHOWN_CAUSES],
        more_causes=len(explained[SHOWN_CAUSES:]),
    )
    context.update(group_page_facts(request, cluster_row, detail))
    return render_page(request, "groups/group_page.html", "live", context)
