"""A cluster's topics: the list and one topic's page, both from the collector's snapshot, never from Kafka."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from groups import access
from groups.kafka.values import is_internal_topic
from groups.models import SnapshotGroup, SnapshotTopic
from groups.snapshot import queries
from groups.snapshot.rows import TopicGroupDetail, TopicPartitionDetail
from groups.views.common import BadQuery, bad_request, get_cluster, render_page
from groups.views.filters import PAGE_SIZES, topic_query
from groups.views.group_facts import topic_page_facts

TOPIC_COLUMNS = (
    ("topic", "Topic", False, False),
    ("partitions", "Partitions", True, True),
    ("messages", "Messages", True, True),
    ("groups", "Groups", True, True),
    ("lag", "Lag", True, True),
    ("lag_seconds", "Largest lag (time)", True, True),
)
_LOOKUP_CHUNK = 500  # group ids per query: well under SQLite's limit on a statement's variables


@dataclass(frozen=True)
class TopicLine:
    """One topic as a reader sees it: a scoped reader's groups and lag count only the groups it may view."""

    topic: str
    internal: bool
    partitions: int
    messages: int | None
    groups: int
    lag: int | None
    max_lag_seconds: float | None
    max_lag_seconds_method: str = ""
    max_lag_seconds_doubtful: bool = False


def topic_line(row: SnapshotTopic, visible: list[TopicGroupDetail] | None) -> TopicLine:
    if visible is None:
        return TopicLine(
            row.topic,
            row.internal,
            row.partitions,
            row.messages,
            row.groups,
            row.lag,
            row.max_lag_seconds,
            row.max_lag_seconds_method,
            row.max_lag_seconds_doubtful,
        )
    known = [g.lag for g in visible if g.lag is not None]
    # Lag in seconds is kept per topic over every group: a scoped reader is not told it.
    return TopicLine(
        row.topic, row.internal, row.partitions, row.messages, len(visible), sum(known) if known else None, None
    )


def visible_readers(request: HttpRequest, cluster, details: list[TopicGroupDetail]) -> list[TopicGroupDetail]:
    allowed = set(access.visible_groups(request.user, cluster, [g.group_id for g in details]))
    return [g for g in details if g.group_id in allowed]


@require_GET
def topic_list(request: HttpRequest, cluster: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    scoped = access.view_scope(request.user, cluster_row) is not None
    try:
        query = topic_query(request, scoped=scoped)
    except BadQuery as error:
        return bad_request(request, error)
    snap = queries.latest_snapshot(cluster_row)
    columns = [c for c in query.columns(TOPIC_COLUMNS) if not (scoped and c.key in queries.TOPIC_GROUP_FIGURES)]
    context = {
        "cluster": cluster_row,
        "snap": snap,
        "query": query,
        "columns": columns,
        "scoped": scoped,
        "page_sizes": PAGE_SIZES,
    }
    if snap.snapshot is not None:
        rows = queries.topic_rows(snap.snapshot, search=query.q, include_internal=query.internal, sort=query.sort)
        if scoped:
            # The page's rows are decoded for the groups the reader may view.
            rows = rows.defer(None).defer("window", "history")
        page = Paginator(rows, query.per_page).get_page(query.page)
        lines = [
            topic_line(row, visible_readers(request, cluster_row, queries.topic_details(row)[1]) if scoped else None)
            for row in page.object_list
        ]
        context.update(page=page, lines=lines, total=page.paginator.count)
    return render_page(request, "groups/topic_list.html", "live", context)


def _group_rows(snapshot, group_ids: list[str]) -> dict[str, tuple[str, str, int | None]]:
    """(state, type, replay operation) of each of `group_ids` in the snapshot."""
    out = {}
    for start in range(0, len(group_ids), _LOOKUP_CHUNK):
        chunk = group_ids[start : start + _LOOKUP_CHUNK]
        for group_id, state, type_, replay in SnapshotGroup.objects.filter(
            snapshot=snapshot, group_id__in=chunk
        ).values_list("group_id", "state", "type", "replay_operation_id"):
            out[group_id] = (state, type_, replay)
    return out


@dataclass(frozen=True)
class TopicReader:
    group_id: str
    state: str
    partitions: int
    lag: int | None
    status: str
    replay_operation_id: int | None
    type: str  # the group's kind ("consumer", "classic", "share", "streams"): which page it links to


def topic_readers(
    request: HttpRequest, cluster, row: SnapshotTopic, checkpoints: bool
) -> tuple[list[TopicPartitionDetail], list[TopicReader], int]:
    """The topic's partitions, the groups reading it that the user may view (a replay's checkpoint groups
    only when `checkpoints`), and how many checkpoint groups were left out.

    Share and streams groups come from their own rows (queries.typed_topic_readers): the topic's row
    lists groups by committed offset, which a share group has none of."""
    partitions, readers = queries.topic_details(row)
    typed = queries.typed_topic_readers(row.snapshot, row.topic)
    typed_ids = {g.group_id for _, g in typed}
    merged = sorted([g for g in readers if g.group_id not in typed_ids] + [g for _, g in typed], key=_by_group)
    readers = visible_readers(request, cluster, merged)
    states = _group_rows(row.snapshot_id, [g.group_id for g in readers])
    shown = []
    for g in readers:
        state, type_, replay = states.get(g.group_id, ("", "", None))
        shown.append(TopicReader(g.group_id, state, g.partitions, g.lag, g.status, replay, type_))
    hidden = [g for g in shown if g.replay_operation_id is not None]
    if not checkpoints:
        shown = [g for g in shown if g.replay_operation_id is None]
    return partitions, shown, len(hidden)


def _by_group(reader: TopicGroupDetail) -> str:
    return reader.group_id


@require_GET
def topic_page(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster)
    snap = queries.latest_snapshot(cluster_row)
    checkpoints = request.GET.get("checkpoints") == "1"
    context = {
        "cluster": cluster_row,
        "topic": topic,
        "snap": snap,
        "checkpoints": checkpoints,
        "may_read_records": access.allowed(request.user, "read_records", cluster_row),
        "internal_topic": is_internal_topic(topic),  # never replayed: no link to a refusal
    }
    row = queries.topic_row(snap.snapshot, topic) if snap.snapshot else None
    if snap.snapshot is not None and row is None:
        return render_page(request, "groups/topic_page.html", "live", {**context, "missing": True}, 404)
    if row is not None:
        partitions, shown, hidden = topic_readers(request, cluster_row, row, checkpoints)
        context.update(row=row, partitions=partitions, readers=shown, hidden_checkpoints=hidden)
    context.update(topic_page_facts(request, cluster_row, topic))
    return render_page(request, "groups/topic_page.html", "live", context)
