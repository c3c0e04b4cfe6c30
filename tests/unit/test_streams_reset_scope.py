"""What a reset's scope covers for a streams group, as kafka-streams-groups --reset-offsets reads it."""

from __future__ import annotations

from groups.planning.resets import ALL_TOPICS, parse_scope
from groups.planning.streams import all_input_partitions, copied_inputs, internal_offsets_kept, outside_group

COMMITTED = [("lines", 1), ("lines", 0), ("app-words-repartition", 0), ("app-words-repartition", 1)]


def test_all_input_topics_are_the_committed_partitions_of_the_source_topics_only():
    assert all_input_partitions(COMMITTED, ["lines"]) == [("lines", 0), ("lines", 1)]


def test_all_input_topics_say_which_internal_offsets_they_leave_alone():
    (note,) = internal_offsets_kept(COMMITTED, ["lines"])
    assert "its offsets on app-words-repartition stay as they are" in note
    assert internal_offsets_kept([("lines", 0)], ["lines"]) == []


def test_all_input_topics_of_a_group_without_topology_cover_nothing():
    assert all_input_partitions(COMMITTED, []) == []


def test_named_topics_and_partitions_the_group_holds_are_accepted():
    assert outside_group("app", parse_scope("lines app-words-repartition:1"), COMMITTED) is None
    assert outside_group("app", ALL_TOPICS, COMMITTED) is None


def test_a_topic_the_group_holds_no_offset_for_is_refused_with_the_topics_it_does_hold():
    message = outside_group("app", parse_scope("orders lines"), COMMITTED)
    assert message is not None
    assert "no committed offsets on orders:" in message
    assert "Its offsets are on: app-words-repartition, lines." in message


def test_a_partition_without_an_offset_is_refused_even_where_its_topic_is_held():
    message = outside_group("app", parse_scope("lines:0,7"), COMMITTED)
    assert message is not None and "no committed offsets on lines:7:" in message


def test_a_group_without_offsets_says_so():
    message = outside_group("app", parse_scope("lines"), [])
    assert message is not None and "Its offsets are on: none." in message


def test_a_copy_into_a_streams_group_takes_only_the_partitions_it_holds_and_says_what_it_left_out():
    taken, notes = copied_inputs(
        "app",
        "other",
        {("words", 0): 5, ("words", 1): 7, ("clicks", 0): 3},
        [("words", 0), ("words", 1), ("app-counts-repartition", 0)],
    )
    assert taken == {("words", 0): 5, ("words", 1): 7}
    assert notes == [
        "'other' also has offsets on clicks, where streams group 'app' holds none: a streams group's reset moves "
        "only the offsets it holds, so those are left out."
    ]
    assert copied_inputs("app", "other", {("words", 0): 5}, [("words", 0)]) == ({("words", 0): 5}, [])
