"""Dating committed offsets older than the collector's history: the record there, read once and kept.

A round dates a committed offset by the rounds that saw the log end pass it (groups.estimates). A group
that committed before the console's first round, or before the oldest round its partition's history
keeps, sits below all of them: its lag in seconds is extrapolated or only a lower bound, flagged
doubtful, and a stopped group stays so for good, since its offset never moves. On a newly installed
console that is every group that has stopped.

After a round that left such figures, the collection task reads the record at each of those offsets
(a consumer that joins no group, a few seconds at most, a bounded number of partitions at a time) and
keeps its timestamp in DatedRecord. The next rounds add these as exact points to the partitions'
timelines, so the figure becomes the record's own age. A dated record no group sits at any more is
dropped. Share groups are left out: their rows show the broker's start offsets, not their positions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection

from groups import estimates
from groups.kafka import TP, ConsoleError, client_for
from groups.models import Cluster, DatedRecord, SnapshotGroup
from groups.snapshot import queries, rows

logger = logging.getLogger(__name__)

WAIT_S = 5.0  # how long one task reads records at most
MAX_PARTITIONS = 2_000  # partitions read by one task: the rest wait for the next round's


@dataclass(frozen=True)
class DatingReport:
    wanted: int = 0  # committed offsets the last snapshot could not date
    read: int = 0  # dated by this task
    dropped: int = 0  # dated records no lagging group sits at any more
    error: str = ""


def dated_points(cluster: Cluster) -> dict[TP, list[estimates.OffsetTime]]:
    """What the rounds add to the timelines: every dated record of the cluster, as exact points."""
    points: dict[TP, list[estimates.OffsetTime]] = {}
    # A plain cursor: a round reads every kept record (tens of thousands on a cluster of stopped groups),
    # and the ORM's per-row work took ten times the query's.
    q = connection.ops.quote_name
    columns = ", ".join(q(name) for name in ("topic", "partition", "record_offset", "timestamp_ms"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {q(DatedRecord._meta.db_table)} WHERE {q('cluster_id')} = %s", [cluster.pk]
        )
        for topic, partition, record_offset, timestamp_ms in cursor.fetchall():
            points.setdefault(TP(topic, partition), []).append(estimates.OffsetTime(record_offset, timestamp_ms, True))
    return points


def _lagging_offsets(cluster: Cluster) -> tuple[dict[TP, set[int]], set[tuple[TP, int]]]:
    """From the served snapshot: the committed offsets it could not date, and every lagging committed offset."""
    served = queries.latest_snapshot(cluster).snapshot
    undated: dict[TP, set[int]] = {}
    lagging: set[tuple[TP, int]] = set()
    if served is None:
        return undated, lagging
    details = (
        SnapshotGroup.objects.filter(snapshot=served, lag__gt=0)
        .exclude(type="share")
        .values_list("detail", flat=True)
        .iterator(chunk_size=1000)
    )
    for detail in details:
        for p in rows.decode_group_detail(detail):
            if p.committed is None or p.lag is None or p.lag <= 0:
                continue
            tp = TP(p.topic, p.partition)
            lagging.add((tp, p.committed))
            if estimates.needs_dating(p.lag_seconds_method, p.lag_seconds_doubtful):
                undated.setdefault(tp, set()).add(p.committed)
    return undated, lagging


def date_records(cluster: Cluster, *, wait_s: float = WAIT_S, max_partitions: int = MAX_PARTITIONS) -> DatingReport:
    """Read the records at the served snapshot's undated committed offsets and keep their times; drop
    the dated records nobody needs. Never raises for Kafka: a failed read is reported and retried after
    the next round."""
    undated, lagging = _lagging_offsets(cluster)
    kept = DatedRecord.objects.filter(cluster=cluster)
    known: dict[TP, set[int]] = {}
    unneeded = []
    for pk, topic, partition, offset in kept.values_list("pk", "topic", "partition", "offset"):
        tp = TP(topic, partition)
        if (tp, offset) in lagging:
            known.setdefault(tp, set()).add(offset)
        else:
            unneeded.append(pk)
    dropped = DatedRecord.objects.filter(pk__in=unneeded).delete()[0] if unneeded else 0
    to_read: dict[TP, list[int]] = {}
    for tp, offsets in sorted(undated.items()):
        missing = sorted(offsets - known.get(tp, set()))
        if missing and len(to_read) < max_partitions:
            to_read[tp] = missing
    wanted = sum(len(offsets) for offsets in undated.values())
    if not to_read:
        return DatingReport(wanted=wanted, dropped=dropped)
    try:
        found = client_for(cluster).record_times(to_read, wait=wait_s)
    except ConsoleError as error:
        logger.warning("Dating committed offsets of cluster %s failed: %s", cluster.name, error.message)
        return DatingReport(wanted=wanted, dropped=dropped, error=error.message)
    created = DatedRecord.objects.bulk_create(
        [
            DatedRecord(
                cluster=cluster,
                topic=tp.topic,
                partition=tp.partition,
                offset=offset,
                record_offset=record_offset,
                timestamp_ms=timestamp_ms,
            )
            for tp, times in found.items()
            for offset, (record_offset, timestamp_ms) in times.items()
        ],
        ignore_conflicts=True,  # a task that overran its round's successor dated some already
    )
    return DatingReport(wanted=wanted, read=len(created), dropped=dropped)
