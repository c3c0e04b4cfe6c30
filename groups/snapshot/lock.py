"""One collection round per cluster at a time, across every worker: a Redis lock that outlives no one.

The lock expires `ttl` seconds after its holder stops renewing it, so a round killed mid-way
(SIGKILL, a lost machine) blocks the cluster's collection for at most `ttl` seconds. A live
round renews it from a thread every third of `ttl`, however long its Kafka reads take.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Self

import redis
from django.conf import settings


def lock_name(cluster_id: int) -> str:
    return f"console:collect-lock:{cluster_id}"


class ClusterLock:
    """`with ClusterLock(cluster_id) as lock:` then `lock.acquired`; `lock.still_held()` before writing."""

    def __init__(self, cluster_id: int, ttl: float | None = None):
        self.ttl = float(ttl or settings.COLLECT_LOCK_SECONDS)
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        # Not thread-local: the renewing thread must see the token the round's thread took.
        self._lock = client.lock(lock_name(cluster_id), timeout=self.ttl, thread_local=False)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lost = False
        self.acquired = False

    def __enter__(self) -> Self:
        self.acquired = bool(self._lock.acquire(blocking=False))
        if self.acquired:
            self._renewer = threading.Thread(target=self._renew, name="collect-lock", daemon=True)
            self._renewer.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._lock.reacquire()
            except redis.RedisError:
                # Expired (Redis lost it, or this process was paused past the ttl) or Redis is away:
                # another round may run now, so this one must not write.
                self._lost = True
                return

    def still_held(self) -> bool:
        """Whether this round still owns the cluster (asks Redis); False once it may have been taken over."""
        if not self.acquired or self._lost:
            return False
        try:
            return bool(self._lock.owned())
        except redis.RedisError:
            return False

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=10)
        if self.acquired:
            # Expired or Redis away: the ttl frees it either way.
            with contextlib.suppress(redis.RedisError):
                self._lock.release()
