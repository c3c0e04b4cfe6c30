"""Reset planning against kafka-consumer-groups.sh semantics (kafka-semantics.md A.3 and F)."""

from datetime import UTC, datetime, timedelta

import pytest

from groups.planning.inputs import export_csv, parse_datetime, parse_duration, parse_reset_csv, whole_number
from groups.planning.reset_notes import copy_beyond_topics, undo_after_deleted_topics, undo_over_newer_commits
from groups.planning.resets import (
    ALL_TOPICS,
    NO_RECORD_AT_TIME,
    ByDuration,
    FromFile,
    FromGroup,
    PartitionFacts,
    PlannedPartition,
    PlanningError,
    ResetPlan,
    Scope,
    ShiftBy,
    ToCurrent,
    ToDatetime,
    ToEarliest,
    ToLatest,
    ToOffset,
    Undo,
    lookup_timestamp,
    parse_scope,
    plan_reset,
    resolve_scope,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def facts(partition=0, committed=100, log_start=0, log_end=200, topic="t"):
    return PartitionFacts(topic, partition, committed, log_start, log_end)


def only_row(plan):
    (row,) = plan.rows
    return row


def afters(plan):
    return {(row.topic, row.partition): row.after for row in plan.rows}


# --to-earliest / --to-latest


def test_to_earliest_moves_to_the_log_start_with_or_without_a_commit():
    plan = plan_reset(ToEarliest(), [facts(0, committed=100, log_start=10), facts(1, committed=None, log_start=20)])
    assert afters(plan) == {("t", 0): 10, ("t", 1): 20}


def test_to_latest_moves_to_the_log_end_with_or_without_a_commit():
    plan = plan_reset(ToLatest(), [facts(0, committed=100, log_end=200), facts(1, committed=None, log_end=70)])
    assert afters(plan) == {("t", 0): 200, ("t", 1): 70}


def test_rows_keep_the_facts_they_were_planned_from():
    row = only_row(plan_reset(ToLatest(), [facts(3, committed=40, log_start=5, log_end=90, topic="orders")]))
    assert row == PlannedPartition("orders", 3, before=40, after=90, log_start=5, log_end=90)


# --to-current


def test_to_current_keeps_the_committed_offset():
    assert only_row(plan_reset(ToCurrent(), [facts(committed=100)])).after == 100


def test_to_current_without_a_commit_uses_the_log_end():
    plan = plan_reset(ToCurrent(), [facts(0, committed=40, log_end=100), facts(1, committed=None, log_end=70)])
    assert afters(plan) == {("t", 0): 40, ("t", 1): 70}
    assert plan.rows[1].note == "no committed offset; set to the log end, as the tool does"
    assert plan.rows[0].note is None


def test_to_current_keeps_a_committed_offset_below_the_log_start_unclamped():
    plan = plan_reset(ToCurrent(), [facts(committed=5, log_start=10, log_end=100)])
    row = only_row(plan)
    assert row.after == 5
    assert row.clamped is None
    assert "outside the log (10 to 100)" in row.note
    assert any("auto.offset.reset" in warning and "t-0" in warning for warning in plan.warnings)


def test_to_current_inside_the_log_gives_no_warning():
    assert plan_reset(ToCurrent(), [facts(committed=100)]).warnings == ()


def test_a_plan_changes_nothing_only_when_every_partition_stays_where_it_is():
    assert plan_reset(ToCurrent(), [facts(0, committed=100), facts(1, committed=7)]).changes_nothing
    assert ResetPlan(rows=()).changes_nothing
    assert not plan_reset(ToCurrent(), [facts(0, committed=100), facts(1, committed=None)]).changes_nothing
    assert not plan_reset(ToEarliest(), [facts(0, committed=0), facts(1, committed=7)]).changes_nothing


# --to-offset


def test_to_offset_within_the_log_is_used_as_is():
    row = only_row(plan_reset(ToOffset(1), [facts(committed=100, log_end=100)]))
    assert (row.after, row.clamped) == (1, None)


def test_to_offset_above_the_log_end_is_clamped_to_the_log_end():
    row = only_row(plan_reset(ToOffset(150), [facts(committed=50, log_end=100)]))
    assert row.after == 100
    assert row.clamped == "requested 150 is above the log end 100"


@pytest.mark.parametrize("requested", [-5, 5])
def test_to_offset_below_the_log_start_is_clamped_to_the_log_start(requested):
    row = only_row(plan_reset(ToOffset(requested), [facts(committed=50, log_start=10, log_end=100)]))
    assert row.after == 10
    assert row.clamped == f"requested {requested} is below the log start 10"


@pytest.mark.parametrize("requested", [10, 100])
def test_clamping_bounds_are_inclusive(requested):
    row = only_row(plan_reset(ToOffset(requested), [facts(committed=50, log_start=10, log_end=100)]))
    assert (row.after, row.clamped) == (requested, None)


def test_to_offset_on_a_partition_without_a_commit_is_clamped_too():
    row = only_row(plan_reset(ToOffset(500), [facts(committed=None, log_end=100)]))
    assert row.after == 100
    assert row.clamped is not None


def test_clamped_partitions_are_named_in_a_warning_with_the_reason():
    plan = plan_reset(ToOffset(150), [facts(0, committed=50, log_end=100), facts(1, committed=50, log_end=300)])
    assert plan.warnings[0] == (
        "Clamped to the log, as kafka-consumer-groups does: t-0 (requested 150 is above the log end 100)."
    )


# --shift-by (RCGOT: 100 records consumed, then 100 more produced)


@pytest.mark.parametrize(
    ("shift", "expected", "clamped"),
    [
        (50, 150, None),
        (-50, 50, None),
        (150, 200, "100 shifted by +150 = 250 is above the log end 200"),
        (-150, 0, "100 shifted by -150 = -50 is below the log start 0"),
    ],
)
def test_shift_by_moves_the_committed_offset_and_clamps_to_the_log(shift, expected, clamped):
    row = only_row(plan_reset(ShiftBy(shift), [facts(committed=100, log_start=0, log_end=200)]))
    assert (row.after, row.clamped) == (expected, clamped)


def test_shift_by_refuses_the_whole_plan_when_a_partition_has_no_commit():
    with pytest.raises(PlanningError) as error:
        plan_reset(ShiftBy(5), [facts(0, committed=10), facts(1, committed=None)])
    assert str(error.value).startswith(
        "Cannot shift offset for partition t-1 since there is no current committed offset."
    )


def test_shift_by_names_every_partition_without_a_commit():
    with pytest.raises(PlanningError, match="for partitions t-1, t-2 since"):
        plan_reset(ShiftBy(5), [facts(2, committed=None), facts(0, committed=10), facts(1, committed=None)])


# --to-datetime / --by-duration


def test_lookup_timestamp_of_to_datetime_is_its_timestamp():
    assert lookup_timestamp(ToDatetime(1704067200000), NOW) == 1704067200000


def test_lookup_timestamp_of_by_duration_counts_back_from_now():
    assert lookup_timestamp(ByDuration(timedelta(minutes=1)), NOW) == 1717243140000


def test_lookup_timestamp_of_by_duration_rounds_down_to_the_millisecond():
    now = datetime(2024, 6, 1, 12, 0, 0, 999, tzinfo=UTC)
    assert lookup_timestamp(ByDuration(timedelta(0)), now) == 1717243200000


def test_lookup_timestamp_of_a_look_back_past_1970_asks_for_the_first_record():
    assert lookup_timestamp(ByDuration(timedelta(days=200 * 365)), NOW) == 0


@pytest.mark.parametrize("strategy", [ToEarliest(), ToLatest(), ToCurrent(), ToOffset(1), ShiftBy(1)])
def test_lookup_timestamp_is_none_for_strategies_without_a_time(strategy):
    assert lookup_timestamp(strategy, NOW) is None


@pytest.mark.parametrize("strategy", [ToDatetime(1704067200000), ByDuration(timedelta(minutes=1))])
def test_time_strategies_move_to_the_offset_the_broker_found(strategy):
    plan = plan_reset(strategy, [facts(committed=100, log_end=200)], offsets_for_time={("t", 0): 50})
    row = only_row(plan)
    assert (row.after, row.note, row.clamped) == (50, None, None)


@pytest.mark.parametrize("not_found", [None, -1])
def test_time_strategies_fall_back_to_the_log_end_when_no_record_is_that_recent(not_found):
    plan = plan_reset(
        ToDatetime(1704067200000),
        [facts(0, committed=100, log_end=100), facts(1, committed=100, log_end=200)],
        offsets_for_time={("t", 0): not_found, ("t", 1): 150},
    )
    assert afters(plan) == {("t", 0): 100, ("t", 1): 150}
    assert plan.rows[0].note == NO_RECORD_AT_TIME == "no record at or after that time; falls back to the log end"
    assert "fall back to the log end: t-0." in plan.warnings[0]


def test_time_strategies_do_not_clamp_the_broker_answer():
    plan = plan_reset(ToDatetime(0), [facts(committed=100, log_end=200)], offsets_for_time={("t", 0): 205})
    assert (only_row(plan).after, only_row(plan).clamped) == (205, None)


def test_time_strategies_need_a_lookup_for_every_partition():
    with pytest.raises(ValueError, match="timestamp lookup"):
        plan_reset(ToDatetime(0), [facts(0), facts(1)], offsets_for_time={("t", 0): 5})
    with pytest.raises(ValueError, match="timestamp lookup"):
        plan_reset(ByDuration(timedelta(minutes=1)), [facts(0)])


# from another group


def test_from_group_copies_the_other_group_offsets_within_the_scope():
    strategy = FromGroup("other", {("t", 0): 30, ("t", 1): 60, ("u", 0): 7})
    plan = plan_reset(strategy, [facts(0, committed=100), facts(1, committed=None)])
    assert afters(plan) == {("t", 0): 30, ("t", 1): 60}
    assert plan.rows[1].before is None


def test_a_copy_reaching_topics_the_group_holds_no_offsets_on_says_so_unless_the_group_holds_none():
    offsets = {("t", 0): 30, ("u", 0): 25, ("u", 1): 25}
    assert copy_beyond_topics("g1", "gu", offsets, [("t", 0)]) == [
        "'gu' has offsets on u, where 'g1' has none: the copy gives 'g1' offsets there too, where its consumers "
        "would start if they subscribe. Name the topics to copy only those."
    ]
    assert copy_beyond_topics("g1", "gu", offsets, []) == []  # a new group made a copy of another
    assert copy_beyond_topics("g1", "gu", {("t", 0): 30}, [("t", 0), ("t", 1)]) == []


def test_an_undo_says_which_partitions_were_committed_since_the_reset_set_them():
    rows = [{"topic": "t", "partition": 0, "after": 31}, {"topic": "t", "partition": 1, "after": 50}]
    assert undo_over_newer_commits(4, rows, {("t", 0): 33, ("t", 1): 50}) == [
        "Since operation #4 set them, 1 partition moved (t-0 31 → 33): something else committed there. The undo "
        "overwrites those commits with the offsets #4 found."
    ]
    assert undo_over_newer_commits(4, rows, {("t", 0): 31, ("t", 1): 50}) == []


def test_an_undo_of_a_reset_that_deleted_internal_topics_names_them_and_says_it_restores_offsets_only():
    rows = [
        {"topic": "app-counts-changelog", "partitions": 2, "role": "changelog", "deleted": True, "error": ""},
        {"topic": "app-words-repartition", "partitions": 2, "role": "repartition", "deleted": True, "error": ""},
        {"topic": "app-kept-changelog", "partitions": 1, "role": "changelog", "deleted": False, "error": "refused"},
    ]
    (note,) = undo_after_deleted_topics(7, rows)
    assert note.startswith(
        "Operation #7 also deleted this Kafka Streams application's internal topics "
        "(app-counts-changelog, app-words-repartition). This undo restores offsets only"
    )
    assert "state stores will rebuild from an empty start" in note
    assert "kafka-streams-application-reset" in note and "expect it to reprocess" in note
    # A reset that deleted nothing (or was not asked to), and one whose requested topics were not run yet.
    assert undo_after_deleted_topics(7, []) == []
    assert undo_after_deleted_topics(7, [{"topic": "app-x-changelog", "partitions": 1, "role": "changelog"}]) == []


def test_from_group_clamps_and_says_the_offset_came_from_the_other_group():
    row = only_row(plan_reset(FromGroup("other", {("t", 0): 150}), [facts(committed=50, log_end=100)]))
    assert row.after == 100
    assert row.clamped == "group 'other' offset 150 is above the log end 100"


def test_from_group_leaves_partitions_the_other_group_never_committed_unchanged_and_says_so():
    plan = plan_reset(FromGroup("other", {("t", 0): 30}), [facts(0), facts(1), facts(2)])
    assert [row.partition for row in plan.rows] == [0]
    assert plan.warnings[-1] == (
        "Group 'other' has no committed offset for these, so they are left unchanged: t-1, t-2."
    )


# --from-file


def test_from_file_plans_the_partitions_of_the_file_and_ignores_others():
    plan = plan_reset(FromFile({("t", 1): 20}), [facts(0, committed=100), facts(1, committed=100)])
    assert afters(plan) == {("t", 1): 20}


def test_from_file_clamps_to_the_log():
    plan = plan_reset(
        FromFile({("t", 0): 500, ("t", 1): -3}),
        [facts(0, committed=1, log_start=0, log_end=100), facts(1, committed=40, log_start=30, log_end=100)],
    )
    assert afters(plan) == {("t", 0): 100, ("t", 1): 30}
    assert [row.clamped for row in plan.rows] == [
        "requested 500 is above the log end 100",
        "requested -3 is below the log start 30",
    ]


def test_from_file_refuses_partitions_without_facts_because_they_do_not_exist():
    with pytest.raises(PlanningError, match=r"^The partitions t-5, u-0 do not exist\.$"):
        plan_reset(FromFile({("t", 0): 1, ("t", 5): 1, ("u", 0): 1}), [facts(0)])


# undo


def test_undo_restores_the_offsets_found_before_the_operation():
    plan = plan_reset(Undo({("t", 0): 40, ("t", 1): 60}), [facts(0, committed=200), facts(1, committed=0)])
    assert afters(plan) == {("t", 0): 40, ("t", 1): 60}
    assert [row.delta for row in plan.rows] == [-160, 60]


def test_undo_clamps_an_offset_that_retention_has_since_passed():
    row = only_row(plan_reset(Undo({("t", 0): 40}), [facts(committed=200, log_start=90, log_end=300)]))
    assert row.after == 90
    assert row.clamped == "earlier offset 40 is below the log start 90"


def test_undo_leaves_partitions_that_had_no_commit_unchanged_and_says_so():
    plan = plan_reset(Undo({("t", 0): None, ("t", 1): 5}), [facts(0, committed=100), facts(1, committed=100)])
    assert [row.partition for row in plan.rows] == [1]
    assert "cannot remove one, so they are left unchanged: t-0." in plan.warnings[-1]


# plan shape, lag, totals, warnings


def test_rows_are_sorted_by_topic_then_partition_whatever_the_input_order():
    plan = plan_reset(
        ToEarliest(), [facts(10, topic="b"), facts(2, topic="b"), facts(1, topic="a"), facts(0, topic="b")]
    )
    assert [(row.topic, row.partition) for row in plan.rows] == [("a", 1), ("b", 0), ("b", 2), ("b", 10)]


def test_lag_and_delta_of_a_row_with_a_commit():
    row = PlannedPartition("t", 0, before=100, after=40, log_start=0, log_end=200)
    assert (row.lag_before, row.lag_after, row.delta) == (100, 160, -60)


def test_lag_before_and_delta_are_unknown_without_a_commit():
    row = PlannedPartition("t", 0, before=None, after=40, log_start=0, log_end=200)
    assert (row.lag_before, row.lag_after, row.delta) == (None, 160, None)
    assert (row.records_to_reconsume, row.records_to_skip) == (None, None)


def test_lag_before_is_negative_when_the_commit_is_above_the_log_end():
    row = PlannedPartition("t", 0, before=120, after=100, log_start=0, log_end=100)
    assert row.lag_before == -20


def test_moving_back_reconsumes_and_moving_forward_skips():
    back = PlannedPartition("t", 0, before=100, after=40, log_start=0, log_end=200)
    forward = PlannedPartition("t", 0, before=100, after=150, log_start=0, log_end=200)
    assert (back.records_to_reconsume, back.records_to_skip) == (60, 0)
    assert (forward.records_to_reconsume, forward.records_to_skip) == (0, 50)


def test_offsets_outside_the_log_are_neither_skipped_nor_reconsumed():
    past_retention = PlannedPartition("t", 0, before=5, after=10, log_start=10, log_end=100)
    above_end = PlannedPartition("t", 0, before=120, after=100, log_start=0, log_end=100)
    assert past_retention.records_to_skip == 0
    assert above_end.records_to_reconsume == 0


def test_totals_sum_lag_and_records_over_the_plan():
    plan = plan_reset(
        Undo({("t", 0): 40, ("t", 1): 180, ("t", 2): 10}),
        [facts(0, committed=100), facts(1, committed=150), facts(2, committed=None)],
    )
    totals = plan.totals
    assert (totals.lag_before, totals.lag_after) == (100 + 50, 160 + 20 + 190)
    assert (totals.records_to_reconsume, totals.records_to_skip) == (60, 30)
    # No partition had an offset before: the lag before is unknown, not 0.
    first = plan_reset(ToEarliest(), [facts(0, committed=None), facts(1, committed=None)])
    assert first.totals.lag_before is None


def test_skipped_records_are_warned_about_per_partition():
    plan = plan_reset(ToLatest(), [facts(0, committed=100, log_end=200), facts(1, committed=200, log_end=200)])
    assert plan.warnings == ("100 records will be skipped and never consumed by this group: t-0 (100).",)


def test_skipped_record_counts_are_written_with_thousands_separators_as_every_page_writes_counts():
    plan = plan_reset(ToLatest(), [facts(0, committed=1000, log_end=2500), facts(1, committed=0, log_end=1200)])
    assert plan.warnings == (
        "2,700 records will be skipped and never consumed by this group: t-0 (1,500), t-1 (1,200).",
    )


def test_a_plain_replay_has_no_warnings():
    assert plan_reset(ToEarliest(), [facts(committed=100)]).warnings == ()


def test_an_empty_scope_gives_an_empty_plan():
    plan = plan_reset(ToEarliest(), [])
    assert plan == ResetPlan(rows=())
    assert plan.totals.lag_after == 0


# scope


def test_parse_scope_of_a_topic_selects_the_whole_topic():
    assert parse_scope("orders") == Scope(topics=frozenset({"orders"}))


def test_parse_scope_of_a_topic_with_partitions_selects_those_partitions():
    assert parse_scope("orders:0,2") == Scope(partitions=frozenset({("orders", 0), ("orders", 2)}))


def test_parse_scope_takes_several_arguments_separated_by_whitespace():
    assert parse_scope(" orders:1\n payments ") == Scope(
        topics=frozenset({"payments"}), partitions=frozenset({("orders", 1)})
    )


def test_parse_scope_reads_a_trailing_comma_as_the_tool_does():
    assert parse_scope("orders:0,") == Scope(partitions=frozenset({("orders", 0)}))


@pytest.mark.parametrize("argument", ["t:", "t:0:1", ":0", "t:,"])
def test_parse_scope_refuses_a_topic_arg_without_topic_or_partitions(argument):
    with pytest.raises(PlanningError, match=f"^Invalid topic arg '{argument}': expected a topic name"):
        parse_scope(argument)


@pytest.mark.parametrize(("argument", "partition"), [("t:0,x", "x"), ("t:0,,1", ""), ("t:1.5", "1.5")])
def test_parse_scope_refuses_a_partition_that_is_not_a_number(argument, partition):
    with pytest.raises(PlanningError, match=f"^Invalid partition '{partition}' in topic arg '{argument}'"):
        parse_scope(argument)


def test_parse_scope_refuses_nothing():
    with pytest.raises(PlanningError, match="Name at least one topic"):
        parse_scope("  ")


def test_resolve_scope_expands_whole_topics_and_adds_chosen_partitions_sorted():
    scope = Scope(topics=frozenset({"b"}), partitions=frozenset({("a", 1), ("b", 0)}))
    assert resolve_scope(scope, [], {"a": 2, "b": 3}) == [("a", 1), ("b", 0), ("b", 1), ("b", 2)]


def test_resolve_scope_of_all_topics_is_the_partitions_with_a_commit():
    assert resolve_scope(ALL_TOPICS, [("b", 0), ("a", 2)], {"a": 3, "b": 3, "c": 1}) == [("a", 2), ("b", 0)]


def test_all_topics_wins_over_chosen_topics():
    scope = Scope(all_topics=True, topics=frozenset({"c"}), partitions=frozenset({("a", 1)}))
    assert resolve_scope(scope, [("a", 0)], {"a": 2, "c": 1}) == [("a", 0)]


def test_resolve_scope_names_every_partition_that_does_not_exist():
    scope = parse_scope("orders:9,1,7")
    with pytest.raises(PlanningError) as error:
        resolve_scope(scope, [], {"orders": 3})
    assert str(error.value) == "The partitions orders-7, orders-9 do not exist; orders has partitions 0 to 2."


def test_resolve_scope_refuses_a_negative_partition():
    with pytest.raises(PlanningError) as error:
        resolve_scope(parse_scope("t:-1"), [], {"t": 1})
    # Named as a number, not glued to the topic ("t--1" reads as a typo of its name).
    assert str(error.value) == "The partition -1 of t does not exist; t has only partition 0."


def test_resolve_scope_names_every_topic_that_does_not_exist():
    with pytest.raises(PlanningError) as error:
        resolve_scope(parse_scope("x y:0 orders:5"), [], {"orders": 1})
    assert str(error.value) == (
        "Topics 'x', 'y' do not exist. The partition orders-5 does not exist; orders has only partition 0."
    )


def test_resolve_scope_of_all_topics_refuses_commits_on_a_deleted_topic():
    with pytest.raises(PlanningError, match="^Topic 'gone' does not exist. The group still has committed offsets"):
        resolve_scope(ALL_TOPICS, [("gone", 0), ("a", 0)], {"a": 1})


# --to-datetime format


def test_parse_datetime_without_a_zone_assumes_utc():
    assert parse_datetime("2024-01-01T00:00:00.000") == (1704067200000, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00.000Z", 1704067200000),
        ("2024-01-01T00:00:00.000+02:00", 1704060000000),
        ("2024-01-01T00:00:00.000+0200", 1704060000000),
        ("2024-01-01T00:00:00.000+02", 1704060000000),
        ("2024-01-01T00:00:00.000-05:30", 1704087000000),
        ("2024-01-01T00:00:00.000-0530", 1704087000000),
        ("2024-01-01T00:00:00.000-05", 1704085200000),
    ],
)
def test_parse_datetime_accepts_the_zone_forms_of_the_tool(text, expected):
    assert parse_datetime(text) == (expected, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00", 1704067200000),
        ("2024-01-01T00:00:00.5", 1704067200500),
        ("2024-01-01T00:00:00.123456Z", 1704067200124),
        ("2024-01-01T00:00:00.000001", 1704067200001),
    ],
)
def test_parse_datetime_accepts_missing_or_finer_fractions_rounding_up(text, expected):
    assert parse_datetime(text)[0] == expected


def test_parse_datetime_requires_the_t():
    with pytest.raises(PlanningError, match="must contain a 'T'"):
        parse_datetime("2024-01-01 00:00:00.000")


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2024-1-01T00:00:00.000",
        "2024-01-01T00:00.000",
        "2024-01-01T00:00:00.1234567",
        "2024-01-01T00:00:00.000 UTC",
        "2024-01-01T00:00:00.000+2",
    ],
)
def test_parse_datetime_refuses_other_forms_and_shows_the_accepted_one(text):
    with pytest.raises(PlanningError, match="expected YYYY-MM-DDTHH:mm:SS.sss"):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024-13-01T00:00:00.000", "month must be in 1..12"),
        ("2024-02-30T00:00:00.000", "day is out of range for month"),
        ("2024-01-01T24:00:00.000", "hour must be in 0..23"),
    ],
)
def test_parse_datetime_refuses_impossible_dates(text, reason):
    with pytest.raises(PlanningError) as error:
        parse_datetime(text)
    assert str(error.value) == f"Invalid date and time '{text}': {reason}."


def test_parse_datetime_refuses_a_zone_offset_of_a_day():
    with pytest.raises(PlanningError, match="zone offset must be at most 23:59"):
        parse_datetime("2024-01-01T00:00:00.000+24:00")


def test_parse_datetime_refuses_times_before_1970():
    with pytest.raises(PlanningError, match="before 1970"):
        parse_datetime("1969-12-31T23:59:59.999Z")


# --by-duration format


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT0.1S", timedelta(milliseconds=100)),
        ("PT1M", timedelta(minutes=1)),
        ("PT15M", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H3M4.5S", timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("pt15m", timedelta(minutes=15)),
        ("PT0,25S", timedelta(milliseconds=250)),
        ("PT0S", timedelta(0)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("30s", timedelta(seconds=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration_accepts_iso_and_short_forms(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P1M", "P1Y", "P1Y2M3D", "p2m"])
def test_parse_duration_refuses_months_and_years(text):
    with pytest.raises(PlanningError, match="years and months are not accepted.*P30D"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "P1W", "1.5h", "15M", "30m1h", "1 h", "soon", "PT1H-30M"])
def test_parse_duration_refuses_other_forms_and_shows_the_accepted_ones(text):
    with pytest.raises(PlanningError, match="expected an ISO 8601 duration PnDTnHnMnS, such as PT15M"):
        parse_duration(text)


def test_parse_duration_refuses_a_negative_duration():
    with pytest.raises(PlanningError, match="must not be negative"):
        parse_duration("-PT1H")


def test_parse_duration_refuses_an_absurdly_long_duration():
    with pytest.raises(PlanningError, match="too long"):
        parse_duration("P9999999999D")


# reset files


def test_parse_reset_csv_reads_the_single_group_export_format():
    assert parse_reset_csv("t,0,5\nt,1,7\nu,0,-2\n", "g") == {("t", 0): 5, ("t", 1): 7, ("u", 0): -2}


def test_parse_reset_csv_reads_only_the_rows_of_the_group_in_the_four_column_format():
    text = "g,t,0,5\nother,t,0,99\ng,t,1,7\n"
    assert parse_reset_csv(text, "g") == {("t", 0): 5, ("t", 1): 7}


def test_parse_reset_csv_without_rows_for_the_group_names_the_groups_it_has():
    with pytest.raises(PlanningError) as error:
        parse_reset_csv("a,t,0,5\nb,t,0,6\n", "g")
    assert str(error.value) == "No reset plan for group g found. The file has rows for: a, b."


def test_parse_reset_csv_tolerates_crlf_a_trailing_newline_and_blank_lines():
    assert parse_reset_csv("t,0,5\r\n\r\nt,1,7\r\n", "g") == {("t", 0): 5, ("t", 1): 7}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("t,0,5\nt,1,7\nt,x,9\n", "Line 3 of the reset file is not valid: partition 'x' is not a whole number."),
        ("t,0,5\n\nt,1,seven\n", "Line 3 of the reset file is not valid: offset 'seven' is not a whole number."),
        ("t,0,5\ng,t,1,7\n", "Line 2 of the reset file is not valid: it has 4 fields instead of 3."),
        ("t,0,5\n,1,7\n", "Line 2 of the reset file is not valid: a name is empty."),
    ],
)
def test_parse_reset_csv_reports_the_line_of_a_malformed_row(text, problem):
    with pytest.raises(PlanningError) as error:
        parse_reset_csv(text, "g")
    assert str(error.value) == f"{problem} Each line must be topic,partition,offset, such as orders,0,1500."


def test_parse_reset_csv_in_the_four_column_format_shows_that_form():
    with pytest.raises(PlanningError, match="^Line 2 .* 3 fields instead of 4. Each line must be group,topic"):
        parse_reset_csv("g,t,0,5\nt,1,7\n", "g")


def test_parse_reset_csv_refuses_a_first_line_of_neither_form():
    with pytest.raises(PlanningError, match="^Line 1 .* it has 2 fields. Each line must be topic,partition,offset or"):
        parse_reset_csv("t,0\n", "g")


def test_parse_reset_csv_refuses_a_partition_listed_twice():
    with pytest.raises(PlanningError, match="^Line 3 of the reset file lists t-0 again \\(first on line 1\\)"):
        parse_reset_csv("t,0,5\nt,1,5\nt,0,6\n", "g")


def test_parse_reset_csv_refuses_an_empty_file():
    with pytest.raises(PlanningError, match="The reset file is empty"):
        parse_reset_csv("\n \n", "g")


# export


def test_export_csv_writes_topic_partition_offset_lines_sorted():
    plan = ResetPlan(
        rows=(
            PlannedPartition("b", 0, before=1, after=9, log_start=0, log_end=10),
            PlannedPartition("a", 10, before=1, after=3, log_start=0, log_end=10),
            PlannedPartition("a", 2, before=None, after=4, log_start=0, log_end=10),
        )
    )
    assert export_csv(plan) == "a,2,4\na,10,3\nb,0,9\n"


def test_an_exported_plan_reads_back_as_the_same_offsets():
    plan = plan_reset(ToOffset(2), [facts(0), facts(1), facts(0, topic="u")])
    assert parse_reset_csv(export_csv(plan), "g") == {("t", 0): 2, ("t", 1): 2, ("u", 0): 2}


def test_export_of_an_empty_plan_is_empty():
    assert export_csv(ResetPlan(rows=())) == ""


def test_a_time_after_year_9999_in_utc_is_refused():
    with pytest.raises(PlanningError, match="after 9999-12-31T23:59:59.999Z"):
        parse_datetime("9999-12-31T23:59:59.000-23:00")
    assert parse_datetime("9999-12-31T23:59:59.999Z")[0] == 253402300799999


def test_a_reset_file_with_a_byte_order_mark_reads_like_one_without():
    assert parse_reset_csv("\ufefforders,0,5\norders,1,7\n", "g") == {("orders", 0): 5, ("orders", 1): 7}


def test_a_reset_file_with_a_header_line_is_told_to_drop_it():
    with pytest.raises(PlanningError, match=r"^Line 1 of the reset file is a header \(topic,partition,offset\)"):
        parse_reset_csv("topic,partition,offset\norders,0,5\n", "g")
    with pytest.raises(PlanningError, match=r"it has 1 field\. Each line"):
        parse_reset_csv("orders\n", "g")


@pytest.mark.parametrize("written", ["٣", "1_000", "0x10", "+", ""])
def test_an_offset_is_written_in_ascii_digits_as_the_tool_reads_it(written):
    with pytest.raises(PlanningError, match="must be a whole number"):
        whole_number(written, "The offset")
    assert whole_number(" -100 ", "The shift") == -100
