import pytest

from groups.estimates import EXTRAPOLATED, INTERPOLATED, LagSeconds, LogRound
from groups.forecasts import (
    GROWING,
    SHRINKING,
    STEADY,
    Rates,
    catch_up,
    lag_trend,
    partition_rates,
    retention_margin,
    retention_margin_by,
)
from groups.status import Observation
from groups.templatetags.console import margin

PERIOD = 15_000
T0 = 1_700_000_000_000
NO_RATES = Rates(None, None)


def _obs(committed, log_end, start_ms=T0):
    return [Observation(start_ms + i * PERIOD, c, e) for i, (c, e) in enumerate(zip(committed, log_end))]


def _margin(committed, log_start=1000, log_end=9000, history=(), rates=NO_RATES, lag=None, retention_ms=None, **kwargs):
    lag = lag or LagSeconds(600.0, INTERPOLATED, False, "")
    return retention_margin(
        committed=committed,
        log_start=log_start,
        log_end=log_end,
        history=list(history),
        rates=rates,
        lag=lag,
        retention_ms=retention_ms,
        **kwargs,
    )


def _advancing_start(rounds, per_s=10, start=0):
    """A log start that retention moves 10 msg/s; after 41 rounds it is at 6000."""
    return [LogRound(T0 + i * PERIOD, start + i * PERIOD // 1000 * per_s, 20_000) for i in range(rounds)]


def test_records_below_the_log_start_are_already_lost():
    result = _margin(800, log_start=1000)
    assert result.state == "lost" and result.lost_records == 200 and result.warn
    assert "Records already lost" in result.note
    # A group row keeps it as 0 s, as it keeps a record deletable now: pages tell them apart by the note.
    assert margin(0.0, result.note) == margin(0.0, "lost") == "records lost"
    deletable = _margin(1000, lag=LagSeconds(120.0, INTERPOLATED, False, ""), retention_ms=60_000)
    assert (deletable.state, deletable.seconds) == ("warning", 0.0) and "already deletable" in deletable.note
    assert margin(0.0, deletable.note) == margin(0.0, "warning") == "deletable now"


def test_a_caught_up_group_never_loses_records():
    assert _margin(9000).state == "never"


def test_the_log_start_rate_against_a_stalled_group_gives_the_margin():
    # The log start advances 10 msg/s and is 3000 records behind the committed offset.
    history = _advancing_start(41)
    result = _margin(9000, log_start=history[-1].log_start, log_end=20_000, history=history, rates=Rates(0.0, 10.0))
    assert result.method == "log-start-rate" and result.seconds == pytest.approx(300)
    assert result.state == "warning" and result.warn


def test_the_warning_threshold_is_a_parameter():
    history = _advancing_start(41)
    result = _margin(
        9000, log_start=history[-1].log_start, log_end=20_000, history=history, rates=Rates(0.0, 10.0), warn_below_s=60
    )
    assert result.state == "ok" and not result.warn


def test_a_group_outrunning_the_log_start_never_loses_records_at_current_rates():
    history = _advancing_start(41)
    result = _margin(9000, log_start=history[-1].log_start, log_end=20_000, history=history, rates=Rates(20.0, 10.0))
    assert result.state == "never" and result.method == "log-start-rate"


def test_a_log_start_that_did_not_move_means_never_unless_retention_ms_says_sooner():
    history = [LogRound(T0 + i * PERIOD, 1000, 9000) for i in range(41)]
    assert _margin(7000, history=history, rates=Rates(0.0, 0.0)).state == "never"
    result = _margin(7000, history=history, rates=Rates(0.0, 0.0), retention_ms=3_600_000)
    assert result.method == "retention-time" and result.seconds == pytest.approx(3000)


def test_retention_ms_against_the_lag_in_seconds_of_a_stalled_group():
    result = _margin(
        7000, rates=Rates(0.0, 10.0), retention_ms=3_600_000, lag=LagSeconds(600.0, EXTRAPOLATED, True, "")
    )
    assert result.method == "retention-time" and result.seconds == pytest.approx(3000)
    assert result.state == "warning" and result.doubtful


def test_a_group_consuming_at_half_the_production_rate_ages_half_as_fast():
    lag = LagSeconds(2400.0, INTERPOLATED, False, "")
    result = _margin(7000, rates=Rates(5.0, 10.0), retention_ms=3_600_000, lag=lag, warn_below_s=600)
    assert result.seconds == pytest.approx(2400) and result.state == "ok"


def test_a_projection_beyond_the_topics_retention_says_so_rather_than_naming_weeks():
    # The review's: 7 days of retention, a consumer reading 98% of what is produced, "350 days".
    week = 7 * 86_400_000
    result = _margin(7000, rates=Rates(9.8, 10.0, GROWING), retention_ms=week)
    assert (result.state, result.seconds) == ("beyond", week / 1000) and not result.warn
    assert result.note.startswith("More than the topic's retention (7d)")
    assert margin(result.seconds, result.state) == margin(result.seconds, result.note)
    assert margin(result.seconds, result.note) == "more than the topic's retention (7d)"
    assert margin(3600.0, "ok") == "1h 00m"


def test_a_partition_whose_lag_is_within_a_rounds_production_keeps_pace_and_has_no_margin():
    # Lag 8 on a topic written 30 messages a round, its rates differing by a batch in the window's ends.
    bursty = dict(
        rates=Rates(9.0, 10.0, GROWING), retention_ms=7 * 86_400_000, lag=LagSeconds(4.4, INTERPOLATED, False, "")
    )
    assert _margin(8992, **bursty).state == "beyond"
    kept = _margin(8992, produced_per_round=30.0, **bursty)
    assert (kept.state, kept.seconds, kept.method) == ("never", None, "retention-time")
    assert kept.note.startswith("Keeping pace: lag 8, within what producers write in a round (30)")
    behind = _margin(8000, produced_per_round=30.0, **bursty)  # lag 1000: a real projection
    assert behind.state == "beyond" and behind.method == "retention-time"


def test_a_lag_that_moves_only_by_a_batch_either_way_is_steady():
    assert lag_trend([5, 7, 4, 6, 5, 6]) == STEADY  # up 1 overall, but it went down by 3 on the way
    assert lag_trend([3, 5, 2, 8, 4, 6, 9]) == STEADY  # up 6 from first to last: one swing, not a trend
    assert lag_trend([80, 100, 5, 9, 25, 50, 67, 85, 102]) == STEADY  # batches of 100, kept up with
    assert lag_trend([0, 0, 0, 1]) == STEADY  # one message is no trend
    assert lag_trend([0, 0, 0, 10, 20, 30]) == GROWING  # a consumer that stopped
    assert lag_trend([100, 300, 250, 500, 450, 700]) == GROWING  # batches, but gaining on it
    assert lag_trend([700, 450, 500, 250, 300, 100]) == SHRINKING
    assert lag_trend([9]) == STEADY


def test_a_group_whose_lag_only_wavers_keeps_pace_whatever_its_rates_differ_by():
    # Over the window: consumed 0.0074 msg/s less than produced, i.e. one message.
    wavering = Rates(0.9926, 1.0, STEADY)
    assert _margin(7000, rates=wavering, retention_ms=604_800_000).state == "never"
    window = _obs([0, 10, 19], [1, 11, 20])
    result = catch_up({("t", 0): window}, rates_of={("t", 0): wavering})
    assert result.state == "holding" and result.note == "Consumers keep pace with producers; the lag is 1 now."
    idle = catch_up({("t", 0): _obs([5, 5, 5], [6, 6, 6])}, rates_of={("t", 0): Rates(0.0, 0.0, STEADY)})
    assert idle.note == "Lag holds at 1: nothing is produced or consumed."
    assert catch_up({("t", 0): window}, rates_of={("t", 0): Rates(0.9926, 1.0, GROWING)}).state == "falling-behind"


def test_a_group_keeping_pace_never_reaches_retention():
    result = _margin(7000, rates=Rates(10.0, 10.0), retention_ms=3_600_000)
    assert result.state == "never" and result.method == "retention-time"


def test_infinite_retention_never_deletes():
    assert _margin(7000, retention_ms=-1).state == "never"


def test_a_record_already_past_retention_is_due_now():
    result = _margin(7000, retention_ms=300_000, rates=Rates(0.0, 10.0))
    assert result.seconds == 0 and "next retention check" in result.note


def test_the_sooner_estimate_wins():
    history = _advancing_start(41)
    result = _margin(
        9000,
        log_start=history[-1].log_start,
        log_end=20_000,
        history=history,
        rates=Rates(0.0, 10.0),
        retention_ms=3_600_000,
    )
    assert result.method == "log-start-rate" and result.seconds == pytest.approx(300)


def test_without_history_or_retention_the_margin_is_unknown():
    result = _margin(7000)
    assert result.state == "unknown" and not result.warn
    assert _margin(7000, history=[LogRound(T0, 1000, 9000)]).state == "unknown"


def test_the_log_start_rate_ignores_history_before_the_topic_was_recreated():
    old = [LogRound(T0 + i * PERIOD, 50_000 + i * 1000, 90_000) for i in range(10)]
    new = [LogRound(old[-1].t_ms + (i + 1) * PERIOD, i * 150, 9000) for i in range(10)]
    result = _margin(3000, log_start=new[-1].log_start, history=old + new, rates=Rates(0.0, 10.0))
    assert result.seconds == pytest.approx((3000 - 1350) / 10)


def test_rates_are_messages_per_second_over_the_recent_window():
    window = _obs([0, 50, 100, 150, 200], [100, 250, 400, 550, 700])
    assert partition_rates(window) == Rates(consume=pytest.approx(50 / 15), produce=pytest.approx(10), trend=GROWING)
    assert partition_rates(window, recent_ms=PERIOD) == Rates(pytest.approx(50 / 15), pytest.approx(10), GROWING)


def test_rates_are_measured_over_the_whole_status_window_so_one_burst_does_not_swing_them():
    # Ten rounds a minute apart: a consumer that paused for three rounds and then read a burst. The last
    # 5 minutes alone gave 4 msg/s; the window, 6.7 msg/s, which the next round's burst barely moves.
    minute = 60_000
    window = _obs([0, 600, 1200, 1800, 2400, 3000, 3000, 3000, 3000, 3600], [i * 600 + 100 for i in range(10)])
    window = [o._replace(t_ms=T0 + i * minute) for i, o in enumerate(window)]
    rates = partition_rates(window)
    assert rates.consume == pytest.approx(3600 / 540) and rates.produce == pytest.approx(10)
    assert partition_rates(window, recent_ms=5 * minute).consume == pytest.approx(4)


def test_rates_restart_after_a_counter_goes_down_or_the_clock_goes_back():
    reset = _obs([500, 600, 0, 30, 60], [1000] * 5)
    assert partition_rates(reset).consume == pytest.approx(2)
    stepped = _obs([0, 30, 60], [0, 30, 60]) + _obs([90, 100], [90, 100], start_ms=T0 - 60_000)
    assert partition_rates(stepped).consume == pytest.approx(10 / 15)


def test_one_round_or_duplicate_times_give_no_rate():
    assert partition_rates(_obs([5], [10])) == Rates(None, None, STEADY)
    assert partition_rates([Observation(T0, 5, 10), Observation(T0, 6, 12)]) == Rates(None, None, STEADY)
    assert partition_rates([]) == Rates(None, None, STEADY)


def test_a_caught_up_group_needs_no_time_to_catch_up():
    result = catch_up({("t", 0): _obs([100, 200], [100, 200])})
    assert result.state == "caught-up" and result.seconds == 0


def test_a_group_faster_than_its_producers_catches_up_in_lag_over_the_net_rate():
    # 20 msg/s consumed, 10 msg/s produced, 1500 behind: 150 s.
    window = _obs([0, 300, 600], [1800, 1950, 2100])
    result = catch_up({("t", 0): window})
    assert result.state == "catching-up" and result.seconds == pytest.approx(150)
    assert (result.consume_rate, result.produce_rate) == (pytest.approx(20), pytest.approx(10))


def test_rates_measured_already_give_the_same_catch_up_as_measuring_them_again():
    windows = {("t", 0): _obs([0, 300, 600], [1800, 1950, 2100]), ("t", 1): _obs([0, 150, 300], [3000, 3000, 3000])}
    rates = {key: partition_rates(window) for key, window in windows.items()}
    assert catch_up(windows, rates_of=rates) == catch_up(windows)


def test_the_slowest_partition_sets_the_groups_catch_up_time():
    fast = _obs([0, 300, 600], [1800, 1950, 2100])
    slow = _obs([0, 150, 300], [3000, 3000, 3000])
    # The slow partition is 2700 behind and gains 10 msg/s on an idle producer.
    assert catch_up({("t", 0): fast, ("t", 1): slow}).seconds == pytest.approx(2700 / 10)


def test_a_group_slower_than_its_producers_is_falling_behind_with_the_rate():
    window = _obs([0, 75, 150], [1000, 1150, 1300])
    result = catch_up({("t", 0): window, ("t", 1): _obs([5, 5, 5], [5, 5, 5])})
    assert result.state == "falling-behind" and result.falling_behind_rate == pytest.approx(5)
    assert result.note == "Falling behind at 5.0 msg/s."


def test_a_stalled_group_on_an_idle_topic_holds_its_lag():
    result = catch_up({("t", 0): _obs([100, 100, 100], [900, 900, 900])})
    assert result.state == "holding" and "holds at 800" in result.note


def test_catch_up_is_unknown_with_a_single_round():
    assert catch_up({("t", 0): _obs([100], [900])}).state == "unknown"
    assert catch_up({}).state == "caught-up"


def test_a_slow_fall_behind_is_told_with_its_own_figure_not_as_zero():
    # Two messages a minute that the group does not read (it reads none): "0.0 msg/s" would say the lag holds.
    t = 1_700_000_000_000
    window = [Observation(t + i * 15_000, 1_000, 1_000 + i * 15 // 25 + 1) for i in range(5)]
    result = catch_up({("t", 0): window})
    assert result.state == "falling-behind" and result.falling_behind_rate is not None
    assert 0 < result.falling_behind_rate < 0.1
    assert result.note == "Falling behind at 0.033 msg/s."


def test_a_retention_margin_longer_than_retention_says_the_oldest_unread_record_ages_slower_than_the_clock():
    # Reading 3 of the 4 msg/s produced: the record at the committed offset ages a quarter second a second.
    margin = retention_margin_by(
        committed=100,
        log_start=0,
        log_end=400,
        advance=None,
        rates=Rates(3.0, 4.0, GROWING),
        lag=LagSeconds(100.0, INTERPOLATED, False, ""),
        retention_ms=3_600_000,
    )
    # (3600 - 100) / 0.25 s, beyond the topic's retention: shown as such, with retention.ms as its seconds.
    assert (margin.state, margin.seconds) == ("beyond", 3600.0)
    assert "reads 3.0 msg/s of the 4.0 msg/s produced, so that record ages 0.25 s a second, not 1." in margin.note
