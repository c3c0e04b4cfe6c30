"""What the collector saw of a cluster: snapshots, their group and topic rows, and the pointer to the one served."""

from django.db import models

from groups.models.clusters import Cluster


class Snapshot(models.Model):
    """What one collection round saw of a cluster. Pages read the one its cluster's Collection points to;
    a round writes a new one beside it and moves the pointer, so a half-written one is never read."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(help_text="When the round started reading Kafka.")
    read_seconds = models.FloatField(help_text="Time the round took to read Kafka and evaluate what it read.")
    group_count = models.PositiveIntegerField()
    topic_count = models.PositiveIntegerField()
    partition_count = models.PositiveIntegerField(help_text="Group-partition rows (committed or assigned).")
    # Epoch milliseconds of the rounds whose observations the rows carry in `window`, oldest first,
    # this round last: the status window, carried from round to round.
    window_ms = models.JSONField(default=list)
    summary = models.JSONField(default=dict, help_text="Groups by state and by status; what the round could not read.")

    def __str__(self) -> str:
        return f"Snapshot #{self.pk} of cluster {self.cluster_id}, taken {self.taken_at}"


class Collection(models.Model):
    """A cluster's collector: which snapshot is served, and how its rounds are going."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="collection")
    snapshot = models.OneToOneField(Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stale_reason = models.TextField(
        blank=True, default="", help_text="Why the last round failed; empty when it succeeded."
    )
    stale_since = models.DateTimeField(null=True, blank=True, help_text="When rounds started failing.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_round_seconds = models.FloatField(
        null=True, blank=True, help_text="The last successful round, writing included."
    )
    rounds = models.PositiveBigIntegerField(default=0, help_text="Rounds that wrote a snapshot.")
    failed_rounds = models.PositiveBigIntegerField(default=0)
    skipped_rounds = models.PositiveBigIntegerField(
        default=0, help_text="Rounds not run because the previous one still held the cluster's lock (overruns)."
    )

    def __str__(self) -> str:
        return f"Collection of cluster {self.cluster_id}, serving snapshot {self.snapshot_id}"


class SnapshotGroup(models.Model):
    """One consumer group in a snapshot: its figures as columns (filtered and sorted in the database),
    its partitions in one compact field (see groups.snapshot.rows)."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="group_rows")
    group_id = models.TextField()
    state = models.CharField(max_length=30)
    type = models.CharField(max_length=20)
    members = models.PositiveIntegerField()
    topics = models.JSONField(default=list)
    partitions = models.PositiveIntegerField()
    lag = models.BigIntegerField(null=True)
    lag_seconds = models.FloatField(null=True)
    lag_seconds_method = models.CharField(max_length=20, blank=True, default="")
    lag_seconds_doubtful = models.BooleanField(default=False)
    status = models.CharField(max_length=10, blank=True, default="", help_text="Empty until evaluated.")
    status_reason = models.TextField(blank=True, default="")
    operation_id = models.PositiveBigIntegerField(null=True, help_text="The console operation the status names.")
    replay_operation_id = models.PositiveBigIntegerField(null=True, help_text="Set on a replay's checkpoint group.")
    catch_up_seconds = models.FloatField(null=True)
    catch_up_note = models.TextField(blank=True, default="")
    retention_margin_seconds = models.FloatField(null=True, help_text="The worst partition's; 0 once records are lost.")
    retention_note = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="", help_text="Why the group's offsets could not be read this round.")
    detail = models.TextField(help_text="Per partition: committed, log start/end, lag, lag seconds, status, owner.")
    window = models.TextField(help_text="Per partition: committed offsets at the snapshot's window_ms.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "group_id"], name="snapshot_group_once")]
        # Each sort the pages offer, with the group id breaking ties in the same direction, so a
        # page of 50 sorted rows is read off an index, not sorted from 10,000.
        indexes = [
            models.Index(fields=["snapshot", "lag", "group_id"], name="snapshot_group_lag"),
            models.Index(fields=["snapshot", "lag_seconds", "group_id"], name="snapshot_group_lag_s"),
            models.Index(fields=["snapshot", "members", "group_id"], name="snapshot_group_members"),
            models.Index(fields=["snapshot", "state", "lag", "group_id"], name="snapshot_group_state"),
            models.Index(fields=["snapshot", "status", "lag", "group_id"], name="snapshot_group_status"),
            # A list's count (replay checkpoints left out; a search or a reader's scope on the group id)
            # read off this index alone: from the rows, it visited 10,000 of them (90 ms, measured).
            models.Index(fields=["snapshot", "replay_operation_id", "group_id"], name="snapshot_group_listed"),
        ]

    def __str__(self) -> str:
        return f"Group {self.group_id} in snapshot {self.snapshot_id}"


class SnapshotTopic(models.Model):
    """One topic in a snapshot: its partitions' log start and end, the groups reading it and their lag."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="topic_rows")
    topic = models.TextField()
    internal = models.BooleanField(default=False)
    partitions = models.PositiveIntegerField()
    messages = models.BigIntegerField(null=True, help_text="Sum over partitions of log end minus log start.")
    groups = models.PositiveIntegerField(help_text="Groups with committed offsets on the topic.")
    lag = models.BigIntegerField(null=True, help_text="Sum of those groups' lag on the topic.")
    max_lag_seconds = models.FloatField(null=True)
    max_lag_seconds_method = models.CharField(max_length=20, blank=True, default="")
    max_lag_seconds_doubtful = models.BooleanField(default=False)
    detail = models.TextField(help_text="Per partition: log start, log end, newest record; per group: its lag here.")
    window = models.TextField(help_text="Per partition: log end at the snapshot's window_ms.")
    history = models.TextField(help_text="Per partition: the log's recent rounds (groups.snapshot.timelines).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "topic"], name="snapshot_topic_once")]
        indexes = [
            models.Index(fields=["snapshot", "lag", "topic"], name="snapshot_topic_lag"),
            models.Index(fields=["snapshot", "groups", "topic"], name="snapshot_topic_groups"),
        ]

    def __str__(self) -> str:
        return f"Topic {self.topic} in snapshot {self.snapshot_id}"


class DatedRecord(models.Model):
    """The timestamp of the record at a committed offset older than the collector's history of its partition.

    The history dates an offset by the rounds that saw the log end pass it; a group that committed before
    the console's first round (or its history's oldest kept round) sits below all of them, and its lag in
    seconds would be extrapolated. The dating task (groups.snapshot.dating) reads that one record instead
    and keeps its time here for the rounds to use; `record_offset` is later than `offset` where the record
    there was compacted or deleted, and the later record's time then bounds the age from below.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="dated_records")
    topic = models.TextField()
    partition = models.PositiveIntegerField()
    offset = models.BigIntegerField()
    record_offset = models.BigIntegerField()
    timestamp_ms = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "topic", "partition", "offset"], name="dated_record_once")
        ]

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition} offset {self.offset} at {self.timestamp_ms} ms"
