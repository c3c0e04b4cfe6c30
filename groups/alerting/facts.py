"""What the collector tells the alert engine about each group after a round (plain data, no Django)."""

from __future__ import annotations

from dataclasses import dataclass

# A replay's private copy group (groups.replay names it so): it is the console's own, never alerted on.
REPLAY_GROUP_PREFIX = "console-replay-"


@dataclass(frozen=True)
class PartitionFact:
    """One partition whose status made the group's status (what the alert shows as the cause)."""

    topic: str
    partition: int
    status: str
    reason: str = ""


@dataclass(frozen=True)
class GroupFacts:
    """One group as one collection round saw it.

    `status` is the group's headline status (OK, WARN, ERR, RESET) and
    `partition_statuses` the partitions that caused it. `lag` is the total lag in messages (None when
    no partition has a committed offset), `lag_seconds` the group's lag in seconds (None when it cannot
    be told). `retention_margin_s` is the worst partition's time until retention passes its committed
    offset: 0 or less when records are already lost, None when there is no finite margin (retention is
    not catching up, or nothing is behind). `topics` are the topics the group reads (a replay into one
    of them mutes the group's alerts).
    """

    group_id: str
    status: str
    lag: int | None
    lag_seconds: float | None
    retention_margin_s: float | None
    members: int
    partition_statuses: tuple[PartitionFact, ...] = ()
    topics: frozenset[str] = frozenset()
    is_replay_checkpoint: bool = False

    @property
    def never_alerted(self) -> bool:
        return self.is_replay_checkpoint or self.group_id.startswith(REPLAY_GROUP_PREFIX)

    def as_json(self) -> dict:
        """The figures an alert keeps and shows (also the `values` of the webhook body)."""
        return {
            "status": self.status,
            "lag": self.lag,
            "lag_seconds": self.lag_seconds,
            "retention_margin_s": self.retention_margin_s,
            "members": self.members,
            "partitions": [
                {"topic": p.topic, "partition": p.partition, "status": p.status, "reason": p.reason}
                for p in self.partition_statuses
            ],
        }
