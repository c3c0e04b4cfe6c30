"""`history.read_recent`, the group list's read of many series at once, against `read_series` for each
(database only, no broker; times are made up, as in test_history)."""

import pytest

from groups.models import HistoryChunk, HistoryPoint
from groups.snapshot import history
from groups.snapshot.history import HOUR_MS, SERIES_GROUP
from tests.integration.test_history import T0, feed, prod  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_read_recent_returns_each_series_rounds_from_chunks_and_head_as_read_series_does(prod):  # noqa: F811
    keys = ("orders", "payments", "audit")
    # Two hours at 15 s, the first sealed and packed into chunks, the second still in the head.
    sent = feed(prod, T0, T0 + 2 * HOUR_MS - 60_000, 15_000, keys=keys)
    since, until = T0 + 30 * 60_000, T0 + 2 * HOUR_MS
    packed = HistoryChunk.objects.filter(tier=HistoryChunk.Tier.ROUNDS_HOUR, start_ms=T0)
    assert packed.count() == len(keys) and HistoryPoint.objects.filter(t_ms__lt=T0 + HOUR_MS).count() == 0
    found = history.read_recent(prod.pk, SERIES_GROUP, [*keys, "never-seen"], since_ms=since, until_ms=until)
    assert set(found) == set(keys)
    expected = [(t, values) for t, values in sorted(sent.items()) if since <= t <= until]
    for key in keys:
        assert found[key] == expected
        assert found[key] == [
            (p.t_ms, p.last) for p in history.read_series(prod.pk, SERIES_GROUP, key, since_ms=since, until_ms=until)
        ]


def test_read_recent_refuses_a_range_longer_than_the_rounds_kept(prod):  # noqa: F811
    with pytest.raises(ValueError, match="use read_series"):
        history.read_recent(prod.pk, SERIES_GROUP, ["orders"], since_ms=T0, until_ms=T0 + 25 * HOUR_MS)
