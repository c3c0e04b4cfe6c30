from groups.kafka import TP, GroupDescription, LogOffsets, Member
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading
from groups.lag import partition_lag, partition_rows, sum_lags, summarize, total_lag
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate


def _group(members=(), state="Stable"):
    return GroupDescription("g", state, "classic", "range", "127.0.0.1:9092 (1)", tuple(members))


def test_lag_is_log_end_minus_committed():
    assert partition_lag(40, 100) == 60


def test_lag_is_unknown_without_a_commit_or_a_log_end():
    assert partition_lag(None, 100) is None
    assert partition_lag(40, None) is None
    assert partition_lag(-1, 100) is None


def test_lag_is_not_clamped_when_the_commit_is_past_the_end():
    # The tool prints the negative value; hiding it would hide a recreated topic.
    assert partition_lag(120, 100) == -20


def test_rows_cover_assigned_and_committed_partitions_with_their_owner():
    alice = Member("m-1", "app-a", "/10.0.0.1", None, (TP("t", 0), TP("t", 1)))
    rows = partition_rows(
        _group([alice]),
        committed={TP("t", 0): 5, TP("u", 3): 7},
        log_offsets={TP("t", 0): LogOffsets(0, 10), TP("t", 1): LogOffsets(0, 4), TP("u", 3): LogOffsets(2, 9)},
    )
    assert [(r.topic, r.partition, r.committed, r.lag, r.owner and r.owner.client_id) for r in rows] == [
        ("t", 0, 5, 5, "app-a"),
        ("t", 1, None, None, "app-a"),
        ("u", 3, 7, 2, None),
    ]


def test_row_knows_when_its_commit_fell_below_the_log_start():
    rows = partition_rows(_group(state="Empty"), {TP("t", 0): 5}, {TP("t", 0): LogOffsets(20, 40)})
    assert rows[0].committed_below_log_start and rows[0].lag == 35


def test_a_partition_whose_topic_vanished_has_unknown_offsets_and_lag():
    rows = partition_rows(_group(state="Empty"), {TP("gone", 0): 5}, {})
    assert (rows[0].log_start, rows[0].log_end, rows[0].lag) == (None, None, None)


def test_total_lag_sums_known_lags_and_is_unknown_when_none_is_known():
    rows = partition_rows(
        _group(state="Empty"),
        {TP("t", 0): 5, TP("t", 1): 1},
        {TP("t", 0): LogOffsets(0, 10), TP("t", 1): LogOffsets(0, 3)},
    )
    assert total_lag(rows) == 7
    assert total_lag(partition_rows(_group(state="Empty"), {TP("t", 0): 5}, {})) is None


def test_summary_counts_members_topics_and_partitions():
    m1 = Member("m-1", "a", "h", None, (TP("t", 0),))
    m2 = Member("m-2", "b", "h", None, ())
    rows = partition_rows(
        _group([m1, m2]), {TP("u", 0): 1}, {TP("t", 0): LogOffsets(0, 3), TP("u", 0): LogOffsets(0, 1)}
    )
    summary = summarize(_group([m1, m2]), rows)
    assert (summary.members, summary.topics, summary.partitions, summary.lag) == (2, ("t", "u"), 2, 0)


def test_lag_in_time_is_the_age_of_the_next_unread_record():
    from groups.lag import time_lag_ms

    assert time_lag_ms(lag=5, next_record_ms=1_000, now_ms=61_000) == 60_000


def test_lag_in_time_is_zero_when_caught_up_and_unknown_without_a_commit_or_record():
    from groups.lag import time_lag_ms

    assert time_lag_ms(lag=0, next_record_ms=None, now_ms=5) == 0
    assert time_lag_ms(lag=None, next_record_ms=1, now_ms=5) is None
    assert time_lag_ms(lag=3, next_record_ms=None, now_ms=5) is None


def test_a_record_stamped_in_the_future_does_not_give_a_negative_age():
    from groups.lag import time_lag_ms

    assert time_lag_ms(lag=1, next_record_ms=10_000, now_ms=5_000) == 0


def test_ages_read_as_an_operator_expects():
    from groups.templatetags.console import age

    assert [age(None), age(999), age(45_000), age(192_000), age(7_500_000), age(273_600_000)] == [
        "—",
        "0s",
        "45s",
        "3m 12s",
        "2h 05m",
        "3d 4h",
    ]


def test_the_instance_id_column_is_needed_when_any_member_is_static():
    dynamic = Member("m-1", "a", "h", None, ())
    static = Member("m-2", "b", "h", "pod-2", ())
    assert _group([dynamic, static]).has_instance_ids  # not only when the first member is static
    assert _group([static, dynamic]).has_instance_ids
    assert not _group([dynamic]).has_instance_ids
    assert not _group().has_instance_ids


def test_a_partition_committed_past_its_log_end_counts_nothing_unread_in_a_total():
    # Kafka's tool prints -998,685 for such a partition; a total that summed it hid the 2,394 records waiting.
    assert sum_lags([-998_685, 1_197, 1_197, None]) == 2_394
    assert sum_lags([None, None]) is None and sum_lags([-5]) == 0


def test_a_topic_and_its_groups_total_lag_leave_an_ahead_partition_at_zero():
    reading = ClusterReading(
        t_ms=1_000,
        groups={"g": GroupReading("g", "Empty", "classic", (), {TP("t", 0): 999_999, TP("t", 1): 103})},
        topics={"t": TopicReading("t", 2, False)},
        partitions={TP("t", 0): PartitionReading(0, 1_300), TP("t", 1): PartitionReading(0, 1_300)},
    )
    evaluated = evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10)
    assert evaluated.groups[0].lag == 1_197 and evaluated.topics[0].lag == 1_197
