"""What counts as a rebalance between two rounds, and what it could re-deliver (groups.snapshot.membership)."""

from __future__ import annotations

from groups.kafka import TP, Member
from groups.snapshot.membership import (
    Membership,
    Move,
    SeenMember,
    diff,
    fingerprint,
    redelivery_bound,
    total_bound,
)


def _member(member_id: str, *partitions: int, topic: str = "orders") -> Member:
    return Member(
        member_id, f"app-{member_id}", f"/10.0.0.{len(member_id)}", None, tuple(TP(topic, p) for p in partitions)
    )


def _seen(generation, *members: Member) -> Membership:
    return Membership.of(generation, members)


def test_nothing_changed_is_no_rebalance_whatever_order_the_members_come_in():
    a, b = _member("a", 0, 1), _member("b", 2, 3)
    assert diff(_seen(None, a, b), _seen(None, b, a)) is None
    assert _seen(None, a, b).fingerprint == _seen(None, b, a).fingerprint


def test_a_third_member_joining_is_named_with_the_partitions_it_took_and_from_whom():
    old = _seen(None, _member("a", 0, 1), _member("b", 2, 3))
    new = _seen(None, _member("a", 0), _member("b", 2), _member("c", 1, 3))
    change = diff(old, new)
    assert change is not None
    assert [m.member_id for m in change.joined] == ["c"] and change.left == ()
    assert change.joined[0].client_id == "app-c" and change.joined[0].host == "10.0.0.1"
    assert [(m.tp.partition, m.source.member_id, m.target.member_id) for m in change.moved] == [
        (1, "a", "c"),
        (3, "b", "c"),
    ]


def test_a_member_leaving_hands_its_partitions_to_the_others():
    old = _seen(None, _member("a", 0), _member("b", 1), _member("c", 2))
    new = _seen(None, _member("a", 0, 2), _member("b", 1))
    change = diff(old, new)
    assert [m.member_id for m in change.left] == ["c"] and change.joined == ()
    assert [(m.tp, m.source.member_id, m.target.member_id) for m in change.moved] == [(TP("orders", 2), "c", "a")]


def test_a_group_emptying_moves_every_partition_to_nobody_and_back_later():
    full = _seen(None, _member("a", 0, 1))
    empty = _seen(None)
    went = diff(full, empty)
    assert [m.member_id for m in went.left] == ["a"]
    assert [(m.tp.partition, m.target) for m in went.moved] == [(0, None), (1, None)]
    back = diff(empty, _seen(None, _member("z", 0, 1)))
    assert [(m.tp.partition, m.source, m.target.member_id) for m in back.moved] == [(0, None, "z"), (1, None, "z")]


def test_a_new_group_epoch_with_the_same_assignment_is_a_rebalance_but_an_unknown_one_is_not():
    a = _member("a", 0, 1)
    change = diff(_seen(4, a), _seen(5, a))
    assert change is not None and (change.previous_generation, change.generation) == (4, 5)
    assert change.joined == change.left == change.moved == ()
    assert diff(_seen(4, a), _seen(None, a)) is None
    assert diff(_seen(None, a), _seen(5, a)) is None


def test_partitions_swapped_between_the_same_members_are_moves_without_joins_or_leaves():
    change = diff(_seen(None, _member("a", 0), _member("b", 1)), _seen(None, _member("a", 1), _member("b", 0)))
    assert change.joined == change.left == ()
    assert [(m.tp.partition, m.source.member_id, m.target.member_id) for m in change.moved] == [
        (0, "a", "b"),
        (1, "b", "a"),
    ]


def test_a_round_fingerprints_the_members_it_read_as_it_stored_them():
    read = (_member("b", 3, 2), _member("a", 1, 0))
    stored = Membership.from_json(None, Membership.of(None, read).to_json())
    assert fingerprint(read) == stored.fingerprint
    assert fingerprint(read) != fingerprint((_member("b", 3), _member("a", 1, 0, 2)))


def test_the_membership_survives_its_stored_form():
    seen = _seen(7, _member("a", 0, 1), _member("b", 2, topic="payments"))
    again = Membership.from_json(7, seen.to_json())
    assert again == seen and again.fingerprint == seen.fingerprint


def _move(source: str | None, partition: int = 0) -> Move:
    member = SeenMember(source, "app", "h", ()) if source else None
    return Move(TP("orders", partition), member, SeenMember("new", "app", "h", ()))


def test_redelivery_is_bounded_by_the_log_end_after_less_the_commit_before():
    assert redelivery_bound(_move("a"), {TP("orders", 0): 40}, {TP("orders", 0): 100}) == 60
    assert redelivery_bound(_move("a"), {TP("orders", 0): 100}, {TP("orders", 0): 100}) == 0
    # A commit past the log end (the topic was recreated since) bounds nothing: never a negative count.
    assert redelivery_bound(_move("a"), {TP("orders", 0): 120}, {TP("orders", 0): 100}) == 0


def test_redelivery_is_unknown_without_a_commit_or_a_log_end_and_none_for_a_partition_nobody_held():
    assert redelivery_bound(_move("a"), {}, {TP("orders", 0): 100}) is None
    assert redelivery_bound(_move("a"), {TP("orders", 0): 5}, {TP("orders", 0): None}) is None
    assert redelivery_bound(_move(None), {}, {}) == 0


def test_the_total_bound_adds_the_known_ones_and_is_unknown_only_when_none_is_known():
    assert total_bound([60, None, 3]) == 63
    assert total_bound([None, None]) is None
    assert total_bound([]) is None
