"""Writing snapshots: a round's rows under a new snapshot, the cluster's pointer moved in the same
transaction, older snapshots removed afterwards; and the bookkeeping of failed and skipped rounds.

A reader follows the pointer, so it sees a whole snapshot or the previous whole one, never a
partial one: a round killed while writing leaves an uncommitted transaction, which the database
rolls back. The snapshot served just before stays one more round, so a page that read the
pointer a moment before the switch still finds its rows.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from groups.models import Cluster, Collection, Operation, Replay, Snapshot, SnapshotGroup, SnapshotTopic
from groups.snapshot import dating
from groups.snapshot.evaluate import Carried, ConsoleFacts, Evaluated
from groups.snapshot.rows import GroupRow
from groups.snapshot.topic_rows import TopicRow

_GROUP_FIELDS = [f.name for f in fields(GroupRow)]
_TOPIC_FIELDS = [f.name for f in fields(TopicRow)]
_BATCH = 1000


def _collection(cluster: Cluster) -> Collection:
    return Collection.objects.get_or_create(cluster=cluster)[0]


def carried(cluster: Cluster) -> Carried:
    """What the served snapshot hands to the next round; empty when none is served yet."""
    snapshot_id = Collection.objects.filter(cluster=cluster).values_list("snapshot_id", flat=True).first()
    if snapshot_id is None:
        return Carried()
    window_ms = Snapshot.objects.filter(pk=snapshot_id).values_list("window_ms", flat=True).first() or []
    groups = SnapshotGroup.objects.filter(snapshot_id=snapshot_id).values_list("group_id", "window")
    topic_windows, topic_histories = {}, {}
    for topic, window, history in (
        SnapshotTopic.objects.filter(snapshot_id=snapshot_id)
        .values_list("topic", "window", "history")
        .iterator(chunk_size=_BATCH)
    ):
        topic_windows[topic], topic_histories[topic] = window, history
    return Carried(
        window_ms=tuple(window_ms),
        group_windows=dict(groups.iterator(chunk_size=_BATCH)),
        topic_windows=topic_windows,
        topic_histories=topic_histories,
        dated=dating.dated_points(cluster),
    )


def group_types(cluster: Cluster, group_ids: set[str]) -> dict[str, str]:
    """Group id -> type of those of `group_ids` the served snapshot has."""
    snapshot_id = Collection.objects.filter(cluster=cluster).values_list("snapshot_id", flat=True).first()
    if snapshot_id is None or not group_ids:
        return {}
    rows = SnapshotGroup.objects.filter(snapshot_id=snapshot_id, group_id__in=sorted(group_ids))
    return dict(rows.values_list("group_id", "type").iterator(chunk_size=_BATCH))


def console_facts(cluster: Cluster, group_ids: set[str], since_ms: int) -> ConsoleFacts:
    """Replay checkpoint groups among `group_ids`, and this console's offset changes since `since_ms`."""
    replays = Replay.objects.filter(operation__cluster=cluster).values_list("copy_group", "operation_id")
    since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
    moves: dict[str, list[tuple[int, int]]] = {}
    for group_id, operation_id, finished in (
        Operation.objects.filter(
            cluster=cluster, kind__in=Operation.RESET_KINDS, status=Operation.Status.SUCCEEDED, finished__gte=since
        )
        .order_by("finished")
        .values_list("group_id", "id", "finished")
    ):
        if group_id in group_ids and finished is not None:  # the filter leaves no None; the column allows it
            moves.setdefault(group_id, []).append((operation_id, int(finished.timestamp() * 1000)))
    return ConsoleFacts(replay_operations={g: op for g, op in replays if g in group_ids}, moves=moves)


def write_snapshot(cluster: Cluster, evaluated: Evaluated, *, taken_at_ms: int, read_seconds: float) -> Snapshot:
    """Store a round's rows and serve them, in one transaction; then drop snapshots no longer needed."""
    with transaction.atomic():
        snapshot = Snapshot.objects.create(
            cluster=cluster,
            taken_at=datetime.fromtimestamp(taken_at_ms / 1000, tz=UTC),
            read_seconds=read_seconds,
            group_count=len(evaluated.groups),
            topic_count=len(evaluated.topics),
            partition_count=evaluated.partition_count,
            window_ms=list(evaluated.window_ms),
            summary=evaluated.summary,
        )
        _insert(SnapshotGroup, snapshot.pk, _GROUP_FIELDS, evaluated.groups)
        _insert(SnapshotTopic, snapshot.pk, _TOPIC_FIELDS, evaluated.topics)
        collection = Collection.objects.select_for_update().get_or_create(cluster=cluster)[0]
        previous_id = collection.snapshot_id
        Collection.objects.filter(pk=collection.pk).update(
            snapshot=snapshot, stale_reason="", stale_since=None, last_attempt_at=timezone.now(), rounds=F("rounds") + 1
        )
    remove_unserved(cluster, keep={snapshot.pk, previous_id})
    return snapshot


def _insert(model, snapshot_id: int, names: list[str], values: list) -> None:
    """INSERT the rows with executemany: bulk_create's per-field preparation of model instances took
    three quarters of the write at 10,000 groups (measured), and these values need none but JSON's."""
    fields = [model._meta.get_field(name) for name in names]
    json_fields = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({quote('snapshot_id')}, "
        f"{', '.join(quote(f.column) for f in fields)}) VALUES (%s{', %s' * len(fields)})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(values), _BATCH):
            batch = []
            for row in values[start : start + _BATCH]:
                params = [snapshot_id, *(getattr(row, name) for name in names)]
                for i in json_fields:
                    params[i + 1] = fields[i].get_db_prep_save(params[i + 1], connection)
                batch.append(params)
            cursor.executemany(sql, batch)


def remove_unserved(cluster: Cluster, keep: set[int | None]) -> int:
    """Delete the cluster's snapshots other than `keep` (older ones, and any a killed round left); how many."""
    old = list(
        Snapshot.objects.filter(cluster=cluster)
        .exclude(pk__in=[k for k in keep if k is not None])
        .values_list("pk", flat=True)
    )
    if old:
        # Rows first, each in one statement: the snapshot's cascade would otherwise gather them in Python.
        SnapshotGroup.objects.filter(snapshot_id__in=old).delete()
        SnapshotTopic.objects.filter(snapshot_id__in=old).delete()
        Snapshot.objects.filter(pk__in=old).delete()
    return len(old)


def record_round_seconds(cluster: Cluster, seconds: float) -> None:
    Collection.objects.filter(cluster=cluster).update(last_round_seconds=seconds)


def mark_failed(cluster: Cluster, reason: str) -> None:
    """The round read nothing usable: the served snapshot stays, now stale, with the reason."""
    _collection(cluster)
    now = timezone.now()
    Collection.objects.filter(cluster=cluster).update(
        stale_reason=reason,
        stale_since=Coalesce(F("stale_since"), Value(now)),
        last_attempt_at=now,
        failed_rounds=F("failed_rounds") + 1,
    )


def count_skipped(cluster: Cluster) -> None:
    """A round found the previous one still running (an overrun) and did not start."""
    _collection(cluster)
    Collection.objects.filter(cluster=cluster).update(skipped_rounds=F("skipped_rounds") + 1)
