import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models


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
    """One change to a group (offset reset or group deletion): its plan, who asked, why, and what happened.

    The plan holds absolute offsets, so applying it twice is harmless; `status` moves forward only,
    through conditional updates, so a redelivered task never runs an operation twice.
    """

    class Kind(models.TextChoices):
        RESET = "reset", "Offset reset"
        DELETE_GROUP = "delete_group", "Delete group"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="operations")
    group_id = models.CharField(max_length=500)
    strategy = models.CharField(max_length=30, blank=True, default="")
    strategy_value = models.TextField(blank=True, default="")
    scope = models.TextField(blank=True, default="", help_text="Empty for all topics with committed offsets.")
    plan = models.JSONField(default=list, help_text="Rows: topic, partition, before, after, log_start, log_end, clamped, note.")
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

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["cluster", "group_id", "-created"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} of {self.group_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def can_be_undone(self) -> bool:
        return self.kind == self.Kind.RESET and self.status == self.Status.SUCCEEDED

    def before_offsets(self) -> dict[tuple[str, int], int | None]:
        return {(row["topic"], row["partition"]): row["before"] for row in self.plan}


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
    group_id = models.CharField(max_length=500, blank=True, default="")
    topics = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, default="")
    plan = models.JSONField(default=list, blank=True)
    operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    outcome = models.CharField(max_length=30, blank=True, default="")
    error = models.TextField(blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["cluster", "group_id"]), models.Index(fields=["time"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only: an existing event cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only: an event cannot be deleted.")
