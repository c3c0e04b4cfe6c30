"""Lag history in the database: append, read back, roll up, prune (database only, no broker).

Time is simulated: rounds carry made-up times and `roll_up_and_prune` is told what time it is,
as beat would call it every minute.
"""

import time

import pytest

from groups.models import Cluster, HistoryChunk, HistoryPoint, HistoryRound, HistorySeries
from groups.snapshot import history, history_rollup
from groups.snapshot.history import DAY_MS, HOUR_MS, SEAL_DELAY_MS, SERIES_GROUP, SERIES_PARTITION

pytestmark = pytest.mark.django_db

FIVE_MINUTES = history.ROLLUP_STEP_MS
T0 = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS  # a midnight, UTC
STATUSES = ("OK", "WARN", "ERR", "STALL")


@pytest.fixture
def prod(db):
    return Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")


def group_values(t: int) -> tuple:
    """A group's made-up round at time t: varied enough that min, max and last differ."""
    n = t // 1000
    lag = (n * 7919) % 5000
    return lag, (None if n % 11 == 0 else round(lag / 7, 3)), STATUSES[(n // 7) % 4], 1 + n % 3


def feed(cluster, start: int, end: int, step: int, keys=("orders",), skip=lambda t: False) -> dict[int, tuple]:
    """Rounds every `step` ms in [start, end) for the groups `keys`, rolled up each hour as beat would.

    Returns what was appended, by time (the same values for every key)."""
    sent = {}
    roll_at = start - start % HOUR_MS + HOUR_MS + SEAL_DELAY_MS
    for t in range(start, end, step):
        while t >= roll_at:
            history_rollup.roll_up_and_prune(roll_at)
            roll_at += HOUR_MS
        if skip(t):
            continue
        values = group_values(t)
        assert history.append_round(cluster.pk, t, SERIES_GROUP, {key: values for key in keys})
        sent[t] = values
    return sent


def expected_buckets(sent: dict[int, tuple], since: int, until: int) -> list[tuple]:
    """(start, low, high, last, count) of each 5-minute bucket beginning in [since, until], computed plainly."""
    runs: dict[int, list[tuple]] = {}
    for t in sorted(sent):
        runs.setdefault(t - t % FIVE_MINUTES, []).append(sent[t])
    out = []
    for start, run in sorted(runs.items()):
        if since - since % FIVE_MINUTES <= start <= until:
            columns = list(zip(*run))
            known = [[v for v in column if v is not None] for column in columns]
            rank = [history.STATUS_ORDER.index if i == 2 else None for i in range(4)]  # worst is highest
            low = tuple(min(k, key=rank[i]) if k else None for i, k in enumerate(known))
            high = tuple(max(k, key=rank[i]) if k else None for i, k in enumerate(known))
            out.append((start, low, high, run[-1], len(run)))
    return out


def as_buckets(points) -> list[tuple]:
    assert all(p.span_ms == FIVE_MINUTES for p in points)
    return [(p.t_ms, p.low, p.high, p.last, p.count) for p in points]


def tiers(**filters) -> set[int]:
    return set(HistoryChunk.objects.filter(**filters).values_list("tier", flat=True))


def test_rounds_read_back_exactly_for_each_series(prod):
    history.append_round(prod.pk, T0, SERIES_GROUP, {"orders": (120, 4.5, "OK", 3), "billing": (0, 0, "OK", 1)})
    history.append_round(prod.pk, T0 + 15_000, SERIES_GROUP, {"orders": (90, None, "WARN", 2)})
    history.append_round(prod.pk, T0, SERIES_PARTITION, {history.partition_key("orders", 0): (5, 900, 899, T0 - 40)})

    orders = history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + HOUR_MS)
    assert [(p.t_ms, p.last) for p in orders] == [(T0, (120, 4.5, "OK", 3)), (T0 + 15_000, (90, None, "WARN", 2))]
    assert all(p.span_ms == 0 and p.count == 1 and p.low == p.high == p.last for p in orders)
    billing = history.read_series(prod.pk, SERIES_GROUP, "billing", since_ms=T0, until_ms=T0 + HOUR_MS)
    assert [p.last for p in billing] == [(0, 0.0, "OK", 1)] and isinstance(billing[0].last[1], float)
    (partition,) = history.read_series(prod.pk, SERIES_PARTITION, "orders:0", since_ms=T0, until_ms=T0 + 1)
    assert partition.last == (5, 900, 899, T0 - 40)
    assert history.read_series(prod.pk, SERIES_GROUP, "orders:0", since_ms=T0, until_ms=T0 + 1) == []

    # Packed into chunks, the same rounds read back the same.
    history_rollup.roll_up_and_prune(T0 + HOUR_MS + SEAL_DELAY_MS)
    assert not HistoryPoint.objects.exists()
    assert history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + HOUR_MS) == orders


def test_a_round_appended_twice_is_kept_once_before_and_after_its_hour_is_packed(prod):
    round_ = {"orders": (120, 4.5, "OK", 3)}
    assert history.append_round(prod.pk, T0, SERIES_GROUP, round_)
    assert history.append_round(prod.pk, T0, SERIES_GROUP, round_)  # a retried collector round
    assert len(history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + 1)) == 1

    history_rollup.roll_up_and_prune(T0 + HOUR_MS + SEAL_DELAY_MS)
    assert not history.append_round(prod.pk, T0, SERIES_GROUP, round_)  # its hour is sealed: refused
    assert not HistoryPoint.objects.exists()
    assert len(history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + 1)) == 1
    assert HistoryChunk.objects.get(tier=HistoryChunk.Tier.ROUNDS_HOUR).points == 1


def test_an_hour_is_sealed_only_once_its_last_rounds_could_have_landed(prod):
    history.append_round(prod.pk, T0 + HOUR_MS - 1, SERIES_GROUP, {"orders": (1, 1.0, "OK", 1)})
    history_rollup.roll_up_and_prune(T0 + HOUR_MS + SEAL_DELAY_MS - 1)
    assert HistoryPoint.objects.count() == 1 and not HistoryChunk.objects.exists()
    assert history.append_round(prod.pk, T0 + HOUR_MS - 2, SERIES_GROUP, {"orders": (2, 2.0, "OK", 1)})
    history_rollup.roll_up_and_prune(T0 + HOUR_MS + SEAL_DELAY_MS)
    assert not HistoryPoint.objects.exists()
    assert HistoryChunk.objects.get(tier=HistoryChunk.Tier.ROUNDS_HOUR).points == 2


def test_roll_ups_keep_the_min_max_and_last_of_each_five_minutes_stored_or_not(prod):
    sent = feed(prod, T0, T0 + HOUR_MS + 20 * 60_000, 20_000)
    history_rollup.roll_up_and_prune(T0 + HOUR_MS + SEAL_DELAY_MS)
    assert tiers(start_ms=T0) == {HistoryChunk.Tier.ROUNDS_HOUR, HistoryChunk.Tier.ROLLUP_HOUR}
    assert HistoryPoint.objects.filter(t_ms__gte=T0 + HOUR_MS).exists()  # the last 20 minutes are not packed

    # Longer than a day: roll-ups, 12 stored for the packed hour and 4 rolled up from the rounds after it.
    points = history.read_series(
        prod.pk, SERIES_GROUP, "orders", since_ms=T0 + 2 * HOUR_MS - 2 * DAY_MS, until_ms=T0 + 2 * HOUR_MS
    )
    assert len(points) == 16 and points[0].count == 15
    assert as_buckets(points) == expected_buckets(sent, T0, T0 + 2 * HOUR_MS)


def test_pruning_drops_exactly_the_chunks_past_retention(prod, settings):
    settings.HISTORY_FULL_RETENTION_HOURS = 2
    settings.HISTORY_ROLLUP_RETENTION_DAYS = 1
    now = T0 + 2 * DAY_MS
    feed(prod, T0, now, 300_000)
    rounds = HistoryChunk.objects.filter(tier=HistoryChunk.Tier.ROUNDS_HOUR)
    rollups = HistoryChunk.objects.exclude(tier=HistoryChunk.Tier.ROUNDS_HOUR)
    day_one_hours = {(HistoryChunk.Tier.ROLLUP_HOUR, T0 + DAY_MS + h * HOUR_MS) for h in range(23)}

    # A millisecond before, the hour of rounds and the day of roll-ups that end at the cuts are still there.
    history_rollup.roll_up_and_prune(now - 1)
    assert sorted(rounds.values_list("start_ms", flat=True)) == [now - 3 * HOUR_MS, now - 2 * HOUR_MS]
    assert set(rollups.values_list("tier", "start_ms")) == {(HistoryChunk.Tier.ROLLUP_DAY, T0)} | day_one_hours

    history_rollup.roll_up_and_prune(now)
    # Rounds before now - 2 h and roll-ups before now - 1 day are past retention; the last hour is not sealed yet.
    assert sorted(rounds.values_list("start_ms", flat=True)) == [now - 2 * HOUR_MS]
    assert set(rollups.values_list("tier", "start_ms")) == day_one_hours
    # Every round is readable since the retention cut; before it, only roll-ups.
    recent = history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=now - 2 * HOUR_MS, until_ms=now)
    assert len(recent) == 24 and all(p.span_ms == 0 for p in recent)
    older = history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=now - 2 * HOUR_MS - 1, until_ms=now)
    assert all(p.span_ms == FIVE_MINUTES for p in older) and older[0].t_ms == now - 2 * HOUR_MS - FIVE_MINUTES


@pytest.mark.engine_neutral(
    "3,000 rounds fed one transaction each: 100 s on PostgreSQL, whose reads of every tier the other tests cover"
)
def test_a_seven_day_read_joins_day_and_hour_roll_ups_with_rounds_not_yet_packed(prod):
    now = T0 + 7 * DAY_MS + 2 * HOUR_MS + 30 * 60_000
    sent = feed(prod, T0 - HOUR_MS, now, 200_000)  # one or two rounds a bucket
    history_rollup.roll_up_and_prune(now)
    assert tiers(tier=HistoryChunk.Tier.ROLLUP_DAY) and tiers(tier=HistoryChunk.Tier.ROLLUP_HOUR)
    assert HistoryPoint.objects.exists()

    points = history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=now - 7 * DAY_MS, until_ms=now)
    assert as_buckets(points) == expected_buckets(sent, now - 7 * DAY_MS, now)
    assert len(points) == 7 * 288

    chart = history.read_series(
        prod.pk, SERIES_GROUP, "orders", since_ms=now - 7 * DAY_MS, until_ms=now, max_points=200
    )
    assert len(chart) <= 200 and chart[0].span_ms % FIVE_MINUTES == 0
    width = chart[0].span_ms
    for bucket in chart:
        inside = [sent[t] for t in sent if bucket.t_ms <= t < bucket.t_ms + width and t >= now - 7 * DAY_MS]
        assert bucket.low[0] == min(v[0] for v in inside) and bucket.high[0] == max(v[0] for v in inside)
        assert bucket.last == inside[-1] and bucket.count == len(inside)


def test_rounds_that_did_not_happen_stay_gaps(prod):
    gap = (T0 + 20 * 60_000, T0 + 60 * 60_000)  # 40 minutes without a round, as when Kafka was unreachable
    sent = feed(prod, T0, T0 + 2 * HOUR_MS, 15_000, skip=lambda t: gap[0] <= t < gap[1])

    def read(**kwargs):
        return history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + 2 * HOUR_MS, **kwargs)

    def check():
        rounds = read()
        assert [p.t_ms for p in rounds] == sorted(sent)
        assert [p.last for p in rounds] == [sent[t] for t in sorted(sent)]  # unknown values stay None too
        buckets = read(max_points=30)
        assert [b.t_ms for b in buckets] == [b[0] for b in expected_buckets(sent, T0, T0 + 2 * HOUR_MS)]
        assert len(buckets) == 24 - 8 and not any(gap[0] <= b.t_ms < gap[1] for b in buckets)

    check()  # the gap's hour packed, the next hour still rounds in the head
    history_rollup.roll_up_and_prune(T0 + 3 * HOUR_MS)
    assert not HistoryPoint.objects.exists()
    check()


def test_packing_spread_over_runs_by_its_time_budget_loses_and_doubles_nothing(prod, monkeypatch):
    monkeypatch.setattr(history_rollup, "_SERIES_PER_TRANSACTION", 2)
    keys = [f"group-{n}" for n in range(5)]
    sent = feed(prod, T0, T0 + HOUR_MS, 60_000, keys=keys)
    now = T0 + HOUR_MS + SEAL_DELAY_MS

    def read_all():
        return [history.read_series(prod.pk, SERIES_GROUP, key, since_ms=T0, until_ms=T0 + HOUR_MS) for key in keys]

    for run in range(3):  # three transactions of two series, one a run
        report = history_rollup.roll_up_and_prune(now, budget_s=0)
        assert report.finished == (run == 2) and report.transactions == 1
        # Rounds leave the head together, once every series is packed; until then reads keep each once.
        assert HistoryPoint.objects.count() == [300, 300, 0][run]
        assert HistoryChunk.objects.filter(tier=HistoryChunk.Tier.ROUNDS_HOUR).count() == [2, 4, 5][run]
        assert all([(p.t_ms, p.last) for p in points] == sorted(sent.items()) for points in read_all())
    assert not HistoryPoint.objects.exists()
    assert history_rollup.roll_up_and_prune(now, budget_s=0).transactions == 0


def test_after_beat_was_down_for_hours_packing_catches_up_some_hours_a_run(prod):
    sent = {}
    for t in range(T0, T0 + 10 * HOUR_MS, 300_000):  # ten hours of rounds, no roll-up run
        sent[t] = group_values(t)
        history.append_round(prod.pk, t, SERIES_GROUP, {"orders": sent[t]})
    now = T0 + 10 * HOUR_MS + SEAL_DELAY_MS

    def packed_hours():
        return HistoryChunk.objects.filter(tier=HistoryChunk.Tier.ROUNDS_HOUR).count()

    history_rollup.roll_up_and_prune(now)
    assert packed_hours() == 6
    assert [
        (p.t_ms, p.last) for p in history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=now)
    ] == sorted(sent.items())
    history_rollup.roll_up_and_prune(now)
    assert packed_hours() == 10 and not HistoryPoint.objects.exists() and not HistoryRound.objects.exists()


def test_a_read_while_an_hour_is_being_packed_sees_each_round_once(prod):
    sent = feed(prod, T0, T0 + HOUR_MS, 30_000)
    head, rounds_ = list(HistoryPoint.objects.all()), list(HistoryRound.objects.all())
    history_rollup.roll_up_and_prune(T0 + HOUR_MS + SEAL_DELAY_MS)
    # Between a read of the head and a read of the chunks the packer may move rounds from one to the
    # other; a packing under way has its rounds in both.
    HistoryRound.objects.bulk_create(rounds_)
    HistoryPoint.objects.bulk_create(head)

    rounds = history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + HOUR_MS)
    assert [(p.t_ms, p.last) for p in rounds] == sorted(sent.items())
    buckets = history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + HOUR_MS, max_points=12)
    assert as_buckets(buckets) == expected_buckets(sent, T0, T0 + HOUR_MS)


def test_the_history_of_a_deleted_group_stays_readable_until_retention(prod, settings):
    settings.HISTORY_ROLLUP_RETENTION_DAYS = 3
    sent = feed(prod, T0, T0 + 2 * HOUR_MS, 60_000, keys=("orders", "gone"))
    feed(prod, T0 + 2 * HOUR_MS, T0 + 2 * DAY_MS, 600_000, keys=("orders",))  # "gone" was deleted
    history_rollup.roll_up_and_prune(T0 + 2 * DAY_MS)

    gone = history.read_series(prod.pk, SERIES_GROUP, "gone", since_ms=T0, until_ms=T0 + 2 * DAY_MS)
    assert as_buckets(gone) == expected_buckets(sent, T0, T0 + 2 * HOUR_MS)
    assert tiers(series__key="gone") == {HistoryChunk.Tier.ROLLUP_DAY}

    history_rollup.roll_up_and_prune(T0 + 4 * DAY_MS)  # its only day is past retention
    assert history.read_series(prod.pk, SERIES_GROUP, "gone", since_ms=T0, until_ms=T0 + 4 * DAY_MS) == []
    assert list(HistorySeries.objects.values_list("key", flat=True)) == ["orders"]


def test_deleting_a_cluster_deletes_its_history_only(prod):
    other = Cluster.objects.create(name="other", bootstrap_servers="127.0.0.1:2")
    for cluster in (prod, other):
        feed(cluster, T0, T0 + 2 * HOUR_MS, 300_000)
    prod.delete()
    assert set(HistorySeries.objects.values_list("cluster_id", flat=True)) == {other.pk}
    assert not HistoryChunk.objects.exclude(series__cluster=other).exists()
    assert not HistoryPoint.objects.exclude(series__cluster=other).exists()
    assert len(history.read_series(other.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 + 2 * HOUR_MS)) == 24


def test_reads_go_round_by_round_up_to_a_day_and_by_roll_ups_beyond(prod):
    now = T0 + DAY_MS + 2 * HOUR_MS  # two hours of rounds older than a day: rolled up
    feed(prod, T0, now, 120_000)
    history_rollup.roll_up_and_prune(now)

    def spans(since, **kwargs):
        return {
            p.span_ms
            for p in history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=since, until_ms=now, **kwargs)
        }

    assert spans(now - HOUR_MS) == {0}
    assert spans(now - DAY_MS) == {0}
    assert spans(now - DAY_MS - 1) == {FIVE_MINUTES}
    assert spans(now - HOUR_MS, max_points=20) == {FIVE_MINUTES}
    assert spans(now - HOUR_MS, max_points=10) == {2 * FIVE_MINUTES}
    assert (
        len(history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=now - HOUR_MS, until_ms=now, max_points=1))
        == 1
    )


def test_rolling_up_again_changes_nothing(prod):
    feed(prod, T0, T0 + DAY_MS + 2 * HOUR_MS, 120_000)
    now = T0 + DAY_MS + 3 * HOUR_MS
    history_rollup.roll_up_and_prune(now)
    before = set(HistoryChunk.objects.values_list("series_id", "tier", "start_ms", "points", "payload"))
    again = history_rollup.roll_up_and_prune(now)
    assert (again.rounds_packed, again.chunks_written, again.days_merged, again.chunks_pruned) == (0, 0, 0, 0)
    assert set(HistoryChunk.objects.values_list("series_id", "tier", "start_ms", "points", "payload")) == before


def test_bad_rounds_are_refused_with_a_message_that_says_what_is_wrong(prod):
    cases = [
        ("topic", {"orders": (1, 1.0, "OK", 1)}, "unknown series kind 'topic'"),
        (SERIES_GROUP, {"orders": (1, 1.0, "OK")}, r"3 values given, 4 expected \(lag, lag_seconds, status, members\)"),
        (SERIES_GROUP, {"orders": ("1", 1.0, "OK", 1)}, "lag must be int or None, not '1'"),
        (SERIES_GROUP, {"orders": (1, float("nan"), "OK", 1)}, "lag_seconds must be a finite number"),
        (SERIES_GROUP, {"orders": (True, 1.0, "OK", 1)}, "lag must be int or None, not True"),
        (SERIES_PARTITION, {"t:0": (0, 2**62, 1, 1)}, "log_end 4611686018427387904 is too large"),
    ]
    for kind, points, message in cases:
        with pytest.raises(ValueError, match=message):
            history.append_round(prod.pk, T0, kind, points)
    assert not HistoryPoint.objects.exists()
    with pytest.raises(ValueError, match="start of the range is after its end"):
        history.read_series(prod.pk, SERIES_GROUP, "orders", since_ms=T0, until_ms=T0 - 1)


def test_beat_rolls_up_history_each_minute_on_the_collection_queue(prod, settings):
    from groups import tasks

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "groups.tasks.roll_up_history")
    assert entry["schedule"] == 60.0 and entry["options"]["queue"] == "collection"
    two_hours_ago = int(time.time() * 1000) - 2 * HOUR_MS
    history.append_round(prod.pk, two_hours_ago, SERIES_GROUP, {"orders": (1, 1.0, "OK", 1)})
    report = tasks.roll_up_history()  # run in this process: the task is the function beat calls
    assert report["rounds_packed"] == 1 and report["chunks_written"] == 2
