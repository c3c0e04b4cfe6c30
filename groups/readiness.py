"""What /readyz reports: can this process serve, that is reach its database and Redis; and, for monitoring,
how many clusters' snapshots are stale. Counts and booleans only: the answer is public, so it names no
cluster, host or error.

A stale snapshot does not make the process unready: the pages still serve it, marked stale with its age
and the reason, and an operator opens the console exactly while Kafka or the collector is in trouble. A
load balancer or Kubernetes readiness probe that took every web process out of rotation then would hide
the console when it is needed most. Staleness is a reason to alert (kafka_console_snapshot_stale and the
KafkaConsoleSnapshotStale rule of docs/prometheus-rules.yml), and is counted here by the pages' own rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from groups.models import Cluster, Collection
from groups.snapshot.queries import overdue_after

# One probe must not hang the load balancer's check: each dependency gets this long.
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Readiness:
    database: bool
    redis: bool
    clusters: int
    # Clusters whose served snapshot the pages call stale (a round failed, none came in time, or none yet).
    clusters_stale: int
    oldest_snapshot_age_seconds: int | None

    @property
    def ready(self) -> bool:
        return self.database and self.redis

    def as_dict(self) -> dict:
        return {"ready": self.ready, **asdict(self)}


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


def _redis_answers() -> bool:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def check() -> Readiness:
    """Ask the database and Redis, and count the clusters whose served snapshot is stale by the rule the pages
    and /metrics follow (groups.snapshot.queries.latest_snapshot): a round failed and left its reason, no
    round finished within MISSED_PERIODS of the cluster's period, or none has finished yet."""
    database = _database_answers()
    clusters = stale = 0
    oldest: float | None = None
    if database:
        served = {
            cluster_id: (taken_at, round_seconds, reason)
            for cluster_id, taken_at, round_seconds, reason in Collection.objects.filter(
                snapshot__isnull=False
            ).values_list("cluster_id", "snapshot__taken_at", "last_round_seconds", "stale_reason")
        }
        now = timezone.now()
        for cluster_id, period in Cluster.objects.values_list("pk", "collect_every_seconds"):
            clusters += 1
            if cluster_id not in served:
                stale += 1
                continue
            taken_at, round_seconds, reason = served[cluster_id]
            age = (now - taken_at).total_seconds()
            oldest = age if oldest is None else max(oldest, age)
            stale += bool(reason) or age > overdue_after(period, round_seconds)
    return Readiness(
        database=database,
        redis=_redis_answers(),
        clusters=clusters,
        clusters_stale=stale,
        oldest_snapshot_age_seconds=round(oldest) if oldest is not None else None,
    )
