"""A group the served snapshot has and a listing lacks: deleted, or missed (groups.snapshot.vanished)."""

from groups.kafka import TP, GroupDescription
from groups.snapshot import vanished


def _described(group_id: str, state: str) -> GroupDescription:
    return GroupDescription(group_id, state, "classic", "", "-", ())


def test_a_deleted_group_is_dead_with_no_offset_and_may_leave():
    asked = ["gone"]
    assert vanished.still_there(asked, {"gone": _described("gone", "Dead")}, {"gone": {}}) == []


def test_a_group_with_an_offset_or_a_live_state_was_missed_by_the_listing():
    described = {
        "empty-with-offsets": _described("empty-with-offsets", "Dead"),  # what a loading coordinator may answer
        "stable": _described("stable", "Stable"),
        "deleted": _described("deleted", "Dead"),
    }
    committed = {"empty-with-offsets": {TP("orders", 0): 12}, "stable": {}, "deleted": {}}
    asked = ["deleted", "empty-with-offsets", "stable"]
    assert vanished.still_there(asked, described, committed) == ["empty-with-offsets", "stable"]


def test_the_refusal_names_a_few_groups_says_why_and_that_nothing_was_stored():
    error = vanished.refusal([f"g{n}" for n in range(5)], 40)
    assert error.code == "COORDINATOR_LOAD_IN_PROGRESS" and error.retriable
    assert "lacked 5 of the 40 groups" in error.message
    assert "'g0', 'g1', 'g2' and 2 more" in error.message
    assert "This round stored nothing" in error.message and "next round lists again" in error.message
