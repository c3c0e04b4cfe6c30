"""What pages make of a served snapshot, kept per process until the next round serves another.

A snapshot never changes once served, and every open tab asks for its list every 5 s: the page
of rows a query selects from it, and that page drawn as a table, are the same for every request
until the next round. Kept under the snapshot, an entry is never stale. A process keeps the
entries of one snapshot per cluster, the last one asked about: a newer one replaces them (a page
that read the pointer just before a round moved it costs one more miss). Per process (no
pickling, nothing shared to invalidate) and bounded, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from typing import Any

from groups.models import Snapshot

# Entries per process, of every cluster and query: a list page's table is about 80 KB at 50 rows,
# sparklines included, and 800 KB at 500, so a few MB as used and 50 MB at the very most. Queries
# asked of one snapshot (15 s) are few: the default list, a filter or two, the API's pages.
MAX_ENTRIES = 64

_lock = threading.Lock()
_entries: OrderedDict[tuple, Any] = OrderedDict()
# cluster id -> (snapshot id, taken at) of the snapshot whose entries are kept
_kept: dict[int, tuple[int, datetime]] = {}


def _identity(snapshot: Snapshot) -> tuple[int, datetime]:
    # The time as well as the id: a test database rolled back reuses SQLite's ids for other rows.
    return snapshot.pk, snapshot.taken_at


def get(snapshot: Snapshot, key: Hashable) -> Any | None:
    """What `put` kept under `key` for `snapshot`, or None."""
    entry = (snapshot.cluster_id, *_identity(snapshot), key)
    with _lock:
        _keep_only(snapshot)
        value = _entries.get(entry)
        if value is not None:
            _entries.move_to_end(entry)
        return value


def put(snapshot: Snapshot, key: Hashable, value: Any) -> None:
    """Keep `value` (not None, never changed afterwards) under `key` for `snapshot`."""
    entry = (snapshot.cluster_id, *_identity(snapshot), key)
    with _lock:
        _keep_only(snapshot)
        _entries[entry] = value
        _entries.move_to_end(entry)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)


def _keep_only(snapshot: Snapshot) -> None:
    """Drop the cluster's entries of any other snapshot (under the lock)."""
    identity = _identity(snapshot)
    if _kept.get(snapshot.cluster_id) == identity:
        return
    _kept[snapshot.cluster_id] = identity
    for entry in [e for e in _entries if e[0] == snapshot.cluster_id]:
        del _entries[entry]
