"""The durability judgement from replicas, in-sync replicas, leaders and settings: which findings a topic
gets, how bad each is, and the sentence that says what it means for loss on a broker restart."""

from __future__ import annotations

import pytest

from groups import durability
from groups.kafka.durability import PartitionReplicas, TopicReplication, TopicSetting


def _topic(
    partitions: list[tuple[int | None, tuple[int, ...], tuple[int, ...]]],
    *,
    on_topic: tuple[str, ...] = (),
    **settings: str,
) -> TopicReplication:
    values = {
        "min.insync.replicas": "1",
        "unclean.leader.election.enable": "false",
        "retention.ms": "604800000",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
    }
    values.update({name.replace("_", "."): value for name, value in settings.items()})
    return TopicReplication(
        "orders",
        tuple(PartitionReplicas(i, leader, replicas, isr) for i, (leader, replicas, isr) in enumerate(partitions)),
        {name: TopicSetting(value, name in on_topic) for name, value in values.items()},
    )


HEALTHY = [(1, (1, 2, 3), (1, 2, 3)), (2, (2, 3, 1), (2, 3, 1))]


def _titles(judged: durability.TopicDurability) -> list[str]:
    return [f.title for f in judged.findings]


def test_rf_3_with_min_isr_2_and_every_replica_in_sync_is_ok_and_says_what_it_survives():
    judged = durability.judge(_topic(HEALTHY, min_insync_replicas="2"))
    assert (judged.replication_factor, judged.min_insync_replicas) == (3, 2)
    assert judged.worst.level == "ok" and _titles(judged) == ["RF 3, min.insync.replicas 2"]
    assert judged.worst.meaning == (
        "1 broker can restart at once without failing acks=all writes, and an acknowledged record survives "
        "the loss of 1 broker."
    )
    assert judged.under_replicated == judged.under_min_isr == judged.offline == ()


def test_rf_1_is_a_danger_of_unavailability_and_of_loss():
    judged = durability.judge(_topic([(1, (1,), (1,))]))
    assert judged.worst.level == "danger" and _titles(judged) == ["RF 1"]
    assert judged.worst.meaning.startswith("A broker restart makes each partition unavailable")


def test_min_isr_above_the_in_sync_replicas_is_flagged_with_the_partitions_and_what_fails():
    judged = durability.judge(_topic([(1, (1,), (1,)), (1, (1,), (1,))], min_insync_replicas="2"))
    assert _titles(judged) == ["Under min ISR", "min.insync.replicas above RF", "RF 1"]
    short = judged.findings[0]
    assert short.partitions == (0, 1) and judged.under_min_isr == (0, 1)
    assert short.meaning.startswith("acks=all writes to partitions 0, 1 fail while ISR (1) < min.insync.replicas (2)")


def test_a_follower_out_of_sync_makes_a_partition_under_replicated_and_then_under_min_isr():
    lagging = durability.judge(_topic([(1, (1, 2, 3), (1, 2)), *HEALTHY[1:]], min_insync_replicas="2"))
    assert _titles(lagging) == ["Under-replicated"] and lagging.worst.level == "warn"
    assert lagging.under_replicated == (0,) and lagging.partitions[0].out_of_sync == (3,)
    assert lagging.worst.meaning.startswith("Not every replica of partition 0 is in sync")
    alone = durability.judge(_topic([(1, (1, 2, 3), (1,)), *HEALTHY[1:]], min_insync_replicas="2"))
    assert _titles(alone) == ["Under min ISR"] and alone.under_min_isr == (0,) and alone.under_replicated == (0,)


def test_a_partition_without_a_leader_is_offline_and_worst_of_all():
    judged = durability.judge(_topic([(None, (1, 2, 3), ()), *HEALTHY[1:]], min_insync_replicas="2"))
    assert judged.findings[0].title == "No leader" and judged.offline == (0,)
    assert judged.findings[0].meaning.startswith("Partition 0 has no leader")
    # An offline partition is not counted again as under min ISR.
    assert "Under min ISR" not in _titles(judged)


def test_unclean_leader_election_is_flagged_when_set():
    judged = durability.judge(_topic(HEALTHY, min_insync_replicas="2", unclean_leader_election_enable="true"))
    assert _titles(judged) == ["Unclean leader election"] and judged.unclean_leader_election
    assert "lost for good" in judged.worst.meaning
    setting = {s.name: s for s in judged.settings}["unclean.leader.election.enable"]
    assert (setting.value, setting.meaning) == (
        "true",
        "An out-of-sync replica may become leader, dropping the records it never received.",
    )


def test_min_isr_1_on_replicated_topics_and_min_isr_equal_to_rf_are_warnings():
    one = durability.judge(_topic(HEALTHY))
    assert _titles(one) == ["min.insync.replicas 1"] and one.worst.level == "warn"
    all_of_them = durability.judge(_topic(HEALTHY, min_insync_replicas="3"))
    assert _titles(all_of_them) == ["min.insync.replicas = RF"]


@pytest.mark.parametrize(
    ("settings", "retention", "meaning"),
    [
        (
            {},
            "7 days",
            "Records older than 7 days are deleted, read or not: a group stopped longer than that never reads them.",
        ),
        ({"retention_ms": "-1"}, "forever", "Records are kept however old they are."),
        (
            {"retention_ms": "5400000", "retention_bytes": "1073741824"},
            "90 minutes or 1 GiB",
            "Records older than 90 minutes",
        ),
        ({"cleanup_policy": "compact"}, "latest per key", "Records are kept however old they are."),
        ({"cleanup_policy": "compact,delete"}, "latest per key, and 7 days", "Records older than 7 days"),
    ],
)
def test_retention_is_told_in_words_with_what_it_means_for_a_group_that_stops(settings, retention, meaning):
    judged = durability.judge(_topic(HEALTHY, min_insync_replicas="2", **settings))
    assert judged.retention == retention
    by_name = {s.name: s for s in judged.settings}
    assert by_name["retention.ms"].meaning.startswith(meaning)
    assert [s.name for s in judged.settings] == [
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "retention.ms",
        "retention.bytes",
        "cleanup.policy",
    ]


def test_each_setting_says_whether_the_topic_sets_it_or_follows_the_default():
    judged = durability.judge(
        _topic(HEALTHY, on_topic=("retention.ms",), min_insync_replicas="2", retention_ms="3600000")
    )
    by_name = {s.name: s for s in judged.settings}
    assert by_name["retention.ms"].set_on_topic and not by_name["min.insync.replicas"].set_on_topic
    assert by_name["retention.bytes"].meaning == "Partitions have no size limit."
    assert by_name["cleanup.policy"].meaning.startswith("Old records are deleted by time or size")


def test_a_missing_or_garbled_setting_falls_back_to_kafkas_default():
    facts = _topic(HEALTHY)
    facts.settings.pop("min.insync.replicas")
    facts.settings["retention.ms"] = TopicSetting("soon", False)
    judged = durability.judge(facts)
    assert judged.min_insync_replicas == 1 and judged.retention == "forever"


@pytest.mark.parametrize(
    ("ms", "text"), [(604_800_000, "7 days"), (86_400_000, "1 day"), (5_400_000, "90 minutes"), (1500, "1500 ms")]
)
def test_durations_use_the_largest_whole_unit(ms, text):
    assert durability.duration(ms) == text


@pytest.mark.parametrize(("count", "text"), [(1 << 30, "1 GiB"), (1536, "1.5 KiB"), (100, "100 bytes")])
def test_sizes_use_binary_units(count, text):
    assert durability.size(count) == text
