"""Between the Kafka client's objects and the console's values: group states and types, records,
topic limits, and errors as `ConsoleError`s that say what failed in words a person can act on."""

from __future__ import annotations

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    ConsumerGroupState,
    ConsumerGroupType,
    KafkaError,
)

from groups.kafka.values import ConsoleError, Consumed, Record

# librdkafka knows the classic state names only; KIP-848's Assigning and Reconciling arrive as
# UNKNOWN, which is why "Unknown" must count as active everywhere.
STATE_NAMES = {
    ConsumerGroupState.STABLE: "Stable",
    ConsumerGroupState.EMPTY: "Empty",
    ConsumerGroupState.DEAD: "Dead",
    ConsumerGroupState.PREPARING_REBALANCING: "PreparingRebalance",
    ConsumerGroupState.COMPLETING_REBALANCING: "CompletingRebalance",
    ConsumerGroupState.UNKNOWN: "Unknown",
}
TYPE_NAMES = {
    ConsumerGroupType.CLASSIC: "classic",
    ConsumerGroupType.CONSUMER: "consumer",
    ConsumerGroupType.UNKNOWN: "unknown",
}
# Kafka writes "no limit" as Long.MAX_VALUE.
_LONG_MAX = 2**63 - 1


def config_limit(entries: dict, name: str) -> int | None:
    """A topic's millisecond limit, None when it sets none (-1 or Long.MAX_VALUE)."""
    entry = entries.get(name)
    value = int(entry.value) if entry is not None and entry.value not in (None, "") else -1
    return None if value < 0 or value >= _LONG_MAX else value


def record(message: Consumed) -> Record:
    """A consumed message as a console Record."""
    stamp_type, stamp = message.timestamp()
    return Record(
        partition=message.partition(),
        offset=message.offset(),
        timestamp_ms=None if stamp_type == TIMESTAMP_NOT_AVAILABLE else stamp,
        key=message.key(),
        value=message.value(),
        headers=tuple(message.headers() or ()),
    )


# What librdkafka answers when no broker could be reached in time.
UNREACHABLE_CODES = (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE)


def console_error(error: KafkaError, what: str, bootstrap: str) -> ConsoleError:
    """`error`, met while doing `what` against the cluster at `bootstrap`, told as a ConsoleError."""
    code = error.code()
    name = error.name()
    if code in UNREACHABLE_CODES:
        return ConsoleError(
            f"Kafka at {bootstrap} did not answer while {what} ({error.str()}). "
            "Check that the brokers are up and reachable from the console.",
            code=name,
            retriable=True,
        )
    if code in (
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    ):
        return ConsoleError(
            f"Kafka refused {what}: the console's credentials lack the ACL for it ({error.str()}).", code=name
        )
    if code in (
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_COORDINATOR,
    ):
        return ConsoleError(
            f"The group coordinator is not available while {what} ({error.str()}); try again in a moment.",
            code=name,
            retriable=True,
        )
    if code == KafkaError._AUTHENTICATION or code == KafkaError.SASL_AUTHENTICATION_FAILED:
        return ConsoleError(
            f"Kafka at {bootstrap} rejected the console's credentials ({error.str()}). "
            "Check the cluster's SASL user and password source.",
            code=name,
        )
    return ConsoleError(f"Kafka failed while {what}: {error.str()}", code=name, retriable=error.retriable())


def from_helper(error: tuple[int, str, bool]) -> KafkaError:
    """A KafkaError again from the (code, text, retriable) the offsets helper process sends."""
    code, text, retriable = error
    return KafkaError(code, text, retriable=retriable)
