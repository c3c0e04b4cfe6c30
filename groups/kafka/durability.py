"""The facts that decide what a broker restart can cost a topic: replicas, in-sync replicas, leaders, and
the settings that govern acknowledgement, leader election and retention.

Read with one describe_topics and one describe_configs for all the topics asked for, whatever their
number. `groups.durability` judges these facts; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, ResourceType

from groups.kafka.admin import ClusterClient
from groups.kafka.convert import console_error
from groups.kafka.values import ConsoleError

# The topic settings that bear on loss and availability, in the order a page lists them.
SETTINGS = (
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "retention.ms",
    "retention.bytes",
    "cleanup.policy",
)
_MISSING = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError.TOPIC_EXCEPTION)


@dataclass(frozen=True)
class PartitionReplicas:
    """Broker ids of a partition's leader (None when it has none), replicas and in-sync replicas."""

    partition: int
    leader: int | None
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class TopicSetting:
    value: str | None
    # Whether the topic sets it itself; otherwise it follows the broker's or Kafka's default.
    set_on_topic: bool


@dataclass(frozen=True)
class TopicReplication:
    name: str
    partitions: tuple[PartitionReplicas, ...]
    settings: dict[str, TopicSetting]


def read_replication(client: ClusterClient, topics: Iterable[str]) -> dict[str, TopicReplication]:
    """Replicas, ISR, leaders and the SETTINGS of each topic that exists; missing topics are left out."""
    names = sorted({topic for topic in topics if topic})
    if not names:
        return {}
    # A short-lived admin client of the cluster's settings: the console's shared one is ClusterClient's own.
    admin = AdminClient(cast(dict[str, Any], {**client.config, "log.connection.close": False}))
    described = admin.describe_topics(TopicCollection(names), request_timeout=client.timeout)
    configured = admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, name) for name in names], request_timeout=client.timeout
    )
    partitions: dict[str, tuple[PartitionReplicas, ...]] = {}
    for name, future in described.items():
        try:
            description = _result(client, future, f"describing the replicas of topic '{name}'")
        except _Missing:
            continue
        partitions[name] = tuple(
            sorted(
                (
                    PartitionReplicas(
                        partition=p.id,
                        leader=p.leader.id if p.leader is not None and p.leader.id >= 0 else None,
                        replicas=tuple(node.id for node in p.replicas),
                        isr=tuple(node.id for node in p.isr),
                    )
                    for p in description.partitions
                ),
                key=lambda p: p.partition,
            )
        )
    out = {}
    for resource, future in configured.items():
        try:
            entries = _result(client, future, f"reading the configuration of topic '{resource.name}'")
        except _Missing:
            continue
        if resource.name not in partitions:
            continue
        out[resource.name] = TopicReplication(
            name=resource.name,
            partitions=partitions[resource.name],
            settings={
                key: TopicSetting(entries[key].value, entries[key].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
                for key in SETTINGS
                if key in entries
            },
        )
    return out


class _Missing(Exception):
    """The topic was deleted (or never existed): it has no facts to show."""


def _result(client: ClusterClient, future: Future, what: str) -> Any:
    try:
        return future.result(timeout=client.timeout + 5)
    except KafkaException as exc:
        error = exc.args[0]
        if error.code() in _MISSING:
            raise _Missing from None
        raise console_error(error, what, client.bootstrap) from None
    except FutureTimeout:
        raise ConsoleError(
            f"Kafka at {client.bootstrap} did not answer within {client.timeout:.0f}s while {what}.",
            code="_TIMED_OUT",
            retriable=True,
        ) from None
