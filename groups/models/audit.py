"""The audit log: append-only events chained by their hashes."""

from django.db import models

from groups.models.operations import Operation


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk update() and delete() skip the model's save() and delete(), so they refuse as well."""

    def update(self, **kwargs):
        raise ValueError("Audit events are append-only: existing events cannot be changed.")

    def delete(self):
        raise ValueError("Audit events are append-only: events cannot be deleted.")


class AuditEvent(models.Model):
    """An append-only record of an attempt to change something (and of denials and logins).

    Rows are never updated or deleted by the application; each carries a hash over its content
    and the previous row's hash, so an edit, removal or insertion breaks the chain visibly.
    """

    time = models.DateTimeField()
    actor = models.CharField(max_length=150)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=50)
    cluster = models.CharField(max_length=100, blank=True, default="")
    group_id = models.TextField(blank=True, default="")
    topics = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, default="")
    plan = models.JSONField(default=list, blank=True)
    operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    outcome = models.CharField(max_length=30, blank=True, default="")
    error = models.TextField(blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # The audit key the hash was made with; "" for events hashed before the chain was keyed (plain SHA-256).
    key_id = models.CharField(max_length=32, blank=True, default="")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["cluster", "group_id"]), models.Index(fields=["time"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} by {self.actor} ({self.outcome or 'no outcome'})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit events are append-only: an existing event cannot be changed.")
        # Never an UPDATE: a new event that names an existing row's id fails instead of overwriting it.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only: an event cannot be deleted.")
