"""Which group deletions can be undone (their offsets committed back), and why the others cannot, in words."""

import pytest

from groups.models import Cluster, Operation
from groups.operations.resets import undo_refusal
from groups.planning.deletions import refuse_recreated
from groups.planning.resets import PlanningError

ROWS = [
    {"topic": "orders", "partition": 0, "before": 30, "log_start": 0, "log_end": 50},
    {"topic": "orders", "partition": 1, "before": 38, "log_start": 5, "log_end": 40},
]


def _deletion(**fields) -> Operation:
    values = {"group_id": "billing", "plan": ROWS, "status": Operation.Status.SUCCEEDED, "group_type": "consumer"}
    return Operation(kind=Operation.Kind.DELETE_GROUP, **{**values, **fields})


@pytest.mark.parametrize("group_type", ["consumer", "classic"])
def test_a_consumer_or_classic_groups_deletion_puts_back_the_offsets_it_deleted(group_type):
    deletion = _deletion(group_type=group_type)
    assert deletion.can_be_undone
    assert deletion.before_offsets() == {("orders", 0): 30, ("orders", 1): 38}


@pytest.mark.parametrize(
    "fields",
    [
        {"group_type": "streams"},
        {"group_type": ""},  # recorded before the type was kept
        {"group_type": "consumer", "internal_topics": [{"topic": "billing-x-changelog", "partitions": 1}]},
        {"status": Operation.Status.FAILED},
        {"status": Operation.Status.AWAITING_APPROVAL},
        {"plan": []},
    ],
)
def test_other_deletions_cannot_be_undone(fields):
    assert not _deletion(**fields).can_be_undone


@pytest.mark.django_db
def test_a_refused_undo_of_a_deletion_says_why_and_what_to_do_instead():
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")

    def refusal(**fields) -> str | None:
        deletion = _deletion(**fields)
        deletion.cluster = cluster
        deletion.save()
        return undo_refusal(deletion)

    assert refusal() is None
    streams = refusal(
        group_type="streams", internal_topics=[{"topic": "billing-agg-changelog", "partitions": 1, "deleted": True}]
    )
    assert streams is not None
    assert "deleted streams group 'billing' with its internal topics (billing-agg-changelog)" in streams
    assert "classic consumer group" in streams and "kafka-streams-application-reset" in streams
    assert "Start the application so that it creates its group again" in streams
    assert "streams group 'billing'." in (refusal(group_type="streams") or "")
    old = refusal(group_type="", internal_topics=[{"topic": "billing-x-repartition", "partitions": 2}])
    assert old is not None and "also deleted the internal topics billing-x-repartition" in old
    assert "before the console kept the type" in (refusal(group_type="") or "")
    assert "this one is failed" in (refusal(status=Operation.Status.FAILED) or "")
    assert "held no committed offset" in (refusal(plan=[]) or "")


def test_an_undo_is_refused_once_the_group_id_has_offsets_again():
    refuse_recreated(7, "billing", {})  # gone still: nothing to refuse
    with pytest.raises(PlanningError) as refused:
        refuse_recreated(7, "billing", {("orders", 0): 3, ("orders", 1): 9})
    assert str(refused.value).startswith(
        "Group 'billing' exists again: since operation #7 deleted it, it was re-created and has committed offsets "
        "(orders-0 at 3, orders-1 at 9)."
    )
    assert "reset it (strategy File, with the reset file on operation #7's page)" in str(refused.value)
