"""One collection round for one cluster: read Kafka, evaluate, write the snapshot, append history, alert.

The `collect_lag` command and the Celery beat task both call `collect`. A round that finds the
cluster's previous round still running does not start (an overrun, counted); a round that
cannot read Kafka leaves the served snapshot in place, marked stale with the reason, and
writes nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from django.conf import settings

from groups.gcpause import cyclic_gc_paused
from groups.kafka import ConsoleError, client_for
from groups.kafka.collect import read_cluster
from groups.models import Cluster
from groups.snapshot import feeds, store, vanished
from groups.snapshot.evaluate import evaluate
from groups.snapshot.lock import ClusterLock

logger = logging.getLogger(__name__)

COLLECTED, FAILED, SKIPPED = "collected", "failed", "skipped"


@dataclass(frozen=True)
class RoundReport:
    cluster: str
    outcome: str  # COLLECTED, FAILED or SKIPPED
    seconds: float
    reason: str = ""
    snapshot_id: int | None = None
    groups: int = 0
    topics: int = 0
    partitions: int = 0
    undated: int = 0  # lag-in-seconds figures the history could not date (groups.snapshot.dating)
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step, Kafka reads included

    def describe(self) -> str:
        """One line for a person: what the round did and how long it took."""
        if self.outcome == SKIPPED:
            return f"Cluster '{self.cluster}': round skipped, {self.reason}"
        if self.outcome == FAILED:
            return f"Cluster '{self.cluster}': round failed after {self.seconds:.2f} s. {self.reason}"
        return (
            f"Cluster '{self.cluster}': collected in {self.seconds:.2f} s: {self.groups} groups, "
            f"{self.topics} topics, {self.partitions} group partitions (snapshot #{self.snapshot_id})."
        )


def collect(cluster: Cluster, *, progress: Callable[[str], None] | None = None) -> RoundReport:
    """Run one round for `cluster` unless one is running already. Never raises for Kafka or Redis failures."""
    started = time.monotonic()
    say = progress or (lambda message: None)
    try:
        with ClusterLock(cluster.pk) as lock:
            if not lock.acquired:
                store.count_skipped(cluster)
                return RoundReport(
                    cluster.name,
                    SKIPPED,
                    time.monotonic() - started,
                    reason="the previous round of this cluster is still running.",
                )
            # A round allocates objects by the million (several per group partition) and makes no cycles.
            with cyclic_gc_paused():
                return _round(cluster, lock, started, say)
    except redis.RedisError as exc:
        reason = (
            f"Redis at {settings.REDIS_URL} is unreachable ({exc}); the collector needs it so that only "
            "one round runs per cluster."
        )
        return _failed(cluster, started, reason)


def _failed(cluster: Cluster, started: float, reason: str, steps: dict | None = None) -> RoundReport:
    store.mark_failed(cluster, reason)
    logger.warning("Collection of cluster %s failed: %s", cluster.name, reason)
    return RoundReport(cluster.name, FAILED, time.monotonic() - started, reason=reason, steps=steps or {})


def _round(cluster: Cluster, lock: ClusterLock, started: float, say: Callable[[str], None]) -> RoundReport:
    steps: dict[str, float] = {}
    try:
        say("reading Kafka")
        reading = read_cluster(cluster)
    except ConsoleError as exc:
        return _failed(cluster, started, exc.message)
    except Exception as exc:
        _failed(
            cluster,
            started,
            f"The collector failed unexpectedly ({type(exc).__name__}); the worker's log has the details.",
        )
        raise
    steps.update({f"kafka.{name}": value for name, value in reading.seconds.items()})
    steps["read"] = time.monotonic() - started

    mark = time.monotonic()
    carried = store.carried(cluster)
    missing = carried.group_windows.keys() - reading.groups.keys()
    if missing:
        try:
            vanished.check(client_for(cluster), store.group_types(cluster, set(missing)))
        except ConsoleError as exc:
            return _failed(cluster, started, exc.message, steps)
    since_ms = carried.window_ms[0] if carried.window_ms else reading.t_ms
    facts = store.console_facts(cluster, set(reading.groups), since_ms)
    steps["load_previous"] = time.monotonic() - mark

    mark = time.monotonic()
    say("evaluating")
    evaluated = evaluate(
        reading,
        carried,
        facts,
        window_rounds=settings.COLLECT_WINDOW_ROUNDS,
        retention_warning_s=settings.RETENTION_WARNING_SECONDS,
    )
    del carried
    steps["evaluate"] = time.monotonic() - mark

    if not lock.still_held():
        return _failed(
            cluster,
            started,
            "The round lost its cluster lock (Redis lost it, or the round was paused "
            f"for over {lock.ttl:.0f} s), so it did not write its snapshot.",
            steps,
        )
    mark = time.monotonic()
    say(f"writing {len(evaluated.groups)} groups and {len(evaluated.topics)} topics")
    snapshot = store.write_snapshot(
        cluster, evaluated, taken_at_ms=reading.t_ms, read_seconds=time.monotonic() - started
    )
    steps["write"] = time.monotonic() - mark
    mark = time.monotonic()
    say("appending to history")
    feeds.history_round(cluster, reading.t_ms, evaluated.groups, reading.partitions)
    steps["history"] = time.monotonic() - mark
    mark = time.monotonic()
    say("recording rebalances")
    feeds.rebalance_round(cluster, reading)
    steps["rebalances"] = time.monotonic() - mark
    mark = time.monotonic()
    say("evaluating alert rules")
    feeds.alert_round(cluster, evaluated, reading.t_ms)
    steps["alerts"] = time.monotonic() - mark
    seconds = time.monotonic() - started
    store.record_round_seconds(cluster, seconds)
    return RoundReport(
        cluster.name,
        COLLECTED,
        seconds,
        snapshot_id=snapshot.pk,
        groups=len(evaluated.groups),
        topics=len(evaluated.topics),
        partitions=evaluated.partition_count,
        undated=evaluated.summary["undated_offsets"],
        steps=steps,
    )
