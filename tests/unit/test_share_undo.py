"""A share-group reset in the operator's words: why it cannot be undone, and its plan and review in a share
group's terms (start offsets, not committed offsets)."""

import pytest
from django.template.loader import render_to_string

from groups.models import Cluster, Operation
from groups.operations.lifecycle import Review
from groups.operations.plan_review import PartitionCheck
from groups.operations.share_resets import share_worded
from groups.planning.resets import PartitionFacts, ToEarliest, Undo, plan_reset
from groups.views.share_resets import undo_refusal


@pytest.mark.django_db
def test_a_share_reset_that_found_no_start_offsets_says_why_it_cannot_be_undone():
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    row = {"topic": "t", "partition": 0, "before": None, "after": 11, "log_start": 0, "log_end": 40}
    operation = Operation.objects.create(
        kind=Operation.Kind.SHARE_RESET, cluster=cluster, group_id="s", plan=[row], status=Operation.Status.SUCCEEDED
    )
    assert undo_refusal(operation) == (
        f"Operation #{operation.pk} set start offsets on share-partitions that had none before: there is nothing to "
        "put back, so it cannot be undone. To move them again, preview a new reset."
    )
    operation.plan = [{**row, "before": 5}]
    assert undo_refusal(operation) is None


def test_a_share_reset_whose_start_offsets_moved_since_the_request_is_blocked_in_a_share_groups_words():
    moved = PartitionCheck("t", 0, 5, 0, 7, 0, 0, 40, in_request=True, in_plan_now=True)
    assert Review(checks=(moved,), offset="start offset").blocked_reason == (
        "The group's start offsets moved on 1 partition since the request, so a worker would refuse this plan. "
        "Reject it; the requester can preview again against the current offsets."
    )
    assert "committed offsets moved" in (Review(checks=(moved,)).blocked_reason or "")


def test_undoing_a_share_reset_that_found_some_partitions_without_a_start_offset_says_so_in_a_share_groups_words():
    found = {("t", 0): None, ("t", 1): 5}  # t-0 had no start offset before the reset being undone
    plan = plan_reset(Undo(found), [PartitionFacts("t", 0, 9, 0, 40), PartitionFacts("t", 1, 9, 0, 40)])
    assert share_worded(plan.warnings[-1]) == (
        "These had no start offset before that operation and a reset cannot remove one, so they are left unchanged: "
        "t-0."
    )


def test_a_share_reset_plans_row_without_a_start_offset_before_says_so_once():
    plan = plan_reset(ToEarliest(), [PartitionFacts("t", 0, None, 3, 40)])
    shared = render_to_string(
        "groups/_plan_table.html", {"plan": plan, "rows": [(plan.rows[0], None)], "offset_label": "Start offset"}
    )
    assert "no start offset before" in shared and "offset offset" not in shared
    assert "no committed offset before" in render_to_string(
        "groups/_plan_table.html", {"plan": plan, "rows": [(plan.rows[0], None)]}
    )
