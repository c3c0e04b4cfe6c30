"""The demo workload leaves every consumer group in the situation its name promises."""

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest
from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, ConsumerGroupType, TopicPartition
from confluent_kafka.admin import AdminClient, ConsumerGroupDescription, OffsetSpec

from localkafka import demo

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture(scope="module")
def workload(kafka_bootstrap):
    running = demo.DemoWorkload(kafka_bootstrap, prefix=f"demo-{uuid.uuid4().hex[:8]}-")
    running.seed()
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(kafka_bootstrap):
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def eventually(observe: Callable[[], T], accept: Callable[[T], bool], timeout: float = 90.0) -> T:
    """The first observation accept() likes, or the last one when time runs out (for the assert to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = observe()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def describe(admin: AdminClient, group: str) -> ConsumerGroupDescription:
    return admin.describe_consumer_groups([group], request_timeout=10)[group].result()


def committed(admin: AdminClient, group: str) -> dict[int, int]:
    request = [ConsumerGroupTopicPartitions(group)]
    result = admin.list_consumer_group_offsets(request, request_timeout=10)[group].result()
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def log_offsets(admin: AdminClient, workload: demo.DemoWorkload, topic: str, spec: OffsetSpec) -> dict[int, int]:
    partitions = [TopicPartition(workload.name(topic), p) for p in range(demo.TOPICS_BY_NAME[topic].partitions)]
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=10)
    return {tp.partition: future.result().offset for tp, future in futures.items()}


def assigned_counts(description: ConsumerGroupDescription) -> list[int]:
    return sorted(len(member.assignment.topic_partitions) for member in description.members)


def test_the_classic_group_is_stable_with_two_members_sharing_the_partitions(workload, admin):
    group = workload.name(demo.STABLE_CLASSIC)

    found = eventually(
        lambda: describe(admin, group),
        lambda d: d.state == ConsumerGroupState.STABLE and sum(assigned_counts(d)) == 6 and len(d.members) == 2,
    )

    assert found.state == ConsumerGroupState.STABLE
    assert found.type == ConsumerGroupType.CLASSIC
    assert assigned_counts(found) == [3, 3]


def test_the_kip848_group_is_stable_on_the_consumer_protocol(workload, admin):
    group = workload.name(demo.STABLE_KIP848)

    found = eventually(
        lambda: describe(admin, group),
        lambda d: d.state == ConsumerGroupState.STABLE and sum(assigned_counts(d)) == 3 and len(d.members) == 2,
    )

    assert found.state == ConsumerGroupState.STABLE
    assert found.type == ConsumerGroupType.CONSUMER
    assert assigned_counts(found) == [1, 2]


def test_the_idle_member_group_is_stable_with_one_member_left_without_partitions(workload, admin):
    group = workload.name(demo.STABLE_IDLE_MEMBER)

    found = eventually(
        lambda: describe(admin, group),
        lambda d: d.state == ConsumerGroupState.STABLE and assigned_counts(d) == [0, 1, 1],
    )

    assert found.state == ConsumerGroupState.STABLE
    assert assigned_counts(found) == [0, 1, 1]


def test_the_abandoned_group_is_empty_and_lags_on_every_partition(workload, admin):
    group = workload.name(demo.EMPTY_WITH_LAG)

    found = describe(admin, group)
    offsets = committed(admin, group)
    end = log_offsets(admin, workload, "clicks", OffsetSpec.latest())

    assert found.state == ConsumerGroupState.EMPTY
    assert sorted(offsets) == list(range(12))
    assert all(end[p] > offsets[p] > 0 for p in offsets), (offsets, end)


def test_the_partial_group_has_offsets_on_partitions_0_and_1_only(workload, admin):
    group = workload.name(demo.PARTIAL_OFFSETS)

    found = describe(admin, group)
    offsets = committed(admin, group)

    assert found.state == ConsumerGroupState.EMPTY
    assert sorted(offsets) == [0, 1]


def test_the_expired_group_committed_below_the_log_start(workload, admin):
    group = workload.name(demo.BELOW_LOG_START)

    found = describe(admin, group)
    offsets = committed(admin, group)
    log_start = log_offsets(admin, workload, "audit-trail", OffsetSpec.earliest())

    assert found.state == ConsumerGroupState.EMPTY
    assert 0 in offsets, offsets
    assert offsets[0] < log_start[0]


def test_seeding_again_changes_no_committed_offset(workload, admin):
    seeded = [workload.name(g) for g in (demo.EMPTY_WITH_LAG, demo.PARTIAL_OFFSETS, demo.BELOW_LOG_START)]
    before = {group: committed(admin, group) for group in seeded}
    log_start_before = log_offsets(admin, workload, "audit-trail", OffsetSpec.earliest())

    workload.seed()

    assert {group: committed(admin, group) for group in seeded} == before
    assert log_offsets(admin, workload, "audit-trail", OffsetSpec.earliest()) == log_start_before
