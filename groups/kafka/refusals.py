"""Why a secured cluster did not answer: it rejected the credentials, or its certificate was not trusted.

librdkafka tells only a client's error_cb, on each connection attempt, that a broker refused the
SASL credentials (_AUTHENTICATION) or that the TLS handshake failed (_SSL); the request itself
just times out (confluentinc/confluent-kafka-python#1034). So each of the console's admin clients
records the latest refusal it met here, and a request of that client that timed out is explained
by it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError

REFUSAL_CODES = (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL)
# librdkafka retries a refused connection at least this often (reconnect.backoff.max.ms), so a
# request that waited its whole timeout met a refusal no older than its timeout plus this.
_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class Refusal:
    error: KafkaError
    ca_location: str
    at: float


_refusals: dict[Hashable, Refusal] = {}


def refusal_recorder(client_key: Hashable, ca_location: str) -> Callable[[KafkaError], None]:
    """The error_cb for the client known as client_key, which trusts ca_location ("" for the system's CAs)."""

    def record(error: KafkaError) -> None:
        if error.code() in REFUSAL_CODES:
            _refusals[client_key] = Refusal(error, ca_location, time.monotonic())

    return record


def recent_refusal(client_key: Hashable, client: Any, timeout: float) -> Refusal | None:
    """The refusal that client met while its request of `timeout` seconds was waiting, if any.

    client is an AdminClient made with refusal_recorder(client_key, ...): it calls its error_cb
    only when polled.
    """
    client.poll(0)
    refusal = _refusals.get(client_key)
    if refusal is None or time.monotonic() - refusal.at > timeout + _RETRY_SECONDS:
        return None
    return refusal


def _reason(error: KafkaError) -> str:
    """librdkafka's text without the broker's name in front and the connection state behind."""
    text = re.sub(r"^\S+://\S+: ", "", error.str())
    return re.sub(r" \(after \d+ms in state \w+.*\)$", "", text)


def refusal_message(error: KafkaError, ca_location: str | None, bootstrap: str) -> str:
    """One line that says which: credentials rejected, or certificate not trusted and by which CA file
    (ca_location "" for the system's CAs, None when not known)."""
    if error.code() == KafkaError._SSL:
        found = re.search(r"SSL routines::([^:(]+)", error.str())
        trusted_by = (
            f"the CA file {ca_location}"
            if ca_location
            else "the system's CA certificates"
            if ca_location == ""
            else "the cluster's CA certificates"
        )
        return (
            f"Kafka at {bootstrap} presented a TLS certificate that was not trusted "
            f"({found[1].strip() if found else _reason(error)}) by {trusted_by}. "
            "Set the cluster's CA file to the CA that signed the brokers' certificates."
        )
    return (
        f"Kafka at {bootstrap} rejected the console's credentials ({_reason(error)}). "
        "Check the cluster's SASL user and the password its secret reference points to."
    )
