"""Operations: changes to a group's offsets, group deletions, and replays of records into a topic."""

from functools import cached_property

from django.db import models
from django.utils import timezone

from groups.models.clusters import Cluster


class Operation(models.Model):
    """One change to a group (offset reset or group deletion) or one replay of records into a topic:
    its plan, who asked, why, and what happened.

    The plan holds absolute offsets, so applying it twice is harmless; `status` moves forward only,
    through conditional updates, so a redelivered task never runs an operation twice. On a cluster
    that requires approval it starts awaiting approval, and only a decision moves it on.

    `group_id`, `strategy`, `strategy_value`, `scope` and `undo_of` describe a change of a group; a
    replay changes no group (its `group_id` is empty): its plan holds its source ranges and its
    request is its `replay` row. The progress fields are filled by runs that report as they go.
    """

    class Kind(models.TextChoices):
        RESET = "reset", "Offset reset"
        DELETE_GROUP = "delete_group", "Delete group"
        DELETE_OFFSETS = "delete_offsets", "Delete offsets"
        REPLAY = "replay", "Replay"
        SHARE_RESET = "share_reset", "Share group start-offset reset"
        SHARE_DELETE = "share_delete", "Delete share group"

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # The kinds that set a group's offsets (a consumer group's committed, a share group's start offsets),
    # undos included: what the collector tells apart from a rewind, and the chart marks.
    RESET_KINDS = (Kind.RESET, Kind.SHARE_RESET)
    # The group types whose deletion an undo may take back: committing their offsets re-creates them as they were.
    UNDOABLE_DELETED_TYPES = ("consumer", "classic")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="operations")
    # Kafka bounds a group id's length by nothing smaller than a request's size.
    group_id = models.TextField()
    strategy = models.CharField(max_length=30, blank=True, default="")
    strategy_value = models.TextField(blank=True, default="")
    scope = models.TextField(blank=True, default="", help_text="Empty for all topics with committed offsets.")
    plan = models.JSONField(
        default=list, help_text="Rows: topic, partition, before, after, log_start, log_end, clamped, note."
    )
    reason = models.TextField()
    requester = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.PROTECT)
    requested_via = models.CharField(max_length=20, default="web")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    outcome = models.JSONField(default=list, blank=True, help_text="Per partition: committed after, verified, error.")
    internal_topics = models.JSONField(
        default=list,
        blank=True,
        help_text="A streams group's reset or deletion: the application's internal topics to delete after it "
        "(topic, partitions), and once run whether each went (deleted, error).",
    )
    group_type = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="A group deletion: the deleted group's type (consumer, classic, streams), which tells whether its "
        "undo may commit its offsets back; empty for other kinds, and for deletions recorded before it was kept.",
    )
    preview_nonce = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="The signed preview it was requested from: one preview makes at most one operation.",
    )
    error = models.TextField(blank=True, default="")
    undo_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="undone_by")
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When an unanswered approval request lapses.")
    decided_by = models.ForeignKey(
        "auth.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decided_operations",
        help_text="Who approved or rejected it, or its requester if they cancelled it.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, default="")
    progress_copied = models.BigIntegerField(default=0, help_text="Replay: records copied and committed so far.")
    progress_total = models.BigIntegerField(default=0, help_text="Replay: source offsets in the ranges.")
    progress_scanned = models.BigIntegerField(
        default=0, help_text="Replay: source offsets passed so far, copied or not (filtered out, transaction markers)."
    )
    progress_rate = models.FloatField(default=0, help_text="Replay: records copied per second, lately.")
    progress_updated = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    replay_attempt = models.PositiveIntegerField(
        default=0, help_text="Replay: how many runs have taken it on; only the latest may write its progress."
    )
    replay_stalls = models.PositiveIntegerField(
        default=0, help_text="Replay: runs in a row that stopped reporting at the same checkpoint."
    )
    replay_stalled_at = models.BigIntegerField(
        default=-1, help_text="Replay: offsets read (progress_scanned) where the last such run stopped."
    )
    replay_stalled_attempt = models.PositiveIntegerField(
        default=0, help_text="Replay: the run (replay_attempt) last found stopped."
    )

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["cluster", "group_id", "-created"]), models.Index(fields=["status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["preview_nonce"], condition=~models.Q(preview_nonce=""), name="operation_from_one_preview"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} of {self.subject} ({self.status})"

    @property
    def subject(self) -> str:
        """What the operation is about, for titles and lists: its group, or a replay's source topic."""
        return self.group_id or (self.plan[0]["topic"] if self.plan else "")

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def is_awaiting_approval(self) -> bool:
        return self.status == self.Status.AWAITING_APPROVAL

    @property
    def approval_lapsed(self) -> bool:
        """Awaiting approval past its expiry: no longer approvable, though the sweep may not have run yet."""
        return self.is_awaiting_approval and self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def decision(self) -> str:
        """How an approval request ended: approved, rejected, cancelled (by its requester) or expired; else ''."""
        if self.decided_by_id is None:
            return "expired" if self.status == self.Status.CANCELLED and self.expires_at is not None else ""
        if self.status != self.Status.CANCELLED:
            return "approved"
        return "cancelled" if self.decided_by_id == self.requester_id else "rejected"

    @property
    def eta_seconds(self) -> float | None:
        """Replay: seconds left at the recent rate, or None while that cannot be told (not running, no rate yet)."""
        if self.status != self.Status.RUNNING or self.progress_rate <= 0 or self.progress_copied <= 0:
            return None
        # The rate counts copies, the remaining work is offsets: scale by how many offsets each copy took.
        offsets_per_copy = max(self.progress_scanned, self.progress_copied) / self.progress_copied
        return max(0, self.progress_total - self.progress_scanned) * offsets_per_copy / self.progress_rate

    @cached_property
    def undo(self) -> "Operation | None":
        """The undo that took this operation back, or may yet: awaiting approval, pending, running or succeeded.

        An undo that failed or was cancelled changed nothing, so it does not count.
        """
        undos = self.undone_by.exclude(status__in=(self.Status.FAILED, self.Status.CANCELLED))
        return undos.select_related("requester").order_by("created").first()

    @property
    def can_be_undone(self) -> bool:
        """A reset (of a consumer or share group) that succeeded and found an offset to put back, an offset
        deletion that deleted offsets (a failed one may have, in part), or a consumer or classic group's deletion
        that succeeded and deleted offsets and nothing else (no internal topics); once: not when an undo already
        took it back."""
        if self.kind == self.Kind.DELETE_OFFSETS:
            undoable = bool(self.before_offsets())
        elif self.kind == self.Kind.DELETE_GROUP:
            # A streams group's offsets could only go back into a classic group, which its application would
            # not take over (`groups.planning.deletions.group_deletion_refusal` says so).
            undoable = (
                self.status == self.Status.SUCCEEDED
                and self.group_type in self.UNDOABLE_DELETED_TYPES
                and not self.internal_topics
                and bool(self.before_offsets())
            )
        else:
            # A reset of partitions that had no offset before leaves nothing to put back: a commit cannot
            # remove an offset, so such an undo would be a page with nothing to do.
            undoable = (
                self.kind in self.RESET_KINDS
                and self.status == self.Status.SUCCEEDED
                and any(offset is not None for offset in self.before_offsets().values())
            )
        return undoable and (self.pk is None or self.undo is None)

    def before_offsets(self) -> dict[tuple[str, int], int | None]:
        """The offsets the operation found, which its undo puts back; of a deletion, only the offsets it deleted."""
        rows = self.plan
        if self.kind == self.Kind.DELETE_OFFSETS:
            deleted = {(o["topic"], o["partition"]) for o in self.outcome if o.get("deleted")}
            rows = [row for row in rows if (row["topic"], row["partition"]) in deleted and row["before"] is not None]
        elif self.kind == self.Kind.DELETE_GROUP:
            rows = [row for row in rows if row["before"] is not None]
        return {(row["topic"], row["partition"]): row["before"] for row in rows}


class Replay(models.Model):
    """What a replay operation copies and how: its request, as asked, beside the operation's plan.

    `copy_group` names the copy's private consumer group, whose committed offsets are the copy's
    checkpoint, and its transactional id. By offsets, `offsets` maps each source partition to its
    [from, to); by time, `partitions` (None for all) are copied over [time_from_ms, time_to_ms).
    An empty filter field filters nothing (a request never asks for an empty key, pattern or name).
    """

    operation = models.OneToOneField(Operation, on_delete=models.CASCADE, primary_key=True, related_name="replay")
    copy_group = models.TextField(unique=True)
    topic = models.CharField(max_length=249)
    partitions = models.JSONField(null=True, blank=True, help_text="Source partitions chosen; empty for all.")
    offsets = models.JSONField(null=True, blank=True, help_text="By offsets: partition -> [from, to).")
    time_from_ms = models.BigIntegerField(null=True, blank=True)
    time_to_ms = models.BigIntegerField(null=True, blank=True)
    key_equals = models.TextField(blank=True, default="")
    key_regex = models.TextField(blank=True, default="")
    header_present = models.TextField(blank=True, default="")
    header_name = models.TextField(blank=True, default="", help_text="With header_value: copy records with it.")
    header_value = models.TextField(blank=True, default="")
    target_topic = models.CharField(max_length=249)
    partitioning = models.CharField(max_length=20, default="same")
    keep_timestamps = models.BooleanField(default=True)
    throttle_rps = models.PositiveIntegerField(null=True, blank=True)
    exactly_once = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"Replay of {self.topic} into {self.target_topic} (operation #{self.operation_id})"
