"""The JSON API: clusters, a cluster's groups and topics (from the collector's snapshot), one group (read
live, with what the collector made of it). The same reads and rights as the pages; bad input is a JSON
400 with the reason."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from groups import access, reading
from groups.kafka import ConsoleError, client_for
from groups.models import Cluster, Snapshot, SnapshotGroup
from groups.snapshot import memo, queries
from groups.snapshot.history_packing import Point
from groups.views.common import BadQuery, error_status, get_cluster
from groups.views.filters import GroupQuery, group_query, since_ms, topic_query
from groups.views.group_facts import group_protocol_json
from groups.views.history import LAG, LAG_SECONDS, STATUS, group_points, moves
from groups.views.topics import TopicLine, topic_line, visible_readers


def _json_error(error: ConsoleError) -> JsonResponse:
    return JsonResponse({"error": error.message, "code": error.code}, status=error_status(error))


def _bad_query(error: BadQuery) -> JsonResponse:
    return JsonResponse({"error": str(error), "code": "BAD_REQUEST"}, status=400)


def _snapshot_json(snap: queries.SnapshotInfo) -> dict | None:
    if snap.snapshot is None:
        return None
    return {
        "taken_at": snap.snapshot.taken_at.isoformat(),
        "age_s": round(snap.age_seconds or 0.0, 3),
        "duration_s": snap.last_round_seconds,
        "stale": snap.stale,
        "stale_reason": snap.stale_reason or None,
    }


def _no_snapshot(cluster: Cluster, snap: queries.SnapshotInfo) -> JsonResponse:
    """503: the collector has not finished a round for the cluster; what to run, and its last failure."""
    return JsonResponse(
        {
            "error": f"No snapshot of cluster '{cluster.name}' yet: run `python manage.py collect_lag --cluster "
            f"{cluster.name}`, or Celery beat with a worker consuming the 'collection' queue.",
            "code": "NO_SNAPSHOT",
            "last_failure": snap.stale_reason or None,
            "snapshot": None,
        },
        status=503,
    )


def _group_json(g: SnapshotGroup) -> dict:
    return {
        "group": g.group_id,
        "state": g.state,
        "protocol_type": g.type,
        "members": g.members,
        "topics": list(g.topics),
        "partitions": g.partitions,
        "lag": g.lag,
        "lag_seconds": g.lag_seconds,
        "lag_seconds_method": g.lag_seconds_method or None,
        "lag_seconds_doubtful": g.lag_seconds_doubtful,
        "status": g.status or None,
        "status_reason": g.status_reason or None,
        "reset_by_operation": g.operation_id if g.status == "RESET" else None,
        "catch_up_seconds": g.catch_up_seconds,
        "retention_margin_seconds": g.retention_margin_seconds,
        "replay_operation": g.replay_operation_id,
        "error": g.error or None,
    }


def _iso(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _point_json(p: Point) -> dict:
    out = {
        "t": _iso(p.t_ms),
        "lag": p.last[LAG],
        "lag_seconds": p.last[LAG_SECONDS],
        "status": p.last[STATUS],
        "span_s": p.span_ms / 1000,
    }
    if p.span_ms:  # a roll-up: its last round above, the bucket's worst here
        out.update(
            lag_max=p.high[LAG], lag_seconds_max=p.high[LAG_SECONDS], worst_status=p.high[STATUS], rounds=p.count
        )
    return out


def _topic_json(t: TopicLine) -> dict:
    return {
        "topic": t.topic,
        "internal": t.internal,
        "partitions": t.partitions,
        "messages": t.messages,
        "groups": t.groups,
        "lag": t.lag,
        "max_lag_seconds": t.max_lag_seconds,
    }


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
    """A page of the snapshot's groups: `page`, `per_page` (up to 1,000), `sort` and the list's filters."""
    cluster_row = get_cluster(request, cluster)
    try:
        query = group_query(request, api=True)
    except BadQuery as error:
        return _bad_query(error)
    snap = queries.latest_snapshot(cluster_row)
    if snap.snapshot is None:
        return _no_snapshot(cluster_row, snap)
    total, groups = _groups_page(snap.snapshot, query, access.view_scope(request.user, cluster_row))
    return JsonResponse(
        {
            "snapshot": _snapshot_json(snap),
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
            "groups": groups,
        }
    )


def _groups_page(snapshot: Snapshot, query: GroupQuery, scope: Q | None) -> tuple[int, list[dict]]:
    """How many of the snapshot's groups match `query` within `scope`, and the page of them it asks for:
    read once per process and snapshot (groups.snapshot.memo), since scripts poll the same pages."""
    key = ("api_groups", query, scope)
    found = memo.get(snapshot, key)
    if found is None:
        rows = queries.group_rows(snapshot, **query.rows_filters(), scope=scope)
        start = (query.page - 1) * query.per_page
        found = (rows.count(), [_group_json(g) for g in rows[start : start + query.per_page]])
        memo.put(snapshot, key, found)
    return found


@require_GET
def api_topics(request: HttpRequest, cluster: str) -> JsonResponse:
    """A page of the snapshot's topics: `page`, `per_page`, `sort`, `q`, `internal`."""
    cluster_row = get_cluster(request, cluster)
    scoped = access.view_scope(request.user, cluster_row) is not None
    try:
        query = topic_query(request, api=True, scoped=scoped)
    except BadQuery as error:
        return _bad_query(error)
    snap = queries.latest_snapshot(cluster_row)
    if snap.snapshot is None:
        return _no_snapshot(cluster_row, snap)
    rows = queries.topic_rows(snap.snapshot, search=query.q, include_internal=query.internal, sort=query.sort)
    if scoped:
        rows = rows.defer(None).defer("window", "history")
    start = (query.page - 1) * query.per_page
    lines = [
        topic_line(row, visible_readers(request, cluster_row, queries.topic_details(row)[1]) if scoped else None)
        for row in rows[start : start + query.per_page]
    ]
    return JsonResponse(
        {
            "snapshot": _snapshot_json(snap),
            "total": rows.count(),
            "page": query.page,
            "per_page": query.per_page,
            "topics": [_topic_json(t) for t in lines],
        }
    )


@require_GET
def api_group(request: HttpRequest, cluster: str, group: str) -> JsonResponse:
    """One group read live, with the status and lag in seconds of the last collection round."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    try:
        detail = reading.group_detail(client_for(cluster_row), group)
    except ConsoleError as error:
        return _json_error(error)
    snap = queries.latest_snapshot(cluster_row)
    row = queries.group_row(snap.snapshot, group) if snap.snapshot else None
    observed = {(p.topic, p.partition): p for p in queries.partition_details(row)} if row else {}
    d = detail.description
    return JsonResponse(
        {
            "group": d.group_id,
            "state": d.state,
            "protocol_type": d.type,
            "coordinator": d.coordinator,
            "snapshot": _snapshot_json(snap),
            "status": row.status or None if row else None,
            "status_reason": row.status_reason or None if row else None,
            "lag_seconds": row.lag_seconds if row else None,
            "members": [
                {
                    "member_id": m.member_id,
                    "client_id": m.client_id,
                    "host": m.display_host,
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
                    "status": o.status or None if o else None,
                    "lag_seconds": o.lag_seconds if o else None,
                    "lag_seconds_method": o.lag_seconds_method or None if o else None,
                }
                for r in detail.rows
                for o in [observed.get((r.topic, r.partition))]
            ],
            **group_protocol_json(cluster_row, d),
        }
    )


@require_GET
def api_group_history(request: HttpRequest, cluster: str, group: str) -> JsonResponse:
    """The group's lag history over `since` (an ISO 8601 duration back from now; PT6H by default): every
    round up to a day back, 5-minute roll-ups beyond; and this console's operations that moved it."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    try:
        span_ms = since_ms(request)
    except BadQuery as error:
        return _bad_query(error)
    until = int(time.time() * 1000)
    start = until - span_ms
    snap = queries.latest_snapshot(cluster_row)
    row = queries.group_row(snap.snapshot, group) if snap.snapshot else None
    return JsonResponse(
        {
            "group": group,
            "since": _iso(start),
            "until": _iso(until),
            "points": [_point_json(p) for p in group_points(cluster_row, group, start, until)],
            "operations": [
                {"id": m.operation_id, "t": _iso(m.t_ms), "kind": m.kind}
                for m in moves(cluster_row, group, row.topics if row else [], start, until)
            ],
        }
    )
