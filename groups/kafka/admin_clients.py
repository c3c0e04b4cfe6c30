"""The AdminClients a process keeps, one per cluster configuration, and when one is given up.

A librdkafka AdminClient is kept for the process's life: making one costs a bootstrap round
trip, and a page or a round makes many calls. But librdkafka (2.16) can leave a client unable to
talk to the group coordinator again: a coordinator request (DescribeGroups, OffsetFetch) that
times out while the broker is down leaves every later one timing out too, after the broker is
back, while a new client answers at once; worse, once the broker is back such a client can abort
the whole process (an assertion in librdkafka's coordinator-request error path,
confluentinc/librdkafka#4605; both seen on the local broker). So a call that timed out, or found
its broker gone (RETIRING_CODES), retires its client, and nothing else holds one (ClusterClient
asks for it per call): it is destroyed at once, while the broker is still away, and the next call
of that cluster makes a new one. A cluster that is really down costs a new client per failed
call, which is cheap beside the timeout itself.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from confluent_kafka.admin import AdminClient

from groups.kafka.offsets_helper import OffsetFetcher, fetcher_for
from groups.kafka.values import ConsoleError

logger = logging.getLogger(__name__)

# Idle brokers close connections; librdkafka reconnects silently, so don't log each close.
ADMIN_EXTRA: dict[str, Any] = {"log.connection.close": False, "socket.connection.setup.timeout.ms": 5000}

_clients: dict[tuple, AdminClient] = {}
_lock = threading.Lock()
retired = 0  # clients this process gave up (RETIRING_CODES), for the logs and tests


def offset_fetcher(config: dict[str, str]) -> OffsetFetcher:
    """The committed-offsets helper of the cluster with this client config (groups.kafka.offsets_helper)."""
    return fetcher_for({**config, **ADMIN_EXTRA})


def kept(key: tuple, make: Callable[[], AdminClient]) -> AdminClient:
    """The client kept under `key` (a cluster's sorted client settings), made by `make` if there is none."""
    with _lock:
        admin = _clients.get(key)
        if admin is None:
            admin = _clients[key] = make()
        return admin


def retire(key: tuple) -> None:
    """Stop keeping `key`'s client: with no ClusterClient holding one, it is destroyed once the call that timed
    out has let go of it, before a broker coming back could wake its broken request (which, alive then, can
    abort the process: librdkafka's assertion `eonce->refcnt > 0`)."""
    global retired
    with _lock:
        if _clients.pop(key, None) is not None:
            retired += 1
            logger.info("A Kafka admin client timed out or lost its broker; the next call makes a new one.")


class _Retires(Protocol):
    def retire_admin(self) -> None: ...


# The failures after which a client is given up: a timeout, and the errors a client meets when its broker
# went away in the middle (a request over a dropped connection is what leaves the client broken).
RETIRING_CODES = frozenset({"_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "COORDINATOR_NOT_AVAILABLE"})

P = ParamSpec("P")
R = TypeVar("R")


def retiring_on_timeout(method: Callable[P, R]) -> Callable[P, R]:
    """A ClusterClient method whose failure of RETIRING_CODES gives up the cluster's AdminClient."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ConsoleError as exc:
            if exc.code in RETIRING_CODES:
                cast(_Retires, args[0]).retire_admin()
            raise

    return call
