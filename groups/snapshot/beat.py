"""Celery beat with one collection entry per cluster, each at its cluster's own period.

The clusters live in the database, not in settings, so the scheduler re-reads them every
REFRESH_SECONDS: a cluster added, removed or given a new period changes its entry without a
restart of beat. The entries of CELERY_BEAT_SCHEDULE are kept as they are.

A cluster's entry that beat has not run yet is due at once: Celery dates a new entry's last run
"now", which put a cluster's first round a whole period after beat started, and a cluster collected
hourly was never collected by a beat restarted more often than that. An entry beat has run keeps
its last run (in its schedule file) across restarts.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from celery.beat import PersistentScheduler
from django.db import DatabaseError, close_old_connections

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0
TASK = "groups.tasks.collect_cluster"
# The last run of an entry new to beat: long enough ago for any period to be due. Celery keeps an existing
# entry's own last run when it merges the entry again (ScheduleEntry.update).
NEVER_RUN = datetime(2000, 1, 1, tzinfo=UTC)


def entry_name(cluster_name: str) -> str:
    return f"collect-lag-{cluster_name}"


def collection_entries() -> dict[str, dict]:
    """One beat entry per registered cluster."""
    from groups.models import Cluster

    return {
        entry_name(name): {
            "task": TASK,
            "schedule": float(period),
            "args": (pk,),
            "last_run_at": NEVER_RUN,
            # A round queued behind a busy worker for a whole period is pointless: the next one is due.
            "options": {"queue": "collection", "expires": float(period)},
        }
        for pk, name, period in Cluster.objects.values_list("pk", "name", "collect_every_seconds")
    }


class ClusterScheduler(PersistentScheduler):
    def setup_schedule(self) -> None:
        super().setup_schedule()
        self._refreshed_at: float | None = None

    def _refresh(self) -> None:
        close_old_connections()
        try:
            entries = collection_entries()
        except DatabaseError as exc:
            logger.warning("Beat could not read the clusters (%s); their collection entries stay as they were.", exc)
            return
        finally:
            self._refreshed_at = time.monotonic()
        # Celery annotates entries, but merge_inplace builds them from dicts, as its own setup does.
        self.merge_inplace({**self.app.conf.beat_schedule, **entries})  # type: ignore[dict-item]

    def tick(self, *args, **kwargs) -> float:
        if self._refreshed_at is None or time.monotonic() - self._refreshed_at >= REFRESH_SECONDS:
            self._refresh()
        # Wake at least once per refresh period, even with no entry due sooner.
        return min(super().tick(*args, **kwargs), REFRESH_SECONDS)
