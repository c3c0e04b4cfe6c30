from groups.group_status import evaluate_group
from groups.status import (
    ConsoleMove,
    Observation,
    PartitionStatus,
    Status,
    evaluate_partition,
)

PERIOD = 15_000


def _rounds(committed, log_end, start_ms=1_000_000):
    """One observation per collection round, PERIOD apart; an int log end stands for all rounds."""
    ends = log_end if isinstance(log_end, list) else [log_end] * len(committed)
    return [Observation(start_ms + i * PERIOD, c, e) for i, (c, e) in enumerate(zip(committed, ends))]


def _now(rounds):
    return rounds[-1].t_ms + 1_000


def _evaluate(rounds, **kwargs):
    return evaluate_partition(rounds, now_ms=kwargs.pop("now_ms", _now(rounds)), **kwargs)


def test_a_partition_without_observations_is_ok():
    assert evaluate_partition([], now_ms=0).status is Status.OK


def test_a_partition_whose_latest_round_has_no_commit_is_ok():
    rounds = _rounds([5] * 9 + [None], 100)
    result = _evaluate(rounds)
    assert result.status is Status.OK and "No committed offset" in result.reason


def test_an_incomplete_window_behind_is_new_not_judged_even_when_nothing_moves():
    result = _evaluate(_rounds([100] * 5, 500))
    assert result.status is Status.NEW and "5 of 10 rounds" in result.reason and "400 messages wait" in result.reason


def test_an_incomplete_window_caught_up_is_ok_at_once():
    assert _evaluate(_rounds([500] * 2, 500)) == PartitionStatus(Status.OK, "Caught up.")


def test_a_lower_minimum_complete_judges_a_partial_window():
    assert _evaluate(_rounds([100] * 5, 500), minimum_complete=0.5).status is Status.STOP


def test_two_rounds_are_needed_whatever_the_minimum_complete():
    assert _evaluate(_rounds([100], 500), minimum_complete=0).status is Status.NEW


def test_a_caught_up_partition_is_ok():
    result = _evaluate(_rounds([500] * 10, 500))
    assert result == PartitionStatus(Status.OK, "Caught up.")


def test_a_lag_within_the_allowed_lag_is_ok():
    result = _evaluate(_rounds([100] * 10, 103), allowed_lag=5)
    assert result.status is Status.OK and "within the allowed 5" in result.reason


def test_a_lag_above_the_allowed_lag_is_judged():
    assert _evaluate(_rounds([100] * 10, 106), allowed_lag=5).status is Status.STOP


def test_a_partition_nobody_consumes_whose_offset_never_moves_is_stop():
    result = _evaluate(_rounds([100] * 10, 500))
    assert result.status is Status.STOP and "400 messages wait" in result.reason
    # The window saw no commit at all: it bounds the silence from below, and says so.
    assert result.reason.startswith(
        "No commit through the whole status window (2m 16s; it may have stopped long before): the committed offset "
        "stayed at 100, 400 messages wait."
    )


def test_stop_needs_the_silence_to_outlast_the_commits_before_it():
    moved_late = _rounds([10, 20, 30, 40, 50, 60, 70, 80, 100, 100], 500)
    moved_early = _rounds([10, 20, 30, 100, 100, 100, 100, 100, 100, 100], 500)
    assert _evaluate(moved_late).status is Status.OK
    stopped = _evaluate(moved_early)
    assert stopped.status is Status.STOP
    # The commit was seen in the window, so the silence is measured, not bounded.
    assert stopped.reason.startswith("No commit for ") and "offset 100, 400 messages wait" in stopped.reason


def test_stop_is_not_raised_for_a_partition_that_was_caught_up_within_the_window():
    # Caught up at first; the producer wrote since and the offset has not moved yet.
    rounds = _rounds([100] * 10, [100, 100, 120, 140, 160, 180, 200, 220, 240, 260])
    assert _evaluate(rounds).status is Status.OK


def test_stop_comes_before_rewind_as_in_burrow():
    rounds = _rounds([100, 100, 100, 50, 50, 50, 50, 50, 50, 50], 500)
    assert _evaluate(rounds).status is Status.STOP


def test_an_owned_partition_whose_offset_never_moves_is_stall_not_stop():
    result = _evaluate(_rounds([100] * 10, 500), has_consumer=True)
    assert result.status is Status.STALL and "stayed at 100" in result.reason


def test_stall_needs_every_lag_above_the_allowed_lag():
    rounds = _rounds([100] * 10, [100] + [500] * 9)
    assert _evaluate(rounds, has_consumer=True).status is Status.OK


def test_an_offset_that_went_back_and_stayed_back_is_rewind():
    rounds = _rounds([100, 110, 120, 130, 40, 50, 60, 70, 80, 90], 500)
    result = _evaluate(rounds, has_consumer=True)
    assert result.status is Status.REWIND and "from 130 to 40" in result.reason


def test_a_rewind_that_recovered_within_the_window_is_not_rewind():
    rounds = _rounds([100, 110, 120, 130, 40, 80, 120, 140, 160, 180], 200)
    assert _evaluate(rounds, has_consumer=True).status is Status.OK


def test_rewind_comes_before_stall_as_in_burrow():
    rounds = _rounds([130] + [40] * 9, 500)
    assert _evaluate(rounds, has_consumer=True).status is Status.REWIND


def test_a_lag_that_grows_every_round_is_warn():
    rounds = _rounds(
        [100, 110, 120, 130, 140, 150, 160, 170, 180, 190], [200, 220, 240, 260, 280, 300, 320, 340, 360, 380]
    )
    result = _evaluate(rounds, has_consumer=True)
    assert result.status is Status.WARN and "from 100 to 190" in result.reason


def test_a_lag_that_holds_while_the_offset_moves_is_warn_and_says_it_held():
    # Burrow's WARN asks only that the lag never went down: a lag of 50 in every round, with producers
    # writing 10 a round, is WARN.
    committed = [100 + 10 * n for n in range(10)]
    result = _evaluate(_rounds(committed, [c + 50 for c in committed]), has_consumer=True)
    assert result.status is Status.WARN
    assert result.reason == "Lag held at 50 through the window: the consumer does not gain on producers."


def test_a_lag_within_one_rounds_production_is_keeping_pace_not_warn():
    # The review's healthy consumers: sampled once a round, always a record or a few behind a busy log.
    committed = [100 + 10 * n for n in range(10)]
    held = _evaluate(_rounds(committed, [c + 1 for c in committed]), has_consumer=True)
    assert held == PartitionStatus(Status.OK, "Keeping pace: lag 1, within what producers write in a round (10).")
    growing = _evaluate(_rounds(committed, [c + 1 + n // 5 for n, c in enumerate(committed)]), has_consumer=True)
    assert growing.status is Status.OK and growing.reason.startswith("Keeping pace: lag 2,")


def test_a_lag_that_went_down_once_is_ok():
    rounds = _rounds(
        [100, 110, 120, 130, 140, 150, 160, 170, 180, 190], [200, 220, 240, 260, 280, 300, 320, 340, 340, 380]
    )
    assert _evaluate(rounds, has_consumer=True).status is Status.OK


def test_a_committed_offset_past_the_log_end_is_ahead_with_an_explanation():
    result = _evaluate(_rounds([1000, 1000], [1200, 50]))
    assert result.status is Status.AHEAD
    assert "past the log end 50" in result.reason and "OFFSET_OUT_OF_RANGE" in result.reason


def test_a_console_reset_to_earliest_in_the_window_is_reset_not_rewind():
    rounds = _rounds([900, 910, 920, 0, 0, 10, 20, 30, 40, 50], 1000)
    move = ConsoleMove(operation_id=12, t_ms=rounds[3].t_ms - 4_000)
    result = _evaluate(rounds, moves=[move], has_consumer=True)
    assert result == PartitionStatus(Status.RESET, "Reset by operation #12: offset 920 → 0.", operation_id=12)
    assert _evaluate(rounds, has_consumer=True).status is Status.REWIND


def test_a_console_reset_forward_is_reset_even_when_caught_up():
    rounds = _rounds([100] * 5 + [1000] * 5, 1000)
    result = _evaluate(rounds, moves=[ConsoleMove(7, rounds[5].t_ms - 1)])
    assert result.status is Status.RESET and result.operation_id == 7


def test_a_move_stamped_just_after_the_round_that_saw_it_still_explains_it():
    rounds = _rounds([900, 910, 920, 0, 0, 10, 20, 30, 40, 50], 1000)
    result = _evaluate(rounds, moves=[ConsoleMove(3, rounds[3].t_ms + 2_000)], has_consumer=True)
    assert result.status is Status.RESET


def test_a_move_far_from_the_offset_change_explains_nothing():
    rounds = _rounds([900, 910, 920, 0, 0, 10, 20, 30, 40, 50], 1000)
    # The move falls between two rounds that saw the same offset.
    result = _evaluate(rounds, moves=[ConsoleMove(3, rounds[4].t_ms - 1)], has_consumer=True)
    assert result.status is Status.REWIND


def test_a_reset_that_left_the_window_no_longer_shows():
    rounds = _rounds([900, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90], 1000)
    move = ConsoleMove(3, rounds[1].t_ms - 1)
    assert _evaluate(rounds[:10], moves=[move], has_consumer=True).status is Status.RESET
    assert _evaluate(rounds, moves=[move], has_consumer=True).status is Status.OK


def test_the_window_only_holds_the_last_window_length_rounds():
    rounds = _rounds([500] + [100] * 10, 500)
    assert _evaluate(rounds, has_consumer=True).status is Status.STALL
    assert _evaluate(rounds, has_consumer=True, window_length=11).status is Status.REWIND


def test_the_window_restarts_when_the_collectors_clock_goes_back():
    rounds = _rounds([100] * 10, 500)
    stepped_back = rounds[:6] + [Observation(r.t_ms - 60_000, r.committed, r.log_end) for r in rounds[6:]]
    result = _evaluate(stepped_back)
    assert result.status is Status.NEW and "clock went back" in result.reason


def test_a_round_with_a_duplicate_time_replaces_the_earlier_one():
    rounds = _rounds([100] * 10, 500)
    duplicated = rounds[:9] + [Observation(rounds[8].t_ms, 100, 500)]
    assert _evaluate(duplicated).status is Status.NEW
    assert _evaluate(rounds).status is Status.STOP


def test_a_log_end_that_went_down_restarts_the_window_instead_of_reading_as_rewind():
    # The topic was recreated; the consumer fell back to the new log's start.
    rounds = _rounds([900] * 5 + [0, 5, 10, 15, 20], [1000] * 5 + [30, 30, 30, 30, 30])
    result = _evaluate(rounds, has_consumer=True)
    assert result.status is Status.NEW and "log end went down" in result.reason


def test_a_round_without_a_commit_restarts_the_window():
    rounds = _rounds([100] * 4 + [None] + [100] * 5, 500)
    result = _evaluate(rounds)
    assert result.status is Status.NEW and "5 of 10" in result.reason


def test_a_group_without_partitions_is_ok_with_members_and_new_without():
    assert evaluate_group({}).status is Status.OK
    # Neither a committed offset nor a member (Kafka dropped its offsets with its topic): not a green OK.
    dropped = evaluate_group({}, members=False)
    assert dropped.status is Status.NEW and "its topics were deleted or it never committed" in dropped.summary


def test_a_group_still_collecting_its_window_is_new_not_ok_and_says_so():
    # A new Empty group 600 behind: too few rounds to tell keeping up from stopped (the review's case).
    collecting = _evaluate(_rounds([0] * 3, 600), has_consumer=False)
    assert collecting == PartitionStatus(Status.NEW, "Not judged yet: 3 of 10 rounds seen; 600 messages wait.")
    judged = PartitionStatus(Status.OK, "Lag 0 within the allowed 0.")
    alone = evaluate_group({("t", 0): collecting})
    assert (alone.status, alone.summary) == (
        Status.NEW,
        "NEW: 1 partition behind and not judged yet (too few rounds).",
    )
    mixed = evaluate_group({("t", 0): collecting, ("t", 1): judged, ("t", 2): judged})
    assert (mixed.status, mixed.causes) == (Status.NEW, {Status.NEW: (("t", 0),)})
    assert mixed.summary == "NEW: 1 partition behind and not judged yet (too few rounds); the other 2 partitions OK."
    # Any problem outranks it.
    stopped = PartitionStatus(Status.STOP, "No commit.")
    assert evaluate_group({("t", 0): collecting, ("t", 1): stopped}).status is Status.ERR
    assert evaluate_group({("t", 1): judged}).summary == "OK: 1 partition."


def test_a_group_is_as_bad_as_its_worst_partition():
    statuses = {("t", 0): PartitionStatus(Status.OK, ""), ("t", 1): PartitionStatus(Status.WARN, "")}
    group = evaluate_group(statuses)
    assert group.status is Status.WARN and group.causes == {Status.WARN: (("t", 1),)}


def test_stop_stall_rewind_and_ahead_count_as_err_and_keep_their_partitions():
    statuses = {
        ("t", 0): PartitionStatus(Status.STALL, ""),
        ("t", 1): PartitionStatus(Status.STALL, ""),
        ("t", 2): PartitionStatus(Status.STALL, ""),
        ("t", 3): PartitionStatus(Status.STOP, ""),
        ("u", 0): PartitionStatus(Status.AHEAD, ""),
        ("u", 1): PartitionStatus(Status.WARN, ""),
        ("u", 2): PartitionStatus(Status.OK, ""),
    }
    group = evaluate_group(statuses)
    assert group.status is Status.ERR
    assert list(group.causes) == [Status.STALL, Status.AHEAD, Status.STOP]
    assert group.causes[Status.STALL] == (("t", 0), ("t", 1), ("t", 2))
    assert group.summary == "ERR: 3 partitions STALL, 1 partition AHEAD, 1 partition STOP."


def test_a_rewind_alone_makes_the_group_err():
    group = evaluate_group({("t", 0): PartitionStatus(Status.REWIND, ""), ("t", 1): PartitionStatus(Status.OK, "")})
    assert group.status is Status.ERR and group.summary == "ERR: 1 partition REWIND."


def test_a_group_the_console_reset_says_so_with_the_operation():
    statuses = {
        ("t", 0): PartitionStatus(Status.RESET, "", operation_id=12),
        ("t", 1): PartitionStatus(Status.RESET, "", operation_id=12),
        ("t", 2): PartitionStatus(Status.OK, ""),
    }
    group = evaluate_group(statuses)
    assert group.status is Status.RESET and group.operation_ids == (12,)
    assert group.summary == "RESET: 2 partitions reset by operation #12."


def test_a_problem_outranks_a_console_reset():
    statuses = {
        ("t", 0): PartitionStatus(Status.RESET, "", operation_id=12),
        ("t", 1): PartitionStatus(Status.WARN, ""),
    }
    group = evaluate_group(statuses)
    assert group.status is Status.WARN and group.operation_ids == ()


def test_a_consumer_that_just_took_a_stopped_partition_is_not_blamed_for_the_window_before_it():
    # The review's case: a group stopped at 100 for the whole window; its consumer came back this round.
    stopped = _rounds([100] * 10, 500)
    assert _evaluate(stopped).status is Status.STOP
    just_taken = _evaluate(stopped, has_consumer=True, owned_rounds=1)
    assert just_taken == PartitionStatus(
        Status.NEW,
        "A consumer took the partition in the latest round; the committed offset is still 100 and 400 messages "
        "wait: not judged until it has owned the partition through the status window.",
    )
    # Two rounds later it still has not moved: still not judged (it may commit every 30 s, or restore state).
    held = _evaluate(stopped, has_consumer=True, owned_rounds=3)
    assert held.status is Status.NEW
    assert held.reason.startswith(f"A consumer took the partition {2 * PERIOD // 1000}s ago")
    # Through the whole window without moving: a stall.
    assert _evaluate(stopped, has_consumer=True, owned_rounds=10).status is Status.STALL
    # It moved since it came back: consuming.
    moving = _evaluate(_rounds([100] * 8 + [150, 200], 500), has_consumer=True, owned_rounds=2)
    assert moving.status is Status.OK
    # Owned throughout: Burrow's stall, as before.
    assert _evaluate(stopped, has_consumer=True).reason.startswith("A consumer owns the partition")
