"""Rebalances recorded by the real collector against the real broker: a third consumer joining, one
leaving, nothing over rounds where nothing changes, for classic and KIP-848 (`consumer` protocol) groups;
shown on the group page and in the history API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from groups.kafka import TP, client_for
from groups.models import Cluster, Rebalance
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

        history = viewer_client.get(reverse("api_group_history", args=["local", group])).json()
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
