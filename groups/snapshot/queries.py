"""Reading the served snapshot: what the list, topic and overview pages (and the API) call.

Filters, sorting and pagination run in the database on the rows' columns, so a page costs the
same at 10 groups and 10,000; the compact per-partition fields are left out of list queries and
decoded only for the rows a page shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from groups.chart_scales import duration_text
from groups.models import Cluster, Collection, Snapshot, SnapshotGroup, SnapshotTopic
from groups.snapshot import rows
from groups.status import Status

# A snapshot older than this many collection periods is stale even without a failed round: the
# collector (worker or beat) is not running.
MISSED_PERIODS = 3


def overdue_after(period_seconds: int, last_round_seconds: float | None) -> float:
    """The age past which a cluster's snapshot is stale although no round failed: MISSED_PERIODS of its
    collection period, plus how long its last round took."""
    return MISSED_PERIODS * period_seconds + (last_round_seconds or 0)


# A group's headline statuses, least severe first: sorting by status sorts by severity, not by name.
GROUP_STATUSES = (Status.OK, Status.NEW, Status.RESET, Status.WARN, Status.ERR)
_SEVERITY = Case(
    *(When(status=s.value, then=Value(rank)) for rank, s in enumerate(GROUP_STATUSES)), output_field=IntegerField()
)

# Sort keys pages may offer, and the column (or expression) each sorts on.
GROUP_SORTS = {
    "group": "group_id",
    "state": "state",
    "type": "type",
    "members": "members",
    "partitions": "partitions",
    "lag": "lag",
    "lag_seconds": "lag_seconds",
    "status": _SEVERITY,
    "catch_up": "catch_up_seconds",
    "retention": "retention_margin_seconds",
}
TOPIC_SORTS = {
    "topic": "topic",
    "partitions": "partitions",
    "messages": "messages",
    "groups": "groups",
    "lag": "lag",
    "lag_seconds": "max_lag_seconds",
}
# Topic columns that sum over the groups reading the topic: figures of groups a scoped reader may not see.
TOPIC_GROUP_FIGURES = ("groups", "lag", "lag_seconds")
_LIST_DEFERRED = ("detail", "window")
_LOOKUP_CHUNK = 500  # ids per query: well under SQLite's limit on a statement's variables


@dataclass(frozen=True)
class SnapshotInfo:
    """The served snapshot of a cluster (None before the first successful round) and how fresh it is."""

    snapshot: Snapshot | None
    stale: bool
    stale_reason: str
    age_seconds: float | None  # since the round that made it started reading
    last_attempt_at: datetime | None
    last_round_seconds: float | None
    skipped_rounds: int
    failed_rounds: int

    @property
    def taken_at(self) -> datetime | None:
        return self.snapshot.taken_at if self.snapshot else None


def latest_snapshot(cluster: Cluster) -> SnapshotInfo:
    """The snapshot pages should show for `cluster`, with its age and whether (and why) it is stale."""
    collection = Collection.objects.select_related("snapshot").filter(cluster=cluster).first()
    snapshot = collection.snapshot if collection else None
    now = timezone.now()
    age = (now - snapshot.taken_at).total_seconds() if snapshot else None
    reason = collection.stale_reason if collection else ""
    if not reason and snapshot is None:
        reason = "No collection round has finished yet for this cluster."
    elif (
        collection
        and not reason
        and age is not None
        and age > overdue_after(cluster.collect_every_seconds, collection.last_round_seconds)
    ):
        reason = (
            f"No collection round has finished for {duration_text(age)} (one is due every "
            f"{duration_text(cluster.collect_every_seconds)}): check that Celery beat runs and that a Celery "
            "worker consumes the 'collection' queue."
        )
    return SnapshotInfo(
        snapshot=snapshot,
        stale=bool(reason),
        stale_reason=reason,
        age_seconds=age,
        last_attempt_at=collection.last_attempt_at if collection else None,
        last_round_seconds=collection.last_round_seconds if collection else None,
        skipped_rounds=collection.skipped_rounds if collection else 0,
        failed_rounds=collection.failed_rounds if collection else 0,
    )


def caseless_pattern(search: str) -> str:
    """A case-sensitive regex matching `search` in any letter case: each letter as a class of its cases.

    Spelt out, because neither database folds every script: SQLite's LIKE folds ASCII only, and
    PostgreSQL's `~*` follows the database's locale, which folds ASCII only under C (how `--no-locale`
    clusters, such as the test suite's, are made). Multi-letter cases (ß → SS) are left out.
    """
    out = []
    for char in search:
        cases = sorted({c for c in (char, char.lower(), char.upper()) if len(c) == 1})
        out.append(f"[{''.join(cases)}]" if len(cases) > 1 else re.escape(char))
    return "".join(out)


def _containing(field: str, search: str) -> Q:
    """Rows whose `field` contains `search`, ignoring case in any script."""
    if search.isascii():
        return Q(**{f"{field}__icontains": search})
    return Q(**{f"{field}__regex": caseless_pattern(search)})


def _ordered(queryset: QuerySet, sorts: dict, sort: str, tie: str) -> QuerySet:
    """`sort` is a key of `sorts`, '-' first for descending; unknown figures (NULL) always come last.

    Ties go by `tie` in the same direction, which lets one index serve both directions.
    """
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in sorts:
        raise ValueError(f"Unknown sort '{key}'. Choose one of: {', '.join(sorts)}.")
    column = F(sorts[key]) if isinstance(sorts[key], str) else sorts[key]
    if descending:
        return queryset.order_by(column.desc(nulls_last=True), F(tie).desc())
    return queryset.order_by(column.asc(nulls_last=True), F(tie).asc())


def group_rows(
    snapshot: Snapshot,
    *,
    state: str = "",
    status: str = "",
    type: str = "",
    min_lag: int | None = None,
    min_lag_seconds: float | None = None,
    search: str = "",
    include_replay: bool = False,
    sort: str = "-lag",
    scope: Q | None = None,
) -> QuerySet[SnapshotGroup]:
    """The snapshot's groups, filtered and sorted in the database; slice the result to paginate.

    Replay checkpoint groups are left out unless `include_replay`; `scope` (groups.access.view_scope)
    keeps the groups a reader may view. Raises ValueError for an unknown sort key (the message says
    which are known).
    """
    rows_ = SnapshotGroup.objects.filter(snapshot=snapshot).defer(*_LIST_DEFERRED)
    if scope is not None:
        rows_ = rows_.filter(scope)
    if state:
        rows_ = rows_.filter(state=state)
    if status:
        rows_ = rows_.filter(status=status)
    if type:
        rows_ = rows_.filter(type=type)
    if min_lag is not None:
        rows_ = rows_.filter(lag__gte=min_lag)
    if min_lag_seconds is not None:
        rows_ = rows_.filter(lag_seconds__gte=min_lag_seconds)
    if search:
        rows_ = rows_.filter(_containing("group_id", search))
    if not include_replay:
        rows_ = rows_.filter(replay_operation_id__isnull=True)
    return _ordered(rows_, GROUP_SORTS, sort, "group_id")


@dataclass(frozen=True)
class GroupCounts:
    by_state: dict[str, int]
    by_status: dict[str, int]
    total: int
    checkpoints: int  # replay checkpoint groups, counted apart from the others
    partitions: int  # the group partitions of the `total` groups


def group_counts(snapshot: Snapshot, scope: Q | None = None) -> GroupCounts:
    """How many of the snapshot's groups (those in `scope`) are in each state and each status, and their
    partitions. Replay checkpoint groups are counted apart; the snapshot's own partition_count holds
    theirs, and those of groups outside `scope`."""
    rows_ = SnapshotGroup.objects.filter(snapshot=snapshot)
    if scope is not None:
        rows_ = rows_.filter(scope)
    counted = rows_.filter(replay_operation_id__isnull=True)
    by_state = dict(counted.order_by().values_list("state").annotate(n=Count("pk")))
    by_status = dict(counted.order_by().values_list("status").annotate(n=Count("pk")))
    return GroupCounts(
        by_state=by_state,
        by_status=by_status,
        total=sum(by_state.values()),
        checkpoints=rows_.filter(replay_operation_id__isnull=False).count(),
        partitions=counted.order_by().aggregate(n=Coalesce(Sum("partitions"), 0))["n"],
    )


def group_row(snapshot: Snapshot, group_id: str) -> SnapshotGroup | None:
    """One group's row, its compact fields included (see `partition_details`)."""
    return SnapshotGroup.objects.filter(snapshot=snapshot, group_id=group_id).first()


def partition_details(row: SnapshotGroup) -> list[rows.PartitionDetail]:
    return rows.decode_group_detail(row.detail)


def served_group(cluster: Cluster, group_id: str) -> tuple[SnapshotInfo, SnapshotGroup | None]:
    """The snapshot pages show for `cluster`, and the group's row in it (None when the round did not see it,
    or no round has run yet)."""
    snap = latest_snapshot(cluster)
    return snap, group_row(snap.snapshot, group_id) if snap.snapshot else None


def details_by_partition(row: SnapshotGroup | None) -> dict[tuple[str, int], rows.PartitionDetail]:
    """The row's partitions by (topic, partition), beside what a page reads live; empty without a row."""
    return {(p.topic, p.partition): p for p in partition_details(row)} if row else {}


def topic_rows(
    snapshot: Snapshot, *, search: str = "", include_internal: bool = False, sort: str = "topic"
) -> QuerySet[SnapshotTopic]:
    """The snapshot's topics, filtered and sorted in the database; slice the result to paginate."""
    rows_ = SnapshotTopic.objects.filter(snapshot=snapshot).defer(*_LIST_DEFERRED, "history")
    if search:
        rows_ = rows_.filter(_containing("topic", search))
    if not include_internal:
        rows_ = rows_.filter(internal=False)
    return _ordered(rows_, TOPIC_SORTS, sort, "topic")


def topic_row(snapshot: Snapshot, topic: str) -> SnapshotTopic | None:
    return SnapshotTopic.objects.filter(snapshot=snapshot, topic=topic).first()


def topic_details(row: SnapshotTopic) -> tuple[list[rows.TopicPartitionDetail], list[rows.TopicGroupDetail]]:
    return rows.decode_topic_detail(row.detail)


# Group types a topic row's readers may leave out or leave untyped: the round files a topic's readers by
# committed offset, which a share group has none of; both are read off their own group rows instead.
TYPED_READERS = ("share", "streams")


def typed_topic_readers(snapshot: Snapshot, topic: str) -> list[tuple[str, rows.TopicGroupDetail]]:
    """(type, reader) of each share and streams group reading `topic`, from the groups' rows: a share group's
    share-partitions there and the broker's lag, a streams group's committed partitions and their lag."""
    by_type = snapshot.summary.get("by_type", {})
    if not any(by_type.get(kind) for kind in TYPED_READERS):
        return []  # most clusters have none: no query
    typed = SnapshotGroup.objects.filter(snapshot=snapshot, type__in=TYPED_READERS)
    # The topic lists first, the detail then only of the groups that read the topic.
    reading = [pk for pk, topics in typed.values_list("pk", "topics") if topic in topics]
    found = []
    chunks = (reading[start : start + _LOOKUP_CHUNK] for start in range(0, len(reading), _LOOKUP_CHUNK))
    for row in (r for chunk in chunks for r in typed.filter(pk__in=chunk).only("group_id", "type", "status", "detail")):
        on_topic = [d for d in rows.decode_group_detail(row.detail) if d.topic == topic]
        if row.type != "share":
            on_topic = [d for d in on_topic if d.committed is not None]
        if not on_topic:
            continue
        lags = [d.lag for d in on_topic if d.lag is not None]
        found.append(
            (row.type, rows.TopicGroupDetail(row.group_id, len(on_topic), sum(lags) if lags else None, row.status))
        )
    return sorted(found, key=lambda typed_reader: typed_reader[1].group_id)
