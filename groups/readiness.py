"""What /readyz reports: can this process reach its database and Redis, and is every cluster's snapshot
fresh. Counts and booleans only: the answer is public, so it names no cluster, host or error."""

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
    # Clusters whose served snapshot is older than the threshold, or that have none yet.
    clusters_stale: int
    snapshot_max_age_seconds: int
    oldest_snapshot_age_seconds: int | None

    @property
    def ready(self) -> bool:
        return self.database and self.redis and self.clusters_stale == 0

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
    """Ask the database and Redis, and age each cluster's served snapshot against READY_SNAPSHOT_MAX_AGE, or
    against the pages' own rule for stale (queries.overdue_after) where that allows longer: a cluster
    collected every ten minutes is not unready five minutes after its round."""
    threshold = settings.READY_SNAPSHOT_MAX_AGE
    database = _database_answers()
    clusters = stale = 0
    oldest: float | None = None
    if database:
        served = {
            cluster_id: (taken_at, round_seconds)
            for cluster_id, taken_at, round_seconds in Collection.objects.filter(snapshot__isnull=False).values_list(
                "cluster_id", "snapshot__taken_at", "last_round_seconds"
            )
        }
        now = timezone.now()
        for cluster_id, period in Cluster.objects.values_list("pk", "collect_every_seconds"):
            clusters += 1
            if cluster_id not in served:
                stale += 1
                continue
            taken_at, round_seconds = served[cluster_id]
            age = (now - taken_at).total_seconds()
            oldest = age if oldest is None else max(oldest, age)
            stale += age > max(threshold, overdue_after(period, round_seconds))
    return Readiness(
        database=database,
        redis=_redis_answers(),
        clusters=clusters,
        clusters_stale=stale,
        snapshot_max_age_seconds=threshold,
        oldest_snapshot_age_seconds=round(oldest) if oldest is not None else None,
    )
