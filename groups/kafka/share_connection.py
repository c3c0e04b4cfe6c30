"""A blocking connection to one Kafka broker, for the requests librdkafka does not send.

It speaks what every Kafka client speaks first (ApiVersions, then SASL when the cluster needs it,
over TLS when it asks for it), with the cluster's librdkafka-style settings, so a share-group
request reaches the same brokers with the same credentials as the console's AdminClient. The
standard messages are kafka-python's; the share-group bodies come from `share_protocol`, the
KIP-848 ConsumerGroupDescribe bodies from `consumer_protocol`.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kafka.errors import for_code
from kafka.net.sasl import get_sasl_mechanism
from kafka.protocol.admin import ListGroupsRequest, ListGroupsResponse
from kafka.protocol.metadata import (
    ApiVersionsRequest,
    ApiVersionsResponse,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    MetadataRequest,
    MetadataResponse,
)
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from groups.kafka.share_protocol import MalformedResponse, request_header, response_body
from groups.kafka.values import ConsoleError, GroupListing

CLIENT_ID = "kafka-console"
_API_VERSIONS, _SASL_HANDSHAKE, _SASL_AUTHENTICATE = 18, 17, 36
_METADATA, _FIND_COORDINATOR, _LIST_GROUPS = 3, 10, 16
# A broker answer larger than this is not an admin answer; refuse it rather than allocate it.
_MAX_FRAME = 64 * 1024 * 1024
# A group's coordinator answers these while it moves or loads: asking again shortly succeeds.
COORDINATOR_BUSY = frozenset({"NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS", "COORDINATOR_NOT_AVAILABLE"})
_ATTEMPTS = 3
T = TypeVar("T")


def error_name(code: int) -> str:
    """Kafka's name of an error code, e.g. 69 -> GROUP_ID_NOT_FOUND."""
    return str(for_code(code).message)


@dataclass(frozen=True)
class Broker:
    node_id: int
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.node_id})"


class BrokerConnection:
    """One socket to one broker, authenticated; `call` sends a request and returns its response body.

    Every failure is a ConsoleError that names the broker and what was being done.
    """

    def __init__(self, host: str, port: int, config: dict[str, str], timeout: float):
        self.address = f"{host}:{port}"
        self._timeout = timeout
        self._correlation = itertools.count(1)
        protocol = config.get("security.protocol", "PLAINTEXT").upper()
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise self._unreachable(f"connecting ({exc.strerror or exc})") from None
        self._socket: socket.socket = raw
        try:
            if protocol in ("SSL", "SASL_SSL"):
                self._socket = self._tls(raw, host, config.get("ssl.ca.location") or None)
            self.versions = self._api_versions()
            if protocol.startswith("SASL"):
                self._authenticate(config, protocol)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> BrokerConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unreachable(self, doing: str) -> ConsoleError:
        return ConsoleError(
            f"Kafka at {self.address} did not answer while {doing}. "
            "Check that the brokers are up and reachable from the console.",
            code="_TRANSPORT",
            retriable=True,
        )

    def _tls(self, raw: socket.socket, host: str, ca_location: str | None) -> ssl.SSLSocket:
        # As librdkafka does by default: the broker's certificate must be signed by the CA and name the host.
        try:
            context = ssl.create_default_context(cafile=ca_location)
            return context.wrap_socket(raw, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            raise ConsoleError(
                f"The console does not trust the certificate of Kafka at {self.address} ({exc.verify_message}). "
                "Check the cluster's CA file (ssl.ca.location).",
                code="_SSL",
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raise ConsoleError(
                f"The TLS handshake with Kafka at {self.address} failed ({exc}). Check that this listener speaks TLS.",
                code="_SSL",
            ) from None

    def supported(self, api_key: int) -> tuple[int, int] | None:
        """(min, max) versions of `api_key` this broker accepts, None if it has no such API."""
        return self.versions.get(api_key)

    def call(self, api_key: int, version: int, body: bytes, *, flexible: bool = True, doing: str = "") -> bytes:
        """Send one request and return the body of its response."""
        correlation_id = next(self._correlation)
        message = request_header(api_key, version, correlation_id, CLIENT_ID, flexible=flexible) + body
        doing = doing or f"sending request {api_key} v{version}"
        try:
            self._socket.sendall(struct.pack(">i", len(message)) + message)
            (size,) = struct.unpack(">i", self._receive(4))
            if not 0 < size <= _MAX_FRAME:
                raise MalformedResponse(f"a response of {size} bytes")
            frame = self._receive(size)
        except TimeoutError:
            raise ConsoleError(
                f"Kafka at {self.address} did not answer within {self._timeout:.0f}s while {doing}.",
                code="_TIMED_OUT",
                retriable=True,
            ) from None
        except OSError as exc:
            raise self._unreachable(f"{doing} ({exc.strerror or exc})") from None
        except MalformedResponse as exc:
            raise ConsoleError(
                f"Kafka at {self.address} sent an answer the console cannot read ({exc}): check that the "
                "cluster's security protocol is the one this listener speaks (TLS or not, SASL or not).",
                code="_MALFORMED",
            ) from None
        # ApiVersions answers with header v0 whatever its version, so a client that is too new still reads it.
        answered, response = response_body(frame, flexible_header=flexible and api_key != _API_VERSIONS)
        if answered != correlation_id:
            raise ConsoleError(f"Kafka at {self.address} answered another request than the one sent while {doing}.")
        return response

    def _receive(self, size: int) -> bytes:
        chunks, remaining = [], size
        while remaining:
            chunk = self._socket.recv(min(remaining, 1 << 20))
            if not chunk:
                raise ConnectionResetError(0, "the broker closed the connection")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _api_versions(self) -> dict[int, tuple[int, int]]:
        request = ApiVersionsRequest(version=3, client_software_name=CLIENT_ID, client_software_version="1").encode(
            version=3
        )
        body = self.call(_API_VERSIONS, 3, request, doing="asking which requests it supports")
        response = ApiVersionsResponse.decode(body, version=3)
        if response.error_code:
            raise ConsoleError(
                f"Kafka at {self.address} refused the version handshake ({error_name(response.error_code)}): "
                "it is older than Kafka 2.4, and share groups need Kafka 4.1 or newer.",
                code=error_name(response.error_code),
            )
        self.features = {f.name: f.max_version_level for f in response.finalized_features or []}
        return {key.api_key: (key.min_version, key.max_version) for key in response.api_keys}

    def _authenticate(self, config: dict[str, str], protocol: str) -> None:
        mechanism_name = config.get("sasl.mechanism", "")
        handshake = SaslHandshakeRequest(version=1, mechanism=mechanism_name).encode(version=1)
        answer = SaslHandshakeResponse.decode(
            self.call(_SASL_HANDSHAKE, 1, handshake, flexible=False, doing="starting SASL"), version=1
        )
        if answer.error_code:
            raise ConsoleError(
                f"Kafka at {self.address} does not accept SASL mechanism {mechanism_name} "
                f"(it offers {', '.join(answer.mechanisms) or 'none'}). Check the cluster's SASL mechanism.",
                code=error_name(answer.error_code),
            )
        settings: dict[str, Any] = {
            "sasl_mechanism": mechanism_name,
            "sasl_plain_username": config.get("sasl.username", ""),
            "sasl_plain_password": config.get("sasl.password", ""),
            "security_protocol": protocol,
        }
        try:
            mechanism = get_sasl_mechanism(mechanism_name)(**settings)
        except KeyError:
            raise ConsoleError(f"The console cannot authenticate with SASL mechanism {mechanism_name}.") from None
        while not mechanism.is_done():
            request = SaslAuthenticateRequest(version=2, auth_bytes=mechanism.auth_bytes()).encode(version=2)
            response = SaslAuthenticateResponse.decode(
                self.call(_SASL_AUTHENTICATE, 2, request, doing="authenticating"), version=2
            )
            if response.error_code:
                raise ConsoleError(
                    f"Kafka at {self.address} rejected the console's credentials ({response.error_message}). "
                    "Check the cluster's SASL user and password source.",
                    code=error_name(response.error_code),
                )
            try:
                mechanism.receive(response.auth_bytes)
            except ValueError as exc:
                raise ConsoleError(
                    f"SASL with Kafka at {self.address} failed: {exc}.", code="_AUTHENTICATION"
                ) from None

    def brokers(self) -> list[Broker]:
        """Every broker of the cluster, from a Metadata request that asks for no topics."""
        version = min(12, self._version_at_most(_METADATA, 12, "listing the brokers"))
        request = MetadataRequest(
            version=version, topics=[], allow_auto_topic_creation=False, include_topic_authorized_operations=False
        ).encode(version=version)
        response = MetadataResponse.decode(
            self.call(_METADATA, version, request, flexible=version >= 9, doing="listing the brokers"),
            version=version,
        )
        return sorted((Broker(b.node_id, b.host, b.port) for b in response.brokers), key=lambda b: b.node_id)

    def list_groups(self, types: tuple[str, ...]) -> list[GroupListing]:
        """The groups of `types` ("share", "streams", ...) that this broker coordinates (ListGroups v5)."""
        supported = self.supported(_LIST_GROUPS)
        if supported is None or supported[1] < 5:
            return []  # brokers before Kafka 4.0 know no group types, hence neither share nor streams groups
        doing = f"listing {' and '.join(types)} groups"
        request = ListGroupsRequest(version=5, states_filter=[], types_filter=list(types)).encode(version=5)
        response = ListGroupsResponse.decode(self.call(_LIST_GROUPS, 5, request, doing=doing), version=5)
        if response.error_code:
            name = error_name(response.error_code)
            raise ConsoleError(f"Kafka at {self.address} failed while {doing}: {name}.", code=name)
        return [GroupListing(g.group_id, g.group_state, g.group_type) for g in response.groups]

    def group_coordinator(self, group_id: str) -> Broker:
        """The broker that coordinates `group_id` (share groups live on the group coordinator too)."""
        doing = f"finding the coordinator of group '{group_id}'"
        version = self._version_at_most(_FIND_COORDINATOR, 4, doing)
        if version < 4:
            raise ConsoleError(f"Kafka at {self.address} is too old for share groups (Kafka 4.1 or newer needed).")
        request = FindCoordinatorRequest(version=4, key_type=0, coordinator_keys=[group_id]).encode(version=4)
        response = FindCoordinatorResponse.decode(self.call(_FIND_COORDINATOR, 4, request, doing=doing), version=4)
        (found,) = response.coordinators
        if found.error_code:
            name = error_name(found.error_code)
            raise ConsoleError(
                f"Kafka could not name the coordinator of group '{group_id}' ({name}: {found.error_message}); "
                "try again in a moment.",
                code=name,
                retriable=name in ("COORDINATOR_NOT_AVAILABLE", "COORDINATOR_LOAD_IN_PROGRESS", "NOT_COORDINATOR"),
            )
        return Broker(found.node_id, found.host, found.port)

    def _version_at_most(self, api_key: int, highest: int, doing: str) -> int:
        supported = self.supported(api_key)
        if supported is None or supported[0] > highest:
            raise ConsoleError(f"Kafka at {self.address} does not offer a request the console needs while {doing}.")
        return min(highest, supported[1])


def connect_bootstrap(config: dict[str, str], timeout: float) -> BrokerConnection:
    """A connection to the first of the cluster's bootstrap servers that answers."""
    failure: ConsoleError | None = None
    for address in filter(None, (part.strip() for part in config["bootstrap.servers"].split(","))):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConsoleError(f"'{address}' is not a host:port bootstrap address.", code="CONFIG")
        try:
            return BrokerConnection(host.strip("[]"), int(port), config, timeout)
        except ConsoleError as exc:
            if not exc.retriable:
                raise
            failure = exc
    raise failure or ConsoleError("The cluster has no bootstrap servers.", code="CONFIG")


def on_coordinator(
    config: dict[str, str], timeout: float, group_id: str, action: Callable[[BrokerConnection, Broker], T]
) -> T:
    """Run `action` on a connection to the group's coordinator, again if the coordinator moved or was
    still loading."""
    for attempt in range(_ATTEMPTS):
        try:
            with connect_bootstrap(config, timeout) as bootstrap:
                coordinator = bootstrap.group_coordinator(group_id)
                if bootstrap.address == f"{coordinator.host}:{coordinator.port}":
                    return action(bootstrap, coordinator)
            with BrokerConnection(coordinator.host, coordinator.port, config, timeout) as connection:
                return action(connection, coordinator)
        except ConsoleError as exc:
            if exc.code not in COORDINATOR_BUSY or attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable: the last attempt returns or raises")


def decoded(decode: Callable[[bytes], T], body: bytes, address: str) -> T:
    """`decode(body)`, or a ConsoleError saying that the broker at `address` sent what the console cannot read."""
    try:
        return decode(body)
    except MalformedResponse as exc:
        raise ConsoleError(f"Kafka at {address} sent an answer the console cannot read: {exc}.") from None


def cluster_config(cluster) -> dict[str, str]:
    """A `Cluster` row's librdkafka-style client settings, or a ConsoleError saying how it is misconfigured."""
    try:
        return cluster.client_config()
    except ValueError as exc:
        raise ConsoleError(f"Cluster '{cluster.name}' is misconfigured: {exc}.", code="CONFIG") from None
