"""Alerts: rules, the state of each (rule, group) pair, the alerts that ended, and the notifications sent for them.
Only groups.alerting writes these rows."""

from django.conf import settings
from django.db import models

from groups.models.clusters import Cluster
from groups.models.operations import Operation
from groups.patterns import PATTERN_HELP


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
        help_text=PATTERN_HELP,
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
    after resolving (its notifications hang on it) and reused if the alert fires again. What the
    alerts page lists of an alert once it ended is its `AlertEpisode`.
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
    summary = models.TextField(
        blank=True,
        default="",
        help_text="What it says now, in plain words: why it fires, that it is clearing, or how it resolved.",
    )
    breach_summary = models.TextField(
        blank=True, default="", help_text="Why it fired: the reasons of the last round its condition held."
    )
    facts = models.JSONField(default=dict, blank=True, help_text="The group's figures at the last evaluation.")
    updated = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "cluster", "group_id"], name="one_state_per_rule_group")]
        indexes = [models.Index(fields=["phase", "-updated"])]

    def __str__(self) -> str:
        return f"{self.rule} on {self.cluster}/{self.group_id}: {self.phase}"


class AlertEpisode(models.Model):
    """One alert that ended: from the round its condition first held to the round it resolved, or
    cleared without firing because a mute held it back. Written once when it ends, never changed,
    and pruned after ALERT_EPISODE_RETENTION_DAYS; the alert as it stands now is its `AlertState`.
    """

    rule = models.ForeignKey(
        AlertRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="episodes",
        help_text="Empty once the rule was deleted: what happened stays on record.",
    )
    rule_name = models.CharField(max_length=200, help_text="The rule's name when the alert ended.")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="alert_episodes")
    group_id = models.TextField()
    pending_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the condition first held (empty for alerts that ended before this was kept).",
    )
    firing_since = models.DateTimeField(null=True, blank=True, help_text="Empty: a mute held it back until it cleared.")
    resolved_at = models.DateTimeField()
    summary = models.TextField(blank=True, default="", help_text="Why it fired (or would have), in plain words.")
    resolution = models.TextField(
        blank=True, default="", help_text="How it ended: the values it cleared with, and since when."
    )
    facts = models.JSONField(default=dict, blank=True, help_text="The group's figures when it ended.")
    notifications = models.PositiveIntegerField(
        default=0, help_text="Notifications it made: firing, each still-firing one, and the resolve."
    )
    muted = models.BooleanField(default=False, help_text="A mute was in force during it.")
    muted_by = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-resolved_at", "-pk"]
        indexes = [models.Index(fields=["-resolved_at"], name="alert_episodes_newest_first")]

    def __str__(self) -> str:
        return f"{self.rule_name} on {self.cluster}/{self.group_id}, ended {self.resolved_at}"


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
    episode = models.ForeignKey(
        AlertEpisode,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        help_text="The alert it told of, once that ended (empty while it goes on); pruned with it.",
    )
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
