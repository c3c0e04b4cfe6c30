"""What the API reads of the clusters: their groups and topics (from the collector's snapshot), one group
(read live), its history, share and streams groups (operations and the audit log: `activity`).

The same reads and rights as the pages: each route calls what the page calls. Query parameters are read
by the pages' own parsers so a bad one gets the page's message; the `Query` schemas declare them for
the OpenAPI schema.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from groups import access, reading
from groups.api import schemas
from groups.api.errors import COMMON_ERRORS, ApiError
from groups.kafka import ConsoleError, client_for, describe_group_to_change
from groups.models import Cluster, Snapshot, SnapshotGroup
from groups.snapshot import memo, queries, rebalances
from groups.snapshot.history_packing import Point
from groups.views.common import MAX_PAGE, get_cluster
from groups.views.filters import API_MAX_PER_PAGE, GroupQuery, group_query, since_ms, topic_query
from groups.views.group_facts import group_protocol_json
from groups.views.history import LAG, LAG_SECONDS, STATUS, group_history_kept, group_points, moves
from groups.views.topics import TopicLine, topic_line, topic_readers, visible_readers

router = Router(tags=["read"])


def answers(ok, *more: int) -> dict:
    """A route's documented answers: `ok` for 200, an Error for the common failures and `more`."""
    return {200: ok, **dict.fromkeys((*COMMON_ERRORS, *more), schemas.Error)}


def snapshot_answers(ok) -> dict:
    """A snapshot read's answers: a 503 also says the collector's last failure."""
    return {**answers(ok), 503: schemas.NoSnapshot | schemas.Error}


def snapshot_json(snap: queries.SnapshotInfo) -> dict | None:
    if snap.snapshot is None:
        return None
    return {
        "taken_at": snap.snapshot.taken_at.isoformat(),
        "age_s": round(snap.age_seconds or 0.0, 3),
        "duration_s": snap.last_round_seconds,
        "stale": snap.stale,
        "stale_reason": snap.stale_reason or None,
    }


def _latest(cluster: Cluster) -> tuple[queries.SnapshotInfo, Snapshot]:
    """The cluster's latest snapshot; 503 when the collector has not finished a round (what to run, and its
    last failure)."""
    snap = queries.latest_snapshot(cluster)
    if snap.snapshot is None:
        raise ApiError(
            503,
            "NO_SNAPSHOT",
            f"No snapshot of cluster '{cluster.name}' yet: run `python manage.py collect_lag --cluster "
            f"{cluster.name}`, or Celery beat with a worker consuming the 'collection' queue.",
            last_failure=snap.stale_reason or None,
            snapshot=None,
        )
    return snap, snap.snapshot


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
        "retention_note": g.retention_note or None,
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
        "max_lag_seconds_method": t.max_lag_seconds_method or None,
        "max_lag_seconds_doubtful": t.max_lag_seconds_doubtful,
    }


@router.get("/clusters/", response=answers(schemas.Clusters), url_name="api_clusters")
def clusters(request: HttpRequest):
    """The clusters the user may view."""
    return {
        "clusters": [
            {"name": c.name, "bootstrap_servers": c.bootstrap_servers}
            for c in Cluster.objects.all()
            if access.allowed(request.user, "view", c)
        ]
    }


class GroupFilters(Schema):
    q: str = Field("", description="Text the group id contains.")
    state: str = Field("", description="Stable, Empty, ... as the list's filter offers.")
    status: str = Field(
        "", description="OK, NEW (behind, not judged until its status window fills), RESET, WARN or ERR."
    )
    type: str = Field("", description="classic, consumer, share or streams.")
    min_lag: str = Field("", description="Groups at least this many records behind.")
    min_lag_seconds: str = Field("", description="Groups at least this far behind: seconds, or 5m, 2h.")
    checkpoints: str = Field("", description="1 to include replays' checkpoint groups.")
    sort: str = Field("", description="A column, - first for descending (-lag by default).")
    page: str = Field("", description=f"From 1 to {MAX_PAGE}; past the last page, an empty page.")
    per_page: str = Field("", description=f"Up to {API_MAX_PER_PAGE}.")


@router.get(
    "/clusters/{cluster}/groups/",
    response=snapshot_answers(schemas.GroupsPage),
    url_name="api_groups",
    exclude_unset=True,
)
def groups(request: HttpRequest, cluster: str, filters: Query[GroupFilters]):
    """A page of the snapshot's consumer groups, filtered and sorted as the list page does."""
    cluster_row = get_cluster(request, cluster)
    query = group_query(request, api=True)
    snap, snapshot = _latest(cluster_row)
    total, page = _groups_page(snapshot, query, access.view_scope(request.user, cluster_row))
    return {
        "snapshot": snapshot_json(snap),
        "total": total,
        "page": query.page,
        "per_page": query.per_page,
        "groups": page,
    }


def _groups_page(snapshot: Snapshot, query: GroupQuery, scope: Q | None) -> tuple[int, list[dict]]:
    """How many of the snapshot's groups match `query` within `scope`, and the page of them it asks for:
    read once per process and snapshot (groups.snapshot.memo), since scripts poll the same pages. The
    dicts are shared between requests: never change them."""
    key = ("api_groups", query, scope)
    found = memo.get(snapshot, key)
    if found is None:
        rows = queries.group_rows(snapshot, **query.rows_filters(), scope=scope)
        start = (query.page - 1) * query.per_page
        found = (rows.count(), [_group_json(g) for g in rows[start : start + query.per_page]])
        memo.put(snapshot, key, found)
    return found


class TopicFilters(Schema):
    q: str = Field("", description="Text the topic name contains.")
    internal: str = Field("", description="1 to include internal topics.")
    sort: str = ""
    page: str = ""
    per_page: str = ""


@router.get("/clusters/{cluster}/topics/", response=snapshot_answers(schemas.TopicsPage), url_name="api_topics")
def topics(request: HttpRequest, cluster: str, filters: Query[TopicFilters]):
    """A page of the snapshot's topics; a reader with grants on some groups sees only those groups' figures."""
    cluster_row = get_cluster(request, cluster)
    scoped = access.view_scope(request.user, cluster_row) is not None
    query = topic_query(request, api=True, scoped=scoped)
    snap, snapshot = _latest(cluster_row)
    rows = queries.topic_rows(snapshot, search=query.q, include_internal=query.internal, sort=query.sort)
    if scoped:
        rows = rows.defer(None).defer("window", "history")
    start = (query.page - 1) * query.per_page
    lines = [
        topic_line(row, visible_readers(request, cluster_row, queries.topic_details(row)[1]) if scoped else None)
        for row in rows[start : start + query.per_page]
    ]
    return {
        "snapshot": snapshot_json(snap),
        "total": rows.count(),
        "page": query.page,
        "per_page": query.per_page,
        "topics": [_topic_json(t) for t in lines],
    }


@router.get("/clusters/{cluster}/topics/{topic}/", response=snapshot_answers(schemas.Topic), url_name="api_topic")
def topic(request: HttpRequest, cluster: str, topic: str, checkpoints: str = ""):
    """One topic from the snapshot: its partitions' logs and the groups reading it that the user may view."""
    cluster_row = get_cluster(request, cluster)
    snap, snapshot = _latest(cluster_row)
    row = queries.topic_row(snapshot, topic)
    if row is None:
        raise ApiError(404, "NOT_FOUND", f"Topic '{topic}' is not in cluster '{cluster}' (as of the latest snapshot).")
    partitions, readers, hidden = topic_readers(request, cluster_row, row, checkpoints == "1")
    return {
        "topic": row.topic,
        "snapshot": snapshot_json(snap),
        "internal": row.internal,
        "partitions": [
            {
                "partition": p.partition,
                "log_start": p.log_start,
                "log_end": p.log_end,
                "newest_offset": p.newest_offset,
                "newest_ms": p.newest_ms,
            }
            for p in partitions
        ],
        "readers": [
            {
                "group": r.group_id,
                "state": r.state,
                "partitions": r.partitions,
                "lag": r.lag,
                "status": r.status,
                "replay_operation": r.replay_operation_id,
                "type": r.type,
            }
            for r in readers
        ],
        "hidden_checkpoint_groups": hidden,
    }


# Before `group`, whose id would otherwise swallow "/history".
@router.get(
    "/clusters/{cluster}/groups/{group_id:group}/history/",
    response=answers(schemas.History),
    url_name="api_group_history",
    exclude_unset=True,
    by_alias=True,  # a moved partition's "from" member: a Python keyword, so the field is from_
)
def group_history(
    request: HttpRequest,
    cluster: str,
    group: str,
    since: str = Query("", description="An ISO 8601 duration back from now, such as PT1H or P7D; PT6H by default."),
):
    """The group's lag history: every round up to a day back, 5-minute roll-ups beyond; this console's
    operations that moved it; and the rebalances the collector saw, each with the records it could have
    re-delivered at most. A group deleted from Kafka keeps answering while its history is kept; one neither
    in the latest snapshot nor in the history is a 404, as on the group's own route."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    span_ms = since_ms(request)
    until = int(time.time() * 1000)
    start = until - span_ms
    snap, row = queries.served_group(cluster_row, group)
    # A deleted group's history stays readable; a group neither collected nor kept is unknown, as it is
    # to the group's own route. With no round yet there is nothing to tell them apart by.
    if row is None and snap.snapshot is not None and not group_history_kept(cluster_row, group):
        raise ApiError(
            404,
            "GROUP_ID_NOT_FOUND",
            f"Group '{group}' is not in the latest snapshot of cluster '{cluster}' and no history of it is kept: "
            "check the group id (a group created since the last collection round has history after the next one).",
        )
    return {
        "group": group,
        "since": _iso(start),
        "until": _iso(until),
        "points": [_point_json(p) for p in group_points(cluster_row, group, start, until)],
        "operations": [
            {"id": m.operation_id, "t": _iso(m.t_ms), "kind": m.kind}
            for m in moves(cluster_row, group, row.topics if row else [], start, until)
        ],
        "rebalances": [r.as_json() for r in rebalances.between(cluster_row, group, start, until)],
    }


@router.get(
    "/clusters/{cluster}/groups/{group_id:group}/",
    response=answers(schemas.Group),
    url_name="api_group",
    exclude_unset=True,
)
def group(request: HttpRequest, cluster: str, group: str):
    """One group read live from Kafka, with the status and lag in seconds of the last collection round."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    client = client_for(cluster_row)
    try:
        detail = reading.group_detail(client, group)
    except ConsoleError as error:
        elsewhere = (
            _elsewhere(cluster_row, group, _served_type(cluster_row, group), error.code) if error.not_found else None
        )
        raise elsewhere or error from None
    # librdkafka describes a streams group as a Dead classic group; describe_group_to_change asks Kafka which it is.
    if detail.description.state == "Dead" and not detail.description.members:
        elsewhere = _elsewhere(cluster_row, group, describe_group_to_change(client, group).type)
        if elsewhere is not None:
            raise elsewhere
    seen, observed = collected(cluster_row, group)
    d = detail.description
    return {
        "group": d.group_id,
        "state": d.state,
        "protocol_type": d.type,
        "coordinator": d.coordinator,
        **seen,
        "lag": detail.summary.lag,
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
                **partition_collected(observed.get((r.topic, r.partition))),
            }
            for r in detail.rows
        ],
        **group_protocol_json(cluster_row, d),
    }


# The routes of the groups that are not consumer groups (the pages' GROUP_PAGES).
GROUP_ROUTES = {"share": "api:api_share_group", "streams": "api:api_streams_group"}


def _served_type(cluster_row: Cluster, group: str) -> str:
    """The group's type as the last collection round saw it ("" when it did not)."""
    _, row = queries.served_group(cluster_row, group)
    return row.type if row is not None else ""


def _elsewhere(cluster_row: Cluster, group: str, kind: str, code: str = "") -> ApiError | None:
    """For a group of `kind` share or streams, asked for as a consumer group: a 404 naming the route that reads
    it. Not a redirect: that route answers another schema, which a client following redirects would read as
    this one's."""
    if kind not in GROUP_ROUTES:
        return None
    route = reverse(GROUP_ROUTES[kind], args=[cluster_row.name, group])
    return ApiError(
        404,
        code or "GROUP_ID_NOT_FOUND",
        f"Group '{group}' is a {kind} group, not a consumer group: read it at {route}.",
    )


def collected(cluster_row, group: str) -> tuple[dict, dict]:
    """A group's figures from the last collection round (snapshot, status, lag in seconds), and its
    partitions' details from that round by (topic, partition)."""
    snap, row = queries.served_group(cluster_row, group)
    figures = {
        "snapshot": snapshot_json(snap),
        "status": row.status or None if row else None,
        "status_reason": row.status_reason or None if row else None,
        "lag_seconds": row.lag_seconds if row else None,
        "lag_seconds_method": row.lag_seconds_method or None if row else None,
        "lag_seconds_doubtful": row.lag_seconds_doubtful if row else False,
        "catch_up_seconds": row.catch_up_seconds if row else None,
        "catch_up_note": row.catch_up_note or None if row else None,
        "retention_margin_seconds": row.retention_margin_seconds if row else None,
        "retention_note": row.retention_note or None if row else None,
    }
    return figures, queries.details_by_partition(row)


def partition_collected(observed) -> dict:
    """A partition's status and lag in seconds from the last collection round; None where it did not see it."""
    return {
        "status": observed.status or None if observed else None,
        "lag_seconds": observed.lag_seconds if observed else None,
        "lag_seconds_method": observed.lag_seconds_method or None if observed else None,
        "lag_seconds_doubtful": observed.lag_seconds_doubtful if observed else False,
    }
