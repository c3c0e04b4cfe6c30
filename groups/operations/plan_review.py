"""A requested plan beside the same request planned now, partition by partition, for an approver's review:
what moved since the request, what would be planned differently, what has left the log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from groups.planning import resets as planning


@dataclass(frozen=True)
class PartitionCheck:
    """One partition as requested and as the same request plans it now; None where one side lacks it."""

    topic: str
    partition: int
    before_then: int | None
    after_then: int | None
    before_now: int | None
    after_now: int | None
    log_start_now: int | None
    log_end_now: int | None
    in_request: bool
    in_plan_now: bool

    @property
    def moved(self) -> bool:
        """The group's committed offset is not what the request found, so the worker would refuse the plan."""
        return self.in_request and (not self.in_plan_now or self.before_now != self.before_then)

    @property
    def replanned(self) -> bool:
        return self.in_request and self.in_plan_now and self.after_now != self.after_then

    @property
    def outside_log(self) -> bool:
        """The requested offset has left the partition's log (retention passed it, or the log was cut)."""
        if self.after_then is None or self.log_start_now is None or self.log_end_now is None:
            return False  # not both in the request and in the plan now
        return not self.log_start_now <= self.after_then <= self.log_end_now

    @property
    def differs(self) -> bool:
        """Planned now, the request would not be what was asked, though the plan can still be applied."""
        return not self.moved and (not self.in_request or self.replanned or self.outside_log)


def compare_plans(requested: list[dict], now: Iterable[planning.PlannedPartition]) -> tuple[PartitionCheck, ...]:
    """Each partition of a requested plan beside the same request planned now, for an approver's review."""
    then = {(row["topic"], row["partition"]): row for row in requested}
    current = {(row.topic, row.partition): row for row in now}
    checks = []
    for key in sorted(then.keys() | current.keys()):
        old, new = then.get(key), current.get(key)
        checks.append(
            PartitionCheck(
                topic=key[0],
                partition=key[1],
                before_then=old["before"] if old else None,
                after_then=old["after"] if old else None,
                before_now=new.before if new else None,
                after_now=new.after if new else None,
                log_start_now=new.log_start if new else None,
                log_end_now=new.log_end if new else None,
                in_request=old is not None,
                in_plan_now=new is not None,
            )
        )
    return tuple(checks)
