"""The collector's ListOffsets reader (kafka-python) tells the same log ends and newest records as
confluent-kafka's AdminClient.list_offsets, which it replaces, on the same broker."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from groups.kafka import TP, LogOffsets, client_for
from groups.kafka.collect import OffsetsReader
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("the ListOffsets reader against the broker"),
]


def _produce_at(bootstrap: str, topic: str, partition: int, timestamps: list[int]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, stamp in enumerate(timestamps):
        producer.produce(topic, value=f"v{i}", partition=partition, timestamp=stamp)
    assert producer.flush(30) == 0


@pytest.mark.django_db
def test_log_ends_and_newest_records_equal_confluent_kafkas_and_a_deleted_topic_reads_as_unknown(
    cluster, kafka_bootstrap, unique
):
    kept, deleted = unique("ends"), unique("ends-deleted")
    kt.create_topic(kafka_bootstrap, kept, 3)
    kt.create_topic(kafka_bootstrap, deleted, 2)
    now = int(time.time() * 1000)
    # Partition 0 stays empty. Partition 1's newest record by time is not its last one.
    _produce_at(kafka_bootstrap, kept, 1, [now - 5_000, now - 1_000, now - 9_000, now - 3_000])
    _produce_at(kafka_bootstrap, kept, 2, [now - 60_000 + i for i in range(10)])
    kt.delete_records(kafka_bootstrap, kept, 2, 4)
    kt.produce(kafka_bootstrap, deleted, {0: 3, 1: 2})

    reader = OffsetsReader({"bootstrap.servers": kafka_bootstrap}, 10)
    try:
        topics = reader.topics()  # the leaders as the round sees them, before the topic goes
        assert topics[kept].partitions == 3 and topics[deleted].partitions == 2
        kt.admin(kafka_bootstrap).delete_topics([deleted])[deleted].result(timeout=30)
        kt.wait_for(
            lambda: deleted not in kt.admin(kafka_bootstrap).list_topics(timeout=10).topics,
            what=f"{deleted} to be gone",
        )
        live = [TP(kept, p) for p in range(3)]
        gone = [TP(deleted, p) for p in range(2)]
        reading = reader.log_offsets(live + gone)
    finally:
        reader.close()

    confluent = client_for(cluster)
    assert {tp: reading.ends[tp] for tp in live} == confluent.log_offsets(live)
    assert {tp: found for tp, found in reading.newest.items() if tp in live} == confluent.max_timestamps(live)
    assert {tp: reading.ends[tp] for tp in gone} == confluent.log_offsets(gone)
    assert not any(tp in reading.newest for tp in gone)
    # The figures themselves, so a broken fixture cannot pass silently.
    assert [reading.ends[tp] for tp in live] == [LogOffsets(0, 0), LogOffsets(0, 4), LogOffsets(4, 10)]
    assert reading.ends[gone[0]] == LogOffsets(None, None)
    assert reading.newest == {live[1]: (1, now - 1_000), live[2]: (9, now - 60_000 + 9)}
    assert reader.list_offsets_requests == 3  # one broker: one request per spec
