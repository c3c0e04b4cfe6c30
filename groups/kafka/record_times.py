"""The timestamps of the records at given offsets: for lag in time on the live pages, and for dating
committed offsets older than the collector's history (groups.snapshot.dating)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import cast

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaException, TopicPartition

from groups.kafka.convert import console_error
from groups.kafka.values import TP, Consumed


def read(
    config: dict,
    bootstrap: str,
    wanted: Mapping[TP, Sequence[int]],
    wait: float,
    *,
    read_through: int = 500,
) -> dict[TP, dict[int, tuple[int, int]]]:
    """(record offset, timestamp in epoch ms) of the record at each wanted offset of each partition.

    Read with a consumer that joins no group and commits nothing. Where an offset was compacted away
    or deleted, the next surviving record stands in (its offset says so). Between two wanted offsets
    of a partition it reads on through at most `read_through` records, else seeks. What has not
    arrived within `wait` seconds is left out, as are records without a timestamp.
    """
    todo = {tp: sorted(set(offsets)) for tp, offsets in wanted.items() if offsets}
    if not todo:
        return {}
    consumer = Consumer(
        {
            **config,
            "group.id": "kafka-console-lag-probe",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": 65536,
            "log.connection.close": False,
        }
    )
    found: dict[TP, dict[int, tuple[int, int]]] = {}
    at = dict.fromkeys(todo, 0)  # per partition, the first wanted offset not met yet
    try:
        consumer.assign([TopicPartition(tp.topic, tp.partition, offsets[0]) for tp, offsets in todo.items()])
        deadline = time.monotonic() + wait
        while todo and time.monotonic() < deadline:
            for message in cast("list[Consumed]", consumer.consume(1000, 0.2)):
                tp = TP(message.topic(), message.partition())
                offsets = todo.get(tp)
                if message.error() is not None or offsets is None:
                    continue
                record_offset, (kind, timestamp) = message.offset(), message.timestamp()
                i = at[tp]
                while i < len(offsets) and offsets[i] <= record_offset:
                    if kind != TIMESTAMP_NOT_AVAILABLE and timestamp >= 0:
                        found.setdefault(tp, {})[offsets[i]] = (record_offset, timestamp)
                    i += 1
                at[tp] = i
                if i == len(offsets):
                    del todo[tp]
                    consumer.pause([TopicPartition(tp.topic, tp.partition)])
                elif offsets[i] - record_offset > read_through:
                    consumer.seek(TopicPartition(tp.topic, tp.partition, offsets[i]))
    except KafkaException as exc:
        raise console_error(exc.args[0], "reading record timestamps for lag in time", bootstrap) from None
    finally:
        consumer.close()
    return found
