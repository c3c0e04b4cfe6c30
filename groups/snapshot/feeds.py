"""What a fresh round feeds besides the snapshot: the history store, the rebalances and the alert engine.

Called by the collector once the snapshot is served, and only for a round that read Kafka (a
stale round invents nothing, so an outage is a gap in history). A failure here is logged and
never fails the round: the snapshot is what every page reads, and it is already written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from groups import estimates, status
from groups.alerting import GroupFacts, PartitionFact, evaluate_round
from groups.kafka import TP
from groups.kafka.collect import ClusterReading, PartitionReading
from groups.models import Cluster
from groups.snapshot import history, rebalances
from groups.snapshot.evaluate import Cause, Evaluated
from groups.snapshot.rows import GroupRow

logger = logging.getLogger(__name__)


def group_facts(groups: Sequence[GroupRow], causes: Mapping[str, Sequence[Cause]]) -> list[GroupFacts]:
    """The alert engine's view of each group of a round; `causes` as Evaluated.causes."""
    return [
        GroupFacts(
            group_id=row.group_id,
            status=row.status or status.Status.OK.value,
            lag=row.lag,
            lag_seconds=row.lag_seconds,
            retention_margin_s=row.retention_margin_seconds,
            members=row.members,
            partition_statuses=tuple(PartitionFact(*cause) for cause in causes.get(row.group_id, ())),
            topics=frozenset(row.topics),
            is_replay_checkpoint=row.replay_operation_id is not None,
        )
        for row in groups
    ]


def alert_round(cluster: Cluster, evaluated: Evaluated, t_ms: int) -> bool:
    """Move the alert rules on by this round; False (and a logged error) when that failed.

    The round before it is the previous one that read Kafka (the window's last but one): a longer wait
    than the collection period means rounds failed in between, which alerts do not count as clear."""
    try:
        facts = group_facts(evaluated.groups, evaluated.causes)
        window = evaluated.window_ms
        previous = datetime.fromtimestamp(window[-2] / 1000, tz=UTC) if len(window) >= 2 else None
        evaluate_round(cluster, facts, datetime.fromtimestamp(t_ms / 1000, tz=UTC), previous_round=previous)
    except Exception:
        logger.exception("Alert evaluation failed for cluster %s; the round's snapshot stands.", cluster.name)
        return False
    return True


def _charted_seconds(row: GroupRow) -> float | None:
    """The lag in seconds history keeps: none for a figure the next round will replace with the record's own
    time (groups.snapshot.dating): one extrapolated at a rate, a lower bound, or one interpolated across a
    collection gap. Charted, such a guess after a reset or a restart drew spikes of minutes, even days, on
    groups a few seconds behind."""
    return None if estimates.needs_dating(row.lag_seconds_method, row.lag_seconds_doubtful) else row.lag_seconds


def history_round(
    cluster: Cluster, t_ms: int, groups: Sequence[GroupRow], partitions: Mapping[TP, PartitionReading]
) -> bool:
    """Append the round to history: one call for the groups' series, one for the partitions'."""
    try:
        history.append_round(
            cluster.pk,
            t_ms,
            history.SERIES_GROUP,
            {row.group_id: (row.lag, _charted_seconds(row), row.status or None, row.members) for row in groups},
        )
        history.append_round(
            cluster.pk,
            t_ms,
            history.SERIES_PARTITION,
            {
                history.partition_key(tp.topic, tp.partition): (p.log_start, p.log_end, p.newest_offset, p.newest_ms)
                for tp, p in partitions.items()
            },
        )
    except Exception:
        logger.exception("Appending the round to the history of cluster %s failed; its snapshot stands.", cluster.name)
        return False
    return True


def rebalance_round(cluster: Cluster, reading: ClusterReading) -> bool:
    """Record the rebalances the round shows (groups.snapshot.rebalances); False (and a logged error) when that
    failed: the groups are then compared again by the next round, against the members last recorded."""
    try:
        rebalances.record_round(cluster, reading)
    except Exception:
        logger.exception("Recording the rebalances of cluster %s failed; the round's snapshot stands.", cluster.name)
        return False
    return True
