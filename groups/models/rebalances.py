"""Rebalances the collector saw, and each group's members as it last saw them settled. Only
groups.snapshot.rebalances writes these rows; groups.snapshot.membership says what counts as a rebalance."""

from django.db import models

from groups.models.clusters import Cluster


class GroupMembership(models.Model):
    """A group's members and their partitions as the last settled round saw them: what the next round
    compares with. Written only when they change, so a round reads every group's fingerprint and loads
    the members of the few that differ."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    group_id = models.TextField()
    generation = models.BigIntegerField(null=True, help_text="A KIP-848 group's group epoch; None for classic ones.")
    fingerprint = models.CharField(max_length=40)
    members = models.JSONField(default=list, help_text="[[member id, client id, host, [[topic, partition]]]]")
    seen_at = models.DateTimeField(help_text="The round that found the group so.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "group_id"], name="group_membership_once")]

    def __str__(self) -> str:
        return f"Members of {self.group_id} in cluster {self.cluster_id}"


class Rebalance(models.Model):
    """A change of a group's members, partition owners or (KIP-848) group epoch between two settled rounds."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="rebalances", db_index=False)
    group_id = models.TextField()
    seen_at = models.DateTimeField(help_text="The round that saw it; it happened since the group's previous one.")
    generation = models.BigIntegerField(null=True, help_text="A KIP-848 group's group epoch; None for classic ones.")
    previous_generation = models.BigIntegerField(null=True)
    joined = models.JSONField(default=list, help_text="[{member_id, client_id, host}]")
    left = models.JSONField(default=list, help_text="[{member_id, client_id, host}]")
    moved = models.JSONField(
        default=list,
        help_text="[{topic, partition, from, to, committed, log_end, redelivery_upper_bound}]; from and to are "
        "{member_id, client_id, host} or None.",
    )
    redelivery_upper_bound = models.BigIntegerField(
        null=True, help_text="Records the moved partitions could re-deliver at most; None where none is known."
    )

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "group_id", "seen_at"], name="rebalance_group_time"),
            models.Index(fields=["seen_at"], name="rebalance_time"),
        ]

    def __str__(self) -> str:
        return f"Rebalance of {self.group_id} in cluster {self.cluster_id} at {self.seen_at}"
