"""Everything one collection round reads from a cluster, in a small fixed number of batched round trips.

Two phases, each a handful of requests in flight together, whatever the number of groups:

1. ListGroups on every broker (confluent-kafka: it reports each group's type; and for share and
   streams groups, which it does not list, groups.kafka.typed_groups: one connection per broker
   that lists them, reads share start offsets and lag, and describes both kinds) beside one
   Metadata request for every topic's partitions and the cluster's own description (kafka-python:
   DescribeCluster for the brokers, DescribeQuorum for the active controller; the Kafka version
   comes from the ApiVersions exchange every connection starts with, so it costs nothing more).
2. Beside each other: DescribeGroups for the groups that are not Empty (an Empty group has no
   members to describe); DescribeConfigs of every topic (retention.ms); OffsetFetch for every
   group, batched per coordinator (KIP-709, Kafka 3.0+). Then ListOffsets earliest, latest and
   max_timestamp (KIP-734) for every partition of every topic, one request per partition leader
   and spec, all in flight together (kafka-python: see log_offsets). Log ends are read after
   committed offsets, as Kafka's own tool does: the other way round, a consumer committing in
   between would show a commit past the log end.

Committed offsets come through kafka-python's connections (groups.kafka.committed_offsets), because
librdkafka's ListConsumerGroupOffsets takes one group per request and crashes its process on
coordinator errors (see offsets_helper). A group the coordinator refuses for good is reported with
its error; every other group is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TypeVar

import kafka.errors
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.net.compat import KafkaNetClient
from kafka.net.manager import KafkaConnectionManager
from kafka.net.selector import NetworkSelector
from kafka.protocol.broker_version_data import BROKER_API_VERSIONS

from groups.kafka import (
    TP,
    ClusterClient,
    ConsoleError,
    GroupListing,
    Member,
    client_for,
)
from groups.kafka.committed_offsets import CommittedOffsets, read_committed
from groups.kafka.consumer_groups import ConsumerGroupClient
from groups.kafka.log_offsets import LogReading, read_log_offsets
from groups.kafka.share import SharePartitionOffset
from groups.kafka.typed_groups import TypedGroups, read_typed_groups

T = TypeVar("T")
# Group types librdkafka does not list; groups.kafka.typed_groups reads them.
_TYPED = frozenset({"share", "streams"})


@dataclass(frozen=True)
class GroupReading:
    """One group as the round saw it. `members` is empty for an Empty group (never described)."""

    group_id: str
    state: str
    type: str
    members: tuple[Member, ...]
    committed: dict[TP, int]
    error: str = ""  # why this group's offsets could not be read; the rest of the round stands
    # A KIP-848 group's group epoch (ConsumerGroupDescribe). None for a classic group, whose DescribeGroups
    # answer carries no generation, for an Empty group (not described), and where the read failed.
    epoch: int | None = None


@dataclass(frozen=True)
class PartitionReading:
    """Log start and end (high watermark) of a partition, and its newest record by timestamp."""

    log_start: int | None
    log_end: int | None
    newest_offset: int | None = None
    newest_ms: int | None = None


UNKNOWN_ENDS = PartitionReading(None, None)
"""A partition whose ends the round did not read."""


@dataclass(frozen=True)
class TopicReading:
    name: str
    partitions: int
    internal: bool
    retention_ms: int | None = None  # -1: kept forever; None: not read


@dataclass(frozen=True)
class Broker:
    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True)
class ClusterFacts:
    """The brokers, the active controller and the Kafka version, as one round saw them."""

    cluster_id: str | None
    brokers: tuple[Broker, ...]
    controller_id: int | None
    # "4.1": the newest release whose API versions the broker answers with. The client library knows
    # releases up to some version; a broker newer than that reads as that version "or later".
    version: str
    note: str = ""  # what could not be told, e.g. the controller of a cluster that refuses DescribeQuorum


@dataclass(frozen=True)
class ClusterReading:
    """What one round read: every group, every topic, every partition's ends; and what it cost."""

    # Wall clock when the log ends came back (the committed offsets were read just before): the
    # moment the round's figures describe.
    t_ms: int
    groups: dict[str, GroupReading]
    topics: dict[str, TopicReading]
    partitions: dict[TP, PartitionReading]
    seconds: dict[str, float] = field(default_factory=dict)  # time per step, for the round's report
    notes: tuple[str, ...] = ()  # what the round could not read although it succeeded
    cluster: ClusterFacts | None = None  # None when describing the cluster failed (a note says why)
    # Share groups have no committed offsets: their start offsets and the broker's lag (judged on the position
    # the lag implies: groups.snapshot.share_positions).
    share_offsets: dict[str, tuple[SharePartitionOffset, ...]] = field(default_factory=dict)


def kafka_python_config(config: dict[str, str], timeout: float) -> dict:
    """kafka-python's settings for a cluster's librdkafka settings (the only ones Cluster produces)."""
    names = {
        "bootstrap.servers": "bootstrap_servers",
        "security.protocol": "security_protocol",
        "sasl.mechanism": "sasl_mechanism",
        "sasl.username": "sasl_plain_username",
        "sasl.password": "sasl_plain_password",
        "ssl.ca.location": "ssl_cafile",
    }
    unknown = sorted(set(config) - set(names))
    if unknown:
        raise ConsoleError(
            f"The collector cannot pass the client settings {', '.join(unknown)} on to its "
            "committed-offsets reader; remove them from the cluster's configuration.",
            code="CONFIG",
        )
    out: dict[str, object] = {names[key]: value for key, value in config.items()}
    out.update(
        request_timeout_ms=int(timeout * 1000),
        bootstrap_timeout_ms=int(timeout * 1000),
        client_id="kafka-console-collector",
    )
    return out


def console_error(exc: kafka.errors.KafkaError, what: str, bootstrap: str) -> ConsoleError:
    """A kafka-python failure told the way groups.kafka tells librdkafka's."""
    code = getattr(exc, "message", None) or type(exc).__name__
    if isinstance(exc, kafka.errors.KafkaTimeoutError | kafka.errors.KafkaConnectionError):
        return ConsoleError(
            f"Kafka at {bootstrap} did not answer while {what} ({exc}). Check that the brokers "
            "are up and reachable from the console.",
            code="_TIMED_OUT",
            retriable=True,
        )
    if isinstance(
        exc,
        kafka.errors.CoordinatorLoadInProgressError
        | kafka.errors.NotCoordinatorError
        | kafka.errors.CoordinatorNotAvailableError,
    ):
        return ConsoleError(
            f"The group coordinator is not available while {what} ({code}); the next round tries again.",
            code=code,
            retriable=True,
        )
    if isinstance(exc, kafka.errors.UnsupportedVersionError):
        # The collector batches (FindCoordinator v4, OffsetFetch v8: KIP-699, KIP-709) and asks for the newest
        # log offsets (ListOffsets max_timestamp: KIP-734): all in Kafka 3.0 and later.
        return ConsoleError(
            f"Kafka at {bootstrap} is too old for the collector while {what} ({exc}): it needs Kafka 3.0 or later.",
            code=code,
        )
    if isinstance(exc, kafka.errors.AuthorizationError):
        return ConsoleError(f"Kafka refused {what}: the console's credentials lack the ACL for it ({code}).", code=code)
    if isinstance(exc, kafka.errors.SaslAuthenticationFailedError):
        return ConsoleError(
            f"Kafka at {bootstrap} rejected the console's credentials ({exc}). Check the "
            "cluster's SASL user and password source.",
            code=code,
        )
    return ConsoleError(f"Kafka failed while {what}: {exc}", code=code, retriable=exc.retriable)


class OffsetsReader:
    """One kafka-python admin client for one round: committed offsets of many groups per request.

    Made per round, not kept: its coordinator cache is never invalidated, so a long-lived one
    would keep asking a broker that stopped coordinating a group.
    """

    def __init__(self, config: dict[str, str], timeout: float):
        self.bootstrap = config.get("bootstrap.servers", "?")
        self.timeout_ms = int(timeout * 1000)
        settings = kafka_python_config(config, timeout)
        made: list[KafkaNetClient] = []

        def network_client(**configs) -> KafkaNetClient:
            # Made here, as KafkaNetClient would make it, to keep the manager that sends ListOffsets.
            net = NetworkSelector(**configs)
            self._manager = KafkaConnectionManager(net, **configs)
            made.append(KafkaNetClient(net=net, manager=self._manager, **configs))
            return made[-1]

        try:
            self._admin = KafkaAdminClient(**settings, kafka_client=network_client)
        except kafka.errors.KafkaError as exc:
            # The admin client starts its network thread before bootstrapping and does not stop it
            # when bootstrapping fails.
            for client in made:
                client.close()
            raise console_error(exc, "connecting to read committed offsets", self.bootstrap) from None
        self.requests = 0  # OffsetFetch batches sent, each one request per coordinator
        self.list_offsets_requests = 0
        self.leaders: dict[TP, int | None] = {}  # each partition's leader, as topics() last saw it

    def close(self) -> None:
        self._admin.close()

    def topics(self) -> dict[str, TopicReading]:
        """Every topic the console may describe, with its partition count."""
        try:
            described = self._admin.describe_topics()
        except kafka.errors.KafkaError as exc:
            raise console_error(exc, "listing topics", self.bootstrap) from None
        readable = [t for t in described if t["error_code"] == 0]
        self.leaders = {
            TP(t["name"], p["partition_index"]): p.get("leader_id") for t in readable for p in t["partitions"]
        }
        return {t["name"]: TopicReading(t["name"], len(t["partitions"]), bool(t.get("is_internal"))) for t in readable}

    def cluster(self) -> ClusterFacts:
        """Brokers and cluster id (DescribeCluster), the active controller (DescribeQuorum) and the version.

        In KRaft, DescribeCluster names a random live broker as the controller (clients cannot reach
        the controllers), so the controller is the metadata quorum's leader; a cluster that refuses
        DescribeQuorum (ZooKeeper mode, or no DESCRIBE on the cluster) keeps DescribeCluster's answer.
        """
        try:
            described = self._admin.describe_cluster()
        except kafka.errors.KafkaError as exc:
            raise console_error(exc, "describing the cluster", self.bootstrap) from None
        brokers = tuple(
            sorted(
                (Broker(b["broker_id"], b["host"], b["port"], b.get("rack")) for b in described.get("brokers", ())),
                key=lambda b: b.node_id,
            )
        )
        controller, note = described.get("controller_id"), ""
        try:
            leader = self._admin.describe_metadata_quorum()["topics"][0]["partitions"][0]["leader_id"]
        except (kafka.errors.KafkaError, KeyError, IndexError) as exc:
            note = (
                f"The active controller is as the brokers report it: the cluster did not describe its "
                f"metadata quorum ({type(exc).__name__})."
            )
        else:
            controller = leader if leader is not None and leader >= 0 else controller
        return ClusterFacts(
            cluster_id=described.get("cluster_id"),
            brokers=brokers,
            controller_id=controller if controller is not None and controller >= 0 else None,
            version=self._version(brokers),
            note=note,
        )

    def _version(self, brokers: tuple[Broker, ...]) -> str:
        if not brokers:
            return ""
        found = self._admin.get_broker_version_data(brokers[0].node_id).broker_version
        text = ".".join(str(part) for part in found[:2])
        return f"{text} or later" if found == max(BROKER_API_VERSIONS) else text

    def retention(self, topics: list[str]) -> dict[str, int]:
        """retention.ms of each topic, in one request; a topic deleted meanwhile is left out."""
        if not topics:
            return {}
        resources = [ConfigResource(ConfigResourceType.TOPIC, name, configs=["retention.ms"]) for name in topics]
        try:
            described = self._admin.describe_configs(resources, config_filter="all")
        except kafka.errors.KafkaError as exc:
            raise console_error(exc, "reading the topics' retention.ms", self.bootstrap) from None
        out = {}
        for name, configs in described.get("topic", {}).items():
            value = configs.get("retention.ms", {}).get("value")
            if value not in (None, ""):
                out[name] = int(value)
        return out

    def log_offsets(self, partitions: list[TP]) -> LogReading:
        """Log start and end, and the newest record, of each of `partitions` (read by topics())."""
        try:
            reading, requests = read_log_offsets(
                self._manager, {tp: self.leaders.get(tp) for tp in partitions}, self.timeout_ms
            )
        except kafka.errors.KafkaError as exc:
            raise console_error(exc, "reading the log offsets", self.bootstrap) from None
        self.list_offsets_requests += requests
        return reading

    def committed(self, group_ids: list[str]) -> tuple[dict[str, dict[TP, int]], dict[str, str]]:
        """(committed offsets of each group, why a group could not be read) for all of `group_ids`.

        Raises ConsoleError for failures that concern the whole cluster or that retrying may cure
        (unreachable, coordinator moving or loading): the round is then tried again whole.
        """
        try:
            found = read_committed(self._manager, group_ids, self.timeout_ms)
        except kafka.errors.KafkaError as exc:
            raise console_error(exc, "reading committed offsets", self.bootstrap) from None
        self.requests += found.requests
        return found.offsets, group_errors(found, self.bootstrap)


def group_errors(found: CommittedOffsets, bootstrap: str) -> dict[str, str]:
    """Why each group of `found` could not be read. A failure that retrying may cure (a coordinator moving or
    loading) raises ConsoleError instead: the round is tried again whole rather than served without the group."""
    errors = {}
    for group_id, refusal in found.failures.items():
        if refusal.retriable:
            raise console_error(refusal, "reading committed offsets", bootstrap)
        what = f"reading the committed offsets of group '{group_id}'"
        errors[group_id] = console_error(refusal, what, bootstrap).message
    return errors


def _timed(seconds: dict[str, float], name: str, step: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return step()
    finally:
        seconds[name] = time.monotonic() - started


def group_epochs(config: dict[str, str], timeout: float, group_ids: list[str]) -> tuple[dict[str, int], str]:
    """(group epoch of each KIP-848 group of `group_ids`, why they could not be read): librdkafka's describe
    drops the epochs. A failure costs only the epochs, which rebalances are told by, not the round."""
    try:
        found = ConsumerGroupClient(config, timeout).describe_many(group_ids)
    except ConsoleError as exc:
        return {}, f"The group epochs of KIP-848 groups were not read this round: {exc.message}"
    return {group_id: group.group_epoch for group_id, group in found.items()}, ""


def read_cluster(cluster) -> ClusterReading:
    """Read a `Cluster` row's whole cluster for one collection round; ConsoleError when it cannot."""
    client = client_for(cluster)
    try:
        config = cluster.client_config()
    except ValueError as exc:
        raise ConsoleError(f"Cluster '{cluster.name}' is misconfigured: {exc}.", code="CONFIG") from None
    return read_with(client, config)


def read_with(client: ClusterClient, config: dict[str, str]) -> ClusterReading:
    """The round's reads through `client` (confluent-kafka) and a kafka-python reader made from `config`."""
    seconds: dict[str, float] = {}
    notes: list[str] = []
    with ThreadPoolExecutor(max_workers=7, thread_name_prefix="collect") as pool:
        listing = pool.submit(_timed, seconds, "list_groups", client.list_groups)
        typed_future = pool.submit(_timed, seconds, "typed_groups", lambda: read_typed_groups(config, client.timeout))
        reader_future = pool.submit(_timed, seconds, "connect", lambda: OffsetsReader(config, client.timeout))
        try:
            reader = reader_future.result()
        except ConsoleError:
            # kafka-python meets a refused password or certificate as a bootstrap timeout; librdkafka,
            # asked at the same time, names the refusal (groups.kafka.refusals): its error says what to fix.
            try:
                listing.result()
            except ConsoleError as refusal:
                raise refusal from None
            raise
        try:
            topics_future = pool.submit(_timed, seconds, "topics", reader.topics)
            cluster_future = pool.submit(_timed, seconds, "cluster", reader.cluster)
            listings: list[GroupListing] = listing.result()
            topics = topics_future.result()
            typed = _typed_or_note(typed_future, notes)
            listings = sorted([*listings, *typed.listings], key=lambda g: g.group_id)

            # A streams group commits offsets as a consumer group does; a share group has none.
            readable = [g.group_id for g in listings if g.group_id and g.type != "share"]
            active = [g.group_id for g in listings if g.group_id and g.state != "Empty" and g.type not in _TYPED]
            partitions = [TP(name, p) for name, t in sorted(topics.items()) for p in range(t.partitions)]
            described = pool.submit(_timed, seconds, "describe", lambda: client.describe_groups(active))
            kip848 = [g.group_id for g in listings if g.group_id and g.state != "Empty" and g.type == "consumer"]
            epochs_future = pool.submit(
                _timed, seconds, "group_epochs", lambda: group_epochs(config, client.timeout, kip848)
            )
            retention = pool.submit(_timed, seconds, "configs", lambda: reader.retention(sorted(topics)))
            committed, group_errors = _timed(seconds, "offset_fetch", lambda: reader.committed(readable))
            descriptions = described.result()
            epochs, epochs_note = epochs_future.result()
            if epochs_note:
                notes.append(epochs_note)
            logs = _timed(seconds, "log_offsets", lambda: reader.log_offsets(partitions))
            t_ms = int(time.time() * 1000)
            retention_ms = retention.result()
            # The brokers and the version are shown, not used: their failure costs only their figures.
            try:
                cluster_facts = cluster_future.result()
            except ConsoleError as exc:
                cluster_facts = None
                notes.append(f"The brokers and the controller were not read this round: {exc.message}")
        finally:
            reader.close()
    seconds["offset_fetch_requests"] = reader.requests
    seconds["list_offsets_requests"] = reader.list_offsets_requests

    groups: dict[str, GroupReading] = {}
    for listing_row in listings:
        group_id = listing_row.group_id
        description = descriptions.get(group_id)
        offsets = committed.get(group_id, {})
        if description is not None and description.state == "Dead" and not offsets:
            continue  # deleted between listing and describing
        if listing_row.type in _TYPED:
            members = typed.members.get(group_id, ())
            streams = typed.streams.get(group_id)
            state = streams.state if streams is not None else listing_row.state
        else:
            members = description.members if description is not None else ()
            state = description.state if description is not None else listing_row.state
        groups[group_id] = GroupReading(
            group_id=group_id,
            state=state,
            type=listing_row.type,
            members=members,
            committed=offsets,
            error=group_errors.get(group_id, "") or typed.errors.get(group_id, ""),
            epoch=epochs.get(group_id),
        )
    readings = {}
    for tp in partitions:
        ends_of = logs.ends.get(tp)
        newest_of = logs.newest.get(tp)
        readings[tp] = PartitionReading(
            log_start=ends_of.start if ends_of else None,
            log_end=ends_of.end if ends_of else None,
            newest_offset=newest_of[0] if newest_of else None,
            newest_ms=newest_of[1] if newest_of else None,
        )
    topics = {name: replace(t, retention_ms=retention_ms.get(name)) for name, t in topics.items()}
    return ClusterReading(
        t_ms=t_ms,
        groups=groups,
        topics=topics,
        partitions=readings,
        seconds=seconds,
        notes=tuple(notes),
        cluster=cluster_facts,
        share_offsets=typed.share_offsets,
    )


def _typed_or_note(future, notes: list[str]) -> TypedGroups:
    """The share and streams groups, or none and a note: without them the round still stands."""
    try:
        return future.result()
    except ConsoleError as exc:
        notes.append(f"Share and streams groups were not read this round: {exc.message}")
        return TypedGroups([])
