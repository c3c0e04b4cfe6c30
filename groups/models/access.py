"""Who may do what: roles, the actions grants name, grants, API tokens and failed sign-ins."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from groups.models.clusters import Cluster
from groups.patterns import PATTERN_HELP, pattern_error

# How precisely an API token's last use is kept (its page shows it to the minute).
LAST_USED_RESOLUTION = timedelta(minutes=1)

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
        help_text=PATTERN_HELP,
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
        if pattern_error(self.group_pattern):
            raise ValidationError({"group_pattern": pattern_error(self.group_pattern)})
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
        """The active user whose key this is, or None; notes when the key was used, to the minute."""
        token = cls.objects.select_related("user").filter(key_hash=cls.digest(key)).first()
        if token is None or not token.user.is_active:
            return None
        now = timezone.now()
        # Not on every request: a script polling the API would otherwise make each read a write, and
        # writes queue behind one another (SQLite locks the database for each).
        if token.last_used is None or now - token.last_used >= LAST_USED_RESOLUTION:
            cls.objects.filter(pk=token.pk).update(last_used=now)
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
