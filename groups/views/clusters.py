"""The clusters, and one cluster's overview: brokers, version, groups by state and status, the groups
furthest behind, all from the collector's snapshot."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from groups import access
from groups.models import Cluster
from groups.snapshot import queries
from groups.views.common import get_cluster, render_page

FURTHEST_BEHIND = 10


@require_GET
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = [c for c in Cluster.objects.all() if access.allowed(request.user, "view", c)]
    return render(request, "groups/cluster_list.html", {"clusters": clusters})


@require_GET
def cluster_overview(request: HttpRequest, cluster: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    snap = queries.latest_snapshot(cluster_row)
    context: dict = {"cluster": cluster_row, "snap": snap}
    if snap.snapshot is not None:
        scope = access.view_scope(request.user, cluster_row)
        summary = snap.snapshot.summary or {}
        counts = queries.group_counts(snap.snapshot, scope)
        # As the topic list counts them: internal topics (__consumer_offsets, ...) only when asked for.
        topics = queries.topic_rows(snap.snapshot).count()
        context.update(
            topics=topics,
            internal_topics=snap.snapshot.topic_count - topics,
            counts=counts,
            by_state=sorted(counts.by_state.items()),
            by_status=[(s.value, counts.by_status.get(s.value, 0)) for s in queries.GROUP_STATUSES],
            # Share groups (no committed offsets to judge) and groups whose offsets could not be read.
            unjudged=counts.by_status.get("", 0),
            # Furthest behind in time: messages do not compare across topics, seconds do.
            behind=queries.group_rows(snap.snapshot, min_lag=1, sort="-lag_seconds", scope=scope)[:FURTHEST_BEHIND],
            facts=summary.get("cluster"),
            notes=summary.get("notes", []),
        )
    return render_page(request, "groups/cluster_overview.html", "live", context)
