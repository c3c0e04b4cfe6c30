"""Packing history points into chunks and rolling them up (pure: no database)."""

import random

import pytest

from groups.snapshot.history_packing import (
    PackingError,
    Point,
    pack,
    pack_buckets,
    pack_rounds,
    roll_up,
    unpack,
    unpack_buckets,
    unpack_rounds,
)

T0 = 1_800_000_000_000
FIVE_MINUTES = 300_000
SEVERITY = ("OK", "WARN", "ERR")


def severity(label: str) -> int:
    return SEVERITY.index(label)


def rounds(values_by_round, start=T0, step=15_000):
    return [Point.of_round(start + n * step, values) for n, values in enumerate(values_by_round)]


def test_rounds_come_back_exactly_with_their_types():
    points = rounds([(0, 0.0, "OK", 3), (1200, 6.125, "WARN", 3), (-5, 12.5, "OK", 0), (2**61, 1e-3, "ERR", 7)])
    back = unpack_rounds(pack_rounds(points))
    assert back == points
    assert [type(v) for v in back[1].last] == [int, float, str, int]


def test_unknown_values_stay_unknown_in_any_position():
    points = rounds([(None, 1.5, None, 2), (7, None, "OK", None), (None, None, None, None), (9, 2.25, "OK", 2)])
    assert unpack_rounds(pack_rounds(points)) == points


def test_a_column_of_only_unknown_values_comes_back_unknown():
    times, columns = unpack(pack([1, 2, 3], [[None, None, None], [4, 5, 6]]))
    assert times == [1, 2, 3] and columns == [[None, None, None], [4, 5, 6]]


def test_floats_with_more_than_three_decimals_are_kept_exactly():
    values = [0.1, 1 / 3, 2.5e-9, 123456.789012, float("inf"), -0.5]
    assert unpack(pack(list(range(1, 7)), [values]))[1][0] == values


def test_irregular_times_and_large_jumps_come_back_exactly():
    times = [T0, T0 + 1, T0 + 15_000, T0 + 15_001 + 2**40, T0 + 2**61]
    offsets = [0, 2**62 - 1, 5, 2**62 - 1, -(2**62) + 1]
    assert unpack(pack(times, [offsets])) == (times, [offsets])


def test_an_empty_chunk_packs_and_unpacks():
    assert unpack_rounds(pack_rounds([])) == []
    assert unpack_buckets(pack_buckets([]), FIVE_MINUTES) == []


def test_steady_rounds_pack_into_about_a_byte_a_value():
    rng = random.Random(7)
    lag, points = 5000, []
    for n in range(240):  # an hour of 15 s rounds of a busy group
        lag = max(0, lag + rng.randint(-300, 300))
        points.append(Point.of_round(T0 + n * 15_000 + rng.randint(0, 400), (lag, round(lag / 200, 3), "OK", 3)))
    size = len(pack_rounds(points))
    assert size < 240 * 5 * 1.5, size  # five numbers a round (time and four values)
    assert unpack_rounds(pack_rounds(points)) == points


def test_packing_refuses_mixed_columns_and_unordered_times():
    with pytest.raises(PackingError, match="numbers or labels"):
        pack([1, 2], [["OK", 3]])
    with pytest.raises(PackingError, match="strictly increasing"):
        pack([2, 1], [[1, 2]])
    with pytest.raises(PackingError, match="one value per time"):
        pack([1, 2], [[1]])
    with pytest.raises(PackingError, match="too large"):
        pack([1, 2], [[-(2**63), 2**63 - 1]])


def test_a_roll_up_keeps_the_smallest_largest_and_last_of_each_five_minutes():
    points = rounds([(10, 1.5, "OK"), (30, 0.5, "ERR"), (20, None, "WARN"), (5, 2.0, "OK")], step=60_000)
    (bucket,) = roll_up(points, FIVE_MINUTES, severity)
    assert bucket.t_ms == T0 - T0 % FIVE_MINUTES
    assert bucket.low == (5, 0.5, "OK")
    assert bucket.high == (30, 2.0, "ERR")  # the worst status, not the alphabetically last
    assert bucket.last == (5, 2.0, "OK")
    assert (bucket.count, bucket.span_ms) == (4, FIVE_MINUTES)


def test_a_roll_up_of_only_unknown_values_is_unknown_and_its_last_is_the_last_round():
    points = rounds([(None, 1.0), (None, None)])
    (bucket,) = roll_up(points, FIVE_MINUTES)
    assert bucket.low == (None, 1.0) and bucket.high == (None, 1.0)
    assert bucket.last == (None, None)


def test_buckets_align_on_multiples_of_their_step_and_gaps_make_no_bucket():
    start = T0 - T0 % FIVE_MINUTES
    times = [start + 1_000, start + 299_999, start + 300_000, start + 1_500_000]  # nothing in minutes 10-25
    points = [Point.of_round(t, (n,)) for n, t in enumerate(times)]
    buckets = roll_up(points, FIVE_MINUTES)
    assert [b.t_ms - start for b in buckets] == [0, 300_000, 1_500_000]
    assert [b.count for b in buckets] == [2, 1, 1]


def test_rolling_up_roll_ups_is_the_same_as_rolling_up_the_rounds():
    rng = random.Random(3)
    points = rounds([(rng.randint(0, 1000), rng.choice(SEVERITY)) for _ in range(480)])  # two hours
    five = roll_up(points, FIVE_MINUTES, severity)
    assert roll_up(five, 6 * FIVE_MINUTES, severity) == roll_up(points, 6 * FIVE_MINUTES, severity)
    assert roll_up(five, FIVE_MINUTES, severity) == five


def test_roll_ups_come_back_exactly():
    rng = random.Random(11)
    points = rounds(
        [
            (
                rng.randint(0, 10**9),
                round(rng.random() * 100, 3) if n % 7 else None,
                rng.choice(SEVERITY),
                rng.randint(0, 5),
            )
            for n in range(240)
        ]
    )
    buckets = roll_up(points, FIVE_MINUTES, severity)
    assert len(buckets) == 12
    assert unpack_buckets(pack_buckets(buckets), FIVE_MINUTES) == buckets


def test_the_first_bucket_of_the_epoch_is_a_bucket_like_any_other():
    points = [Point.of_round(t, (t,)) for t in (0, 1, FIVE_MINUTES)]
    buckets = roll_up(points, FIVE_MINUTES)
    assert [(b.t_ms, b.count, b.last) for b in buckets] == [(0, 2, (1,)), (FIVE_MINUTES, 1, (FIVE_MINUTES,))]
