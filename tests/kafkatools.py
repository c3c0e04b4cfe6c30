"""Test-side Kafka clients: they play the applications whose groups the console observes.

These are real clients against the real broker; the console's own code under test never
comes from here.
"""

from __future__ import annotations

import functools
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, ShareConsumer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from localkafka.broker import run_tool


@functools.cache
def admin(bootstrap: str) -> AdminClient:
    # Kept alive: a collected AdminClient cancels its in-flight futures (_DESTROY).
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int, config: dict | None = None) -> None:
    futures = admin(bootstrap).create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})]
    )
    futures[name].result(timeout=30)
    # Metadata reaches the partition leaders a moment after creation; wait until produce works.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topics = admin(bootstrap).list_topics(name, timeout=10).topics
        if (
            name in topics
            and len(topics[name].partitions) == partitions
            and all(p.leader >= 0 for p in topics[name].partitions.values())
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(f"topic {name} did not get leaders")


def produce(bootstrap: str, topic: str, counts: dict[int, int], timestamp_ms: int | None = None) -> None:
    """Write counts[partition] records to each partition and wait until all are acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition, count in counts.items():
        for i in range(count):
            kwargs = {"timestamp": timestamp_ms} if timestamp_ms is not None else {}
            producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=partition, **kwargs)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} records were not delivered"


def delete_records(bootstrap: str, topic: str, partition: int, before: int) -> None:
    """Raise the log start to `before`, as retention would."""
    tp = TopicPartition(topic, partition, before)
    admin(bootstrap).delete_records([tp])[tp].result(timeout=30)


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets for a group the way an application that stopped would have left them."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """What the broker holds for the group on `topic`, read by the test's own client (not the console's)."""
    metadata = admin(bootstrap).list_topics(topic, timeout=10).topics[topic]
    found = committed_by_consumer(bootstrap, group, [TopicPartition(topic, p) for p in metadata.partitions])
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def committed_by_consumer(
    bootstrap: str, group: str, partitions: list[TopicPartition], timeout: float = 30
) -> list[TopicPartition]:
    """OffsetFetch through a consumer handle, which never joins the group.

    Not AdminClient.list_consumer_group_offsets: librdkafka (2.16, issue #5040) dereferences the
    absent consumer-group handle of an AdminClient when the coordinator answers NOT_COORDINATOR,
    which a fresh broker does while it loads __consumer_offsets: the whole process segfaults.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return consumer.committed(partitions, timeout=timeout)
    finally:
        consumer.close()


class Member:
    """A live group member polling in its own thread until stopped."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: list[str],
        *,
        protocol: str = "classic",
        client_id: str = "test-member",
        auto_commit: bool = False,
    ):
        config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": client_id,
            "enable.auto.commit": auto_commit,
            "auto.offset.reset": "earliest",
        }
        if protocol == "consumer":
            config["group.protocol"] = "consumer"
        else:
            config["session.timeout.ms"] = 6000
            config["heartbeat.interval.ms"] = 500
        self._consumer = Consumer(config)
        self._consumer.subscribe(topics)
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._consumer.poll(0.2)
            if self._consumer.assignment():
                self._assigned.set()
        self._consumer.close()

    def wait_assigned(self, timeout: float = 30) -> None:
        assert self._assigned.wait(timeout), "member got no partitions in time"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class ShareMember:
    """A live share-group consumer (librdkafka's preview ShareConsumer) polling in its own thread until
    stopped, accepting every record it is given; `received` counts them."""

    def __init__(self, bootstrap: str, group: str, topics: list[str], *, client_id: str = "test-share-member"):
        # The consumer is made and used on its thread only: it refuses calls from two threads at once.
        self._config = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id}
        self._topics = topics
        self.received = 0
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._started.wait(30), "share consumer did not start"

    def _run(self) -> None:
        consumer = ShareConsumer(self._config)
        try:
            consumer.subscribe(self._topics)
            self._started.set()
            while not self._stop.is_set():
                self.received += sum(1 for message in consumer.poll(0.2) if message.error() is None)
        finally:
            consumer.close()

    def stop(self) -> None:
        """Leave the group (close acknowledges what was received), so it is Empty once the last one stops."""
        self._stop.set()
        self._thread.join(timeout=30)


def start_share_group_at_earliest(bootstrap: str, group: str) -> None:
    """Have a share group start at the log start of partitions it first reads (the default is the log end)."""
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    for future in admin(bootstrap).incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def wait_for_group_coordinator(bootstrap: str, timeout: float = 60) -> None:
    """Until the broker answers group requests (its __consumer_offsets partitions are loaded)."""
    from confluent_kafka import KafkaException

    def answers() -> bool:
        try:
            committed_by_consumer(bootstrap, "coordinator-probe", [TopicPartition("coordinator-probe", 0)], timeout=5)
            return True
        except KafkaException:
            return False

    wait_for(answers, timeout=timeout, interval=0.5, what="the group coordinator to load")


def wait_for(condition, timeout: float = 30, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_share_lag(bootstrap: str, group: str, lag: int, timeout: float = 60) -> None:
    """Until the broker reports `lag` as the share group's total lag (its own count, per share-partition)."""
    from groups.kafka import ShareClient

    client = ShareClient({"bootstrap.servers": bootstrap}, 10)
    wait_for(
        lambda: sum(o.lag or 0 for o in client.start_offsets(group)) == lag,
        timeout=timeout,
        what=f"the broker to report a lag of {lag} for share group {group}",
    )


def commit_many(bootstrap: str, offsets_by_group: dict[str, dict[tuple[str, int], int]], timeout: float = 120) -> None:
    """Commit offsets for many (inactive) groups at once: every request in flight together, then checked."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    client = admin(bootstrap)
    futures = {}
    for group, offsets in offsets_by_group.items():
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, o) for (t, p), o in offsets.items()])
        futures[group] = client.alter_consumer_group_offsets([request], request_timeout=timeout)[group]
    for group, future in futures.items():
        result = future.result(timeout=timeout)
        failed = [tp for tp in result.topic_partitions if tp.error is not None]
        assert not failed, f"{group}: {failed}"


# What a partition of a topic just created answers until its leader is in place.
_NOT_LED_YET = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_PARTITION,
    }
)


def read_records(
    bootstrap: str, topic: str, *, isolation: str = "read_committed", ranges: dict[int, tuple[int, int]] | None = None
) -> dict[int, list[tuple]]:
    """Records per partition as (offset, key, value, headers, timestamp), read as an application would.

    Without `ranges`, each partition from its start to its high watermark.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kafkatools-reader",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    try:
        if ranges is None:

            def metadata():
                found = consumer.list_topics(topic, timeout=10).topics[topic]
                return found.partitions if found.error is None and found.partitions else None

            partitions = wait_for(metadata, timeout=30, what=f"the metadata of {topic}")
            # Asked read_uncommitted: a read_committed consumer's query answers the last stable offset,
            # which trails a just-committed transaction until its markers land.
            watermarks = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": "kafkatools-reader",
                    "isolation.level": "read_uncommitted",
                }
            )

            def ends(p: int) -> tuple[int, int] | None:
                # A topic just created is in the metadata a moment before its broker leads it.
                try:
                    return watermarks.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                except KafkaException as exc:
                    # librdkafka does not flag every "not led yet" answer as retriable.
                    if exc.args[0].retriable() or exc.args[0].code() in _NOT_LED_YET:
                        return None
                    raise

            try:
                ranges = {p: wait_for(lambda p=p: ends(p), what=f"the log ends of {topic} {p}") for p in partitions}
            finally:
                watermarks.close()
        wanted = {p: (start, end) for p, (start, end) in ranges.items() if start < end}
        found: dict[int, list[tuple]] = {p: [] for p in ranges}
        if wanted:
            consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in wanted.items()])
        deadline = time.monotonic() + 30
        while wanted:
            assert time.monotonic() < deadline, f"could not read {topic} to its end in time"
            for message in consumer.consume(num_messages=500, timeout=0.5):
                p = message.partition()
                if p not in wanted:
                    continue
                if message.error() is None and message.offset() < wanted[p][1]:
                    found[p].append(
                        (
                            message.offset(),
                            message.key(),
                            message.value(),
                            message.headers() or [],
                            message.timestamp()[1],
                        )
                    )
                if message.offset() + (0 if message.error() else 1) >= wanted[p][1]:
                    del wanted[p]
                    consumer.incremental_unassign([TopicPartition(topic, p)])
        return found
    finally:
        consumer.close()


def tool_reset_plan(bootstrap: str, tool: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    """NEW-OFFSET per partition of `kafka-<tool> --reset-offsets --group G ARGS --dry-run` (share-groups,
    streams-groups): what Kafka's own tool would set, without executing."""
    result = run_tool(tool, ["--reset-offsets", "--group", group, *args, "--dry-run"], bootstrap)
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] == [group]]
    return {(topic, int(partition)): int(offset) for _, topic, partition, offset in rows}
