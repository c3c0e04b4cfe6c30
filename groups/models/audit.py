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

    class Action(models.TextChoices):
        """Every action the console records: what `groups.audit.record` takes (it refuses any other), and the
        audit filter's choices, each named as what its actor did. Exports write the value, never the name.
        No `choices` on the field: an action an older version recorded stays readable."""

        # Of an operation: its request, decision and run.
        REQUESTED = "requested", "Requested a change"
        UNDO_REQUESTED = "undo_requested", "Requested an undo"
        APPROVED = "approved", "Approved a request"
        REJECTED = "rejected", "Rejected a request"
        CANCELLED = "cancelled", "Cancelled an operation"
        CANCEL_REQUESTED = "cancel_requested", "Asked the worker to stop an operation"
        EXPIRED = "expired", "Let a request expire undecided"
        STARTED = "started", "Started an operation"
        RESUMED = "resumed", "Resumed an operation"
        SUCCEEDED = "succeeded", "Finished an operation, which succeeded"
        FAILED = "failed", "Finished an operation, which failed"
        INTERNAL_TOPICS_DELETED = "internal_topics_deleted", "Deleted a streams group's internal topics"
        # Of no operation.
        DENIED = "denied", "Asked for something not granted"
        READ_RECORDS = "read_records", "Read records"
        ALERT_RULE_CREATED = "alert_rule_created", "Created an alert rule"
        ALERT_RULE_CHANGED = "alert_rule_changed", "Changed an alert rule"
        ALERT_RULE_DELETED = "alert_rule_deleted", "Deleted an alert rule"
        ADMIN_ADDED = "admin_added", "Added a record in Django admin"
        ADMIN_CHANGED = "admin_changed", "Changed a record in Django admin"
        ADMIN_DELETED = "admin_deleted", "Deleted a record in Django admin"
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Tried to sign in"
        LOGOUT = "logout", "Signed out"
        PASSWORD_CHANGED = "password_changed", "Changed their password"
        API_TOKEN_CREATED = "api_token_created", "Created an API token"
        API_TOKEN_REVOKED = "api_token_revoked", "Revoked their API token"

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
