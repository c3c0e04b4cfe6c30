"""Offset deletion planning (groups.planning.deletions), pure: scope, rows, refusals, drift and undo safety."""

import pytest

from groups.kafka import TP
from groups.planning.deletions import (
    NO_OFFSET,
    SUBSCRIBED,
    PartitionOffsets,
    drifted,
    plan_deletion,
    refuse_recommitted,
    scope_text,
)
from groups.planning.resets import PlanningError


def _facts(*rows):
    return [PartitionOffsets(*row) for row in rows]


def test_each_row_carries_its_committed_offset_and_the_lag_that_goes_with_it():
    plan = plan_deletion(_facts(("orders", 1, 40, 0, 100), ("orders", 0, 95, 10, 100)))
    assert [(r.topic, r.partition, r.before, r.lag) for r in plan.rows] == [("orders", 0, 95, 5), ("orders", 1, 40, 60)]
    assert plan.lag == 65
    assert plan.refusal is None


def test_lag_is_not_clamped_when_the_commit_is_above_the_log_end():
    (row,) = plan_deletion(_facts(("orders", 0, 120, 0, 100))).rows
    assert row.lag == -20


def test_a_partition_without_a_committed_offset_is_listed_and_said_to_lose_nothing():
    plan = plan_deletion(_facts(("orders", 0, 7, 0, 10), ("orders", 1, None, 0, 30)))
    assert [r.partition for r in plan.without_offsets] == [1]
    assert plan.rows[1].note == NO_OFFSET and plan.rows[1].lag is None
    assert plan.lag == 3
    assert "These have no committed offset, so nothing changes there: orders-1." in plan.warnings


def test_a_scope_where_no_partition_has_an_offset_is_refused_as_nothing_to_delete():
    plan = plan_deletion(_facts(("orders", 0, None, 0, 10)))
    assert plan.refusal is not None and plan.refusal.startswith("Nothing to delete")


def test_a_topic_the_group_subscribes_to_is_refused_by_name_with_what_to_do():
    plan = plan_deletion(
        _facts(("orders", 0, 5, 0, 10), ("payments", 0, 1, 0, 2), ("refunds", 0, 3, 0, 3)),
        subscribed={"payments", "refunds", "elsewhere"},
    )
    assert plan.subscribed_topics == ["payments", "refunds"]
    assert [r.note for r in plan.rows] == ["", SUBSCRIBED, SUBSCRIBED]
    assert plan.refusal == (
        "The group's members subscribe to topics payments, refunds: stop them or change their subscription first "
        "(Kafka refuses to delete the offsets of a subscribed topic)."
    )


def test_a_member_whose_subscription_is_unknown_counts_as_subscribed_to_every_topic():
    plan = plan_deletion(_facts(("orders", 0, 5, 0, 10)), subscribed_to_all=True)
    assert plan.subscribed_topics == ["orders"]
    assert plan.refusal is not None


def test_the_warning_says_where_a_consumer_resumes_afterwards():
    plan = plan_deletion(_facts(("orders", 0, 5, 0, 10), ("orders", 1, 8, 0, 10)))
    assert plan.warnings == (
        "Afterwards the group has no position on 2 partitions: a consumer that reads them again starts where its "
        "auto.offset.reset says (latest: skipping the 7 records of lag; earliest: from the log start).",
    )


def test_unknown_log_bounds_leave_the_lag_unknown():
    (row,) = plan_deletion(_facts(("orders", 0, 5, None, None))).rows
    assert row.lag is None


def test_rows_are_sorted_by_topic_and_partition():
    plan = plan_deletion(_facts(("b", 0, 1, 0, 1), ("a", 10, 1, 0, 1), ("a", 2, 1, 0, 1)))
    assert [(r.topic, r.partition) for r in plan.rows] == [("a", 2), ("a", 10), ("b", 0)]


def test_scope_text_joins_whole_topics_chosen_partitions_and_typed_arguments():
    assert scope_text(["orders"], ["orders:1", "payments:2", "payments:0"], "refunds:3 audit") == (
        "orders payments:0,2 refunds:3 audit"
    )


def test_scope_text_of_nothing_chosen_is_empty():
    assert scope_text([], [], "  ") == ""


@pytest.mark.parametrize("choice", ["orders", "orders:x", ":1", "orders:-1", "orders:²"])
def test_scope_text_refuses_a_partition_choice_it_cannot_read(choice):
    with pytest.raises(PlanningError, match="expected topic:partition"):
        scope_text([], [choice])


def test_drifted_names_each_partition_whose_offset_moved_since_the_preview():
    rows = [
        {"topic": "orders", "partition": 0, "before": 5},
        {"topic": "orders", "partition": 1, "before": None},
        {"topic": "orders", "partition": 2, "before": 9},
    ]
    current = {("orders", 0): 5, ("orders", 1): 3}
    assert drifted(rows, current) == ["orders-1 was none at preview, now 3", "orders-2 was 9 at preview, now none"]


def test_drifted_accepts_the_kafka_packages_partition_keys():
    assert drifted([{"topic": "t", "partition": 0, "before": 1}], {TP("t", 0): 1}) == []


def test_undo_is_refused_where_a_partition_got_a_new_commit_since_the_deletion():
    with pytest.raises(PlanningError) as refused:
        refuse_recommitted(12, {("orders", 0): 5, ("orders", 1): 7}, {("orders", 1): 30, ("other", 0): 1})
    assert str(refused.value) == (
        "Since operation #12 deleted these offsets, the group committed new ones: orders-1 (deleted 7, now 30). "
        "Putting the old ones back would overwrite them, so nothing was planned. Reset to the offsets you want "
        "instead."
    )


def test_undo_is_allowed_while_every_deleted_partition_is_still_without_an_offset():
    refuse_recommitted(12, {("orders", 0): 5, ("orders", 1): None}, {("orders", 1): 3})


def _deletion(status, outcome):
    from groups.models import Operation

    plan = [
        {"topic": "t", "partition": 0, "before": 5, "log_start": 0, "log_end": 9},
        {"topic": "t", "partition": 1, "before": None, "log_start": 0, "log_end": 9},
        {"topic": "u", "partition": 0, "before": 2, "log_start": 0, "log_end": 9},
    ]
    return Operation(kind=Operation.Kind.DELETE_OFFSETS, status=status, plan=plan, outcome=outcome)


def _outcome(*deleted):
    return [{"topic": t, "partition": p, "deleted": (t, p) in deleted} for t, p in (("t", 0), ("t", 1), ("u", 0))]


def test_undoing_a_deletion_puts_back_only_the_offsets_it_deleted():
    done = _deletion("succeeded", _outcome(("t", 0), ("t", 1), ("u", 0)))
    assert done.before_offsets() == {("t", 0): 5, ("u", 0): 2}
    assert done.can_be_undone
    partial = _deletion("failed", _outcome(("t", 0)))
    assert partial.before_offsets() == {("t", 0): 5}
    assert partial.can_be_undone


def test_a_deletion_that_deleted_nothing_cannot_be_undone():
    assert not _deletion("failed", _outcome(("t", 1))).can_be_undone
    assert not _deletion("pending", []).can_be_undone


@pytest.mark.parametrize("kind", ["reset", "share_reset"])
def test_a_reset_of_partitions_that_had_no_offset_before_offers_no_undo(kind):
    from groups.models import Operation

    def reset(*before):
        plan = [{"topic": "t", "partition": p, "before": b, "after": 5} for p, b in enumerate(before)]
        return Operation(kind=kind, status="succeeded", plan=plan)

    assert not reset(None, None).can_be_undone  # a commit cannot remove an offset: nothing to put back
    assert reset(None, 3).can_be_undone
