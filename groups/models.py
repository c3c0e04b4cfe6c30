"""The console's rows, and the vocabulary they need: roles and the actions grants name."""

import hashlib
import os
import secrets
from functools import cached_property
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models, transaction
from django.utils import timezone

ACTIONS = ("view", "reset", "replay", "alert", "delete", "approve", "audit", "admin", "read_records")
ROLES = {
    # Seeing a group's offsets and lag is not seeing the data its topics carry: viewers read no records.
    "Viewer": {"view"},
    # Operators are the ones paged about their groups, and a rule changes nothing in Kafka: they may
    # set alerts up for the clusters and groups of their grant, and no wider. They read records: a
    # replay's preview already shows them a sample, and a reset "to 09:00" is checked against the data.
    "Operator": {"view", "reset", "replay", "alert", "read_records"},
    "Approver": {"view", "approve", "audit"},
    "Admin": set(ACTIONS),
}


class Cluster(models.Model):
    """A Kafka cluster the console talks to.

    Secrets are never stored here: `secret_ref` names where the SASL password lives
    (`env:NAME` or `file:/path`), and it is read only when a client is built.
    """

    class Security(models.TextChoices):
        PLAINTEXT = "PLAINTEXT", "PLAINTEXT"
        SSL = "SSL", "SSL"
        SASL_PLAINTEXT = "SASL_PLAINTEXT", "SASL over PLAINTEXT"
        SASL_SSL = "SASL_SSL", "SASL over SSL"

    class Mechanism(models.TextChoices):
        NONE = "", "—"
        PLAIN = "PLAIN", "PLAIN"
        SCRAM_SHA_256 = "SCRAM-SHA-256", "SCRAM-SHA-256"
        SCRAM_SHA_512 = "SCRAM-SHA-512", "SCRAM-SHA-512"

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9._-]+$", "Use letters, digits, dots, dashes and underscores.")],
        help_text="Short name used in URLs, e.g. 'prod-eu'.",
    )
    bootstrap_servers = models.CharField(max_length=1000, help_text="host:port[,host:port...]")
    security_protocol = models.CharField(max_length=20, choices=Security.choices, default=Security.PLAINTEXT)
    sasl_mechanism = models.CharField(max_length=20, choices=Mechanism.choices, blank=True, default="")
    sasl_username = models.CharField(max_length=200, blank=True, default="")
    secret_ref = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Where the SASL password is read from: 'env:VARIABLE' or 'file:/path/to/file'. "
        "The password itself is never stored.",
    )
    ssl_ca_location = models.CharField(max_length=500, blank=True, default="", help_text="CA bundle path for SSL.")
    require_approval = models.BooleanField(
        default=False,
        help_text="Changes wait until another user with the approve right on the group approves them.",
    )
    approval_expiry_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="A request no one approved or rejected within this many minutes is cancelled.",
    )
    collect_every_seconds = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(5)],
        help_text="How often the collector reads the cluster's groups, offsets and lag, in seconds.",
    )
    metrics_per_partition = models.BooleanField(
        default=True,
        help_text="/metrics gives each group-partition's lag, lag in seconds and offset; turn off to keep only "
        "each group's figures (Prometheus' series count grows with every partition of every group).",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        uses_sasl = self.security_protocol.startswith("SASL")
        if uses_sasl and not self.sasl_mechanism:
            raise ValidationError({"sasl_mechanism": "Choose a SASL mechanism for a SASL security protocol."})
        if uses_sasl and not self.secret_ref:
            raise ValidationError({"secret_ref": "Name where the SASL password is read from (env:NAME or file:/path)."})
        if self.secret_ref and not self.secret_ref.startswith(("env:", "file:")):
            raise ValidationError({"secret_ref": "Write 'env:VARIABLE' or 'file:/path'; never the password itself."})

    def read_secret(self) -> str:
        """The SASL password, read from where `secret_ref` points; empty if none is configured."""
        kind, _, where = self.secret_ref.partition(":")
        if kind == "env":
            value = os.environ.get(where)
            if value is None:
                raise ValueError(f"environment variable {where} (the password of cluster {self.name}) is not set")
            return value
        if kind == "file":
            try:
                return Path(where).read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read the password file of cluster {self.name}: {exc.strerror}") from None
        return ""

    def client_config(self) -> dict[str, str]:
        """librdkafka settings for this cluster (includes the secret: never log or render it)."""
        config = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.read_secret()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config


def parse_cluster_setting(text: str) -> list[tuple[str, str]]:
    """`name=host:port[,host:port];name2=...` (the CONSOLE_CLUSTERS setting) as (name, bootstrap) pairs."""
    pairs = []
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, bootstrap = entry.partition("=")
        if not sep or not name.strip() or not bootstrap.strip():
            raise ValueError(f"'{entry}' is not of the form name=host:port[,host:port]")
        pairs.append((name.strip(), bootstrap.strip()))
    return pairs


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

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

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
        """A reset (of a consumer or share group) that succeeded, or an offset deletion that deleted
        offsets (a failed one may have, in part); once: not when an undo already took it back."""
        if self.kind == self.Kind.DELETE_OFFSETS:
            undoable = bool(self.before_offsets())
        else:
            undoable = self.kind in (self.Kind.RESET, self.Kind.SHARE_RESET) and self.status == self.Status.SUCCEEDED
        return undoable and (self.pk is None or self.undo is None)

    def before_offsets(self) -> dict[tuple[str, int], int | None]:
        """The offsets the operation found, which its undo puts back; of a deletion, only the offsets it deleted."""
        rows = self.plan
        if self.kind == self.Kind.DELETE_OFFSETS:
            deleted = {(o["topic"], o["partition"]) for o in self.outcome if o.get("deleted")}
            rows = [row for row in rows if (row["topic"], row["partition"]) in deleted and row["before"] is not None]
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


def role_choices() -> list[tuple[str, str]]:
    return [(role, role) for role in ROLES]


class Grant(models.Model):
    """A right given to a user or to a Django group of users: a role (or a set of actions) on a
    cluster (or all of them), for the consumer groups whose id matches a pattern.

    Only `groups.access` reads grants to decide; this row holds one and checks that it makes sense.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="console_grants"
    )
    user_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="console_grants",
        verbose_name="group of users",
        help_text="Grant to everyone in this Django group (instead of one user).",
    )
    role = models.CharField(
        max_length=20,
        choices=role_choices,
        blank=True,
        default="",
        help_text="Viewer, Operator, Approver or Admin; or leave empty and choose actions.",
    )
    actions = models.JSONField(default=list, blank=True, help_text="Explicit actions, instead of a role.")
    cluster = models.ForeignKey(
        Cluster,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="grants",
        help_text="Empty for every cluster.",
    )
    group_pattern = models.CharField(
        max_length=500,
        default="*",
        help_text="A consumer group id, or a pattern such as payments-* (* any run of characters, ? one, "
        "[ab] one of those; case matters).",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, user_group__isnull=True)
                | models.Q(user__isnull=True, user_group__isnull=False),
                name="grant_to_a_user_or_a_group_of_users",
            ),
        ]

    def __str__(self) -> str:
        who = self.user or f"group {self.user_group}"
        what = self.role or "+".join(self.actions)
        return f"{who}: {what} on {self.cluster or 'every cluster'} / {self.group_pattern}"

    def clean(self) -> None:
        if (self.user_id is None) == (self.user_group_id is None):
            raise ValidationError("Grant to one user or to one group of users: choose exactly one.")
        if bool(self.role) == bool(self.actions):
            raise ValidationError(
                {"role": "Choose a role, or leave it empty and choose actions: not both, not neither."}
            )
        unknown = sorted(set(self.actions) - set(ACTIONS))
        if unknown:
            raise ValidationError({"actions": f"Unknown actions {', '.join(unknown)}; use {', '.join(ACTIONS)}."})


class ApiToken(models.Model):
    """A user's key for the JSON API (`Authorization: Token <key>`).

    Only the key's SHA-256 is stored, so the key is shown once, when it is created; a new key
    replaces the old one.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token of {self.user}"

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user) -> str:
        """A new key for `user`, replacing any previous one. The caller shows it once; it is not kept."""
        key = secrets.token_urlsafe(32)
        with transaction.atomic():
            cls.objects.filter(user=user).delete()
            cls.objects.create(user=user, key_hash=cls.digest(key))
        return key

    @classmethod
    def user_for(cls, key: str):
        """The active user whose key this is, or None; notes when the key was used."""
        token = cls.objects.select_related("user").filter(key_hash=cls.digest(key)).first()
        if token is None or not token.user.is_active:
            return None
        cls.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return token.user


class LoginFailure(models.Model):
    """A failed sign-in (never its password), counted to slow down and then lock out guessing."""

    time = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=150)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["username", "-time"]), models.Index(fields=["source_ip", "-time"])]

    def __str__(self) -> str:
        return f"Failed sign-in as {self.username} at {self.time:%Y-%m-%d %H:%M:%S}"


# ---------------------------------------------------------------------------------------------
# Alerts: rules, the state of each (rule, group) pair, and the notifications sent for them.
# Only groups.alerting writes these rows.


class AlertRule(models.Model):
    """When to tell someone about a consumer group, and how.

    The rule covers the groups of `cluster` (or of every cluster) whose id matches `group_pattern`,
    with the glob meaning grants give it. It fires when any of its conditions holds (for
    `for_minutes` in a row); a condition left empty is not checked.
    """

    class WebhookFormat(models.TextChoices):
        JSON = "json", "JSON (the console's body, see the README)"
        SLACK = "slack", 'Slack-compatible ({"text": ...})'

    name = models.CharField(max_length=200)
    cluster = models.ForeignKey(
        Cluster,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text="Empty for every cluster.",
    )
    group_pattern = models.CharField(
        max_length=500,
        default="*",
        help_text="A consumer group id, or a pattern such as payments-* (* any run of characters, ? one, "
        "[ab] one of those; case matters), as in grants.",
    )
    statuses = models.JSONField(default=list, blank=True, help_text="Fire while the group's status is one of these.")
    lag_seconds_over = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fire while the group's lag in seconds is over this."
    )
    total_lag_over = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Fire while the group's total lag (messages) is over this."
    )
    retention_margin_under_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fire while the group's worst retention margin is under this many minutes."
    )
    no_members = models.BooleanField(default=False, help_text="Fire while the group has no members.")
    for_minutes = models.PositiveIntegerField(
        default=0, help_text="How long a condition must hold, round after round, before the alert fires."
    )
    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    webhook_format = models.CharField(max_length=10, choices=WebhookFormat.choices, default=WebhookFormat.JSON)
    emails = models.JSONField(default=list, blank=True, help_text="Addresses the notifications are mailed to.")
    renotify_minutes = models.PositiveIntegerField(
        default=0, help_text="While still firing, notify again after this many minutes; 0 never."
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class AlertState(models.Model):
    """Where one rule stands for one group: pending, firing or resolved, and since when.

    A row exists only once the rule's condition held for the group at least once; it is kept
    after resolving so the alerts page can list recent alerts, and reused if the alert fires again.
    """

    class Phase(models.TextChoices):
        PENDING = "pending", "Pending"
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="alert_states")
    group_id = models.TextField()
    phase = models.CharField(max_length=10, choices=Phase.choices)
    pending_since = models.DateTimeField(null=True, blank=True)
    firing_since = models.DateTimeField(null=True, blank=True)
    clear_since = models.DateTimeField(
        null=True, blank=True, help_text="Firing, but every condition clear since then (hysteresis)."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_notified = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0, help_text="Notifications sent in the current episode.")
    muted_until = models.DateTimeField(null=True, blank=True)
    muted_by = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.TextField(blank=True, default="", help_text="Why it fires (or fired), in plain words.")
    facts = models.JSONField(default=dict, blank=True, help_text="The group's figures at the last evaluation.")
    updated = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "cluster", "group_id"], name="one_state_per_rule_group")]
        indexes = [models.Index(fields=["phase", "-updated"])]

    def __str__(self) -> str:
        return f"{self.rule} on {self.cluster}/{self.group_id}: {self.phase}"


class AlertDelivery(models.Model):
    """One notification (firing, again, resolved) to one channel, with its attempts.

    Evaluation only creates these rows and enqueues them; a worker on the `notifications` queue
    sends them, retrying with backoff until delivered or out of attempts.
    """

    class Event(models.TextChoices):
        FIRING = "firing", "Firing"
        RENOTIFY = "renotify", "Still firing"
        RESOLVED = "resolved", "Resolved"

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        EMAIL = "email", "Email"

    state = models.ForeignKey(AlertState, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=10, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.TextField(help_text="The webhook URL, or the email addresses separated by commas.")
    webhook_format = models.CharField(max_length=10, blank=True, default="")
    payload = models.JSONField(help_text="The documented JSON body; other formats are made from it.")
    created = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt = models.DateTimeField(null=True, blank=True, help_text="Empty once delivered or given up.")
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["next_attempt"])]

    def __str__(self) -> str:
        return f"{self.event} of {self.state} by {self.channel}"


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
        ]


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
    detail = models.TextField(help_text="Per partition: log start, log end, newest record; per group: its lag here.")
    window = models.TextField(help_text="Per partition: log end at the snapshot's window_ms.")
    history = models.TextField(help_text="Per partition: the log's recent rounds (groups.snapshot.timelines).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "topic"], name="snapshot_topic_once")]
        indexes = [
            models.Index(fields=["snapshot", "lag", "topic"], name="snapshot_topic_lag"),
            models.Index(fields=["snapshot", "groups", "topic"], name="snapshot_topic_groups"),
        ]


# ---------------------------------------------------------------------------------------------
# History of lag and offsets over time. Only groups.snapshot.history reads and writes these rows;
# its docstring explains the layout (a head of recent rounds, hourly chunks, daily roll-ups).
# ---------------------------------------------------------------------------------------------


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


class HistoryPoint(models.Model):
    """One round's values of one series (a JSON list), kept until its hour is packed into chunks."""

    # Also what makes a round appended twice count once. No id: millions of rows need no second index.
    pk = models.CompositePrimaryKey("series", "t_ms")
    series = models.ForeignKey(HistorySeries, on_delete=models.CASCADE, related_name="+", db_index=False)
    t_ms = models.BigIntegerField()
    data = models.TextField()


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


class HistoryWatermark(models.Model):
    """How far the history of one kind of series of a cluster has been sealed, packed and pruned.

    Appends lock this row, so sealing an hour and a late append of that hour never interleave.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20)
    sealed_until_ms = models.BigIntegerField(default=0, help_text="Rounds before this are no longer accepted.")
    packed_until_ms = models.BigIntegerField(default=0, help_text="Rounds before this are in chunks.")
    days_until_ms = models.BigIntegerField(default=0, help_text="Roll-ups before this are in day chunks.")
    rounds_kept_from_ms = models.BigIntegerField(default=0, help_text="Rounds before this may have been pruned.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "kind"], name="history_watermark_once")]
