import pytest

from groups.estimates import (
    CAUGHT_UP,
    EXTRAPOLATED,
    INTERPOLATED,
    LOWER_BOUND,
    RECORD_TIMESTAMP,
    UNKNOWN,
    LagSeconds,
    LogRound,
    OffsetTime,
    Timeline,
    group_lag_seconds,
    lag_seconds,
    needs_dating,
    timeline_from_history,
)

PERIOD = 15_000
T0 = 1_700_000_000_000


def _steady_history(rounds, rate_per_s=10, log_start=0, start_ms=T0):
    """A producer writing `rate_per_s` records per second since start_ms, seen every PERIOD."""
    return [LogRound(start_ms + i * PERIOD, log_start, i * PERIOD // 1000 * rate_per_s) for i in range(rounds)]


def _lag(committed, history, now_ms, log_start=0, **kwargs):
    log_end = kwargs.pop("log_end", history[-1].log_end if history else None)
    return lag_seconds(
        committed=committed,
        log_start=log_start,
        log_end=log_end,
        timeline=timeline_from_history(history),
        now_ms=now_ms,
    )


def test_a_caught_up_partition_lags_zero_seconds():
    history = _steady_history(20)
    result = _lag(history[-1].log_end, history, history[-1].t_ms)
    assert result.seconds == 0 and result.method == CAUGHT_UP and not result.doubtful


def test_lag_seconds_is_unknown_without_a_commit_or_a_log_end():
    history = _steady_history(5)
    assert _lag(None, history, T0).method == UNKNOWN
    assert _lag(10, history, T0, log_end=None).seconds is None


def test_a_commit_past_the_log_end_has_no_lag_in_seconds():
    result = _lag(5000, _steady_history(5), T0 + 60_000)
    assert result.seconds is None and "past the log end" in result.note


def test_a_stalled_consumer_behind_a_steady_producer_lags_its_stall_time():
    # 10 msg/s: record 1500 was appended 150 s after T0; the group stopped there.
    history = _steady_history(41)
    now = history[-1].t_ms
    result = _lag(1500, history, now)
    stall_s = (now - T0) / 1000 - 150
    assert result.method == INTERPOLATED and not result.doubtful
    assert result.seconds == pytest.approx(stall_s, rel=0.01)
    assert result.precision_s == 15


def test_an_idle_producer_keeps_the_lag_growing_with_the_clock():
    # The producer wrote 10 msg/s for 300 s then stopped; the collector keeps seeing 3000.
    busy = _steady_history(21)
    idle = [LogRound(busy[-1].t_ms + i * PERIOD, 0, 3000) for i in range(1, 200)]
    history = busy + idle
    early, late = history[-100].t_ms, history[-1].t_ms
    at_early = _lag(2000, history[:-99], early)
    at_late = _lag(2000, history, late)
    assert at_late.seconds - at_early.seconds == pytest.approx((late - early) / 1000)
    assert at_late.seconds == pytest.approx((late - T0) / 1000 - 200, abs=1)


def test_the_last_record_before_an_idle_stretch_keeps_the_time_it_arrived():
    # Kafka Lag Exporter's failure: a flat line whose time moves with the clock drags the figure to 0.
    busy = _steady_history(21)
    idle = [LogRound(busy[-1].t_ms + i * PERIOD, 0, 3000) for i in range(1, 40)]
    result = _lag(2999, busy + idle, idle[-1].t_ms)
    assert result.seconds == pytest.approx((idle[-1].t_ms - busy[-1].t_ms) / 1000, abs=15)
    assert result.seconds > 500


def test_a_small_lag_is_a_fraction_of_the_period_not_a_whole_period():
    history = _steady_history(41)
    # Record k of this producer exists from (k + 1) / 10 s: 5997 arrived 0.2 s before the round.
    result = _lag(history[-1].log_end - 3, history, history[-1].t_ms)
    assert result.seconds == pytest.approx(0.2, abs=0.01)
    assert result.precision_s == 15 and not result.doubtful


def test_rolled_up_history_serves_with_its_bucket_as_precision():
    five_minutes = [LogRound(T0 + i * 300_000, 0, i * 3000) for i in range(13)]
    result = _lag(15_000, five_minutes, five_minutes[-1].t_ms)
    assert result.method == INTERPOLATED and result.precision_s == 300
    assert result.seconds == pytest.approx(3600 - 1500, abs=0.2)


def test_the_timestamp_of_the_record_at_the_committed_offset_is_exact():
    history = _steady_history(41)
    timeline = Timeline([*timeline_from_history(history).points, OffsetTime(1500, T0 + 150_050, exact=True)])
    result = lag_seconds(
        committed=1500, log_start=0, log_end=history[-1].log_end, timeline=timeline, now_ms=history[-1].t_ms
    )
    assert result.method == RECORD_TIMESTAMP and result.precision_s == 0
    assert result.seconds == pytest.approx((history[-1].t_ms - T0 - 150_050) / 1000)


def test_the_newest_records_timestamp_tightens_the_bracket():
    history = _steady_history(41)
    with_newest = history[:-1] + [
        LogRound(history[-1].t_ms, 0, history[-1].log_end, history[-1].log_end - 1, history[-1].t_ms - 100)
    ]
    result = _lag(history[-1].log_end - 1, with_newest, history[-1].t_ms)
    assert result.method == RECORD_TIMESTAMP and result.seconds == pytest.approx(0.1)


def test_a_compacted_record_at_the_committed_offset_gives_a_doubtful_lower_bound():
    # No history yet; the record read at offset 100 came back as offset 103 (100-102 compacted).
    timeline = Timeline([OffsetTime(103, T0, exact=True)])
    result = lag_seconds(committed=100, log_start=0, log_end=500, timeline=timeline, now_ms=T0 + 90_000)
    assert result.method == LOWER_BOUND and result.doubtful and result.seconds == 90
    assert "compacted or deleted" in result.note


def test_a_record_deleted_under_the_committed_offset_is_flagged_doubtful():
    history = _steady_history(41, log_start=2000)
    result = _lag(1500, history, history[-1].t_ms, log_start=2000)
    assert result.doubtful and "500 records lost" in result.note
    assert result.method == INTERPOLATED


def test_a_commit_older_than_the_history_is_extrapolated_and_flagged():
    history = _steady_history(41)[20:]  # the history starts at offset 3000
    result = _lag(1500, history, history[-1].t_ms)
    assert result.method == EXTRAPOLATED and result.doubtful
    assert result.seconds == pytest.approx((history[-1].t_ms - T0) / 1000 - 150, rel=0.01)


def test_an_extrapolated_age_takes_the_rate_next_to_the_offset_not_across_a_pause():
    # 10 records/s for 5 min, the console down for an hour (no producing either), then 50 records/s.
    before = _steady_history(21)[1:]  # offsets 150 to 3000: the commit at 100 is older than the history
    after_ms = before[-1].t_ms + 3_600_000
    after = [LogRound(after_ms + i * PERIOD, 0, 3000 + i * 750) for i in range(1, 41)]
    appended_ms = T0 + 10_000  # offset 100, at 10 records/s from T0
    for rounds in (20, 40):  # as rounds are added, the record only gets older
        history = before + after[:rounds]
        now_ms = history[-1].t_ms
        result = _lag(100, history, now_ms)
        assert result.method == EXTRAPOLATED and result.doubtful
        assert result.seconds == pytest.approx((now_ms - appended_ms) / 1000, abs=1)


def test_an_estimated_age_is_told_to_the_millisecond_as_a_record_timestamp_is():
    # 7 records in 3 s apart: offsets fall between the rounds at fractions of a millisecond.
    history = [LogRound(T0, 0, 0), LogRound(T0 + 3_000, 0, 7), LogRound(T0 + 6_000, 0, 14)]
    fractions = 0
    for offset in range(1, 13):
        result = _lag(offset, history, T0 + 6_000)
        assert result.method == INTERPOLATED and result.seconds is not None
        assert result.seconds == round(result.seconds, 3)
        fractions += result.seconds != round(result.seconds)
    assert fractions


def test_rounds_far_apart_bracket_an_offset_too_loosely_and_flag_it_for_dating():
    # Two rounds 90 min apart (the collector was stopped): offset 50 is placed in the middle, but the
    # record may be from any time between them. Next to the one-period brackets nothing is doubtful.
    gap = [LogRound(T0, 0, 0), LogRound(T0 + 5_400_000, 0, 100)]
    now_ms = T0 + 5_400_000 + 60_000
    wide = _lag(50, gap, now_ms)
    assert wide.method == INTERPOLATED and wide.doubtful and "90 min apart" in wide.note
    assert wide.seconds == pytest.approx(2_706) and needs_dating(wide.method, wide.doubtful)
    narrow = _lag(150, _steady_history(41), T0 + 40 * PERIOD)
    assert narrow.method == INTERPOLATED and not narrow.doubtful and not needs_dating(narrow.method, False)
    # A 5-minute roll-up bucket on a record days old is as good as it gets: not doubtful.
    days = [LogRound(T0, 0, 0), LogRound(T0 + 300_000, 0, 100)]
    old = _lag(50, days, T0 + 3 * 86_400_000)
    assert old.method == INTERPOLATED and not old.doubtful


def test_no_history_leaves_a_lagging_partition_unknown():
    result = lag_seconds(committed=10, log_start=0, log_end=50, timeline=Timeline([]), now_ms=T0)
    assert result.seconds is None and result.method == UNKNOWN


def test_a_single_earlier_round_gives_a_doubtful_lower_bound():
    result = _lag(10, [LogRound(T0, 0, 50)], T0 + 60_000)
    assert result.method == LOWER_BOUND and result.doubtful and result.seconds == 60


def test_a_recreated_topic_forgets_the_old_logs_history():
    old = _steady_history(41)
    new = [LogRound(old[-1].t_ms + i * PERIOD, 0, i * 150) for i in range(1, 11)]
    history = old + new
    result = _lag(300, history, history[-1].t_ms)
    assert result.method == INTERPOLATED
    assert result.seconds == pytest.approx((new[-1].t_ms - new[1].t_ms) / 1000, abs=0.2)


def test_history_before_the_clock_went_back_is_left_out():
    before = _steady_history(10)
    after = [LogRound(T0 - 3_600_000 + i * PERIOD, 0, 1500 + i * 150) for i in range(10)]
    timeline = timeline_from_history(before + after)
    assert min(p.offset for p in timeline.points) == 1499


def test_rounds_with_the_same_time_do_not_break_the_interpolation():
    history = [LogRound(T0, 0, 100), LogRound(T0, 0, 200), LogRound(T0 + PERIOD, 0, 300)]
    result = _lag(150, history, T0 + PERIOD)
    assert result.method == INTERPOLATED and result.seconds == pytest.approx(15)


def test_a_clock_behind_the_history_shows_zero_and_doubtful():
    history = _steady_history(41)
    result = _lag(history[-1].log_end - 150, history, history[-1].t_ms - 120_000)
    assert result.seconds == 0 and result.doubtful and "clock went back" in result.note


def test_a_record_timestamp_in_the_future_shows_zero_and_doubtful():
    timeline = Timeline([OffsetTime(150, T0 + 90_000, exact=True)])
    result = lag_seconds(committed=150, log_start=0, log_end=300, timeline=timeline, now_ms=T0)
    assert result.seconds == 0 and result.doubtful and "in the future" in result.note


def test_producer_clocks_ahead_of_the_collector_beyond_a_second_are_doubtful():
    timeline = Timeline([OffsetTime(99, T0 + 5_000, exact=True), OffsetTime(199, T0, exact=False)])
    result = lag_seconds(committed=150, log_start=0, log_end=300, timeline=timeline, now_ms=T0 + 60_000)
    assert result.doubtful and result.seconds == 60 and "Clocks disagree" in result.note


def test_a_groups_lag_in_seconds_is_its_worst_partition_with_its_method():
    group = group_lag_seconds(
        {
            ("t", 0): LagSeconds(0.0, CAUGHT_UP, False, "Caught up."),
            ("t", 1): LagSeconds(120.0, EXTRAPOLATED, True, "x"),
            ("t", 2): LagSeconds(30.0, INTERPOLATED, False, "y"),
        }
    )
    assert (group.seconds, group.method, group.doubtful, group.partition) == (120.0, EXTRAPOLATED, True, ("t", 1))


def test_a_caught_up_group_lags_zero_seconds():
    group = group_lag_seconds(
        {("t", 0): LagSeconds(0.0, CAUGHT_UP, False, ""), ("t", 1): LagSeconds(0.0, CAUGHT_UP, False, "")}
    )
    assert group.seconds == 0 and group.method == CAUGHT_UP and not group.doubtful


def test_a_group_with_an_unknown_partition_is_doubtful():
    group = group_lag_seconds(
        {("t", 0): LagSeconds(5.0, INTERPOLATED, False, ""), ("t", 1): LagSeconds(None, UNKNOWN, False, "")}
    )
    assert group.seconds == 5 and group.doubtful
    assert group_lag_seconds({}).seconds is None
