"""Rebalances recorded by the real collector against the real broker: a third consumer joining, one
leaving, nothing over rounds where nothing changes, for classic and KIP-848 (`consumer` protocol) groups;
shown on the group page and in the history API."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from groups.kafka import TP, Member, client_for
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading
from groups.models import Cluster, GroupMembership, Rebalance
from groups.snapshot import rebalances
from groups.snapshot.collector import COLLECTED, collect
from groups.snapshot.history_rollup import roll_up_and_prune
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PARTITIONS, PRODUCED, COMMITTED = 4, 40, 10


def _settled(cluster: Cluster, group: str, members: int) -> dict[TP, str]:
    """The group's partition owners once it is Stable with `members` members holding every partition."""

    def stable():
        (description,) = client_for(cluster).describe_groups([group]).values()
        owners = {tp: m.member_id for m in description.members for tp in m.assignment}
        done = description.state == "Stable" and len(description.members) == members and len(owners) == PARTITIONS
        return owners if done else None

    return kt.wait_for(stable, timeout=60, what=f"group {group} to settle with {members} members")


def _round(cluster: Cluster) -> None:
    assert collect(cluster).outcome == COLLECTED


def _recorded(cluster: Cluster, group: str) -> list[Rebalance]:
    return list(Rebalance.objects.filter(cluster=cluster, group_id=group).order_by("seen_at", "pk"))


def _members_by_client(cluster: Cluster, group: str) -> dict[str, str]:
    (description,) = client_for(cluster).describe_groups([group]).values()
    return {m.client_id: m.member_id for m in description.members}


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
@pytest.mark.engine_neutral(
    "how Kafka moves partitions; the rows land as this module's other tests store and prune them on both engines"
)
def test_a_third_consumer_joining_and_one_leaving_are_each_recorded_once_with_what_moved(
    protocol, cluster, kafka_bootstrap, unique, use_test_redis, viewer_client
):
    topic, group = unique("rb"), unique(f"rb-{protocol}")
    kt.create_topic(kafka_bootstrap, topic, PARTITIONS)
    kt.produce(kafka_bootstrap, topic, dict.fromkeys(range(PARTITIONS), PRODUCED))
    # Committed before the consumers start, which never commit: each moved partition could re-deliver 30.
    kt.commit(kafka_bootstrap, group, {(topic, p): COMMITTED for p in range(PARTITIONS)})
    members = {name: kt.Member(kafka_bootstrap, group, [topic], protocol=protocol, client_id=name) for name in "ab"}
    try:
        before = _settled(cluster, group, 2)
        for _ in range(4):  # the first round only remembers the group; the next three see nothing change
            _round(cluster)
        assert _recorded(cluster, group) == []

        members["c"] = kt.Member(kafka_bootstrap, group, [topic], protocol=protocol, client_id="c")
        after = _settled(cluster, group, 3)
        ids = _members_by_client(cluster, group)
        for _ in range(3):
            _round(cluster)
        (joined,) = _recorded(cluster, group)
        assert joined.joined == [{"member_id": ids["c"], "client_id": "c", "host": joined.joined[0]["host"]}]
        assert joined.left == []
        moved = {TP(m["topic"], m["partition"]): (m["from"]["member_id"], m["to"]["member_id"]) for m in joined.moved}
        assert moved == {tp: (before[tp], after[tp]) for tp in before if before[tp] != after[tp]}
        assert {to for _, to in moved.values()} >= {ids["c"]}
        assert all(m["redelivery_upper_bound"] == PRODUCED - COMMITTED for m in joined.moved)
        assert joined.redelivery_upper_bound == len(moved) * (PRODUCED - COMMITTED)
        if protocol == "consumer":
            assert joined.generation is not None and joined.previous_generation is not None
            assert joined.generation > joined.previous_generation
        else:
            assert joined.generation is None  # DescribeGroups tells no classic generation

        members.pop("c").stop()
        final = _settled(cluster, group, 2)
        _round(cluster)
        _round(cluster)
        first, left = _recorded(cluster, group)
        assert first.pk == joined.pk
        assert [m["member_id"] for m in left.left] == [ids["c"]] and left.joined == []
        assert {TP(m["topic"], m["partition"]) for m in left.moved} == {tp for tp in after if after[tp] != final[tp]}
        assert all(m["from"]["member_id"] == ids["c"] for m in left.moved)
        if protocol == "consumer":
            assert left.generation > joined.generation

        history = viewer_client.get(reverse("api:api_group_history", args=["local", group])).json()
        assert [r["generation"] for r in history["rebalances"]] == [joined.generation, left.generation]
        assert history["rebalances"][0]["joined"][0]["client_id"] == "c"
        assert history["rebalances"][0]["redelivery_upper_bound"] == joined.redelivery_upper_bound
        assert {"t", "generation", "joined", "left", "moved", "redelivery_upper_bound"} <= set(history["rebalances"][1])
        page = viewer_client.get(reverse("group_page", args=["local", group])).content.decode()
        section = page[page.index('id="rebalances"') :]
        assert section.count('class="rebalance"') == 2
        assert f"≤ {joined.redelivery_upper_bound}" in section
    finally:
        for member in members.values():
            member.stop()


def test_rebalances_are_pruned_with_the_roll_ups(cluster, settings):
    old = Rebalance.objects.create(cluster=cluster, group_id="g", seen_at=timezone.now() - timedelta(days=31))
    kept = Rebalance.objects.create(cluster=cluster, group_id="g", seen_at=timezone.now() - timedelta(days=29))
    settings.HISTORY_ROLLUP_RETENTION_DAYS = 30
    report = roll_up_and_prune()
    assert report.rebalances_pruned == 1
    assert list(Rebalance.objects.filter(pk__in=[old.pk, kept.pk]).values_list("pk", flat=True)) == [kept.pk]


def _reading(t_ms: int, state: str, *members: Member, group: str = "g") -> ClusterReading:
    return ClusterReading(
        t_ms=t_ms,
        groups={group: GroupReading(group, state, "classic", members, {})},
        topics={},
        partitions={TP("orders", p): PartitionReading(0, 100) for p in range(2)},
    )


def test_a_group_in_the_middle_of_a_rebalance_is_compared_only_once_it_settles_and_a_deleted_one_is_forgotten(
    cluster,
):
    """Mid-rebalance, classic members report empty assignments: compared then, every partition would move to
    nobody and back, two rebalances for one."""
    a = Member("a", "app-a", "/10.0.0.1", None, (TP("orders", 0), TP("orders", 1)))
    b = Member("b", "app-b", "/10.0.0.2", None, ())
    a_half = Member("a", "app-a", "/10.0.0.1", None, (TP("orders", 0),))
    b_half = Member("b", "app-b", "/10.0.0.2", None, (TP("orders", 1),))
    assert rebalances.record_round(cluster, _reading(1_000, "Stable", a)) == 0
    assert rebalances.record_round(cluster, _reading(2_000, "PreparingRebalance", a, b)) == 0
    assert rebalances.record_round(cluster, _reading(3_000, "CompletingRebalance", a, b)) == 0
    assert rebalances.record_round(cluster, _reading(4_000, "Stable", a_half, b_half)) == 1
    (recorded,) = _recorded(cluster, "g")
    assert [m["member_id"] for m in recorded.joined] == ["b"] and recorded.left == []
    assert [(m["partition"], m["from"]["member_id"], m["to"]["member_id"]) for m in recorded.moved] == [(1, "a", "b")]
    assert recorded.redelivery_upper_bound is None  # no earlier snapshot holds a commit to bound it by
    assert GroupMembership.objects.filter(cluster=cluster, group_id="g").exists()
    assert rebalances.record_round(cluster, _reading(5_000, "Stable", a, group="other")) == 0
    assert not GroupMembership.objects.filter(cluster=cluster, group_id="g").exists()


def test_a_failing_rebalance_feed_is_logged_and_the_round_still_serves_its_snapshot(
    cluster, use_test_redis, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("the rebalance store broke")

    monkeypatch.setattr(rebalances, "record_round", broken)
    with caplog.at_level(logging.ERROR, logger="groups.snapshot.feeds"):
        report = collect(cluster)
    assert report.outcome == COLLECTED and report.snapshot_id is not None
    assert (
        "Recording the rebalances of cluster local failed" in caplog.text and "the rebalance store broke" in caplog.text
    )


def test_a_move_between_members_with_the_same_client_id_names_their_member_ids(cluster):
    from django.template.loader import render_to_string

    def member(member_id):
        return {"member_id": member_id, "client_id": "rdkafka", "host": "/10.0.0.1"}

    moved = {"topic": "orders", "partition": 0, "redelivery_upper_bound": 24}
    rebalance = Rebalance(cluster=cluster, group_id="g", seen_at=timezone.now())
    ids = ("rdkafka-0a1b2c3d-aaaa1111", "rdkafka-9f8e7d6c-bbbb2222")
    rebalance.moved = [{**moved, "from": member(ids[0]), "to": member(ids[1])}]
    section = render_to_string("groups/_rebalances.html", {"rebalances": [rebalance], "cluster": cluster})
    # Not "rdkafka → rdkafka", which reads as a move to itself.
    assert "rdkafka <span" in section and "…aaaa1111" in section and "…bbbb2222" in section
    rebalance.moved[0]["to"] = {**member("x"), "client_id": "billing-2"}
    section = render_to_string("groups/_rebalances.html", {"rebalances": [rebalance], "cluster": cluster})
    assert "member-tail" not in section and "billing-2" in section
