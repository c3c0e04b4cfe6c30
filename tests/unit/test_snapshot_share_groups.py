"""A share group in the round's evaluation: judged on the position its lag implies (the log end minus the
broker's lag) as a consumer group is on its committed offsets; its rows show the broker's start offsets
and lag, and the share consumer assigned each partition as its owner, none where several are."""

from __future__ import annotations

from dataclasses import replace

from groups.kafka import TP, Member, SharePartitionOffset
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading
from groups.snapshot import rows
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate
from groups.templatetags.console import SEVERITY, figure_partition, lag_seconds

PERIOD_MS = 15_000
T0 = 1_700_000_000_000


def _round(t_ms, groups, share_offsets, ends):
    return ClusterReading(
        t_ms=t_ms,
        groups={g.group_id: g for g in groups},
        topics={
            t: TopicReading(t, 1 + max(tp.partition for tp in ends if tp.topic == t), False)
            for t in {tp.topic for tp in ends}
        },
        partitions={tp: PartitionReading(*e) for tp, e in ends.items()},
        share_offsets=share_offsets,
    )


def _carry(evaluated):
    return Carried(
        window_ms=evaluated.window_ms,
        group_windows={g.group_id: g.window for g in evaluated.groups},
        topic_windows={t.topic: t.window for t in evaluated.topics},
        topic_histories={t.topic: t.history for t in evaluated.topics},
    )


def test_a_share_rows_partitions_carry_start_offsets_and_the_brokers_lag_and_other_rows_are_left_alone():
    member = Member("m-1", "reader", "/10.0.0.1", None, (TP("t", 0), TP("t", 1)))
    other = Member("m-2", "reader-2", "/10.0.0.2", None, (TP("t", 1),))  # shares t:1 with m-1
    share = GroupReading("s", "Stable", "share", (member, other), {})
    classic = GroupReading("c", "Empty", "classic", (), {TP("t", 0): 2})
    offsets = {
        "s": (
            SharePartitionOffset(TP("t", 0), 5, 0, 3),  # 9 - 5 = 4 past the start offset, one acknowledged
            SharePartitionOffset(TP("t", 1), None, None, None),
            SharePartitionOffset(TP("u", 0), 2, 0, 4, "NOT_COORDINATOR"),
        )
    }
    ends = {TP("t", 0): (1, 9), TP("t", 1): (0, 0), TP("u", 0): (0, 6)}
    evaluated = evaluate(_round(T0, [share, classic], offsets, ends), Carried(), ConsoleFacts(), window_rounds=3)
    by_id = {g.group_id: g for g in evaluated.groups}
    row = by_id["s"]
    assert (row.topics, row.partitions, row.lag) == (["t", "u"], 3, 7)
    detail = [
        (p.topic, p.partition, p.committed, p.log_start, p.log_end, p.lag, p.owner, p.status_reason)
        for p in rows.decode_group_detail(row.detail)
    ]
    assert detail == [
        (
            "t",
            0,
            5,
            1,
            9,
            3,
            rows.Owner("m-1", "reader", "/10.0.0.1", None),
            "Not judged yet: 1 of 3 rounds seen; 3 messages wait.",
        ),
        ("t", 1, None, 0, 0, None, None, ""),
        ("u", 0, 2, 0, 6, 4, None, "NOT_COORDINATOR"),
    ]
    # The first round of a window: behind, and not judged yet.
    assert row.status == "NEW" and row.status_reason.startswith("NEW: 2 partitions behind")
    assert (by_id["c"].lag, by_id["c"].partitions) == (7, 1)
    # The topic's readers count the share group with the broker's lag.
    topic_t = next(t for t in evaluated.topics if t.topic == "t")
    assert topic_t.groups == 2 and topic_t.lag == 3 + 7


def _share_rounds(members, *, rounds=4):
    """A share group whose start offset stays at 10 while a producer appends 100 records a round."""
    group = GroupReading("s", "Stable" if members else "Empty", "share", tuple(members), {})
    carried, evaluated = Carried(), None
    for n in range(rounds):
        t_ms = T0 + n * PERIOD_MS
        end = 100 + 100 * n
        offsets = {"s": (SharePartitionOffset(TP("t", 0), 10, 0, end - 10),)}
        ends = {TP("t", 0): (0, end, end - 1, t_ms - 1)}  # the newest record was written just before the round
        evaluated = evaluate(_round(t_ms, [group], offsets, ends), carried, ConsoleFacts(), window_rounds=rounds)
        carried = _carry(evaluated)
    assert evaluated is not None
    return evaluated.groups[0]


def test_a_share_group_whose_start_offset_stands_still_behind_a_growing_log_is_judged_by_burrows_rules():
    reader = Member("m-1", "reader", "/10.0.0.1", None, (TP("t", 0),))
    stalled = _share_rounds([reader])
    (partition,) = rows.decode_group_detail(stalled.detail)
    assert (stalled.status, partition.status) == ("ERR", "STALL")
    assert "its position (the log end minus the broker's lag) stayed at 10" in partition.status_reason
    assert stalled.lag == 390 and "committed" not in partition.status_reason
    stopped = rows.decode_group_detail(_share_rounds([]).detail)[0]
    assert stopped.status == "STOP" and stopped.status_reason.startswith(
        "No progress through the whole status window (45s; it may have stopped long before): the position (the log "
        "end minus the broker's lag) stayed at 10"
    )


def test_a_share_groups_lag_in_seconds_is_the_age_of_the_record_at_its_start_offset():
    row = _share_rounds([], rounds=4)
    # Offset 10 was appended before the history begins (offset 99 at T0 - 1 ms), 89 records earlier at
    # the history's 100 records per round: 45 s of rounds + 89 x 0.15 s + 1 ms, and doubtful.
    assert row.lag_seconds is not None and abs(row.lag_seconds - (45 + 89 * 0.15 + 0.001)) < 0.001
    assert (row.lag_seconds_method, row.lag_seconds_doubtful) == ("extrapolated", True)
    assert row.catch_up_note == "Falling behind at 6.7 msg/s."


def test_a_share_group_that_acknowledged_everything_is_caught_up_whatever_start_offset_the_broker_keeps():
    # What the broker reported for a share group that had read and acknowledged all 3 records of a
    # partition: start offset 0, lag 0. Judged on the start offset it would be STALL after a window.
    reader = Member("m-1", "reader", "/10.0.0.1", None, (TP("t", 0),))
    group = GroupReading("s", "Stable", "share", (reader,), {})
    carried, evaluated = Carried(), None
    for n in range(4):
        offsets = {"s": (SharePartitionOffset(TP("t", 0), 0, 0, 0),)}
        reading = _round(T0 + n * PERIOD_MS, [group], offsets, {TP("t", 0): (0, 3)})
        evaluated = evaluate(reading, carried, ConsoleFacts(), window_rounds=4)
        carried = _carry(evaluated)
    assert evaluated is not None
    row = evaluated.groups[0]
    (partition,) = rows.decode_group_detail(row.detail)
    assert (row.status, row.lag, row.lag_seconds, partition.status) == ("OK", 0, 0.0, "OK")
    assert (partition.committed, partition.lag) == (0, 0)  # the broker's start offset, as its tool prints it


def test_a_share_groups_lag_in_seconds_is_doubtful_only_where_the_start_offset_is_behind_the_position():
    """Logs that grow 100 records a round (log ends 100, 200, 300); the group's position is 150 on both
    partitions, its start offset 150 on one and 120 on the other (records between acknowledged or not)."""
    group = GroupReading("s", "Empty", "share", (), {})
    carried, evaluated = Carried(), None
    for n in range(3):
        t_ms = T0 + n * PERIOD_MS
        end = 100 * (n + 1)
        ends = {TP("t", 0): (0, end), TP("t", 1): (0, end)}
        offsets = {
            "s": (
                SharePartitionOffset(TP("t", 0), min(150, end), 0, end - min(150, end)),
                SharePartitionOffset(TP("t", 1), min(120, end), 0, end - min(150, end)),
            )
        }
        evaluated = evaluate(_round(t_ms, [group], offsets, ends), carried, ConsoleFacts(), window_rounds=3)
        carried = _carry(evaluated)
    assert evaluated is not None
    exact, behind = rows.decode_group_detail(evaluated.groups[0].detail)
    # Offset 150 lies between offsets 99 (first round) and 199 (second): appended 51 x 0.15 s after the first
    # round, so 30 - 7.65 = 22.35 s old at the third.
    assert (exact.committed, exact.lag, exact.lag_seconds_method, exact.lag_seconds_doubtful) == (
        150,
        150,
        "interpolated",
        False,
    )
    assert exact.lag_seconds is not None and abs(exact.lag_seconds - 22.35) < 0.001
    assert (behind.committed, behind.lag, behind.lag_seconds, behind.lag_seconds_doubtful) == (
        120,
        150,
        exact.lag_seconds,
        True,
    )
    # The page's tooltip says why: records below the position are in flight, so the figure is a lower bound.
    row = evaluated.groups[0]
    assert figure_partition(row) == behind and row.lag_seconds_doubtful
    shown = lag_seconds(row.lag_seconds, row.lag_seconds_method, True, group=row, partition=behind)
    assert "may still be in flight (delivered but not yet acknowledged)" in shown and "lower bound" in shown
    # Doubtful for another reason where the start offset is at the position: no records in flight to speak of.
    doubted = replace(exact, lag_seconds_doubtful=True)
    assert "in flight" not in lag_seconds(
        exact.lag_seconds, exact.lag_seconds_method, True, group=row, partition=doubted
    )


def test_a_share_group_without_start_offsets_is_new_not_ok_and_says_what_to_check():
    member = Member("m-1", "reader", "/10.0.0.1", None, (TP("t", 0),))
    share = GroupReading("s", "Stable", "share", (member,), {})
    idle = GroupReading("i", "Empty", "share", (), {})
    nothing = {
        "s": (SharePartitionOffset(TP("t", 0), None, None, None),),
        "i": (),
    }
    evaluated = evaluate(
        _round(T0, [share, idle], nothing, {TP("t", 0): (0, 9)}), Carried(), ConsoleFacts(), window_rounds=3
    )
    by_id = {g.group_id: g for g in evaluated.groups}
    # A green OK would read as "consuming fine": nothing was read, so it is not judged yet (a neutral badge).
    assert (by_id["s"].status, by_id["i"].status) == ("NEW", "NEW")
    assert SEVERITY[by_id["s"].status] == "neutral"
    assert by_id["s"].status_reason == (
        "NEW: no share-partition has a start offset yet: the group's 1 member has not fetched from any partition. "
        "Check that they subscribe to topics that exist (their subscriptions and assignments are on the group's page)."
    )
    assert by_id["i"].status_reason.startswith(
        "NEW: no share-partition has a start offset yet and the group has no members"
    )
    assert "Check that share consumers with this group id are running and subscribe" in by_id["i"].status_reason
    assert evaluated.causes.get("s", ()) == ()
