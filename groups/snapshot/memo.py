"""What pages make of a served snapshot, kept per process until the next round serves another.

A snapshot never changes once served, and every open tab asks for its list every 5 s: the page
of rows a query selects from it, and that page drawn as a table, are the same for every request
until the next round. Kept under the snapshot, an entry is never stale; once a process is asked
about a newer snapshot of a cluster, the entries of the older ones go. Per process (no pickling,
nothing shared to invalidate) and bounded, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from typing import Any

from groups.models import Snapshot

# Entries per process, of every cluster and query: a list page's table at 50 rows, sparklines
# included, is about 80 KB, so at most about 20 MB.
MAX_ENTRIES = 256

_lock = threading.Lock()
_entries: OrderedDict[tuple, Any] = OrderedDict()
# cluster id -> (snapshot id, taken at) of the newest snapshot asked about
_newest: dict[int, tuple[int, datetime]] = {}


def _identity(snapshot: Snapshot) -> tuple[int, datetime]:
    # The time as well as the id: a test database rolled back reuses SQLite's ids for other rows.
    return snapshot.pk, snapshot.taken_at


def get(snapshot: Snapshot, key: Hashable) -> Any | None:
    """What `put` kept under `key` for `snapshot`, or None."""
    entry = (snapshot.cluster_id, *_identity(snapshot), key)
    with _lock:
        _forget_older(snapshot)
        value = _entries.get(entry)
        if value is not None:
            _entries.move_to_end(entry)
        return value


def put(snapshot: Snapshot, key: Hashable, value: Any) -> None:
    """Keep `value` (not None, never changed afterwards) under `key` for `snapshot`."""
    entry = (snapshot.cluster_id, *_identity(snapshot), key)
    with _lock:
        _forget_older(snapshot)
        newest = _newest.get(snapshot.cluster_id)
        if newest is not None and newest[0] > snapshot.pk:
            return  # a page that read the pointer just before a round moved it: nobody will ask again
        _entries[entry] = value
        _entries.move_to_end(entry)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def _forget_older(snapshot: Snapshot) -> None:
    """Drop the cluster's entries once a newer snapshot of it is asked about (under the lock)."""
    newest = _newest.get(snapshot.cluster_id)
    identity = _identity(snapshot)
    if newest is not None and (newest[0] > identity[0] or newest == identity):
        return
    _newest[snapshot.cluster_id] = identity
    for entry in [e for e in _entries if e[0] == snapshot.cluster_id]:
        del _entries[entry]
