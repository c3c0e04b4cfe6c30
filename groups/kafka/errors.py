"""Kafka's errors as `ConsoleError`s: what failed, in words a person at the screen can act on."""

from __future__ import annotations

from confluent_kafka import KafkaError

from groups.kafka.values import ConsoleError


def console_error(error: KafkaError, what: str, bootstrap: str) -> ConsoleError:
    """`error`, met while doing `what` against the cluster at `bootstrap`, told as a ConsoleError."""
    code = error.code()
    name = error.name()
    if code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE):
        return ConsoleError(
            f"Kafka at {bootstrap} did not answer while {what} ({error.str()}). "
            "Check that the brokers are up and reachable from the console.",
            code=name,
            retriable=True,
        )
    if code in (KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED,
                KafkaError.CLUSTER_AUTHORIZATION_FAILED):
        return ConsoleError(
            f"Kafka refused {what}: the console's credentials lack the ACL for it ({error.str()}).", code=name
        )
    if code in (KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                KafkaError.NOT_COORDINATOR):
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
