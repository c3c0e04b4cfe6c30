"""Deleting a group's committed offsets (OffsetDelete, KIP-496), and what a classic group subscribes to.

confluent-kafka has no binding for OffsetDelete, so this module talks to the group's coordinator
through kafka-python's admin client (`KafkaAdminClient.delete_group_offsets`, which finds the
coordinator and sends it one OffsetDelete). The same client reads a classic group's member
subscriptions (DescribeGroups), which confluent-kafka does not expose either: Kafka refuses to
delete the offsets of a topic the group subscribes to, and the console wants to say so before
asking. Each call opens a client and closes it: deletions are rare, and a fresh client also looks
the coordinator up afresh.

kafka-python is imported inside the functions that use it: loading its protocol schemas takes
about a second, which every console process would otherwise pay at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from groups.kafka.admin import ClusterClient
from groups.kafka.values import TP, ConsoleError

# Librdkafka-style names of the cluster's settings, as kafka-python names them.
_SETTINGS = {
    "bootstrap.servers": "bootstrap_servers",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
}
# The coordinator moved or is loading: Kafka's own admin client retries these, and so do we.
_COORDINATOR_MOVING = {"COORDINATOR_LOAD_IN_PROGRESS", "COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR"}
_RETRY_PAUSE = 0.5

# kafka-python logs every failed connection attempt at ERROR; the console reports the failure itself.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Subscriptions:
    """The topics a classic group's members subscribe to, as its coordinator knows them.

    `unknown` is set when a member's subscription could not be read: Kafka then counts the group
    as subscribed to every topic (ClassicGroup.isSubscribedToTopic). `protocol_type` is "consumer"
    for consumers, something else (e.g. "connect") for other clients, "" for a group without one.
    """

    protocol_type: str
    topics: frozenset[str] = frozenset()
    unknown: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why Kafka kept one partition's committed offset: its error name and what to do about it."""

    code: str
    message: str


@dataclass(frozen=True)
class DeletionResult:
    """What Kafka answered for each partition asked: deleted, or refused and why."""

    deleted: tuple[TP, ...] = ()
    refused: dict[TP, Refusal] = field(default_factory=dict)


def _name(error: Any) -> str:
    """Kafka's name of a kafka-python error (class or instance), e.g. GROUP_ID_NOT_FOUND."""
    return str(getattr(error, "message", None) or type(error).__name__)


def _config(client: ClusterClient) -> dict:
    config = {_SETTINGS[name]: value for name, value in client.config.items() if name in _SETTINGS}
    timeout_ms = int(client.timeout * 1000)
    return {
        **config,
        "client_id": "kafka-console-offset-deletion",
        "request_timeout_ms": timeout_ms,
        "bootstrap_timeout_ms": timeout_ms,
    }


def _unreachable(client: ClusterClient, what: str, exc: Exception) -> ConsoleError:
    if _name(exc) == "SASL_AUTHENTICATION_FAILED":
        return ConsoleError(
            f"Kafka at {client.bootstrap} refused the console's credentials while {what} ({exc}). "
            "Check the cluster's SASL user and password.",
            code="SASL_AUTHENTICATION_FAILED",
        )
    # kafka-python retries a rejected login until its bootstrap times out, and only logs why.
    return ConsoleError(
        f"Kafka at {client.bootstrap} could not be reached within {client.timeout:.0f}s while {what} "
        f"({exc}). Check that the brokers are up and reachable from the console, and the cluster's credentials.",
        code="_TRANSPORT",
        retriable=True,
    )


def _group_error(group_id: str, what: str, exc: Exception) -> ConsoleError:
    """A group-level refusal (of OffsetDelete, mostly), said so a person knows what to do."""
    code = _name(exc)
    messages = {
        "GROUP_ID_NOT_FOUND": f"Group '{group_id}' does not exist: Kafka holds no offsets for it. Check the group id.",
        "NON_EMPTY_GROUP": (
            f"Group '{group_id}' has members and is not a consumer group (Kafka Connect, for one), so Kafka "
            "deletes its offsets only once it is empty: stop its members first."
        ),
        "GROUP_AUTHORIZATION_FAILED": (
            f"The console's Kafka user may not delete the offsets of group '{group_id}': grant it the DELETE "
            "ACL on the group (and READ on the topics)."
        ),
        "INVALID_GROUP_ID": f"'{group_id}' is not a valid group id.",
    }
    if code in _COORDINATOR_MOVING:
        return ConsoleError(
            f"The coordinator of group '{group_id}' is moving or still loading ({code}), so nothing was "
            "changed. Try again in a moment.",
            code=code,
            retriable=True,
        )
    return ConsoleError(messages.get(code, f"Kafka answered {code} while {what} ({exc})."), code=code)


def _refusal(group_id: str, tp: TP, error: Any) -> Refusal:
    code = _name(error)
    messages = {
        "GROUP_SUBSCRIBED_TO_TOPIC": (
            f"the members of group '{group_id}' subscribe to topic {tp.topic}: stop them or change their "
            "subscription first"
        ),
        "UNKNOWN_TOPIC_OR_PARTITION": f"partition {tp} does not exist: check the topic and partition",
        "TOPIC_AUTHORIZATION_FAILED": f"the console's Kafka user may not read topic {tp.topic}: grant it READ on it",
    }
    return Refusal(code, messages.get(code, f"Kafka refused it: {code} ({getattr(error, 'description', '')})"))


@contextlib.contextmanager
def _admin(client: ClusterClient) -> Iterator[Any]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**_config(client))
    try:
        yield admin
    finally:
        admin.close()


def _call(client: ClusterClient, group_id: str, what: str, request: Callable[[Any], Any]) -> Any:
    """`request` made with a fresh client, again while the coordinator moves or loads (up to the cluster's
    timeout); Kafka's refusals and failures to reach it become ConsoleErrors."""
    import kafka.errors

    deadline = time.monotonic() + client.timeout
    while True:
        try:
            with _admin(client) as admin:
                return request(admin)
        except kafka.errors.BrokerResponseError as exc:
            if _name(exc) in _COORDINATOR_MOVING and time.monotonic() + _RETRY_PAUSE < deadline:
                time.sleep(_RETRY_PAUSE)
                continue
            if _name(exc) == "SASL_AUTHENTICATION_FAILED":
                raise _unreachable(client, what, exc) from None
            raise _group_error(group_id, what, exc) from None
        except kafka.errors.KafkaError as exc:
            raise _unreachable(client, what, exc) from None


def group_subscriptions(client: ClusterClient, group_id: str) -> Subscriptions | None:
    """What the classic group's members subscribe to; None for a KIP-848 group or one Kafka does not know.

    A KIP-848 (`consumer` protocol) group is not described by DescribeGroups, so its subscriptions are
    not known here: Kafka still refuses the offsets of its subscribed topics, which the deletion reports.
    """
    what = f"reading the subscriptions of group '{group_id}'"
    described = _call(client, group_id, what, lambda admin: admin.describe_groups([group_id]))[group_id]
    if described["error"]:
        # GROUP_ID_NOT_FOUND: no such group, or a group of another protocol ("is not a classic group").
        return None
    topics: set[str] = set()
    unknown = False
    for member in described["members"]:
        metadata = member["member_metadata"]
        if isinstance(metadata, dict) and isinstance(metadata.get("topics"), list):
            topics.update(metadata["topics"])
        else:
            unknown = True
    return Subscriptions(protocol_type=described["protocol_type"] or "", topics=frozenset(topics), unknown=unknown)


def delete_offsets(client: ClusterClient, group_id: str, partitions: list[TP]) -> DeletionResult:
    """Delete the group's committed offsets of `partitions` in one OffsetDelete to its coordinator.

    Kafka answers per partition and may delete some while refusing others (a subscribed topic),
    so every partition's answer is checked and returned; a partition it did not answer for counts
    as refused. A group-level refusal raises ConsoleError, as does failing to reach Kafka.
    Retries while the coordinator moves or loads, up to the cluster's timeout (OffsetDelete is
    idempotent).
    """
    from kafka.structs import TopicPartition

    if not partitions:
        return DeletionResult()
    asked = sorted(set(partitions))
    answers = _call(
        client,
        group_id,
        f"deleting offsets of group '{group_id}'",
        lambda admin: admin.delete_group_offsets(group_id, [TopicPartition(tp.topic, tp.partition) for tp in asked]),
    )
    by_tp = {TP(tp.topic, tp.partition): error for tp, error in answers.items()}
    deleted, refused = [], {}
    for tp in asked:
        error = by_tp.get(tp)
        if error is None:
            refused[tp] = Refusal("NO_ANSWER", f"Kafka did not answer for partition {tp}")
        elif _name(error) == "NO_ERROR":
            deleted.append(tp)
        else:
            refused[tp] = _refusal(group_id, tp, error)
    return DeletionResult(deleted=tuple(deleted), refused=refused)
