"""A replay's steps in the one operation lifecycle: copy from the checkpoint with progress, cancel and
hand-over, and finish with the counts of what was copied."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from django.utils import timezone

from groups import audit
from groups.kafka import ClusterClient, ConsoleError, CopyJob, CopyProgress, RangeCopier, client_for
from groups.models import AuditEvent, Operation
from groups.operations import lifecycle
from groups.operations.lifecycle import Review
from groups.operations.replays import (
    STALE_AFTER,
    check_still_possible,
    dispatch_resume,
    kept_text,
    request_of,
    resume_stale_replays,
)
from groups.planning.replays import ReplayError, record_filter

logger = logging.getLogger(__name__)

# A run hands the copy to a fresh task this long before the task's soft time limit.
HAND_OVER_MARGIN = 60
RATE_WINDOW_SECONDS = 5.0


class ReplayRun(lifecycle.Run, kind=Operation.Kind.REPLAY):
    """A replay's steps: copy from the checkpoint with progress, cancel and hand-over, and finish with counts.

    Its right is on the cluster (a copy between topics is no group's). It takes no group lock:
    a later run fences an earlier one through the copy's transactional id instead.
    """

    action = "replay"
    on_group = False
    resume_after = STALE_AFTER
    refused_note = "This was checked again when a worker started the replay, so nothing was copied."

    def __init__(self, operation: Operation, attempt: int, time_limit: float | None = None):
        super().__init__(operation, attempt, time_limit)
        if time_limit:
            # Short limits (tests) hand over halfway; real ones leave the margin for the last commit.
            spare = HAND_OVER_MARGIN if time_limit > 2 * HAND_OVER_MARGIN else time_limit / 2
            self.deadline: float | None = time.monotonic() + time_limit - spare
        else:
            self.deadline = None
        self.stopped = ""
        # The copy's committed state as last reported: None until the run has read the checkpoint.
        self.committed: CopyProgress | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self._first = True

    def save(self, progress: CopyProgress) -> bool:
        """Write the progress and the heartbeat; False when a later run holds the replay (or it ended)."""
        self.committed = progress
        now = time.monotonic()
        copied = progress.total_copied
        self._samples.append((now, copied))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
            self._samples.popleft()
        first_time, first_copied = self._samples[0]
        rate = (copied - first_copied) / (now - first_time) if now > first_time else 0.0
        stamp = timezone.now()
        mine = Operation.objects.filter(
            pk=self.operation.pk, status=Operation.Status.RUNNING, replay_attempt=self.attempt
        )
        return bool(
            mine.update(
                progress_copied=copied,
                progress_scanned=progress.scanned,
                progress_rate=rate,
                progress_updated=stamp,
                heartbeat=stamp,
            )
        )

    def report(self, progress: CopyProgress) -> bool:
        """The copier's callback: save progress, then say whether to go on (not cancelled, superseded or due)."""
        now = time.monotonic()
        if not self.save(progress):
            self.stopped = "superseded"
            return False
        if self._first and self.attempt > 1:
            audit.record(
                AuditEvent.Action.RESUMED,
                actor="worker",
                operation=self.operation,
                outcome="running",
                plan=outcome_rows(self.operation, progress),
            )
        self._first = False
        if Operation.objects.filter(pk=self.operation.pk, cancel_requested=True).exists():
            self.stopped = "cancelled"
            return False
        if self.deadline is not None and now >= self.deadline:
            self.stopped = "hand-over"
            return False
        return True

    def execute_steps(self, client: ClusterClient) -> None:
        operation = self.operation
        request = request_of(operation)
        if self.attempt == 1:
            try:
                check_still_possible(client, operation, request)
            except ReplayError as exc:
                self.finish(Operation.Status.FAILED, error=str(exc))
                return
        ranges = {row["partition"]: (row["start"], row["end"]) for row in operation.plan}
        copier = RangeCopier(
            client,
            CopyJob(
                source=request.topic,
                target=request.target_topic,
                ranges=ranges,
                copy_id=operation.replay.copy_group,
                partitioning=request.partitioning,
                keep_timestamps=request.keep_timestamps,
                accept=record_filter(request),
                throttle_rps=request.throttle_rps,
                transactional=request.exactly_once,
            ),
        )
        try:
            progress = copier.run(self.report)
        except ConsoleError as exc:
            if exc.code == "FENCED":
                logger.info("replay %s: run %s was taken over by a later run", operation.pk, self.attempt)
                return
            raise
        if self.stopped == "superseded":
            return
        if progress.done:
            self.committed = progress
            self.finish(Operation.Status.SUCCEEDED)
        elif self.stopped == "cancelled":
            self.committed = progress
            who = (
                AuditEvent.objects.filter(operation=operation, action=AuditEvent.Action.CANCEL_REQUESTED)
                .order_by("-id")
                .values_list("actor", flat=True)
                .first()
            )
            self.finish(
                Operation.Status.CANCELLED,
                error=f"Cancelled{f' by {who}' if who else ''}: {progress.total_copied} of "
                f"{operation.progress_total} records were copied into '{request.target_topic}' and "
                "stay there (committed); nothing more will be copied.",
            )
        elif self.stopped == "hand-over" and self.save(progress):
            dispatch_resume(operation.pk, self.attempt)

    def left_behind(self, unexpected: bool) -> str:
        return kept_text(self.committed, self.operation)

    def finish_fields(self) -> tuple[dict[str, Any], list | None]:
        now = timezone.now()
        rows = outcome_rows(self.operation, self.committed)
        fields: dict[str, Any] = {"outcome": rows, "heartbeat": now, "progress_updated": now, "progress_rate": 0.0}
        if self.committed is not None:
            fields.update(progress_copied=self.committed.total_copied, progress_scanned=self.committed.scanned)
        return fields, rows

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """A replay changes no group: what can go stale is its topics and the records of its range."""
        try:
            check_still_possible(client_for(operation.cluster), operation, request_of(operation))
        except (ReplayError, ConsoleError) as error:
            return Review(error=str(error))
        return Review()

    @staticmethod
    def reap_stale() -> list[int]:
        return resume_stale_replays()


def outcome_rows(operation: Operation, progress: CopyProgress | None) -> list[dict]:
    """The replay's ranges, each with how far the copy read and what it copied (the plan before it read)."""
    rows = []
    if progress is None:
        return [dict(row) for row in operation.plan]
    for row in operation.plan:
        p = row["partition"]
        position, copied = progress.positions[p], progress.copied.get(p, 0)
        rows.append(
            {
                **row,
                "position": position,
                "copied": copied,
                "note": f"copied {copied} record{'s' if copied != 1 else ''}; read offsets {row['start']} to "
                f"{position} of {row['start']} to {row['end']}",
            }
        )
    return rows
