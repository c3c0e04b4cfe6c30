"""groups.snapshot.memo: what pages make of a served snapshot, kept until a newer one is asked about."""

from datetime import UTC, datetime, timedelta

import pytest

from groups.models import Snapshot
from groups.snapshot import memo

T0 = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def _snapshot(pk: int, cluster_id: int = 1, taken_at: datetime | None = None) -> Snapshot:
    """An unsaved row: the memo reads its id, cluster and time only."""
    return Snapshot(pk=pk, cluster_id=cluster_id, taken_at=taken_at or T0 + timedelta(seconds=15 * pk))


@pytest.fixture(autouse=True)
def empty_memo(monkeypatch):
    monkeypatch.setattr(memo, "_entries", type(memo._entries)())
    monkeypatch.setattr(memo, "_kept", {})


def test_a_kept_value_is_found_under_its_snapshot_and_key_only():
    first = _snapshot(1)
    memo.put(first, ("list", "q=a"), "page a")
    assert memo.get(first, ("list", "q=a")) == "page a"
    assert memo.get(first, ("list", "q=b")) is None
    assert memo.get(_snapshot(1, cluster_id=2), ("list", "q=a")) is None


def test_another_snapshot_of_the_cluster_replaces_its_entries_and_not_other_clusters():
    memo.put(_snapshot(1), "k", "old")
    memo.put(_snapshot(2, cluster_id=2), "k", "other cluster")
    assert memo.get(_snapshot(3), "k") is None
    assert memo.get(_snapshot(1), "k") is None
    assert memo.get(_snapshot(2, cluster_id=2), "k") == "other cluster"


def test_a_page_of_the_snapshot_before_costs_the_current_one_a_miss_and_nothing_else():
    memo.put(_snapshot(5), "k", "current")
    memo.put(_snapshot(4), "k", "from the snapshot before")
    assert memo.get(_snapshot(5), "k") is None
    memo.put(_snapshot(5), "k", "current")
    assert memo.get(_snapshot(5), "k") == "current"
    assert memo.get(_snapshot(4), "k") is None


def test_the_same_id_taken_at_another_time_is_another_snapshot():
    """A test database rolled back hands the same id to the next snapshot written."""
    memo.put(_snapshot(1, taken_at=T0), "k", "rolled back")
    assert memo.get(_snapshot(1, taken_at=T0 + timedelta(seconds=1)), "k") is None


def test_the_least_recently_used_entries_go_beyond_the_bound(monkeypatch):
    monkeypatch.setattr(memo, "MAX_ENTRIES", 3)
    snapshot = _snapshot(1)
    for n in range(3):
        memo.put(snapshot, n, f"value {n}")
    assert memo.get(snapshot, 0) == "value 0"  # now the most recently used
    memo.put(snapshot, 3, "value 3")
    assert [memo.get(snapshot, n) for n in range(4)] == ["value 0", None, "value 2", "value 3"]
