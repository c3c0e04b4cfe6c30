"""What a topic's replication and settings mean for loss and availability when a broker restarts: pure.

Takes the facts `groups.kafka.durability` reads (replicas, in-sync replicas, leaders, settings) and says,
per topic and partition, what they mean, each in one plain sentence. The rules are Kafka's: an acks=all
write is acknowledged once every in-sync replica has it and refused while fewer than
`min.insync.replicas` are in sync; only an in-sync replica may become leader unless unclean leader
election is enabled; retention deletes records whether or not any group has read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groups.kafka.durability import PartitionReplicas, TopicReplication

# From harmless to harmful; a page shows a topic's worst.
LEVELS = ("ok", "info", "warn", "danger")


@dataclass(frozen=True)
class Finding:
    level: str
    title: str
    meaning: str
    partitions: tuple[int, ...] = ()  # the partitions it is about; () for the whole topic


@dataclass(frozen=True)
class PartitionState:
    partition: int
    leader: int | None
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    min_insync_replicas: int

    @property
    def offline(self) -> bool:
        return self.leader is None

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def under_min_isr(self) -> bool:
        return len(self.isr) < self.min_insync_replicas

    @property
    def out_of_sync(self) -> tuple[int, ...]:
        """Replicas that are not in sync: they may miss records the leader acknowledged."""
        return tuple(r for r in self.replicas if r not in self.isr)


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    set_on_topic: bool
    meaning: str


@dataclass(frozen=True)
class TopicDurability:
    topic: str
    replication_factor: int  # the lowest of its partitions', should they differ
    min_insync_replicas: int
    unclean_leader_election: bool
    retention_ms: int | None  # None: kept however old
    retention_bytes: int | None  # None: no size limit
    cleanup_policy: str
    partitions: tuple[PartitionState, ...]
    settings: tuple[Setting, ...]
    findings: tuple[Finding, ...]  # worst first

    @property
    def worst(self) -> Finding:
        return self.findings[0]

    @property
    def retention(self) -> str:
        """How long records stay, in a few words: '7 days', '7 days or 1 GiB', 'forever', 'latest per key'."""
        kinds = {kind.strip() for kind in self.cleanup_policy.split(",")}
        limits = [duration(self.retention_ms)] if self.retention_ms is not None else []
        limits += [size(self.retention_bytes)] if self.retention_bytes is not None else []
        deleted = " or ".join(limits) if "delete" in kinds and limits else ""
        if "compact" in kinds:
            return f"latest per key, and {deleted}" if deleted else "latest per key"
        return deleted or "forever"

    @property
    def under_replicated(self) -> tuple[int, ...]:
        return tuple(p.partition for p in self.partitions if p.under_replicated)

    @property
    def under_min_isr(self) -> tuple[int, ...]:
        return tuple(p.partition for p in self.partitions if p.under_min_isr)

    @property
    def offline(self) -> tuple[int, ...]:
        return tuple(p.partition for p in self.partitions if p.offline)


def judge(facts: TopicReplication) -> TopicDurability:
    """A topic's partitions, settings and findings, worst finding first."""
    min_isr = _int(facts.settings, "min.insync.replicas", 1)
    unclean = _setting(facts.settings, "unclean.leader.election.enable", "false").lower() == "true"
    partitions = tuple(_partition(p, min_isr) for p in facts.partitions)
    rf = min((len(p.replicas) for p in partitions), default=0)
    findings = _findings(partitions, rf, min_isr, unclean)
    retention_ms = _int(facts.settings, "retention.ms", -1)
    retention_bytes = _int(facts.settings, "retention.bytes", -1)
    return TopicDurability(
        topic=facts.name,
        replication_factor=rf,
        min_insync_replicas=min_isr,
        unclean_leader_election=unclean,
        retention_ms=retention_ms if retention_ms >= 0 else None,
        retention_bytes=retention_bytes if retention_bytes >= 0 else None,
        cleanup_policy=_setting(facts.settings, "cleanup.policy", "delete"),
        partitions=partitions,
        settings=_settings(facts, min_isr, unclean),
        findings=tuple(sorted(findings, key=lambda f: -LEVELS.index(f.level))),
    )


def _partition(p: PartitionReplicas, min_isr: int) -> PartitionState:
    return PartitionState(p.partition, p.leader, p.replicas, p.isr, min_isr)


def _which(partitions: list[PartitionState]) -> str:
    numbers = [str(p.partition) for p in partitions]
    return f"partition {numbers[0]}" if len(numbers) == 1 else f"partitions {', '.join(numbers)}"


def _findings(partitions: tuple[PartitionState, ...], rf: int, min_isr: int, unclean: bool) -> list[Finding]:
    findings = []
    offline = [p for p in partitions if p.offline]
    if offline:
        findings.append(
            Finding(
                "danger",
                "No leader",
                f"{_which(offline).capitalize()} {'has' if len(offline) == 1 else 'have'} no leader: reads and "
                "writes fail until a broker holding an in-sync replica is back.",
                tuple(p.partition for p in offline),
            )
        )
    short = [p for p in partitions if p.under_min_isr and not p.offline]
    if short:
        isr = min(len(p.isr) for p in short)
        findings.append(
            Finding(
                "danger",
                "Under min ISR",
                f"acks=all writes to {_which(short)} fail while ISR ({isr}) < min.insync.replicas ({min_isr}); "
                "writes with acks=0 or 1 still land on the leader alone and are lost if it fails.",
                tuple(p.partition for p in short),
            )
        )
    if min_isr > rf > 0:
        findings.append(
            Finding(
                "danger",
                "min.insync.replicas above RF",
                f"min.insync.replicas ({min_isr}) is above the replication factor ({rf}): acks=all writes can "
                "never succeed, whatever the brokers do.",
            )
        )
    if unclean:
        findings.append(
            Finding(
                "danger",
                "Unclean leader election",
                "After a restart an out-of-sync replica may become leader, and the records it never received "
                "are lost for good.",
            )
        )
    if rf == 1:
        findings.append(
            Finding(
                "danger",
                "RF 1",
                "A broker restart makes each partition unavailable, and a crash or a lost disk loses its records: "
                "there is no other copy.",
            )
        )
    lagging = [p for p in partitions if p.under_replicated and not p.under_min_isr and not p.offline]
    if lagging:
        findings.append(
            Finding(
                "warn",
                "Under-replicated",
                f"Not every replica of {_which(lagging)} is in sync: a leader can only move to the in-sync "
                "ones, so one more broker failure leaves fewer copies.",
                tuple(p.partition for p in lagging),
            )
        )
    if rf > 1 and min_isr <= 1:
        findings.append(
            Finding(
                "warn",
                "min.insync.replicas 1",
                "An acks=all write is acknowledged once the leader alone has it: if that broker fails before a "
                "follower copies it, the record is lost.",
            )
        )
    elif rf > 1 and min_isr == rf:
        findings.append(
            Finding(
                "warn",
                "min.insync.replicas = RF",
                "Every replica must be in sync: any one broker restart makes acks=all writes fail until it is back.",
            )
        )
    if not findings:
        spare = rf - min_isr
        findings.append(
            Finding(
                "ok",
                f"RF {rf}, min.insync.replicas {min_isr}",
                f"{spare} broker{'s' if spare > 1 else ''} can restart at once without failing acks=all writes, "
                f"and an acknowledged record survives the loss of {min_isr - 1} broker{'s' if min_isr > 2 else ''}.",
            )
        )
    return findings


def _settings(facts: TopicReplication, min_isr: int, unclean: bool) -> tuple[Setting, ...]:
    retention_ms = _int(facts.settings, "retention.ms", -1)
    retention_bytes = _int(facts.settings, "retention.bytes", -1)
    policy = _setting(facts.settings, "cleanup.policy", "delete")
    meanings = {
        "min.insync.replicas": (
            str(min_isr),
            f"acks=all writes need {min_isr} in-sync replica{'s' if min_isr > 1 else ''}; with fewer they fail "
            "(NOT_ENOUGH_REPLICAS) rather than risk loss.",
        ),
        "unclean.leader.election.enable": (
            "true" if unclean else "false",
            "An out-of-sync replica may become leader, dropping the records it never received."
            if unclean
            else "Only an in-sync replica can become leader, so an election drops no acknowledged record.",
        ),
        "retention.ms": (
            "-1" if retention_ms < 0 else str(retention_ms),
            "Records are kept however old they are."
            if retention_ms < 0 or "delete" not in policy
            else f"Records older than {duration(retention_ms)} are deleted, read or not: a group stopped longer "
            "than that never reads them.",
        ),
        "retention.bytes": (
            "-1" if retention_bytes < 0 else str(retention_bytes),
            "Partitions have no size limit."
            if retention_bytes < 0 or "delete" not in policy
            else f"Each partition keeps at most {size(retention_bytes)}; older records are deleted, read or not.",
        ),
        "cleanup.policy": (policy, _policy_meaning(policy)),
    }
    return tuple(
        Setting(name, value, facts.settings[name].set_on_topic if name in facts.settings else False, meaning)
        for name, (value, meaning) in meanings.items()
    )


def _policy_meaning(policy: str) -> str:
    kinds = {kind.strip() for kind in policy.split(",")}
    if kinds >= {"compact", "delete"}:
        return "Only the latest record of each key is kept, and old segments are also deleted by time or size."
    if "compact" in kinds:
        return "Only the latest record of each key is kept: older values of a key are removed, read or not."
    return "Old records are deleted by time or size (retention.ms, retention.bytes)."


def _setting(settings: dict, name: str, default: str) -> str:
    setting = settings.get(name)
    return setting.value if setting is not None and setting.value not in (None, "") else default


def _int(settings: dict, name: str, default: int) -> int:
    try:
        return int(_setting(settings, name, str(default)))
    except ValueError:
        return default


_UNITS_MS = (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000))


def duration(ms: int) -> str:
    """A retention time in the largest whole unit that fits it: 604800000 -> '7 days', 5400000 -> '90 minutes'."""
    for name, unit in _UNITS_MS:
        if ms >= unit and ms % unit == 0:
            count = ms // unit
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{ms} ms"


def size(count: int) -> str:
    """A byte count in binary units: 1073741824 -> '1 GiB', 1500 -> '1500 bytes'."""
    for name, unit in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= unit:
            value = count / unit
            return f"{value:.0f} {name}" if value == int(value) else f"{value:.1f} {name}"
    return f"{count} bytes"
