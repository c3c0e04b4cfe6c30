"""The round's evaluation and the snapshot rows' compact fields, from facts alone."""

from dataclasses import replace

import pytest

from groups.kafka import TP, Member
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading
from groups.snapshot import rows, timelines
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate
from groups.templatetags.console import figure_partition, lag_seconds


def _reading(t_ms, groups, ends, topics=None):
    topics = topics or {
        tp.topic: TopicReading(tp.topic, 1 + max(p.partition for p in ends if p.topic == tp.topic), False)
        for tp in ends
    }
    return ClusterReading(
        t_ms=t_ms,
        groups={g.group_id: g for g in groups},
        topics=topics,
        partitions={tp: PartitionReading(*e) for tp, e in ends.items()},
    )


def _group(group_id, committed, members=(), state="Empty"):
    return GroupReading(group_id, state, "classic", tuple(members), committed)


def _carry(evaluated):
    return Carried(
        window_ms=evaluated.window_ms,
        group_windows={g.group_id: g.window for g in evaluated.groups},
        topic_windows={t.topic: t.window for t in evaluated.topics},
    )


def test_a_group_row_sums_its_partition_lags_and_lists_assigned_partitions_without_commits():
    alice = Member("m-1", "app-a", "/10.0.0.1", None, (TP("t", 0), TP("t", 1)))
    reading = _reading(
        1000,
        [_group("g", {TP("t", 0): 4, TP("u", 0): 12}, [alice], "Stable")],
        {TP("t", 0): (0, 10), TP("t", 1): (0, 7), TP("u", 0): (2, 10)},
    )
    row = evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10).groups[0]
    assert (row.state, row.members, row.partitions, row.topics) == ("Stable", 1, 3, ["t", "u"])
    # A commit past the end keeps its negative lag, as the tool prints it, but counts 0 in the total.
    assert row.lag == 6
    details = {(d.topic, d.partition): d for d in rows.decode_group_detail(row.detail)}
    assert details["t", 0].lag == 6 and details["t", 0].owner.client_id == "app-a"
    assert details["t", 1].committed is None and details["t", 1].lag is None and details["t", 1].log_end == 7
    assert details["u", 0].owner is None and details["u", 0].log_start == 2


def test_a_group_without_any_known_lag_has_no_lag_rather_than_zero():
    reading = _reading(1000, [_group("g", {TP("gone", 0): 5})], {TP("t", 0): (0, 1)})
    row = evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10).groups[0]
    assert row.lag is None and row.partitions == 1


def test_a_group_without_committed_offsets_or_members_is_new_not_ok_and_one_with_members_stays_ok():
    reading = _reading(
        1000,
        [
            _group("dropped", {}),
            _group("joining", {}, [Member("m-1", "app", "/10.0.0.1", None, (TP("t", 0),))], "Stable"),
        ],
        {TP("t", 0): (0, 1)},
    )
    dropped, joining = evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10).groups
    assert dropped.status == "NEW" and "topics were deleted or it never committed" in dropped.status_reason
    assert dropped.lag is None
    assert joining.status == "OK"


def test_the_window_carries_each_partitions_observations_and_keeps_the_last_n_rounds():
    carried = Carried()
    for round_number, committed in enumerate([1, 2, 3, 4], start=1):
        reading = _reading(
            round_number * 1000, [_group("g", {TP("t", 0): committed})], {TP("t", 0): (0, 10 * round_number)}
        )
        evaluated = evaluate(reading, carried, ConsoleFacts(), window_rounds=3)
        carried = _carry(evaluated)
    assert evaluated.window_ms == (2000, 3000, 4000)
    assert rows.decode_window(evaluated.groups[0].window) == {"t": {0: [2, 3, 4]}}
    assert rows.decode_window(evaluated.topics[0].window) == {"t": {0: [20, 30, 40]}}


def test_a_partition_first_seen_later_has_a_shorter_window_aligned_to_the_newest_rounds():
    first = evaluate(
        _reading(1000, [_group("g", {TP("t", 0): 1})], {TP("t", 0): (0, 5), TP("t", 1): (0, 5)}),
        Carried(),
        ConsoleFacts(),
        window_rounds=10,
    )
    second = evaluate(
        _reading(2000, [_group("g", {TP("t", 0): 2, TP("t", 1): 3})], {TP("t", 0): (0, 5), TP("t", 1): (0, 5)}),
        _carry(first),
        ConsoleFacts(),
        window_rounds=10,
    )
    assert second.window_ms == (1000, 2000)
    assert rows.decode_window(second.groups[0].window) == {"t": {0: [1, 2], 1: [3]}}
    third = evaluate(
        _reading(3000, [_group("g", {TP("t", 0): 2, TP("t", 1): 4})], {TP("t", 0): (0, 5), TP("t", 1): (0, 5)}),
        _carry(second),
        ConsoleFacts(),
        window_rounds=10,
    )
    assert rows.decode_window(third.groups[0].window) == {"t": {0: [1, 2, 2], 1: [3, 4]}}


def test_a_group_gone_from_the_reading_is_gone_from_the_rows_and_one_back_later_starts_a_new_window():
    ends = {TP("t", 0): (0, 5)}
    first = evaluate(
        _reading(1000, [_group("a", {TP("t", 0): 1}), _group("b", {TP("t", 0): 2})], ends),
        Carried(),
        ConsoleFacts(),
        window_rounds=10,
    )
    second = evaluate(
        _reading(2000, [_group("a", {TP("t", 0): 1})], ends), _carry(first), ConsoleFacts(), window_rounds=10
    )
    assert [g.group_id for g in second.groups] == ["a"]
    third = evaluate(
        _reading(3000, [_group("a", {TP("t", 0): 1}), _group("b", {TP("t", 0): 4})], ends),
        _carry(second),
        ConsoleFacts(),
        window_rounds=10,
    )
    windows = {g.group_id: rows.decode_window(g.window) for g in third.groups}
    assert windows == {"a": {"t": {0: [1, 1, 1]}}, "b": {"t": {0: [4]}}}


def test_a_topic_row_lists_its_partitions_and_the_groups_reading_it_with_their_lag_there():
    reading = _reading(
        1000,
        [_group("a", {TP("t", 0): 1, TP("t", 1): 2, TP("u", 0): 0}), _group("b", {TP("t", 1): 5}), _group("c", {})],
        {TP("t", 0): (0, 10), TP("t", 1): (1, 6), TP("u", 0): (0, 3)},
        topics={
            "t": TopicReading("t", 2, False),
            "u": TopicReading("u", 1, False),
            "idle": TopicReading("idle", 1, False),
            "__consumer_offsets": TopicReading("__consumer_offsets", 1, True),
        },
    )
    topics = {t.topic: t for t in evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10).topics}
    t = topics["t"]
    assert (t.partitions, t.messages, t.groups, t.lag) == (2, 10 + 5, 2, (9 + 4) + 1)
    partitions, groups = rows.decode_topic_detail(t.detail)
    assert [(p.partition, p.log_start, p.log_end) for p in partitions] == [(0, 0, 10), (1, 1, 6)]
    assert [(g.group_id, g.partitions, g.lag) for g in groups] == [("a", 2, 13), ("b", 1, 1)]
    idle = topics["idle"]
    assert (idle.groups, idle.lag, idle.messages) == (0, None, None)
    assert topics["__consumer_offsets"].internal


def test_replay_checkpoint_groups_carry_their_operation():
    reading = _reading(
        1000, [_group("console-replay-abc", {TP("t", 0): 3}), _group("app", {TP("t", 0): 3})], {TP("t", 0): (0, 5)}
    )
    facts = ConsoleFacts(replay_operations={"console-replay-abc": 42})
    by_id = {g.group_id: g for g in evaluate(reading, Carried(), facts, window_rounds=10).groups}
    assert by_id["console-replay-abc"].replay_operation_id == 42
    assert by_id["app"].replay_operation_id is None


def test_a_topics_counts_leave_replay_checkpoint_groups_out_but_its_detail_keeps_them_for_its_page():
    reading = _reading(
        1000,
        [_group("console-replay-abc", {TP("t", 0): 1}), _group("app", {TP("t", 0): 4})],
        {TP("t", 0): (0, 5, 4, 900)},  # the newest record, offset 4, written at 0.9 s
    )
    facts = ConsoleFacts(replay_operations={"console-replay-abc": 42})
    (topic,) = evaluate(reading, Carried(), facts, window_rounds=10).topics
    # Only the application's group: 1 behind, whose record is 0.1 s old; the checkpoint's 4 are not counted.
    assert (topic.groups, topic.lag, topic.max_lag_seconds) == (1, 1, 0.1)
    _, groups = rows.decode_topic_detail(topic.detail)
    assert [(g.group_id, g.lag) for g in groups] == [("app", 1), ("console-replay-abc", 4)]


def test_the_summary_counts_groups_by_state_and_type_and_the_unreadable_ones():
    reading = _reading(
        1000,
        [
            _group("a", {}),
            _group("b", {}, state="Stable"),
            GroupReading("c", "Empty", "consumer", (), {}, error="no ACL"),
        ],
        {TP("t", 0): (0, 1)},
    )
    evaluated = evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10)
    summary = evaluated.summary
    assert summary["by_state"] == {"Empty": 2, "Stable": 1}
    assert summary["by_type"] == {"classic": 2, "consumer": 1}
    assert summary["unreadable_groups"] == 1
    unreadable = evaluated.groups[2]
    assert (unreadable.status, unreadable.status_reason, unreadable.lag) == ("", "no ACL", None)


def test_group_detail_survives_encoding_with_shared_owners():
    owner = rows.Owner("m", "c", "/h", "static-1")
    details = [
        rows.PartitionDetail("t", 0, 5, 0, 9, 4, 1.5, "OK", owner),
        rows.PartitionDetail("t", 1, None, None, None, None, None, "", None),
        rows.PartitionDetail("u", 0, 1, 0, 1, 0, 0.0, "OK", owner),
    ]
    text = rows.encode_group_detail(details)
    assert text.count('"m"') == 1
    assert rows.decode_group_detail(text) == details


PERIOD = 15_000


NO_FACTS = ConsoleFacts()


def _rounds(
    ends_and_commits,
    *,
    members=(),
    members_from=0,
    facts=NO_FACTS,
    window_rounds=10,
    retention_ms=None,
    log_start=0,
):
    """Evaluate one round per (log end, committed) pair on topic t partition 0, PERIOD apart; `members`
    from round `members_from` on."""
    carried, evaluated = Carried(), None
    everyone = members
    for i, (log_end, committed) in enumerate(ends_and_commits):
        members = everyone if i >= members_from else ()
        reading = ClusterReading(
            t_ms=1_000_000 + i * PERIOD,
            groups={
                "g": GroupReading(
                    "g",
                    "Stable" if members else "Empty",
                    "classic",
                    tuple(members),
                    {TP("t", 0): committed} if committed is not None else {},
                )
            },
            topics={"t": TopicReading("t", 1, False, retention_ms)},
            partitions={TP("t", 0): PartitionReading(log_start, log_end)},
        )
        evaluated = evaluate(reading, carried, facts, window_rounds=window_rounds)
        carried = Carried(
            evaluated.window_ms,
            {g.group_id: g.window for g in evaluated.groups},
            {t.topic: t.window for t in evaluated.topics},
            {t.topic: t.history for t in evaluated.topics},
        )
    return evaluated


def test_a_group_that_stopped_committing_while_producers_write_turns_err_with_its_lag_in_seconds():
    # 10 records a round; the group committed 100 and stopped: offset 100 was appended in round 0.
    evaluated = _rounds([(100 + 10 * i, 100) for i in range(12)])
    row = evaluated.groups[0]
    assert row.status == "ERR" and "STOP" in row.status_reason
    assert row.lag == 110
    # Offset 100 is the log end of round 0: appended just after it, between round 0 and round 1.
    assert 11 * PERIOD / 1000 - 15 <= row.lag_seconds <= 11 * PERIOD / 1000
    assert row.lag_seconds_method == "interpolated" and not row.lag_seconds_doubtful
    # The group has no members: not slow consumers, none at all.
    assert row.catch_up_note == "No members consume: the lag grows at 0.67 msg/s."
    partition = rows.decode_group_detail(row.detail)[0]
    assert partition.status == "STOP" and partition.status_reason


def test_a_group_without_members_moved_by_a_reset_still_falls_behind_at_the_producers_rate():
    # 10 records a round; the group sat at 100, then a reset moved it to 150 (the review's to-datetime case).
    commits = [100] * 8 + [150] * 4
    row = _rounds([(100 + 10 * i, c) for i, c in enumerate(commits)], retention_ms=3_600_000).groups[0]
    assert row.catch_up_note == "No members consume: the lag grows at 0.67 msg/s."
    # Its oldest unread record ages as the clock does: the margin is retention less its age, not "never".
    assert row.retention_margin_seconds is not None
    assert row.retention_margin_seconds == pytest.approx(3600 - row.lag_seconds, abs=1)


def test_a_group_committing_without_members_is_measured_as_a_consumer_not_told_nobody_consumes():
    # Flink, Spark or an assign() consumer: no members listed, yet the offset advances every round.
    # 10 records a round, 5 committed a round: falling behind at 0.33 msg/s, not at the producers' 0.67.
    row = _rounds([(100 + 10 * i, 50 + 5 * i) for i in range(12)]).groups[0]
    assert row.members == 0
    assert row.catch_up_note == "Falling behind at 0.33 msg/s."
    # Faster than the producers: it catches up, at its own rate.
    catching = _rounds([(100 + 5 * i, 20 + 10 * i) for i in range(12)]).groups[0]
    assert catching.catch_up_note.startswith("Caught up in about") and catching.catch_up_seconds > 0
    # A consumer killed without leaving: its offsets advanced every round, then not for three. Gone, not
    # keeping pace (the review's case).
    gone = _rounds([(100 + 10 * i, 50 + 10 * min(i, 8)) for i in range(12)]).groups[0]
    assert gone.catch_up_note == "No members consume: the lag grows at 0.67 msg/s."
    # One that commits every fourth round keeps its cadence: still a consumer.
    batches = _rounds([(100 + 10 * i, 40 * (i // 4)) for i in range(12)]).groups[0]
    assert not batches.catch_up_note.startswith("No members consume")


def test_a_consumer_back_on_a_stopped_group_is_judged_from_when_it_took_the_partition():
    reader = Member("m-1", "app-a", "/10.0.0.1", None, (TP("t", 0),))
    stopped = [(500, 100)] * 12
    assert _rounds(stopped).groups[0].status == "ERR"
    # Back in the last round: not judged yet, rather than a stall across the window it was not there for.
    back = _rounds(stopped, members=[reader], members_from=11).groups[0]
    assert back.status == "NEW" and "took the partition in the latest round" in back.status_reason + back.detail
    # Three rounds back without moving: still not judged, since when it took the partition.
    held = _rounds(stopped, members=[reader], members_from=9).groups[0]
    partition = rows.decode_group_detail(held.detail)[0]
    assert (held.status, partition.status) == ("NEW", "NEW")
    assert partition.status_reason.startswith(f"A consumer took the partition {2 * PERIOD // 1000}s ago")
    # A whole window back without moving: a stall.
    assert _rounds([(500, 100)] * 22, members=[reader], members_from=12).groups[0].status == "ERR"


def test_a_caught_up_group_is_ok_with_no_lag_in_seconds():
    row = _rounds([(100 + 10 * i, 100 + 10 * i) for i in range(12)]).groups[0]
    assert (row.status, row.lag, row.lag_seconds, row.lag_seconds_method) == ("OK", 0, 0.0, "caught-up")
    assert row.catch_up_seconds == 0.0 and row.retention_margin_seconds is None


def test_a_rewind_made_by_the_consoles_own_operation_shows_as_a_reset_by_that_operation():
    commits = [100] * 6 + [0] * 6
    moves = ConsoleFacts(moves={"g": [(17, 1_000_000 + 5 * PERIOD + 2_000)]})
    row = _rounds([(100, c) for c in commits], facts=moves).groups[0]
    assert row.status == "RESET" and row.operation_id == 17 and "#17" in row.status_reason
    unexplained = _rounds([(100, c) for c in commits]).groups[0]
    assert unexplained.status != "RESET"


def test_records_already_deleted_unread_show_as_a_lost_retention_margin():
    evaluated = _rounds([(100, 5)])
    reading_row = evaluated.groups[0]
    assert reading_row.retention_margin_seconds is None  # log start 0: nothing lost yet
    carried, evaluated = Carried(), None
    reading = ClusterReading(
        t_ms=1_000_000,
        groups={"g": GroupReading("g", "Empty", "classic", (), {TP("t", 0): 5})},
        topics={"t": TopicReading("t", 1, False, 60_000)},
        partitions={TP("t", 0): PartitionReading(20, 100)},
    )
    row = evaluate(reading, carried, ConsoleFacts(), window_rounds=10).groups[0]
    assert row.retention_margin_seconds == 0.0 and "already lost" in row.retention_note
    assert rows.decode_group_detail(row.detail)[0].retention_state == "lost"


def test_a_stopped_groups_reason_says_how_much_of_its_lag_retention_deleted_unread():
    # Committed 5, log start 20: Kafka's lag (95) counts 15 records no consumer can read any more.
    row = _rounds([(100, 5)] * 12, log_start=20).groups[0]
    partition = rows.decode_group_detail(row.detail)[0]
    assert partition.status == "STOP" and row.lag == 95
    assert "95 messages wait. 15 of them were deleted by retention before being read." in (partition.status_reason)
    kept = rows.decode_group_detail(_rounds([(100, 5)] * 12).groups[0].detail)[0]
    assert kept.status == "STOP" and "deleted by retention" not in kept.status_reason


def test_the_tooltip_of_a_figure_whose_record_retention_deleted_promises_no_correction():
    # Committed 5, log start 20, the log growing: an extrapolated figure that no read of offset 5 will correct.
    row = _rounds([(100 + 10 * i, 5) for i in range(3)], log_start=20).groups[0]
    partition = figure_partition(row)
    assert partition is not None and (partition.lag_seconds_method, partition.lag_seconds_doubtful) == (
        "extrapolated",
        True,
    )
    shown = lag_seconds(row.lag_seconds, row.lag_seconds_method, True, group=row, partition=partition)
    assert "deleted by retention" in shown and "will not be corrected" in shown
    assert "until the collector reads" not in shown
    # The group list leaves the detail unread: it says what may be, from the lost retention margin.
    listed = lag_seconds(row.lag_seconds, row.lag_seconds_method, True, group=row)
    assert row.retention_margin_seconds == 0 and "is one of them, it will not be corrected" in listed
    # A margin of 0 s whose records are only deletable now has lost nothing yet.
    deletable = replace(row, retention_note="The oldest unread record is 2m old. It is already deletable.")
    listed = lag_seconds(row.lag_seconds, row.lag_seconds_method, True, group=deletable)
    assert "is one of them" not in listed and "treat it as a hint" in listed
    kept = _rounds([(100 + 10 * i, 5) for i in range(3)]).groups[0]
    shown = lag_seconds(kept.lag_seconds, kept.lag_seconds_method, True, group=kept, partition=figure_partition(kept))
    assert "until the collector reads the record" in shown and "deleted" not in shown


def test_a_topic_rows_history_reaches_back_to_its_most_lagging_group_only():
    evaluated = _rounds([(100 + 10 * i, 100) for i in range(30)], window_rounds=5)
    history = timelines.decode(evaluated.topics[0].history)[0]
    assert history[0].log_end <= 100 < history[1].log_end  # the round that dates offset 100 is kept
    caught_up = _rounds([(100 + 10 * i, 100 + 10 * i) for i in range(30)], window_rounds=5)
    assert len(timelines.decode(caught_up.topics[0].history)[0]) == 5


def test_a_topics_largest_lag_in_seconds_keeps_the_method_and_doubt_of_the_group_figure_behind_it():
    # The group committed 10 before the first round, which saw the log end at 100 and then 150 and 200:
    # its record is older than the history, so its age is extrapolated, and doubtful.
    evaluated = _rounds([(100, 10), (150, 10), (200, 10)])
    (group,), (topic,) = evaluated.groups, evaluated.topics
    assert (group.lag_seconds_method, group.lag_seconds_doubtful) == ("extrapolated", True)
    assert (topic.max_lag_seconds, topic.max_lag_seconds_method, topic.max_lag_seconds_doubtful) == (
        group.lag_seconds,
        "extrapolated",
        True,
    )
    caught_up = _rounds([(100, 100), (150, 150)]).topics[0]
    assert (caught_up.max_lag_seconds, caught_up.max_lag_seconds_method, caught_up.max_lag_seconds_doubtful) == (
        0.0,
        "caught-up",
        False,
    )


def _after_a_gap(log_start):
    """Two rounds 90 minutes apart (the collector was stopped); the group committed 50 meanwhile."""
    t0, gap_ms = 1_000_000_000, 5_400_000
    topics = {"t": TopicReading("t", 1, False)}
    first = evaluate(
        ClusterReading(t_ms=t0, groups={}, topics=topics, partitions={TP("t", 0): PartitionReading(0, 0)}),
        Carried(),
        ConsoleFacts(),
        window_rounds=10,
    )
    carried = Carried(
        first.window_ms,
        {},
        {t.topic: t.window for t in first.topics},
        {t.topic: t.history for t in first.topics},
    )
    reading = ClusterReading(
        t_ms=t0 + gap_ms,
        groups={"g": _group("g", {TP("t", 0): 50})},
        topics=topics,
        partitions={TP("t", 0): PartitionReading(log_start, 100)},
    )
    return evaluate(reading, carried, ConsoleFacts(), window_rounds=10)


def test_a_figure_bracketed_across_a_collector_gap_is_left_for_the_dating_task_unless_its_record_is_gone():
    wide = _after_a_gap(log_start=0)
    row = wide.groups[0]
    assert (row.lag_seconds_method, row.lag_seconds_doubtful) == ("interpolated", True)
    assert wide.summary["undated_offsets"] == 1
    # Deleted by retention: no read would date it, so it asks for none.
    gone = _after_a_gap(log_start=60)
    assert gone.groups[0].lag_seconds_doubtful and gone.summary["undated_offsets"] == 0


@pytest.mark.parametrize(("kind", "warned"), [("streams", False), ("classic", True)])
def test_a_streams_groups_own_repartition_purges_give_no_retention_forecast(kind, warned):
    # The log start of app-words-repartition:0 moved 0 -> 50 -> 100 in 30 s: a classic reader 5 records above it
    # is about to lose them; a streams application purges its repartition topics itself, only what it read.
    topic = "app-words-repartition"
    carried, row = Carried(), None
    for t_s, log_start in ((0, 0), (15, 50), (30, 100)):
        reading = _reading(
            1_700_000_000_000 + t_s * 1000,
            [GroupReading("app", "Empty", kind, (), {TP(topic, 0): 105})],
            {TP(topic, 0): (log_start, 200)},
            topics={topic: TopicReading(topic, 1, False, 604_800_000)},
        )
        evaluated = evaluate(reading, carried, ConsoleFacts(), window_rounds=10)
        carried = Carried(
            window_ms=evaluated.window_ms,
            group_windows={g.group_id: g.window for g in evaluated.groups},
            topic_windows={t.topic: t.window for t in evaluated.topics},
            topic_histories={t.topic: t.history for t in evaluated.topics},
        )
        (row,) = evaluated.groups
    (detail,) = rows.decode_group_detail(row.detail)
    assert (detail.retention_state == "warning") is warned, (detail.retention_state, row.retention_note)
