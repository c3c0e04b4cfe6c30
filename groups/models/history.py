"""History of lag and offsets over time. Only groups.snapshot.history and history_rollup read and write these
rows; history's docstring explains the layout (a head of recent rounds, hourly chunks, daily roll-ups)."""

from django.db import models

from groups.models.clusters import Cluster


class HistorySeries(models.Model):
    """Something whose values are kept over time: a consumer group or a topic partition of a cluster.

    It outlives the group or topic it names, so the history of a deleted group stays readable
    until retention drops its last chunk.
    """

    # The unique constraint below starts with the cluster: it is the index a cluster's deletion uses.
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="history_series", db_index=False)
    kind = models.CharField(max_length=20)
    key = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "kind", "key"], name="history_series_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} of cluster {self.cluster_id}"


class HistoryRound(models.Model):
    """A round of one kind of series of a cluster whose rows wait in the head: the times a series'
    head rows are looked up by."""

    pk = models.CompositePrimaryKey("cluster", "kind", "t_ms")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20)
    t_ms = models.BigIntegerField()

    def __str__(self) -> str:
        return f"Round at {self.t_ms} ms of the {self.kind} series of cluster {self.cluster_id}"


class HistoryPoint(models.Model):
    """One round's values of one series (a JSON list), kept until its hour is packed into chunks."""

    # Time first: a round's rows go at the end of the key, so appending a round writes new pages only.
    # Keyed by series first, every round rewrote a page per series: ~100 MB a round at 10,000 groups
    # on SQLite (measured). A series' rows are found through its rounds' times (HistoryRound). The key
    # is also what makes a round appended twice count once; no id: millions of rows need no second index.
    pk = models.CompositePrimaryKey("t_ms", "series")
    t_ms = models.BigIntegerField()
    series = models.ForeignKey(HistorySeries, on_delete=models.CASCADE, related_name="+", db_index=False)
    data = models.TextField()

    def __str__(self) -> str:
        return f"Round at {self.t_ms} ms of series {self.series_id}"


class HistoryChunk(models.Model):
    """A packed run of one series' points: an hour of rounds, or an hour or a day of roll-ups."""

    class Tier(models.IntegerChoices):
        ROUNDS_HOUR = 1, "an hour of rounds"
        ROLLUP_HOUR = 2, "an hour of 5-minute roll-ups"
        ROLLUP_DAY = 3, "a day of 5-minute roll-ups"

    # The key leads with the series: a series' reads, and its deletion, use it.
    pk = models.CompositePrimaryKey("series", "tier", "start_ms")
    series = models.ForeignKey(HistorySeries, on_delete=models.CASCADE, related_name="+", db_index=False)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    start_ms = models.BigIntegerField()
    points = models.PositiveIntegerField()
    payload = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["tier", "start_ms"], name="history_chunk_age")]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} from {self.start_ms} ms of series {self.series_id}"


class HistoryWatermark(models.Model):
    """How far the history of one kind of series of a cluster has been sealed, packed and pruned.

    Appends lock this row, so sealing an hour and a late append of that hour never interleave.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20)
    sealed_until_ms = models.BigIntegerField(default=0, help_text="Rounds before this are no longer accepted.")
    packed_until_ms = models.BigIntegerField(default=0, help_text="Rounds before this are in chunks.")
    days_until_ms = models.BigIntegerField(default=0, help_text="Roll-ups before this are in day chunks.")
    packing_until_ms = models.BigIntegerField(default=0, help_text="The packing under way packs rounds before this.")
    packing_done_through = models.BigIntegerField(
        default=0, help_text="The packing under way has packed the series up to this id."
    )
    rounds_kept_from_ms = models.BigIntegerField(default=0, help_text="Rounds before this may have been pruned.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "kind"], name="history_watermark_once")]

    def __str__(self) -> str:
        return f"History watermark of {self.kind} series of cluster {self.cluster_id}"
