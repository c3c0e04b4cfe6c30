"""The log history each topic row carries from round to round."""

import itertools

from groups.estimates import LogRound
from groups.snapshot import timelines


def _append(history, t, start, end, keep_offset=None, min_rounds=3, max_rounds=240):
    return timelines.append_round(
        history, LogRound(t, start, end), keep_offset=keep_offset, min_rounds=min_rounds, max_rounds=max_rounds
    )


def test_a_run_of_unchanged_logs_keeps_its_first_and_last_round():
    history = []
    for t in range(10):
        history = _append(history, t, 0, 50, keep_offset=10)
    assert [(r.t_ms, r.log_end) for r in history] == [(0, 50), (9, 50)]
    history = _append(history, 10, 0, 60, keep_offset=10)
    assert [r.t_ms for r in history] == [0, 9, 10]


def test_rounds_before_the_one_that_dates_the_oldest_lagging_offset_are_dropped():
    history = []
    for t in range(20):
        history = _append(history, t, 0, 10 * t, keep_offset=105)
    assert history[0].log_end == 100 and history[-1].t_ms == 19


def test_without_a_lagging_group_only_the_window_is_kept():
    history = []
    for t in range(20):
        history = _append(history, t, 0, 10 * t)
    assert [r.t_ms for r in history] == [17, 18, 19]


def test_a_long_history_is_thinned_in_its_older_half_and_keeps_its_recent_rounds_whole():
    history = []
    for t in range(300):
        history = _append(history, t, 0, 10 * t, keep_offset=0, max_rounds=100)
    assert len(history) <= 100
    assert [r.t_ms for r in history[-3:]] == [297, 298, 299]
    assert history[0].t_ms == 0  # the round that dates the oldest offset stays
    gaps = [b.t_ms - a.t_ms for a, b in itertools.pairwise(history)]
    assert gaps[0] > gaps[-1] == 1


def test_histories_survive_encoding():
    histories = {0: [LogRound(1, 0, 5, 4, 900), LogRound(2, 1, 6, None, None)], 3: []}
    assert timelines.decode(timelines.encode(histories)) == histories
