"""Deleting topics (DeleteTopics): a streams application's internal topics, after its group was reset or deleted.

Kafka answers DeleteTopics once the controller accepted the deletion; the topic's metadata can linger on
the brokers a moment longer, so `wait_until_gone` reads the topics back until none is left. A fresh admin
client serves each deletion: they are rare, and the shared one in `admin` belongs to the reads.
"""

from __future__ import annotations

import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from groups.kafka.admin import ClusterClient
from groups.kafka.admin_clients import ADMIN_EXTRA
from groups.kafka.convert import console_error


def delete_topics(client: ClusterClient, topics: list[str]) -> dict[str, str]:
    """Ask Kafka to delete `topics`; for each topic it did not delete, why, in words (empty: all accepted).

    A topic already gone counts as deleted: the aim is that it is not there.
    """
    if not topics:
        return {}
    admin = AdminClient(cast(dict[str, Any], {**client.config, **ADMIN_EXTRA}))
    futures = admin.delete_topics(topics, operation_timeout=client.timeout, request_timeout=client.timeout)
    refused: dict[str, str] = {}
    for topic, future in futures.items():
        try:
            future.result(timeout=client.timeout + 5)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                continue
            if error.code() == KafkaError.TOPIC_DELETION_DISABLED:
                refused[topic] = "the brokers have topic deletion disabled (delete.topic.enable=false)"
            else:
                refused[topic] = console_error(error, f"deleting topic '{topic}'", client.bootstrap).message
        except FutureTimeout:
            refused[topic] = f"Kafka at {client.bootstrap} did not answer within {client.timeout:.0f}s"
    return refused


def wait_until_gone(client: ClusterClient, topics: list[str], timeout: float) -> list[str]:
    """The `topics` still on the cluster after waiting up to `timeout` seconds for them to go."""
    deadline = time.monotonic() + timeout
    while True:
        left = sorted(client.topic_partition_counts(topics))
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.3)
